"""One post, composed for one account: text, length, facets and card.

The result is fixed before the first attempt and stored with the delivery,
so every retry sends exactly the same message.
"""

from __future__ import annotations

import re

from worker.accounts import AccountSettings
from worker.compose.facets import facets_for
from worker.compose.fit import fit, shorten
from worker.compose.hashtags import hashtags
from worker.compose.length import LengthRule
from worker.compose.links import tracked_link
from worker.compose.text import html_to_text
from worker.models import Card, ComposedMessage, SourcePost

# WordPress's own auto excerpt is 55 words; about 300 clusters is that much
# text in most languages and what a card shows before it cuts anyway.
EXCERPT_GRAPHEMES = 300
CARD_DESCRIPTION_GRAPHEMES = 300

_LINE_BREAKS = re.compile(r"\s*\n\s*")


def _excerpt(post: SourcePost) -> str:
    excerpt = html_to_text(post.excerpt_html)
    if excerpt:
        return excerpt
    # No excerpt (some feeds, some themes): the start of the content instead.
    return shorten(html_to_text(post.content_html), EXCERPT_GRAPHEMES)


def custom_text(post: SourcePost, account: str, network: str) -> str | None:
    """The post's own message for this account, if its editor wrote one.

    Revive Old Posts keeps per-account messages in ``rop_publish_now_accounts``
    (keyed by its account ids, which start with the network's name); Jetpack
    keeps one message for every network in ``jetpack_publicize_message``.
    """
    per_account = post.meta.get("rop_publish_now_accounts")
    if isinstance(per_account, dict):
        for key in (account, *sorted(k for k in per_account if str(k).startswith(f"{network}_"))):
            value = per_account.get(key)
            if isinstance(value, str) and value.strip():
                return html_to_text(value)
    jetpack = post.meta.get("jetpack_publicize_message")
    if isinstance(jetpack, str) and jetpack.strip():
        return html_to_text(jetpack)
    return None


def compose_message(
    post: SourcePost,
    settings: AccountSettings,
    rule: LengthRule,
    *,
    facets: bool,
    card: bool,
    account: str = "",
) -> ComposedMessage:
    """The message for ``post`` on an account with ``settings``, fitted to ``rule``.

    Raises ``RejectedError`` if the post's link alone is too long for the network.
    """
    title = html_to_text(post.title_html, paragraphs=False)
    excerpt = _excerpt(post)
    link = (
        tracked_link(
            post.link,
            source=settings.network,
            medium="social",
            campaign=settings.utm_campaign,
        )
        if settings.utm
        else post.link
    )
    terms = {
        "tags": post.tags,
        "categories": post.categories,
        "both": (*post.tags, *post.categories),
    }[settings.hashtags_from]
    tags = hashtags(terms, settings.max_hashtags) if settings.hashtags else []
    template = settings.template
    custom = custom_text(post, account, settings.network) if account else None
    if custom is not None:
        # The editor's words replace the template; the link still goes along,
        # and the words are shortened like an excerpt if they must be.
        excerpt = custom
        template = "{excerpt}" if link in custom or post.link in custom else "{excerpt}\n\n{url}"
    fields = {
        "title": title,
        "excerpt": excerpt,
        # Only parse the whole body when the template shows it: content is by
        # far the largest field and most templates never use it.
        "content": html_to_text(post.content_html) if "{content}" in template else "",
        "url": link,
        "categories": ", ".join(
            name for name in (html_to_text(c, paragraphs=False) for c in post.categories) if name
        ),
        "author": html_to_text(post.author, paragraphs=False),
        "site_name": post.site,
        "date": post.date_gmt.date().isoformat(),
    }
    text = fit(template, fields, rule, hashtags=tags)

    link_card: Card | None = None
    if card:
        image = post.featured_image
        link_card = Card(
            url=link,
            title=title,
            # A card shows one block of text: paragraphs joined into one line.
            description=shorten(_LINE_BREAKS.sub(" ", excerpt), CARD_DESCRIPTION_GRAPHEMES),
            image_url=image.url if image and image.url else None,
            image_alt=image.alt if image else "",
        )

    return ComposedMessage(
        text=text,
        link=link,
        length=rule.length(text),
        card=link_card,
        facets=facets_for(text, link, tags) if facets else (),
        title=title,
        excerpt=excerpt,
    )

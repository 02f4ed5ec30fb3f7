"""One post, composed for one account: text, length, facets and card.

The result is fixed before the first attempt and stored with the delivery,
so every retry sends exactly the same message.
"""

from __future__ import annotations

import logging
import re

from worker.accounts import AccountSettings
from worker.compose.facets import facets_for
from worker.compose.fit import fit, shorten
from worker.compose.hashtags import hashtags
from worker.compose.length import LengthRule
from worker.compose.links import is_web_url, load_shortener, tracked_link
from worker.compose.text import html_to_text
from worker.models import Card, ComposedMessage, SourcePost

# WordPress's own auto excerpt is 55 words; about 300 clusters is that much
# text in most languages and what a card shows before it cuts anyway.
EXCERPT_GRAPHEMES = 300
CARD_DESCRIPTION_GRAPHEMES = 300

_LINE_BREAKS = re.compile(r"\s*\n\s*")

log = logging.getLogger(__name__)


def shortened(link: str, shortener: str, account: str) -> str:
    """``link`` through the account's shortener; the long link if the
    shortener fails or answers with anything but an http(s) URL.

    A shortener outage must never stop sharing: a long link costs a few
    characters, a missing post costs the post.
    """
    try:
        short = load_shortener(shortener)(link)
    except Exception as exc:
        # Only the kind of failure: the shortener's own message may carry
        # its API key or a signed URL, and secrets never reach the logs.
        log.warning(
            "account %s: shortener %s failed (%s); sharing the long link",
            account or "?",
            shortener,
            type(exc).__name__,
        )
        return link
    if not is_web_url(short):
        log.warning(
            "account %s: shortener %s returned %s, not an http(s) URL; sharing the long link",
            account or "?",
            shortener,
            type(short).__name__ if not isinstance(short, str) else "text",
        )
        return link
    return short


def _excerpt(post: SourcePost) -> str:
    excerpt = html_to_text(post.excerpt_html)
    if excerpt:
        return excerpt
    # No excerpt (some feeds, some themes): the start of the content instead.
    return shorten(html_to_text(post.content_html), EXCERPT_GRAPHEMES)


def _plain_link(link: str) -> re.Pattern[str]:
    """The post's address as a whole token (``?p=1`` must not match ``?p=12``)."""
    return re.compile(re.escape(link) + r"(?=$|[\s.,;:!?)\]])")


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
    if settings.shortener:
        link = shortened(link, settings.shortener, account)
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
        # Where the editor wrote the post's plain address, send the link this
        # account shares (campaign tags, shortener) so that it is the one counted
        # and, on Bluesky, the one made clickable.
        custom, mentions = _plain_link(post.link).subn(link, custom)
        excerpt = custom
        template = "{excerpt}" if mentions or link in custom else "{excerpt}\n\n{url}"
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

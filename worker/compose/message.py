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


def compose_message(
    post: SourcePost,
    settings: AccountSettings,
    rule: LengthRule,
    *,
    facets: bool,
    card: bool,
) -> ComposedMessage:
    """The message for ``post`` on an account with ``settings``, fitted to ``rule``.

    Raises ``RejectedError`` if the post's link alone is too long for the network.
    """
    title = html_to_text(post.title_html, paragraphs=False)
    excerpt = _excerpt(post)
    tags = hashtags(post.tags, settings.max_hashtags) if settings.hashtags else []
    fields = {
        "title": title,
        "excerpt": excerpt,
        # Only parse the whole body when the template shows it: content is by
        # far the largest field and most templates never use it.
        "content": html_to_text(post.content_html) if "{content}" in settings.template else "",
        "url": post.link,
        "categories": ", ".join(
            name for name in (html_to_text(c, paragraphs=False) for c in post.categories) if name
        ),
        "author": html_to_text(post.author, paragraphs=False),
        "site_name": post.site,
        "date": post.date_gmt.date().isoformat(),
    }
    text = fit(settings.template, fields, rule, hashtags=tags)

    link_card: Card | None = None
    if card:
        image = post.featured_image
        link_card = Card(
            url=post.link,
            title=title,
            # A card shows one block of text: paragraphs joined into one line.
            description=shorten(_LINE_BREAKS.sub(" ", excerpt), CARD_DESCRIPTION_GRAPHEMES),
            image_url=image.url if image and image.url else None,
            image_alt=image.alt if image else "",
        )

    return ComposedMessage(
        text=text,
        link=post.link,
        length=rule.length(text),
        card=link_card,
        facets=facets_for(text, post.link, tags) if facets else (),
        title=title,
        excerpt=excerpt,
    )

"""Fitting a message to a network's length rule: examples, and compose_message."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from worker.accounts import AccountSettings
from worker.compose.facets import facets_for
from worker.compose.fit import fit, shorten, tidy
from worker.compose.length import (
    BLUESKY,
    MASTODON_DEFAULT,
    GraphemeAndByteRule,
    GraphemeRule,
    LengthRule,
    Unlimited,
    grapheme_count,
    graphemes,
)
from worker.compose.message import compose_message
from worker.errors import RejectedError
from worker.models import FeaturedImage, SourcePost

TEMPLATE = "{title}\n\n{excerpt}\n\n{hashtags}\n\n{url}"
LONG_URL = (
    "https://news.example.org/2026/01/02/a-very-long-permalink-slug-" + "x" * 150 + "?p=15004"
)
LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud "
    "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. "
)
URDU = "اردو میں ایک مضمون، جس میں بہت سی باتیں لکھی گئی ہیں اور پڑھنے والے کے لیے "


def fields(title: str, excerpt: str, url: str = "https://ex.com/?p=1") -> dict[str, str]:
    return {"title": title, "excerpt": excerpt, "url": url}


def test_fits_unchanged_when_short() -> None:
    text = fit(TEMPLATE, fields("Title", "Short."), MASTODON_DEFAULT, hashtags=["#a"])
    assert text == "Title\n\nShort.\n\n#a\n\nhttps://ex.com/?p=1"


def test_empty_fields_leave_no_gaps() -> None:
    text = fit(TEMPLATE, fields("Title", ""), MASTODON_DEFAULT, hashtags=[])
    assert text == "Title\n\nhttps://ex.com/?p=1"
    text = fit("{title} {hashtags} \n{url}", fields("Title", ""), MASTODON_DEFAULT, hashtags=[])
    assert text == "Title\nhttps://ex.com/?p=1"


def test_tidy() -> None:
    assert tidy("  a  \n\n\n\n b   c \n") == "a\n\n b c"


def test_mastodon_counts_a_long_url_as_23() -> None:
    excerpt = LOREM * 5
    text = fit(TEMPLATE, fields("Title", excerpt, LONG_URL), MASTODON_DEFAULT, hashtags=["#x"])
    assert LONG_URL in text
    assert MASTODON_DEFAULT.fits(text)
    # The URL is far longer than 23, yet the excerpt got the room the rule allows.
    assert grapheme_count(text) > 500
    assert 500 - 30 < MASTODON_DEFAULT.length(text) <= 500
    body = text.split("\n\n")[1]
    assert body.endswith("…")
    assert excerpt.startswith(body[:-1])
    # Cut between words: the kept text ends where a word of the source ends.
    assert excerpt[len(body) - 1] in " ,."


def test_bluesky_counts_graphemes_and_bytes_with_urdu() -> None:
    excerpt = URDU * 10
    title = "اردو میں عنوان"
    text = fit(TEMPLATE, fields(title, excerpt), BLUESKY, hashtags=["#اردو"])
    assert BLUESKY.fits(text)
    assert text.startswith(title + "\n\n")
    assert text.endswith("#اردو\n\nhttps://ex.com/?p=1")
    body = text.split("\n\n")[1]
    assert body.endswith("…") and excerpt.startswith(body[:-1])
    assert grapheme_count(text) > 280  # close to the limit, not cut too eagerly


def test_bluesky_byte_limit_binds_before_graphemes() -> None:
    # 4-byte emoji: 300 graphemes would be 1200 bytes; a 600-byte rule binds first.
    rule = GraphemeAndByteRule(limit=300, byte_limit=600)
    excerpt = " ".join(["😀😀😀"] * 100)
    text = fit(TEMPLATE, fields("T", excerpt), rule, hashtags=[])
    assert rule.fits(text)
    assert len(text.encode()) > 560


def test_hashtags_dropped_last_first() -> None:
    # Title and link take 31; three tags of 11 plus separators do not all fit in 60.
    tags = ["#FirstTag01", "#SecondTag2", "#ThirdTag03"]
    rule = GraphemeRule(limit=60, url_weight=23)
    text = fit(TEMPLATE, fields("Title", LOREM), rule, hashtags=tags)
    assert rule.fits(text)
    assert "#FirstTag01 #SecondTag2" in text
    assert "#ThirdTag03" not in text
    assert "Lorem" not in text  # the excerpt went first


def test_excerpt_goes_before_any_hashtag() -> None:
    rule = GraphemeRule(limit=60, url_weight=23)
    text = fit(TEMPLATE, fields("Title", LOREM), rule, hashtags=["#One"])
    assert "#One" in text
    # Room left over after the tag goes to the excerpt, cut between words.
    assert "Lorem ipsum" in text


def test_tiny_excerpt_is_dropped_rather_than_a_stub() -> None:
    rule = GraphemeRule(limit=40, url_weight=23)
    text = fit(TEMPLATE, fields("Title", LOREM), rule, hashtags=[])
    assert text == "Title\n\nhttps://ex.com/?p=1"


def test_title_shortened_when_it_alone_is_too_long() -> None:
    title = "A remarkably long headline that goes on and on about everything " * 5
    rule = GraphemeRule(limit=100, url_weight=23)
    text = fit(TEMPLATE, fields(title, LOREM), rule, hashtags=["#tag"])
    assert rule.fits(text)
    head, url = text.split("\n\n")
    assert url == "https://ex.com/?p=1"
    assert head.endswith("…") and title.startswith(head[:-1])
    assert "#tag" not in text and "Lorem" not in text


def test_a_very_long_word_is_cut_between_graphemes() -> None:
    word = "👩\u200d👩\u200d👧\u200d👦" * 200  # one "word" of 200 family emoji
    text = fit(TEMPLATE, fields("T", word), BLUESKY, hashtags=[])
    assert BLUESKY.fits(text)
    body = text.split("\n\n")[1]
    kept = graphemes(body)
    assert kept[-1] == "…"
    assert all(g == "👩\u200d👩\u200d👧\u200d👦" for g in kept[:-1])
    assert len(kept) > 100  # the byte limit (25 bytes each) binds


def test_link_is_always_there() -> None:
    for limit in (23, 30, 60, 100, 500):
        rule = GraphemeRule(limit=limit, url_weight=23)
        text = fit(TEMPLATE, fields("Title " * 50, LOREM * 9, LONG_URL), rule, hashtags=["#a"])
        assert LONG_URL in text and rule.fits(text)


def test_rejected_when_the_link_alone_is_too_long() -> None:
    with pytest.raises(RejectedError, match="300"):
        fit(TEMPLATE, fields("Title", LOREM, LONG_URL + "y" * 300), BLUESKY, hashtags=[])
    with pytest.raises(RejectedError, match="limit of 20"):
        fit(TEMPLATE, fields("T", ""), GraphemeRule(limit=20, url_weight=23), hashtags=[])


def test_unlimited_never_cuts() -> None:
    text = fit(TEMPLATE, fields("T", LOREM * 100), Unlimited(), hashtags=["#a"])
    assert LOREM.strip() * 1 in text and text.endswith("#a\n\nhttps://ex.com/?p=1")


def test_shorten() -> None:
    assert shorten("short", 10) == "short"
    assert shorten("one two three four", 10) == "one two…"
    assert shorten("one, two three", 6) == "one…"
    assert shorten("x" * 20, 5) == "xxxx…"
    assert grapheme_count(shorten("🇵🇰" * 10, 4)) == 4


def test_facets_bytes_worked_example() -> None:
    # The worked example from platforms.md 3.4.
    text = "café ☕ https://ex.com/a #tag"
    facets = facets_for(text, "https://ex.com/a", ["#tag"])
    assert [(f.byte_start, f.byte_end, f.kind, f.value) for f in facets] == [
        (10, 26, "link", "https://ex.com/a"),
        (27, 31, "tag", "tag"),
    ]


def test_facets_only_whole_tokens() -> None:
    text = "#Climate #ClimateChange C#Climate https://ex.com/#Climate #Climate."
    facets = facets_for(text, "https://ex.com/#Climate", ["#Climate"])
    data = text.encode()
    assert [data[f.byte_start : f.byte_end].decode() for f in facets] == [
        "#Climate",
        "https://ex.com/#Climate",
        "#Climate",
    ]
    assert [f.kind for f in facets] == ["tag", "link", "tag"]


def test_link_inside_a_longer_url_is_not_faceted() -> None:
    assert facets_for("https://ex.com/?p=12", "https://ex.com/?p=1", []) == ()


# ---------------------------------------------------------------- compose_message


def post(**overrides: object) -> SourcePost:
    values: dict[str, object] = {
        "site": "example",
        "post_id": 15004,
        "link": "https://example.com/?p=15004",
        "title_html": "Iran&#8217;s economy &#8211; a &#8220;test&#8221;",
        "excerpt_html": f"<p>{LOREM * 3}[&hellip;]</p>\n",
        "content_html": "<!-- wp:paragraph --><p>Body text.</p><!-- /wp:paragraph -->",
        "date_gmt": datetime(2026, 1, 2, 3, 4, 5),
        "modified_gmt": datetime(2026, 1, 2, 3, 4, 5),
        "tags": ("Climate change", "اردو ادب", "Economy"),
        "categories": ("News &amp; Views", "World"),
        "author": "J&ouml;rg",
        "featured_image": FeaturedImage(url="https://example.com/a.jpg", alt="A chart"),
    }
    values.update(overrides)
    return SourcePost(**values)  # type: ignore[arg-type]


def settings(template: str = TEMPLATE, **overrides: object) -> AccountSettings:
    # Campaign tags are tested in test_compose_message.py; here the plain link.
    options: dict[str, object] = {"utm": False, **overrides}
    return AccountSettings(network="bluesky", template=template, **options)  # type: ignore[arg-type]


def test_compose_message_bluesky() -> None:
    message = compose_message(post(), settings(), BLUESKY, facets=True, card=True)
    assert message.title == "Iran’s economy – a “test”"
    assert message.excerpt.startswith("Lorem ipsum") and "[" not in message.excerpt
    assert message.text.startswith("Iran’s economy – a “test”\n\nLorem ipsum")
    assert message.text.endswith("#ClimateChange #اردوادب #Economy\n\nhttps://example.com/?p=15004")
    assert message.link == "https://example.com/?p=15004"
    assert message.length == grapheme_count(message.text) <= 300
    data = message.text.encode()
    spans = [(data[f.byte_start : f.byte_end].decode(), f.kind, f.value) for f in message.facets]
    assert spans == [
        ("#ClimateChange", "tag", "ClimateChange"),
        ("#اردوادب", "tag", "اردوادب"),
        ("#Economy", "tag", "Economy"),
        ("https://example.com/?p=15004", "link", "https://example.com/?p=15004"),
    ]
    card = message.card
    assert card is not None
    assert card.url == "https://example.com/?p=15004"
    assert card.title == message.title
    assert card.image_url == "https://example.com/a.jpg" and card.image_alt == "A chart"
    assert 250 < grapheme_count(card.description) <= 300 and card.description.endswith("…")


def test_compose_message_without_facets_card_or_hashtags() -> None:
    message = compose_message(
        post(featured_image=None),
        settings(hashtags=False),
        MASTODON_DEFAULT,
        facets=False,
        card=False,
    )
    assert message.facets == () and message.card is None
    assert "#" not in message.text
    assert message.length == MASTODON_DEFAULT.length(message.text)


def test_compose_message_other_placeholders() -> None:
    template = "{site_name} {date}: {title} by {author} in {categories}\n{content}\n{url}"
    message = compose_message(post(), settings(template), MASTODON_DEFAULT, facets=False, card=True)
    assert message.text == (
        "example 2026-01-02: Iran’s economy – a “test” by Jörg in News & Views, World\n"
        "Body text.\nhttps://example.com/?p=15004"
    )


def test_excerpt_falls_back_to_content() -> None:
    content = "<p>" + LOREM * 10 + "</p>"
    message = compose_message(
        post(excerpt_html="", content_html=content),
        settings(),
        Unlimited(),
        facets=False,
        card=True,
    )
    assert message.excerpt.startswith("Lorem ipsum") and message.excerpt.endswith("…")
    assert grapheme_count(message.excerpt) <= 300
    assert message.card is not None and message.card.image_url is not None


def test_max_hashtags_respected() -> None:
    message = compose_message(
        post(), settings(max_hashtags=1), Unlimited(), facets=False, card=False
    )
    assert "#ClimateChange" in message.text and "#Economy" not in message.text


def test_composing_is_fast() -> None:
    # 10,000 messages must take seconds: here 2,400 distinct (post, rule)
    # pairs, each needing its excerpt cut, within a generous 3 ms apiece.
    posts = [
        post(post_id=i, title_html=f"Post {i} &#8211; {URDU}", excerpt_html=f"<p>{LOREM * 4}</p>")
        for i in range(800)
    ]
    rules: list[LengthRule] = [BLUESKY, MASTODON_DEFAULT, GraphemeRule(limit=280, url_weight=23)]
    account = settings()
    started = time.perf_counter()
    for p in posts:
        for rule in rules:
            compose_message(p, account, rule, facets=True, card=True)
    assert time.perf_counter() - started < 2_400 * 0.003

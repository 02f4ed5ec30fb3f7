"""Every registered network, composed from random WordPress posts, counted its own way.

For each adapter in the registry (configured as the contract test configures
it), random posts go through ``adapter.compose``: titles and excerpts as
WordPress HTML with entities, tags, links with paths and queries, emoji ZWJ
sequences, flags, skin tones, combining marks, Urdu, Arabic and Hebrew, words
longer than any limit, hashtags and URLs inside the excerpt, UTM on and off,
several templates.  Each result must

- fit the adapter's own rule (``adapter.length_rule(post).fits``);
- fit an *independent* count written here from each network's documentation,
  so that a counting bug in ``worker.compose.length`` cannot agree with itself;
- carry the full link as a whole token;
- split no grapheme cluster: every cluster of the text is a cluster of its
  inputs, the template's own text or "…";
- cut no URL and no hashtag of the excerpt or title;
- (Bluesky, LinkedIn) have facets whose byte ranges decode exactly to the link
  and to "#tag".

Mastodon's rule comes from the instance, so a fake instance answers with a
limit drawn per example.

The example count is moderate so the suite stays fast; raise it for a soak run:
CROSSPOST_PROPERTY_EXAMPLES=2000 pytest tests/test_compose_networks.py
"""

from __future__ import annotations

import html
import os
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.mastodon import FakeMastodon
from tests.test_adapter_contract import EXAMPLES, make
from worker.compose import length
from worker.compose.hashtags import hashtags
from worker.compose.template import render
from worker.compose.text import html_to_text
from worker.models import ComposedMessage, FeaturedImage, SourcePost
from worker.platforms.base import Adapter
from worker.platforms.linkedin import commentary, tag_spans_from_facets
from worker.platforms.registry import ADAPTERS
from worker.platforms.telegram import render_html

NETWORKS = sorted(ADAPTERS)
ELLIPSIS = "…"

# ---------------------------------------------------------------------------- inputs

# Whole clusters as keyboards produce them: ZWJ sequences, skin tones, flags,
# letters with marks, Devanagari conjuncts, pointed Hebrew and Arabic.
CLUSTERS = [
    "👩\u200d👩\u200d👧\u200d👦",
    "👨\u200d💻",
    "🏳\ufe0f\u200d🌈",
    "❤\ufe0f",
    "👍🏽",
    "👋🏿",
    "🇵🇰",
    "🇮🇱",
    "🇺🇸",
    "😀",
    "e\u0301",
    "n\u0303",
    "a\u0308\u0323",
    "क्षि",
    "שָׁ",
    "بِ",
    "\u0600\u0661",  # Arabic number sign (a "prepend" character) before a digit
]
# Single characters, so that random words also hold emoji followed by marks,
# lone skin tones, stray ZWJs and variation selectors.
CHARS = (
    "abcXYZé019 .,;:-!?'\"&<>()"
    "’“”—…\u00a0"
    "اردومیںایکمضمونہے"  # Urdu
    "שלוםעולם"  # Hebrew
    "中文"  # weighs 2 on X
    "हिन्दी"
    "\u0301\u0308\u064e\u0650\u05b8"  # combining marks (Latin, Arabic, Hebrew)
    "\u200d\u200c\ufe0f"
    "😀👍🏽👩"
)
TLDS = ["com", "org", "pk", "co.uk", "news", "il"]
URL_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-._~"


def _url(host: str, tld: str, path: list[str], query: str) -> str:
    return f"https://{host}.{tld}/{'/'.join(path)}{query}"


queries = st.one_of(
    st.just(""),
    st.integers(min_value=1, max_value=99999).map(lambda n: f"?p={n}"),
    st.lists(
        st.tuples(
            st.text(alphabet="abcdefgh", min_size=1, max_size=6),
            st.text(alphabet=URL_CHARS, max_size=12),
        ),
        min_size=1,
        max_size=3,
    ).map(lambda pairs: "?" + "&".join(f"{k}={v}" for k, v in pairs)),
)
links = st.builds(
    _url,
    st.text(alphabet="abcdefghij0123456789-", min_size=1, max_size=20),
    st.sampled_from(TLDS),
    st.lists(
        st.one_of(
            st.text(alphabet=URL_CHARS, min_size=1, max_size=15),
            # A percent-encoded Urdu slug, as WordPress writes one.
            st.just("%d8%a7%d8%b1%d8%af%d9%88"),
        ),
        max_size=4,
    ),
    queries,
)

long_links = st.builds(
    _url,
    st.text(alphabet="abcdefghij", min_size=5, max_size=20),
    st.sampled_from(TLDS),
    st.lists(st.text(alphabet=URL_CHARS, min_size=8, max_size=15), min_size=4, max_size=10),
    queries,
)

words = st.one_of(
    st.text(alphabet=CHARS, min_size=1, max_size=12),
    st.lists(st.sampled_from(CLUSTERS), min_size=1, max_size=5).map("".join),
    # Words far longer than any limit force cuts between clusters.
    st.text(alphabet="abcdé", min_size=150, max_size=400),
    st.lists(st.sampled_from(CLUSTERS), min_size=80, max_size=200).map("".join),
    # Hashtags and URLs inside the text must never be cut; long ones are
    # likely to straddle a cut.
    st.text(alphabet="abcdefghijklmnopاردو", min_size=1, max_size=90).map(lambda w: "#" + w),
    links,
    st.builds(lambda link, tail: f"({link}{tail})", long_links, st.sampled_from(["", ",", "/"])),
)
plain_text = st.lists(words, max_size=50).map(" ".join)

# What the editor typed, as WordPress renders it: &, < and > escaped, and
# typographic characters as the numeric or named references it likes.
_ENTITIES = {
    "\u2019": "&#8217;",
    "\u201c": "&#8220;",
    "\u201d": "&#8221;",
    "\u2014": "&#8212;",
    "\u2026": "&hellip;",
    "é": "&eacute;",
    "\u00a0": "&nbsp;",
}


def as_wordpress_html(text: str) -> str:
    escaped = html.escape(text, quote=False)
    return "".join(_ENTITIES.get(char, char) for char in escaped)


titles = plain_text.map(as_wordpress_html)
excerpts = st.lists(plain_text, min_size=0, max_size=3).map(
    lambda paragraphs: (
        "".join(f"<p>{as_wordpress_html(p)}</p>\n" for p in paragraphs[:-1])
        + (f"<p>{as_wordpress_html(paragraphs[-1])} [&hellip;]</p>\n" if paragraphs else "")
    )
)
tag_terms = st.lists(
    st.one_of(
        st.text(alphabet=CHARS, min_size=1, max_size=15),
        st.sampled_from(
            [
                "Climate change",
                "اردو ادب",
                "Iran&#8217;s economy",
                "עברית",
                "C++",
                "2024",
                "Pakistan 🇵🇰",
            ]
        ),
    ),
    max_size=6,
).map(tuple)

TEMPLATES = [
    "{title}\n\n{excerpt}\n\n{url}\n{hashtags}",
    "{title} {url} {hashtags}",
    "{excerpt}\n{url}",
    "📰 {title}: {excerpt}\n\n{hashtags} {url}",
    "{title}\n\n{content}\n\n{url}",
]


@st.composite
def posts(draw: st.DrawFn) -> SourcePost:
    moment = datetime(2026, 4, 19, 7, 30, tzinfo=UTC)
    excerpt_html = draw(excerpts)
    # The body: the excerpt's text many times over, so that long limits
    # (Telegram, LinkedIn, Facebook) are reached by templates with {content}.
    content_html = excerpt_html * draw(st.integers(min_value=1, max_value=40))
    image = draw(st.booleans())
    return SourcePost(
        site="news",
        post_id=draw(st.integers(min_value=1, max_value=10**6)),
        link=draw(links),
        title_html=draw(titles),
        excerpt_html=excerpt_html,
        content_html=content_html,
        date_gmt=moment,
        modified_gmt=moment,
        tags=draw(tag_terms),
        categories=draw(tag_terms),
        featured_image=FeaturedImage(url="https://news.example.com/a.jpg", alt="A chart")
        if image
        else None,
    )


@dataclass(frozen=True)
class Options:
    template: str
    utm: bool
    max_hashtags: int
    hashtags_from: str
    send_photo: bool
    mastodon_limit: int

    def update(self, network: str) -> dict[str, Any]:
        values: dict[str, Any] = {
            "template": self.template,
            "utm": self.utm,
            "max_hashtags": self.max_hashtags,
            "hashtags_from": self.hashtags_from,
        }
        if network == "telegram":
            values["send_photo"] = self.send_photo
        return values


options = st.builds(
    Options,
    template=st.sampled_from(TEMPLATES),
    utm=st.booleans(),
    max_hashtags=st.integers(min_value=0, max_value=5),
    hashtags_from=st.sampled_from(["tags", "categories", "both"]),
    send_photo=st.booleans(),
    mastodon_limit=st.sampled_from([120, 500, 5000]),
)

# ------------------------------------------------------------ independent counts
#
# Written from each network's documentation, not imported from the project.

# A URL as twitter-text and Mastodon's validator see one: up to whitespace,
# without the punctuation that ends a sentence after it.
_URL_TOKEN = regex.compile(r"https?://\S+")
_URL_TRAILING = ".,;:!?'\"’”»)]"


def _url_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in _URL_TOKEN.finditer(text):
        url = match.group().rstrip(_URL_TRAILING)
        if len(url) > len("https://"):
            spans.append((match.start(), match.start() + len(url)))
    return spans


def _outside_urls(text: str) -> tuple[list[str], int]:
    """The text between URLs, and how many URLs there are."""
    spans = _url_spans(text)
    parts, position = [], 0
    for start, end in spans:
        parts.append(text[position:start])
        position = end
    parts.append(text[position:])
    return parts, len(spans)


# An emoji as twitter-text's emoji parser (twemoji) finds one: a flag, or
# pictographs (a modifier sequence, a variation selector, tag characters)
# joined by ZWJ into one sequence, assumed recommended as every keyboard's are.
_PICTOGRAPH = (
    r"(?:\p{Emoji_Modifier_Base}\p{Emoji_Modifier}|\p{Extended_Pictographic}\ufe0f?)"
    r"[\U000e0020-\U000e007f]*"
)
_EMOJI = regex.compile(
    r"\p{Regional_Indicator}{2}|" + _PICTOGRAPH + r"(?:\u200d" + _PICTOGRAPH + r")*"
)
# twitter-text v3 config: these ranges weigh 100, everything else 200.
_LIGHT = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))


def x_length(text: str) -> int:
    """twitter-text v3 ``parseTweet().weightedLength``: NFC, URLs 23, an emoji 2."""
    parts, url_count = _outside_urls(unicodedata.normalize("NFC", text))
    weight = url_count * 2300
    for part in parts:
        position = 0
        while position < len(part):
            match = _EMOJI.match(part, position)
            if match:
                weight += 200
                position = match.end()
                continue
            point = ord(part[position])
            weight += 100 if any(lo <= point <= hi for lo, hi in _LIGHT) else 200
            position += 1
    return -(-weight // 100)


def graphemes(text: str) -> list[str]:
    return list(regex.findall(r"\X", text))


def mastodon_length(text: str) -> int:
    """Mastodon's StatusLengthValidator: grapheme clusters, each URL 23."""
    parts, url_count = _outside_urls(text)
    return url_count * 23 + sum(len(graphemes(part)) for part in parts)


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def threads_length(text: str) -> int:
    """Characters, except that an emoji costs its UTF-8 bytes."""
    total, position = 0, 0
    while position < len(text):
        match = _EMOJI.match(text, position)
        if match:
            total += len(match.group().encode("utf-8"))
            position = match.end()
        else:
            char = text[position]
            is_emoji_part = regex.match(r"[\p{Emoji_Presentation}\p{Emoji_Modifier}]", char)
            total += len(char.encode("utf-8")) if is_emoji_part else 1
            position += 1
    return total


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def telegram_visible(markup: str) -> str:
    """The text Telegram shows (and counts) for an HTML parse-mode message."""
    parser = _Visible()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


def check_bluesky(message: ComposedMessage, post: SourcePost, adapter: Adapter) -> None:
    text = message.text
    assert len(graphemes(text)) <= 300
    assert len(text.encode("utf-8")) <= 3000


def check_x(message: ComposedMessage, post: SourcePost, adapter: Adapter) -> None:
    assert x_length(message.text) <= 280


def check_telegram(message: ComposedMessage, post: SourcePost, adapter: Adapter) -> None:
    visible = telegram_visible(render_html(message))
    assert visible == message.text
    caption = adapter.settings.send_photo and post.featured_image is not None  # type: ignore[attr-defined]
    assert utf16(visible) <= (1024 if caption else 4096)


def check_discord(message: ComposedMessage, post: SourcePost, adapter: Adapter) -> None:
    assert utf16(message.text) <= 2000


def check_threads(message: ComposedMessage, post: SourcePost, adapter: Adapter) -> None:
    assert threads_length(message.text) <= 500


def check_linkedin(message: ComposedMessage, post: SourcePost, adapter: Adapter) -> None:
    # What is actually sent: little text, the composer's hashtags as
    # templates, everything else escaped; LinkedIn's 3,000, in UTF-16 units
    # (the stricter reading of its undocumented count).
    sent = commentary(message.text, tag_spans_from_facets(message.text, message.facets))
    assert utf16(sent) <= 3000


# Facebook and Instagram do not say how they count; their adapters count code
# points (platforms.md marks the limits unverified), and so does this.
def check_facebook(message: ComposedMessage, post: SourcePost, adapter: Adapter) -> None:
    assert len(message.text) <= 63206


def check_instagram(message: ComposedMessage, post: SourcePost, adapter: Adapter) -> None:
    assert len(message.text) <= 2200
    assert sum(1 for word in message.text.split() if word.startswith("#")) <= 30


def check_webhook(message: ComposedMessage, post: SourcePost, adapter: Adapter) -> None:
    assert message.text


def check_mastodon_limit(limit: int) -> Callable[[ComposedMessage, SourcePost, Adapter], None]:
    def check(message: ComposedMessage, post: SourcePost, adapter: Adapter) -> None:
        assert mastodon_length(message.text) <= limit

    return check


INDEPENDENT: dict[str, Callable[[ComposedMessage, SourcePost, Adapter], None]] = {
    "bluesky": check_bluesky,
    "x": check_x,
    "telegram": check_telegram,
    "discord": check_discord,
    "threads": check_threads,
    "linkedin": check_linkedin,
    "facebook": check_facebook,
    "instagram": check_instagram,
    "webhook": check_webhook,
}

# ------------------------------------------------------------------------ checks

_TRAILING_JUNK = ",;:.-\u2013\u2014\u2026\u00b7|/"


def _token_core(token: str) -> str:
    return token.rstrip(ELLIPSIS).rstrip(_TRAILING_JUNK)


def check_link_whole(text: str, link: str) -> None:
    pattern = regex.compile(r"(?<!\S)" + regex.escape(link) + r"(?!\S)")
    assert pattern.search(text), f"the link {link!r} is not whole in {text!r}"


def check_no_split_clusters(
    message: ComposedMessage, sources: list[str], template: str, tags: list[str]
) -> None:
    allowed: set[str] = {ELLIPSIS}
    for source in (*sources, message.link, render(template, {}), *tags):
        allowed.update(graphemes(source))
    for cluster in graphemes(message.text):
        if cluster in allowed or cluster.isspace():
            continue
        # A field that starts with a mark leans on the template's space.
        assert cluster.lstrip() in allowed, f"cluster {cluster!r} is no cluster of the inputs"


def check_urls_and_hashtags_whole(
    message: ComposedMessage, sources: list[str], tags: list[str]
) -> None:
    tokens = [token for source in sources for token in source.split()]
    tokens += [*tags, message.link]
    whole = {*tokens, *map(_token_core, tokens)}
    for token in message.text.split():
        core = _token_core(token)
        if core.startswith("#") or "://" in core:
            # The last kept word loses trailing punctuation before the "…".
            assert token in whole or core in whole, f"{token!r} is a cut URL or hashtag"


def check_facets(message: ComposedMessage, tags: list[str]) -> None:
    data = message.text.encode("utf-8")
    previous_end = 0
    for facet in message.facets:
        assert previous_end <= facet.byte_start < facet.byte_end <= len(data)
        previous_end = facet.byte_end
        shown = data[facet.byte_start : facet.byte_end].decode("utf-8")
        assert shown == (facet.value if facet.kind == "link" else "#" + facet.value)
    assert [f.value for f in message.facets if f.kind == "link"][:1] == [message.link]
    present = {t[1:] for t in tags if t in message.text.split()}
    assert present <= {f.value for f in message.facets if f.kind == "tag"}


# ------------------------------------------------------------------------- tests

PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("CROSSPOST_PROPERTY_EXAMPLES", "35")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

PROPERTY_RULES = settings(
    max_examples=10 * int(os.environ.get("CROSSPOST_PROPERTY_EXAMPLES", "35")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


def test_every_network_is_checked_here() -> None:
    assert set(INDEPENDENT) | {"mastodon"} == set(ADAPTERS) == set(EXAMPLES)


@pytest.mark.parametrize("network", NETWORKS)
@PROPERTY_SETTINGS
@given(post=posts(), chosen=options)
def test_composed_text_fits_every_networks_own_count(
    network: str,
    post: SourcePost,
    chosen: Options,
    fake_mastodon: FakeMastodon,
    http: httpx.Client,
) -> None:
    if network == "instagram" and post.featured_image is None:
        post = SourcePost(
            **{**post.__dict__, "featured_image": FeaturedImage(url="https://a.com/b.jpg", alt="")}
        )
    base = fake_mastodon.url if network == "mastodon" else "http://127.0.0.1:9"
    if network == "mastodon":
        fake_mastodon.max_characters = chosen.mastodon_limit
    example = make(network, base, http)
    adapter = type(example)(
        example.name, example.settings.model_copy(update=chosen.update(network)), http
    )

    message = adapter.compose(post)
    text = message.text

    rule = adapter.length_rule(post)
    assert rule.fits(text)
    if network == "mastodon":
        assert rule.limit == chosen.mastodon_limit  # the instance's, not the default
        check_mastodon_limit(chosen.mastodon_limit)(message, post, adapter)
    else:
        INDEPENDENT[network](message, post, adapter)

    check_link_whole(text, message.link)
    settings_ = adapter.settings
    terms = {
        "tags": post.tags,
        "categories": post.categories,
        "both": (*post.tags, *post.categories),
    }[settings_.hashtags_from]
    tags = hashtags(terms, settings_.max_hashtags)
    sources = [message.title, message.excerpt]
    if "{content}" in settings_.template:
        sources.append(html_to_text(post.content_html))
    check_no_split_clusters(message, sources, settings_.template, tags)
    check_urls_and_hashtags_whole(message, sources, tags)
    if adapter.facts.facets:
        check_facets(message, tags)


# ------------------------------------------------------------- the rules alone
#
# Composing reaches a network's limit only now and then; the rules themselves
# can be compared with the independent counts on every example.

rule_text = st.lists(st.one_of(words, st.sampled_from(CLUSTERS)), max_size=80).map(" ".join)


@PROPERTY_RULES
@given(text=rule_text)
def test_each_rule_counts_as_its_network_does(text: str) -> None:
    assert length.X.length(text) == x_length(text)
    assert length.MASTODON_DEFAULT.length(text) == mastodon_length(text)
    assert length.BLUESKY.fits(text) == (
        len(graphemes(text)) <= 300 and len(text.encode("utf-8")) <= 3000
    )
    assert length.TELEGRAM_MESSAGE.length(text) == utf16(text)
    assert length.DISCORD.length(text) == utf16(text)
    # Threads counts every code point of an emoji cluster's bytes: at least
    # what the documented count gives, never less.
    assert length.THREADS.length(text) >= threads_length(text)
    assert length.INSTAGRAM.length(text) == len(text)

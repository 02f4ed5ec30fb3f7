"""Properties of fitting, for text a hostile world might send.

Fields go through ``html_to_text`` first, as in ``compose_message``, so they
are what the composer really sees.  The alphabets are built to break naive
code: emoji ZWJ sequences, skin tones, flags (regional-indicator pairs),
combining marks, Arabic-script (Urdu) and Devanagari text, words far longer
than any limit, and URLs with paths and queries.
"""

from __future__ import annotations

import html
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.compose.facets import facets_for
from worker.compose.fit import ELLIPSIS, fit
from worker.compose.hashtags import hashtags
from worker.compose.length import BLUESKY, GraphemeRule, LengthRule, graphemes
from worker.compose.text import html_to_text

# Pieces that are one grapheme cluster when written whole, and dangerous when
# split: ZWJ families, skin tones, flags, letters with combining marks.
CLUSTERS = [
    "👩\u200d👩\u200d👧\u200d👦",
    "👍🏽",
    "🇵🇰",
    "🇺🇸",
    "e\u0301",
    "a\u0308\u0323",
    "क्षि",
    "हि",
    "😀",
    "\u0600\u0661",  # Arabic number sign (a "prepend" character) before a digit
]
# Single characters, so that random strings also make lone ZWJs, odd numbers
# of regional indicators, marks at the start of a word, and so on.
CHARS = (
    "abcXYZ 019.,;:-!?'\"&<>"
    "اردومیںایکمضمونہے"  # Urdu letters
    "हिन्दीक्ष"  # Devanagari letters, vowel signs, virama
    "\u0301\u0308\u0327\u064e\u0650"  # combining marks (Latin and Arabic)
    "\u200d\u200c\ufe0f"  # ZWJ, ZWNJ, variation selector
    "👩👧👦🏽🇵🇰😀…\u00a0\n"
)

words = st.one_of(
    st.text(alphabet=CHARS, min_size=1, max_size=12),
    st.lists(st.sampled_from(CLUSTERS), min_size=1, max_size=6).map("".join),
    # A word far longer than any limit, to force cuts between clusters.
    st.text(alphabet="abcdé", min_size=150, max_size=400),
    st.lists(st.sampled_from(CLUSTERS), min_size=80, max_size=200).map("".join),
)
raw_text = st.lists(words, max_size=60).map(" ".join)

url_chars = "abcdefghijklmnopqrstuvwxyz0123456789-._~%"
urls = st.builds(
    lambda host, path, query: f"https://{host}.example/{path}{query}",
    st.text(alphabet="abcdefghij0123456789-", min_size=1, max_size=20),
    st.lists(st.text(alphabet=url_chars, min_size=1, max_size=15), max_size=5).map("/".join),
    st.one_of(
        st.just(""),
        st.lists(
            st.tuples(
                st.text(alphabet="abcdefgh", min_size=1, max_size=6),
                st.text(alphabet=url_chars, max_size=12),
            ),
            min_size=1,
            max_size=4,
        ).map(lambda pairs: "?" + "&".join(f"{k}={v}" for k, v in pairs)),
    ),
)

rules = st.one_of(
    st.builds(GraphemeRule, limit=st.integers(min_value=60, max_value=600), url_weight=st.just(23)),
    st.just(BLUESKY),
)

tag_terms = st.lists(
    st.one_of(
        st.text(alphabet=CHARS, max_size=15), st.sampled_from(["Climate change", "اردو ادب"])
    ),
    max_size=6,
)

# Moderate by default so the suite stays fast; raise it for a soak run:
# CROSSPOST_PROPERTY_EXAMPLES=5000 pytest tests/test_compose_properties.py
PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("CROSSPOST_PROPERTY_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def as_field(raw: str, *, paragraphs: bool = True) -> str:
    """What the composer gets for ``raw`` typed into WordPress."""
    return html_to_text(html.escape(raw), paragraphs=paragraphs)


def is_subsequence(part: list[str], whole: list[str]) -> bool:
    items = iter(whole)
    return all(any(item == wanted for item in items) for wanted in part)


@PROPERTY_SETTINGS
@given(title=raw_text, excerpt=raw_text, url=urls, rule=rules, terms=tag_terms)
def test_result_fits_and_keeps_link_and_facets_are_exact(
    title: str, excerpt: str, url: str, rule: LengthRule, terms: list[str]
) -> None:
    tags = hashtags(terms, 3)
    fields = {
        "title": as_field(title, paragraphs=False),
        "excerpt": as_field(excerpt),
        "url": url,
    }
    text = fit("{title}\n\n{excerpt}\n\n{hashtags}\n\n{url}", fields, rule, hashtags=tags)

    assert rule.fits(text)
    assert text.endswith(url)

    data = text.encode("utf-8")
    facets = facets_for(text, url, tags)
    assert any(f.kind == "link" for f in facets)
    previous_end = 0
    for facet in facets:
        assert previous_end <= facet.byte_start < facet.byte_end <= len(data)
        previous_end = facet.byte_end
        shown = data[facet.byte_start : facet.byte_end].decode("utf-8")
        assert shown == (facet.value if facet.kind == "link" else "#" + facet.value)
    # Every hashtag that made it into the text is faceted.
    assert {f.value for f in facets if f.kind == "tag"} == {
        t[1:] for t in tags if t in text.split()
    }


@PROPERTY_SETTINGS
@given(excerpt=raw_text, url=urls, rule=rules)
def test_never_splits_a_grapheme(excerpt: str, url: str, rule: LengthRule) -> None:
    source = as_field(excerpt)
    text = fit("{excerpt}\n\n{url}", {"excerpt": source, "url": url}, rule, hashtags=[])

    assert rule.fits(text) and text.endswith(url)
    part = text[: len(text) - len(url)].rstrip()
    clusters = graphemes(part)
    if part != source and clusters and clusters[-1] == ELLIPSIS:
        clusters.pop()
    assert is_subsequence(clusters, graphemes(source))


@PROPERTY_SETTINGS
@given(title=raw_text, url=urls, limit=st.integers(min_value=60, max_value=200))
def test_long_title_is_cut_between_graphemes(title: str, url: str, limit: int) -> None:
    rule = GraphemeRule(limit=limit, url_weight=23)
    source = as_field(title, paragraphs=False)
    text = fit("{title}\n\n{url}", {"title": source, "url": url}, rule, hashtags=[])

    assert rule.fits(text) and text.endswith(url)
    clusters = graphemes(text[: len(text) - len(url)].rstrip())
    if clusters and clusters[-1] == ELLIPSIS:
        clusters.pop()
    assert clusters == graphemes(source)[: len(clusters)]

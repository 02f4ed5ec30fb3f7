"""Hashtags from a post's tag names.

A tag name on a WordPress site is free text ("Climate change", "Iran&#8217;s
economy", "اردو ادب"); a hashtag is one word of letters, marks, digits and
underscores.  Every script keeps its letters and combining marks: a
Devanagari vowel sign or an Urdu diacritic is part of the word, not
punctuation to be dropped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import regex

from worker.compose.length import grapheme_count

# What networks accept inside a hashtag: letters, combining marks, digits, "_".
_WORD = regex.compile(r"[\p{L}\p{M}\p{N}_]+")
# Apostrophes join rather than split: "Iran's" is one word, not "Iran" + "S".
_APOSTROPHES = regex.compile(r"['\u2019\u02bc\uff07]")
_LEADING_MARKS = regex.compile(r"^[\p{M}_]+")
_HAS_LETTER = regex.compile(r"\p{L}")

# Bluesky's tag facet allows 64 graphemes and 640 bytes; a longer tag cannot
# be linked anywhere we post, and a hashtag is never cut, so it is dropped.
MAX_TAG_GRAPHEMES = 64
MAX_TAG_BYTES = 640


def _capitalise(word: str) -> str:
    """Upper-case a word's first letter if the author wrote it all in lower case.

    "climate" becomes "Climate" but "eBay" and "iOS" stay as written.  Scripts
    without case (Arabic, Devanagari) are unchanged by ``title``.
    """
    if word != word.lower():
        return word
    return word[:1].title() + word[1:]


def hashtag_body(term: str) -> str:
    """The hashtag for one tag name, without "#"; empty when there is none."""
    text = _APOSTROPHES.sub("", html.unescape(term))
    words = _WORD.findall(text)
    if len(words) > 1:
        words = [_capitalise(word) for word in words]
    # A mark with nothing to sit on would fuse with the "#" into one grapheme.
    return _LEADING_MARKS.sub("", "".join(words))


def tag_allowed(body: str) -> bool:
    """Whether a tag (without "#") is within the limits of a tag facet."""
    # A cluster is at least one character, so short tags need no segmenting.
    if len(body) <= MAX_TAG_GRAPHEMES:
        return len(body.encode()) <= MAX_TAG_BYTES
    return grapheme_count(body) <= MAX_TAG_GRAPHEMES and len(body.encode()) <= MAX_TAG_BYTES


def hashtags(terms: Sequence[str], max_count: int) -> list[str]:
    """At most ``max_count`` distinct "#Tag" strings, in the order of ``terms``.

    Terms with no letter at all ("2024", "!!!") are dropped: networks do not
    link an all-digit hashtag.  Duplicates are judged case-insensitively.
    """
    found: list[str] = []
    seen: set[str] = set()
    for term in terms:
        if len(found) >= max_count:
            break
        body = hashtag_body(term)
        if not body or not _HAS_LETTER.search(body):
            continue
        if not tag_allowed(body):
            continue
        key = body.casefold()
        if key in seen:
            continue
        seen.add(key)
        found.append("#" + body)
    return found

"""Rich-text facets: which byte ranges of a message are the link and the hashtags.

Bluesky shows a URL or a "#tag" as plain text unless a facet says otherwise,
and its facets count UTF-8 bytes, not Python string indexes (``é`` is two
bytes, an emoji four).  A facet must start and end between grapheme clusters
and facets must not overlap.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import regex

from worker.compose.hashtags import tag_allowed
from worker.models import Facet

_GRAPHEME = regex.compile(r"\X")
# A character that would continue a word: a "#tag" followed by one of these is
# part of a longer tag, and one preceded by one is not a tag at all ("C#").
_WORD_CHAR = r"[\p{L}\p{M}\p{N}_\u200c\u200d]"
# Punctuation a sentence may put right after a link without being part of it.
_AFTER_LINK = frozenset(".,;:!?)]}>'\"\u2019\u201d\u00bb\u2026")
_BEFORE_LINK = frozenset("([{<'\"\u2018\u201c\u00ab:")


def _boundaries(text: str) -> set[int]:
    """String indexes between grapheme clusters (0 and len(text) included)."""
    # All in C: one segmentation, running sums of cluster lengths.
    return set(itertools.accumulate(map(len, _GRAPHEME.findall(text)), initial=0))


def _link_spans(text: str, link: str, boundaries: set[int]) -> list[tuple[int, int]]:
    """Every place ``link`` stands on its own in ``text``, not inside a longer URL."""
    spans: list[tuple[int, int]] = []
    if not link:
        return spans
    start = text.find(link)
    while start != -1:
        end = start + len(link)
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if (
            (before.isspace() or before in _BEFORE_LINK)
            and (after.isspace() or after in _AFTER_LINK)
            and start in boundaries
            and end in boundaries
        ):
            spans.append((start, end))
            start = text.find(link, end)
        else:
            start = text.find(link, start + 1)
    return spans


def _tag_spans(text: str, tag: str, boundaries: set[int]) -> list[tuple[int, int]]:
    pattern = regex.compile(
        r"(?<!" + _WORD_CHAR + r"|[#&/])" + regex.escape(tag) + r"(?!" + _WORD_CHAR + r")"
    )
    return [
        (m.start(), m.end())
        for m in pattern.finditer(text)
        if m.start() in boundaries and m.end() in boundaries
    ]


def facets_for(text: str, link: str, tags: Sequence[str]) -> tuple[Facet, ...]:
    """Link and tag facets for ``text``, sorted by position, never overlapping.

    ``tags`` are hashtags as composed ("#Climate"; a missing "#" is added).
    Every whole-token occurrence is faceted: a tag written inside the excerpt
    is as clickable as one at the end.  Where ranges collide (a "#frag" in a
    URL), the earlier-starting one wins, and the link is found first.
    """
    boundaries = _boundaries(text)
    candidates: list[tuple[int, int, str, str]] = [
        (start, end, "link", link) for start, end in _link_spans(text, link, boundaries)
    ]
    seen: set[str] = set()
    for raw in tags:
        body = raw.lstrip("#")
        if not body or body in seen:
            continue
        seen.add(body)
        if not tag_allowed(body):
            continue
        candidates.extend(
            (start, end, "tag", body) for start, end in _tag_spans(text, "#" + body, boundaries)
        )

    # Links sort before tags at the same start, so a link always wins a tie.
    candidates.sort(key=lambda c: (c[0], c[2] != "link", -c[1]))
    facets: list[Facet] = []
    taken_until = 0
    byte_at = _ByteOffsets(text)
    for start, end, kind, value in candidates:
        if start < taken_until:
            continue
        facets.append(Facet(byte_at(start), byte_at(end), kind, value))
        taken_until = end
    return tuple(facets)


class _ByteOffsets:
    """UTF-8 byte offset of a string index, computed incrementally.

    Facets arrive sorted, so each conversion encodes only the text since the
    previous one: linear in the message, not quadratic in the facet count.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.index = 0
        self.byte = 0

    def __call__(self, index: int) -> int:
        if index < self.index:  # not expected, but stay correct
            self.index, self.byte = 0, 0
        self.byte += len(self.text[self.index : index].encode("utf-8"))
        self.index = index
        return self.byte

"""How each network counts the length of a message.

A ``LengthRule`` answers two questions: how long is this text as the network
counts it, and does it fit.  ``fits`` is separate from ``length <= limit``
because some networks have more than one limit (Bluesky: graphemes and bytes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import regex

# A URL as the networks that shorten URLs see one: http(s):// up to whitespace.
URL_PATTERN = regex.compile(r"https?://[^\s]+")
_GRAPHEME = regex.compile(r"\X")


def grapheme_count(text: str) -> int:
    """Extended grapheme clusters: what a reader sees as one character."""
    return len(_GRAPHEME.findall(text))


def graphemes(text: str) -> list[str]:
    return list(_GRAPHEME.findall(text))


class LengthRule(Protocol):
    @property
    def limit(self) -> int: ...

    def length(self, text: str) -> int:
        """The length as the network counts it."""
        ...

    def fits(self, text: str) -> bool:
        """Whether the network accepts this text."""
        ...


@dataclass(frozen=True)
class GraphemeRule:
    """Graphemes, with every URL counting a fixed weight (Mastodon: 23)."""

    limit: int
    url_weight: int | None = None

    def length(self, text: str) -> int:
        if self.url_weight is None:
            return grapheme_count(text)
        total = 0
        position = 0
        for match in URL_PATTERN.finditer(text):
            total += grapheme_count(text[position : match.start()]) + self.url_weight
            position = match.end()
        return total + grapheme_count(text[position:])

    def fits(self, text: str) -> bool:
        return self.length(text) <= self.limit


@dataclass(frozen=True)
class GraphemeAndByteRule:
    """Bluesky: at most ``limit`` graphemes and at most ``byte_limit`` UTF-8 bytes."""

    limit: int = 300
    byte_limit: int = 3000

    def length(self, text: str) -> int:
        return grapheme_count(text)

    def fits(self, text: str) -> bool:
        return len(text.encode("utf-8")) <= self.byte_limit and grapheme_count(text) <= self.limit


@dataclass(frozen=True)
class Unlimited:
    """For targets with no text limit of their own (webhooks)."""

    limit: int = 1_000_000

    def length(self, text: str) -> int:
        return grapheme_count(text)

    def fits(self, text: str) -> bool:
        return True


MASTODON_DEFAULT = GraphemeRule(limit=500, url_weight=23)
BLUESKY = GraphemeAndByteRule()

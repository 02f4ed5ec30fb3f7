"""How each network counts the length of a message.

A ``LengthRule`` answers two questions: how long is this text as the network
counts it, and does it fit.  ``fits`` is separate from ``length <= limit``
because some networks have more than one limit (Bluesky: graphemes and bytes).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal, Protocol

import regex

# A URL as the networks that shorten URLs see one: http(s):// up to whitespace,
# less punctuation that ends a sentence after it (twitter-text stops there too).
URL_PATTERN = regex.compile(r"https?://\S*[^\s.,;:!?'\"’”»)\]]")
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


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units, as JavaScript and Telegram count."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class CodeUnitRule:
    """A plain character count: code points, or UTF-16 code units."""

    limit: int
    unit: Literal["codepoint", "utf16"] = "codepoint"

    def length(self, text: str) -> int:
        return utf16_length(text) if self.unit == "utf16" else len(text)

    def fits(self, text: str) -> bool:
        return self.length(text) <= self.limit


# A cluster that holds (part of) an emoji: a pictograph, a flag letter, or a
# skin tone (which is no pictograph, yet shown as an emoji on its own).
_EMOJI = regex.compile(r"[\p{Extended_Pictographic}\p{Regional_Indicator}\p{Emoji_Modifier}]")
# One emoji as twitter-text's parser (twemoji) finds it: a flag, or
# pictographs (with a skin tone or a variation selector, and tag characters
# for England's flag) joined by ZWJ.  A well-formed ZWJ sequence is taken as one
# emoji: keyboards only make recommended ones, and no list of those ships with
# Python.  Whatever else shares a cluster with an emoji (a combining mark after
# it, a lone ZWJ, a skin tone after a face that takes none) weighs on its own.
# A ZWJ sequence is always one grapheme cluster (UAX #29 GB11), so matching on
# the whole text gives what matching cluster by cluster would.
_PICTOGRAPH = (
    r"(?:\p{Emoji_Modifier_Base}\p{Emoji_Modifier}|\p{Extended_Pictographic}\ufe0f?)"
    r"[\U000e0020-\U000e007f]*"
)
_EMOJI_SEQUENCE = regex.compile(
    r"\p{Regional_Indicator}{2}|" + _PICTOGRAPH + r"(?:\u200d" + _PICTOGRAPH + r")*"
)
# twitter-text v3: these code point ranges weigh 100, everything else 200.
_LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))


# Code points outside those ranges, counted in C rather than one by one.
_HEAVY = regex.compile(
    "[^" + "".join(f"\\U{low:08x}-\\U{high:08x}" for low, high in _LIGHT_RANGES) + "]"
)


def _x_weight(text: str) -> int:
    """Weight (in hundredths) of ``text`` with its emoji: 2 an emoji, then 1 or 2 a code point."""
    if text.isascii():
        return 100 * len(text)
    emoji = 0
    if _EMOJI.search(text):
        text, emoji = _EMOJI_SEQUENCE.subn("", text)
    heavy = len(_HEAVY.findall(text))
    return 200 * emoji + 100 * len(text) + 100 * heavy


@dataclass(frozen=True)
class WeightedRule:
    """X's weighted length (twitter-text v3): NFC text; code points below
    U+1100 (Latin, Greek, Cyrillic, Hebrew, Arabic, Devanagari…) and most
    punctuation weigh 1, other code points 2, an emoji sequence 2, and every
    URL 23 whatever its length."""

    limit: int = 280
    url_weight: int = 23

    def length(self, text: str) -> int:
        text = unicodedata.normalize("NFC", text)
        weight = 0
        position = 0
        for match in URL_PATTERN.finditer(text):
            weight += _x_weight(text[position : match.start()]) + self.url_weight * 100
            position = match.end()
        weight += _x_weight(text[position:])
        return -(-weight // 100)  # round up: a half-weighted character still counts

    def fits(self, text: str) -> bool:
        return self.length(text) <= self.limit


@dataclass(frozen=True)
class EmojiBytesRule:
    """Threads: characters, except that an emoji costs its UTF-8 length."""

    limit: int = 500

    def length(self, text: str) -> int:
        total = 0
        for cluster in _GRAPHEME.findall(text):
            total += len(cluster.encode("utf-8")) if _EMOJI.search(cluster) else len(cluster)
        return total

    def fits(self, text: str) -> bool:
        return self.length(text) <= self.limit


# Any "#" before a letter or digit, wherever it stands: Instagram does not say
# what it takes for a hashtag, so this counts the most it could.
_HASHTAG = regex.compile(r"#[\p{L}\p{M}\p{N}_]")


@dataclass(frozen=True)
class CaptionRule:
    """Instagram: 2,200 characters (code points) and at most 30 hashtags.

    Hashtags written in the excerpt count too, so a post with many of them
    loses excerpt text until the caption is acceptable.
    """

    limit: int = 2200
    max_hashtags: int = 30

    def length(self, text: str) -> int:
        return len(text)

    def fits(self, text: str) -> bool:
        return len(text) <= self.limit and len(_HASHTAG.findall(text)) <= self.max_hashtags


MASTODON_DEFAULT = GraphemeRule(limit=500, url_weight=23)
BLUESKY = GraphemeAndByteRule()
X = WeightedRule()
THREADS = EmojiBytesRule()
TELEGRAM_MESSAGE = CodeUnitRule(limit=4096, unit="utf16")
TELEGRAM_CAPTION = CodeUnitRule(limit=1024, unit="utf16")
DISCORD = CodeUnitRule(limit=2000, unit="utf16")
LINKEDIN = CodeUnitRule(limit=3000)
FACEBOOK = CodeUnitRule(limit=63206)
INSTAGRAM = CaptionRule()

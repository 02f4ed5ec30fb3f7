"""Make a rendered template fit a network's length rule.

What gives way, in order: the content and the excerpt (cut at a word
boundary, with "…"), then hashtags (last first, whole), then the title (cut
the same way), then the remaining decorative fields.  The link is never cut:
if it does not fit on its own, the message cannot be sent at all.

Cutting works on grapheme clusters, so an emoji family, a flag, a skin tone
or a letter with its combining marks is kept or dropped whole; a URL or a
hashtag in the text is kept or dropped whole too.  The longest
prefix that fits is found by searching over cluster counts, starting from an
estimate of the room left and galloping then bisecting from there: a few
probes, each rendering and measuring the message once, instead of the O(n²)
of dropping one character at a time.  The rule is treated as a black box
(``fits`` is the only judge), so a network with an odd way of counting still
gets a message it accepts.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from worker.compose.length import URL_PATTERN, LengthRule, grapheme_count, graphemes
from worker.compose.template import render
from worker.errors import RejectedError

ELLIPSIS: Final = "…"

# A cut excerpt shorter than this reads as noise ("Lorem…"); better none.
MIN_EXCERPT_GRAPHEMES: Final = 12

# Clusters that make an ugly end before the ellipsis ("word,…", "end.…").
_TRAILING_JUNK: Final = frozenset(",;:.-\u2013\u2014\u2026\u00b7|/")

# Fields that are dropped, as a last resort, before giving up on a message.
_DECORATION: Final = ("categories", "author", "site_name", "date")

_BLANK_LINES = re.compile(r"\n{3,}")
_SPACE_RUNS = re.compile(r"(?<=\S) {2,}")


def tidy(text: str) -> str:
    """No trailing spaces on lines, at most one blank line in a row, no space at the ends.

    Empty fields leave such gaps ("{title}\\n\\n{excerpt}\\n\\n{url}" with no
    excerpt), and every network shows them.
    """
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = _BLANK_LINES.sub("\n\n", text)
    text = _SPACE_RUNS.sub(" ", text)
    return text.strip()


_LINK_START = re.compile(r"https?://|www\.", re.IGNORECASE)
_OPENING = "([{<'\"\u2018\u201c\u00ab"


def _uncuttable(word: str) -> bool:
    """Whether ``word`` is (or holds) a URL or is a hashtag."""
    return word.lstrip(_OPENING).startswith("#") or _LINK_START.search(word) is not None


class _Prefixes:
    """The prefixes of one text, each cut where a reader would cut it.

    Built once per field (one grapheme segmentation, O(n)); each ``cut`` then
    costs a short scan back to a word boundary plus the slice.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.clusters = graphemes(text)
        self.offsets = list(itertools.accumulate(map(len, self.clusters), initial=0))

    def __len__(self) -> int:
        return len(self.clusters)

    def kept(self, k: int) -> int:
        """How many source clusters ``cut(k)`` keeps (before the ellipsis)."""
        clusters = self.clusters
        if k >= len(clusters):
            return len(clusters)
        if k <= 0:
            return 0
        # Back to the last whitespace cluster at or before index k: what is
        # before it is whole words.  A boundary that would throw away more
        # than half of what fits means a very long word (a URL, a language
        # written without spaces); then cut between clusters instead.
        end = k
        floor = k // 2
        while end > floor and not clusters[end].isspace():
            end -= 1
        if end <= floor:
            end = k
            # Never inside a URL or a hashtag, though: a cut one is another
            # link or another tag.  Then the whole word goes.
            start = end
            while start and not clusters[start - 1].isspace():
                start -= 1
            stop = end
            while stop < len(clusters) and not clusters[stop].isspace():
                stop += 1
            if _uncuttable("".join(clusters[start:stop])):
                end = start
        while end and (clusters[end - 1].isspace() or clusters[end - 1] in _TRAILING_JUNK):
            end -= 1
        # A "prepend" cluster (e.g. U+0600 ARABIC NUMBER SIGN) would fuse
        # with the ellipsis into a new cluster; stop before it.  ASCII never
        # prepends, which spares the check almost always.
        while (
            end
            and not clusters[end - 1].isascii()
            and grapheme_count(clusters[end - 1] + ELLIPSIS) != 2
        ):
            end -= 1
        return end

    def cut(self, k: int) -> str:
        """The text cut to at most ``k`` clusters plus "…"; the whole text if it has ≤ k."""
        if k >= len(self.clusters):
            return self.text
        end = self.kept(k)
        if end == 0:
            return ""
        return self.text[: self.offsets[end]] + ELLIPSIS


@functools.lru_cache(maxsize=256)
def shorten(text: str, max_graphemes: int) -> str:
    """``text`` in at most ``max_graphemes`` clusters, "…" included, cut between words.

    Only the start of ``text`` is segmented, so shortening a whole article
    body costs what the result costs.  Cached: one post is composed for
    several accounts.
    """
    if max_graphemes <= 0:
        return ""
    # Boundaries before the end of a slice do not depend on what follows the
    # slice, so segmenting a slice is exact except for its last cluster.
    size = max(64, 4 * max_graphemes)
    while size < len(text):
        if len(graphemes(text[:size])) > max_graphemes + 1:
            return _Prefixes(text[:size]).cut(max_graphemes - 1)
        size *= 2
    if grapheme_count(text) <= max_graphemes:
        return text
    return _Prefixes(text).cut(max_graphemes - 1)


def _longest(prefixes: _Prefixes, fits: Callable[[str], bool], hint: int) -> int | None:
    """The largest k such that ``fits(prefixes.cut(k))``; None if not even k = 0.

    The search assumes that a longer prefix never measures shorter, which
    holds for every rule here (a URL cut to "https:/" is the one wobble, and
    it only makes the search settle for a slightly shorter cut).  It starts at
    ``hint``, an estimate of the room left, and gallops from there: with a
    good estimate that is a handful of probes, and never more than about
    2·log2(n).
    """
    n = len(prefixes)
    if fits(prefixes.cut(n)):
        return n
    if not fits(prefixes.cut(0)):
        return None
    lo, hi = 0, n  # invariant: cut(lo) fits, cut(hi) does not
    k = min(max(hint, 1), n - 1)
    step = 1
    if k > lo and fits(prefixes.cut(k)):
        lo = k
        while lo + step < hi:
            if not fits(prefixes.cut(lo + step)):
                hi = lo + step
                break
            lo += step
            step *= 2
    else:
        hi = max(k, 1)
        while hi - step > lo:
            if fits(prefixes.cut(hi - step)):
                lo = hi - step
                break
            hi -= step
            step *= 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(prefixes.cut(mid)):
            lo = mid
        else:
            hi = mid
    return lo


def _room(rule: LengthRule, without: str, text: str) -> int:
    """An estimate of how many clusters of ``text`` fit into a message that is
    ``without`` when the field is empty: the rule's limit less what is used,
    less the ellipsis and a separator, plus the clusters of any URL in
    ``text`` (rules that weigh URLs count them as less than their length)."""
    room = rule.limit - rule.length(without) - 3
    if "://" in text:
        room += sum(grapheme_count(m.group()) for m in URL_PATTERN.finditer(text))
    return room


def fit(
    template: str,
    fields: Mapping[str, str],
    rule: LengthRule,
    *,
    hashtags: Sequence[str],
) -> str:
    """Render ``template`` and shorten it until ``rule.fits`` it.

    ``hashtags`` fill ``{hashtags}``, space-separated.  Raises
    ``RejectedError`` when even the link alone is too long.
    """
    values: dict[str, str] = dict(fields)
    tags = list(hashtags)
    # Probes often produce the same text twice (a word-boundary cut is the
    # same for several k; the empty excerpt is tried by two steps).
    # Measuring is the expensive part, so each distinct text is measured once.
    measured: dict[str, bool] = {}

    def accepts(text: str) -> bool:
        answer = measured.get(text)
        if answer is None:
            answer = measured[text] = rule.fits(text)
        return answer

    def build(overrides: Mapping[str, str], tag_count: int) -> str:
        merged = {**values, **overrides, "hashtags": " ".join(tags[:tag_count])}
        return tidy(render(template, merged))

    full = build({}, len(tags))
    if accepts(full):
        return full

    # Only fields the template shows can make room; probing others is waste.
    used = {name for name in values if "{" + name + "}" in template}

    # 1. The long texts give way first: content, then excerpt, with every
    # hashtag kept.  If the message does not fit even without them, hashtags
    # go, last first, and whatever room that frees goes back to the excerpt.
    shrinkable: list[str] = [
        name for name in ("content", "excerpt") if name in used and values[name]
    ]
    for tag_count in range(len(tags), -1, -1):
        if accepts(build({name: "" for name in shrinkable}, tag_count)):
            return _fill(
                shrinkable, values, rule, accepts, functools.partial(build, tag_count=tag_count)
            )

    # 2. Then the title, with no excerpt and no hashtags; if even an empty
    # title is too much, the decorative fields go too.
    fixed: dict[str, str] = {name: "" for name in shrinkable}
    no_decoration: dict[str, str] = {name: "" for name in _DECORATION}
    for extras in ({}, no_decoration):
        fixed.update(extras)
        title = values.get("title", "")
        if "title" in used and title:
            prefixes = _Prefixes(title)
            k = _longest(
                prefixes,
                lambda t: accepts(build({**fixed, "title": t}, 0)),
                _room(rule, build({**fixed, "title": ""}, 0), title),
            )
            if k is not None:
                return build({**fixed, "title": prefixes.cut(k)}, 0)
        elif accepts(build(fixed, 0)):
            return build(fixed, 0)

    # 3. The link alone, without the template's words around it.
    url = values.get("url", "").strip()
    if url and rule.fits(url):
        return url
    raise RejectedError(
        f"the link alone ({rule.length(url)} as this network counts) is longer than "
        f"its limit of {rule.limit}"
    )


def _fill(
    shrinkable: list[str],
    values: Mapping[str, str],
    rule: LengthRule,
    accepts: Callable[[str], bool],
    build: Callable[[Mapping[str, str]], str],
) -> str:
    """Shorten ``shrinkable`` fields, first to last, until the message fits;
    it is known to fit when all of them are empty."""
    chosen: dict[str, str] = {}
    for name in shrinkable:
        # Fields after this one are still whole here: a later field is cut
        # only once every earlier one is gone entirely.
        def probe(text: str, name: str = name) -> bool:
            return accepts(build({**chosen, name: text}))

        if not probe(""):
            chosen[name] = ""
            continue
        prefixes = _Prefixes(values[name])
        room = _room(rule, build({**chosen, name: ""}), values[name])
        k = _longest(prefixes, probe, room) or 0
        if k < len(prefixes) and prefixes.kept(k) < MIN_EXCERPT_GRAPHEMES:
            k = 0
        chosen[name] = prefixes.cut(k)
        break
    return build(chosen)

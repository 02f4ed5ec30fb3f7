"""Plain text from the HTML WordPress renders.

WordPress hands us ``title.rendered``, ``excerpt.rendered`` and
``content.rendered``: HTML with block-editor comments, typographic entities
(``&#8217;``, ``&hellip;``), an auto-excerpt tail `` [&hellip;]`` and, in many
themes, a trailing "Continue reading" link.  Networks want none of that, so
this module turns such HTML into text a reader would type.

We parse with the standard library's ``html.parser`` rather than regular
expressions: attributes may contain ``>``, scripts may contain tags, and
entities must be decoded exactly once, after the markup is gone.
"""

from __future__ import annotations

import functools
import re
from html.parser import HTMLParser

# Elements whose start and end separate paragraphs.
_PARAGRAPH_TAGS = frozenset(
    {
        "p",
        "div",
        "blockquote",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
        "dl",
        "table",
        "figure",
        "figcaption",
        "section",
        "article",
        "header",
        "footer",
        "aside",
        "main",
        "nav",
        "pre",
        "hr",
        "address",
        "details",
        "summary",
    }
)
# Elements that end a line but not a paragraph: a list of items or a poem set
# with <br> reads better without a blank line between every line.
_LINE_TAGS = frozenset({"br", "li", "dt", "dd", "tr"})
# Elements whose content is never text a reader sees.
_HIDDEN_TAGS = frozenset(
    {"script", "style", "noscript", "template", "svg", "math", "iframe", "object", "head", "title"}
)
# Themes replace the " [&hellip;]" tail with a link such as "Continue reading
# <span>Title</span> &rarr;" or "Read more »"; core marks it class="more-link".
_MORE_LINK_TEXT = re.compile(
    r"^\W*(continue\s+reading|read\s+more|read\s+the\s+rest|keep\s+reading)\b", re.IGNORECASE
)
_MORE_LINK_CLASSES = frozenset({"more-link", "read-more", "read-more-link", "continue-reading"})

# The auto-excerpt tail, after entities are decoded: " […]" or " [...]".
_EXCERPT_TAIL = re.compile(r"\s*\[\s*(?:…|\.\.\.)\s*\]\s*$")

# Any run of whitespace, including no-break and other Unicode spaces (``\s``
# on str matches them), but not zero-width joiners, which belong to emoji.
_SPACES = re.compile(r"\s+")


class _Break:
    """A marker in the token stream: a line or paragraph ends here."""

    __slots__ = ("paragraph",)

    def __init__(self, paragraph: bool) -> None:
        self.paragraph = paragraph


_LINE = _Break(paragraph=False)
_PARAGRAPH = _Break(paragraph=True)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        # convert_charrefs decodes named and numeric entities in text, and
        # only in text, which is exactly once.
        super().__init__(convert_charrefs=True)
        self.tokens: list[str | _Break] = []
        self._hidden_depth = 0
        self._anchor_start: int | None = None
        self._anchor_is_more: bool = False
        # (start, end) token indexes of the last "read more" style link.
        self.more_link: tuple[int, int] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden_depth += 1
            return
        if self._hidden_depth:
            return
        if tag in _PARAGRAPH_TAGS:
            self.tokens.append(_PARAGRAPH)
        elif tag in _LINE_TAGS:
            self.tokens.append(_LINE)
        elif tag == "a":
            classes = " ".join(value or "" for name, value in attrs if name == "class").split()
            self._anchor_start = len(self.tokens)
            self._anchor_is_more = any(c in _MORE_LINK_CLASSES for c in classes)
        elif tag in ("td", "th"):
            self.tokens.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # "<br/>" and "<p/>": an opening with nothing inside, never a scope.
        if tag in _HIDDEN_TAGS:
            return
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden_depth = max(0, self._hidden_depth - 1)
            return
        if self._hidden_depth:
            return
        if tag in _PARAGRAPH_TAGS:
            self.tokens.append(_PARAGRAPH)
        elif tag in _LINE_TAGS:
            self.tokens.append(_LINE)
        elif tag == "a" and self._anchor_start is not None:
            start = self._anchor_start
            text = "".join(t for t in self.tokens[start:] if isinstance(t, str))
            if self._anchor_is_more or _MORE_LINK_TEXT.match(text):
                self.more_link = (start, len(self.tokens))
            self._anchor_start = None
            self._anchor_is_more = False

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.tokens.append(data)

    # Comments (the block editor's <!-- wp:paragraph -->), doctype and
    # processing instructions are dropped by HTMLParser's default no-op
    # handlers; nothing to do for them.


def _drop_trailing_more_link(tokens: list[str | _Break], span: tuple[int, int] | None) -> None:
    """Remove a "Continue reading" link if nothing but space and breaks follows it."""
    if span is None:
        return
    start, end = span
    for token in tokens[end:]:
        if isinstance(token, str) and token.strip():
            return
    del tokens[start:]


def _assemble(tokens: list[str | _Break], paragraphs: bool) -> str:
    blocks: list[list[str]] = [[]]  # paragraphs of lines
    line: list[str] = []

    def end_line() -> None:
        text = _SPACES.sub(" ", "".join(line)).strip()
        line.clear()
        if text:
            blocks[-1].append(text)

    for token in tokens:
        if isinstance(token, str):
            line.append(token)
            continue
        end_line()
        if token.paragraph and blocks[-1]:
            blocks.append([])
    end_line()

    kept = [lines for lines in blocks if lines]
    if not paragraphs:
        return " ".join(" ".join(lines) for lines in kept)
    return "\n\n".join("\n".join(lines) for lines in kept)


@functools.lru_cache(maxsize=128)
def html_to_text(html: str, *, paragraphs: bool = True) -> str:
    """The text a reader sees in a WordPress HTML fragment.

    With ``paragraphs`` true, paragraphs are separated by a blank line and
    ``<br>``/list items by a line break; otherwise everything is one line (for
    titles).  Cached because one post is composed once per account.
    """
    if not html:
        return ""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    tokens = parser.tokens
    _drop_trailing_more_link(tokens, parser.more_link)
    text = _assemble(tokens, paragraphs)
    return _EXCERPT_TAIL.sub("", text)

"""HTML → text and tag names → hashtags, on what WordPress really sends."""

from __future__ import annotations

import pytest

from worker.compose.hashtags import hashtags
from worker.compose.text import html_to_text

# (WordPress HTML, text with paragraphs, text on one line)
HTML_CASES: list[tuple[str, str, str | None]] = [
    # Texturized title: numeric entities for quotes, dashes and the ellipsis.
    (
        "It&#8217;s a &#8220;test&#8221; &#8212; don&#8217;t panic&#8230;",
        "It’s a “test” — don’t panic…",
        "It’s a “test” — don’t panic…",
    ),
    ("Caf&eacute; &amp; cr&egrave;me", "Café & crème", "Café & crème"),
    ("Iran&#8217;s economy &#8211; Q&amp;A", "Iran’s economy – Q&A", "Iran’s economy – Q&A"),
    # Auto excerpt: <p>…</p>, a newline, and the " [&hellip;]" tail.
    (
        "<p>Lorem ipsum dolor sit amet [&hellip;]</p>\n",
        "Lorem ipsum dolor sit amet",
        "Lorem ipsum dolor sit amet",
    ),
    ("<p>Lorem ipsum [&#8230;]</p>", "Lorem ipsum", "Lorem ipsum"),
    ("<p>Lorem ipsum [...]</p>", "Lorem ipsum", "Lorem ipsum"),
    # A "[…]" that is not at the end is the author's, not the excerpt's.
    ("<p>He said […] and left.</p>", "He said […] and left.", "He said […] and left."),
    # No-break spaces become plain spaces; runs of space collapse.
    ("<p>one&nbsp;two&#160;\u00a0three   four\n\tfive</p>", "one two three four five", None),
    # Block-editor comments and scripts/styles vanish, paragraphs stay.
    (
        "<!-- wp:paragraph -->\n<p>First paragraph.</p>\n<!-- /wp:paragraph -->\n\n"
        "<!-- wp:html --><script>document.write('<p>nope</p>');</script>"
        "<style>p { color: red }</style><!-- /wp:html -->\n\n"
        "<!-- wp:heading --><h2>A heading</h2><!-- /wp:heading -->\n"
        "<!-- wp:paragraph -->\n<p>Second <strong>bold</strong> <em>line</em>.</p>\n"
        "<!-- /wp:paragraph -->",
        "First paragraph.\n\nA heading\n\nSecond bold line.",
        "First paragraph. A heading Second bold line.",
    ),
    # <br> and list items end a line; lists, quotes and divs are paragraphs.
    (
        "<p>Roses are red<br />violets are blue</p><ul><li>one</li><li>two</li></ul>"
        "<blockquote><p>quoted</p></blockquote><div>last</div>",
        "Roses are red\nviolets are blue\n\none\ntwo\n\nquoted\n\nlast",
        "Roses are red violets are blue one two quoted last",
    ),
    # Twenty Seventeen style "Continue reading" link (with screen-reader title).
    (
        '<p>The start of the story &hellip; <a href="https://ex.com/?p=1" class="more-link">'
        'Continue reading<span class="screen-reader-text"> &#8220;Story&#8221;</span>'
        " &rarr;</a></p>\n",
        "The start of the story …",
        "The start of the story …",
    ),
    # A theme's plain "Read more" link after the excerpt, in its own paragraph.
    (
        '<p>Summary here.</p>\n<p><a href="https://ex.com/?p=2">Read more &raquo;</a></p>',
        "Summary here.",
        "Summary here.",
    ),
    # A link in the middle of the text is text, even if it says "read more".
    (
        '<p>You can <a href="/x">read more</a> about it here.</p>',
        "You can read more about it here.",
        "You can read more about it here.",
    ),
    # Urdu and emoji (ZWJ family, flag, skin tone) come through untouched.
    ("<p>اردو میں ایک مضمون</p>", "اردو میں ایک مضمون", "اردو میں ایک مضمون"),
    (
        "<p>👩\u200d👩\u200d👧\u200d👦 🇵🇰 👍🏽</p>",
        "👩\u200d👩\u200d👧\u200d👦 🇵🇰 👍🏽",
        "👩\u200d👩\u200d👧\u200d👦 🇵🇰 👍🏽",
    ),
    # Devanagari with its vowel signs and virama.
    ("<p>हिन्दी में लेख</p>", "हिन्दी में लेख", "हिन्दी में लेख"),
    # Attributes containing ">" and entity-encoded markup in the text.
    (
        '<p title="a > b">x &lt;b&gt; y</p><img src="a.jpg" alt="picture">',
        "x <b> y",
        "x <b> y",
    ),
    ("", "", ""),
    ("<p> </p><p>&nbsp;</p>", "", ""),
]


@pytest.mark.parametrize(("html", "text", "line"), HTML_CASES)
def test_html_to_text(html: str, text: str, line: str | None) -> None:
    assert html_to_text(html) == text
    assert html_to_text(html, paragraphs=False) == (text if line is None else line)


def test_a_title_is_one_line() -> None:
    assert html_to_text("<p>One</p><p>Two</p>", paragraphs=False) == "One Two"


def test_entities_decoded_once() -> None:
    # "&amp;#8217;" is the text "&#8217;", written by someone showing HTML.
    assert html_to_text("Write &amp;#8217; for ’") == "Write &#8217; for ’"


HASHTAG_CASES: list[tuple[list[str], int, list[str]]] = [
    (["Climate change"], 5, ["#ClimateChange"]),
    (["climate"], 5, ["#climate"]),
    (["eBay tips"], 5, ["#eBayTips"]),
    (["اردو ادب"], 5, ["#اردوادب"]),
    (["اردو"], 5, ["#اردو"]),
    (["हिन्दी साहित्य"], 5, ["#हिन्दीसाहित्य"]),
    (["Café crème"], 5, ["#CaféCrème"]),
    (["Iran&#8217;s economy"], 5, ["#IransEconomy"]),
    (["Q&amp;A"], 5, ["#QA"]),
    (["COVID-19"], 5, ["#COVID19"]),
    (["rock 'n' roll!"], 5, ["#RockNRoll"]),
    (["snake_case"], 5, ["#snake_case"]),
    # Duplicates, ignoring case and the punctuation that is removed.
    (
        ["Climate change", "climate-change", "CLIMATECHANGE", "Climate"],
        5,
        ["#ClimateChange", "#Climate"],
    ),
    # Nothing left, or nothing but digits: no hashtag.
    (["2024", "!!!", "", "  ", "١٢٣"], 5, []),
    (["2024 elections"], 5, ["#2024Elections"]),
    (["a", "b", "c", "d"], 2, ["#a", "#b"]),
    (["a", "b"], 0, []),
    # Dropped terms do not use up the budget.
    (["2024", "news", "!!!", "world"], 2, ["#news", "#world"]),
]


@pytest.mark.parametrize(("terms", "max_count", "expected"), HASHTAG_CASES)
def test_hashtags(terms: list[str], max_count: int, expected: list[str]) -> None:
    assert hashtags(terms, max_count) == expected


def test_hashtag_never_starts_with_a_combining_mark() -> None:
    # A bare mark after "#" would fuse with it into one grapheme.
    assert hashtags(["\u0301abc"], 3) == ["#abc"]


def test_overlong_hashtag_is_dropped_not_cut() -> None:
    assert hashtags(["x" * 65, "ok"], 3) == ["#ok"]

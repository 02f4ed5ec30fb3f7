"""Composing what a real WordPress renders: table tests over the harness site.

Posts are written through the REST API the way an editor's tools write them
(straight quotes, ``--`` and ``...`` that WordPress texturizes into
``&#8217;``, ``&#8220;``, ``&#8212;`` and ``&#8230;``; a title sent already
entity-encoded; Urdu; emoji sequences; a 2,400-word article whose automatic
excerpt ends in `` [&hellip;]``), read back through ``WordPressSource`` (the
real normalising code) and composed for several networks.  The expected texts
are written out in full.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import regex

from tests.harness.wordpress_fixture import WordPressHarness
from worker.accounts import AccountSettings
from worker.compose.length import (
    BLUESKY,
    MASTODON_DEFAULT,
    TELEGRAM_CAPTION,
    THREADS,
    LengthRule,
    X,
)
from worker.compose.message import compose_message
from worker.models import SourcePost
from worker.settings import SiteSettings
from worker.sources.wordpress import WordPressSource

pytestmark = pytest.mark.wordpress

RULES: dict[str, LengthRule] = {
    "x": X,
    "bluesky": BLUESKY,
    "mastodon": MASTODON_DEFAULT,
    "telegram": TELEGRAM_CAPTION,
    "threads": THREADS,
}

# A long article in words of every length, so that the 55-word automatic
# excerpt is longer than X's and Bluesky's limits and must be cut.
SENTENCE = (
    "the council approved a budget of unprecedented size after negotiations "
    "that lasted through the night while correspondents waited outside and "
    "independent economists questioned assumptions about revenue"
)
VOCABULARY = SENTENCE.split()
LONG_BODY = "\n\n".join(
    "<p>" + " ".join(VOCABULARY[(p * 7 + i) % len(VOCABULARY)] for i in range(120)) + "</p>"
    for p in range(20)
)


@dataclass(frozen=True)
class Written:
    """A post as the editor typed it."""

    title: str
    content: str
    tags: tuple[str, ...] = ()


WRITTEN = {
    "texturized": Written(
        "It's a \"test\" -- don't panic...",
        '<p>She said "it\'s fine" -- and left...</p>',
        ("Don't panic", "Test"),
    ),
    "encoded": Written(
        "Caf&eacute; &amp; Cr&egrave;me",
        "<p>Caf&eacute; &amp; cr&egrave;me br&ucirc;l&eacute;e &#8211; a classic</p>",
    ),
    "urdu": Written(
        "اردو ادب کی تاریخ",
        "<p>اردو ایک ہند آریائی زبان ہے جو پاکستان کی قومی زبان ہے۔</p>",
        ("اردو ادب",),
    ),
    "emoji": Written(
        "Family 👩\u200d👩\u200d👧\u200d👦 in 🇵🇰 👍🏽",
        "<p>We met 👋🏿 at the café ❤\ufe0f</p>",
        ("Emoji 😀", "Pakistan"),
    ),
    "long": Written("A very long post", LONG_BODY),
}


@pytest.fixture(scope="module")
def wordpress_posts(wordpress_plain: WordPressHarness) -> Iterator[dict[str, SourcePost]]:
    with wordpress_plain.admin() as admin, httpx.Client(timeout=20) as http:
        ids = {
            key: admin.create_post(post.title, post.content, tags=post.tags)
            for key, post in WRITTEN.items()
        }
        source = WordPressSource("news", SiteSettings(url=wordpress_plain.url), http)
        fetched = {
            post.post_id: post for post in source.fetch(source.discover_root(), [*ids.values()])
        }
        yield {key: fetched[post_id] for key, post_id in ids.items()}


def compose(post: SourcePost, network: str) -> str:
    settings = AccountSettings(network=network, utm=False)
    message = compose_message(
        post, settings, RULES[network], facets=network == "bluesky", card=network == "bluesky"
    )
    assert RULES[network].fits(message.text)
    return message.text


def test_what_wordpress_rendered(wordpress_posts: dict[str, SourcePost]) -> None:
    # The inputs really are WordPress's rendering, entities and all.
    assert wordpress_posts["texturized"].title_html == (
        "It&#8217;s a &#8220;test&#8221; &#8212; don&#8217;t panic&#8230;"
    )
    assert wordpress_posts["encoded"].title_html == "Caf&eacute; &amp; Cr&egrave;me"
    assert wordpress_posts["long"].excerpt_html.rstrip().endswith(" [&hellip;]</p>")
    assert len(regex.findall(r"\w+", LONG_BODY)) >= 2400


@pytest.mark.parametrize("network", sorted(RULES))
def test_texturized_quotes_dashes_and_ellipses(
    wordpress_posts: dict[str, SourcePost], network: str
) -> None:
    post = wordpress_posts["texturized"]
    assert compose(post, network) == (
        "It’s a “test” — don’t panic…\n\n"
        "She said “it’s fine” — and left…\n\n"
        f"{post.link}\n#DontPanic #Test"
    )


@pytest.mark.parametrize("network", sorted(RULES))
def test_a_title_sent_entity_encoded(wordpress_posts: dict[str, SourcePost], network: str) -> None:
    post = wordpress_posts["encoded"]
    text = compose(post, network)
    assert text == f"Café & Crème\n\nCafé & crème brûlée – a classic\n\n{post.link}"
    assert "&#" not in text and "&amp;" not in text


@pytest.mark.parametrize("network", sorted(RULES))
def test_an_urdu_post(wordpress_posts: dict[str, SourcePost], network: str) -> None:
    post = wordpress_posts["urdu"]
    assert compose(post, network) == (
        "اردو ادب کی تاریخ\n\n"
        "اردو ایک ہند آریائی زبان ہے جو پاکستان کی قومی زبان ہے۔\n\n"
        f"{post.link}\n#اردوادب"
    )


@pytest.mark.parametrize("network", sorted(RULES))
def test_an_emoji_post(wordpress_posts: dict[str, SourcePost], network: str) -> None:
    post = wordpress_posts["emoji"]
    assert compose(post, network) == (
        "Family 👩\u200d👩\u200d👧\u200d👦 in 🇵🇰 👍🏽\n\n"
        "We met 👋🏿 at the café ❤\ufe0f\n\n"
        f"{post.link}\n#Emoji #Pakistan"
    )


LONG_EXCERPT_WORDS = 55


def test_a_long_post_is_cut_at_a_word_with_an_ellipsis(
    wordpress_posts: dict[str, SourcePost],
) -> None:
    post = wordpress_posts["long"]
    excerpt_words = " ".join(VOCABULARY[i % len(VOCABULARY)] for i in range(LONG_EXCERPT_WORDS))
    head = "A very long post\n\n"
    tail = f"\n\n{post.link}"

    # Room enough on Mastodon, Threads (500) and in a Telegram caption (1024):
    # all 55 words, and WordPress's " [&hellip;]" gone.
    for network in ("mastodon", "telegram", "threads"):
        assert compose(post, network) == head + excerpt_words + tail

    texts = {network: compose(post, network) for network in ("x", "bluesky")}
    for network, text in texts.items():
        assert text.startswith(head) and text.endswith(tail), network
        cut = text[len(head) : -len(tail)]
        assert cut.endswith("…") and "[" not in cut, network
        kept = cut[:-1]
        # Whole words, a prefix of the excerpt, and as many as fit.
        assert excerpt_words.startswith(kept) and excerpt_words[len(kept)] == " ", network
        next_word = excerpt_words[len(kept) :].split()[0]
        longer = head + kept + " " + next_word + "…" + tail
        assert not RULES[network].fits(longer), network

    assert (
        texts["x"]
        == head
        + (
            "the council approved a budget of unprecedented size after negotiations that lasted "
            "through the night while correspondents waited outside and independent economists "
            "questioned assumptions about revenue the council approved a budget of…"
        )
        + tail
    )
    # X weighs "…" as 2 and the link as 23: 18 + 233 + 2 + 2 + 23 = 278, and
    # " unprecedented" would need 14 more.
    assert X.length(texts["x"]) == 278

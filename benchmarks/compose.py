"""How fast messages are composed: 10,000 distinct posts per network.

Each post is different (so the small caches in ``html_to_text`` and
``shorten`` cannot flatter the figure) and looks like what WordPress sends:
titles full of ``&#8217;``/``&#8220;``/``&#8212;``, 55-word automatic
excerpts ending in `` [&hellip;]``, some in Urdu, some with emoji sequences,
three to five tags.  Every post is composed for Mastodon (the rule given
directly, no instance call), Bluesky (with facets and a card), X and Telegram,
all with UTM tags on.  Prints messages per second and seconds per network and
overall, then the peak memory of one traced pass (tracemalloc slows Python
down, so timing and tracing are separate passes).

    .venv/bin/python -m benchmarks.compose [--posts 10000] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import time
import tracemalloc
from datetime import UTC, datetime

from worker.accounts import AccountSettings
from worker.compose.length import BLUESKY, MASTODON_DEFAULT, TELEGRAM_MESSAGE, LengthRule, X
from worker.compose.message import compose_message
from worker.models import FeaturedImage, SourcePost

NETWORKS: dict[str, tuple[LengthRule, bool, bool]] = {
    # network: (rule, facets, card)
    "mastodon": (MASTODON_DEFAULT, False, False),
    "bluesky": (BLUESKY, True, True),
    "x": (X, False, False),
    "telegram": (TELEGRAM_MESSAGE, False, False),
}

ENGLISH_TEXT = (
    "the council approved a budget of unprecedented size after negotiations that lasted "
    "through the night while correspondents waited outside and independent economists "
    "questioned assumptions about revenue growth inflation wages housing transport energy "
    "schools hospitals"
)
ENGLISH = ENGLISH_TEXT.split()
URDU_TEXT = "اردو ایک ہند آریائی زبان ہے جو پاکستان کی قومی زبان اور ادب کی تاریخ بہت پرانی"
URDU = URDU_TEXT.split()
EMOJI = ["👩\u200d👩\u200d👧\u200d👦", "🇵🇰", "👍🏽", "❤\ufe0f", "😀", "🏳\ufe0f\u200d🌈"]
ENTITY_WORDS = [
    "don&#8217;t",
    "&#8220;budget&#8221;",
    "&#8212;",
    "&amp;",
    "caf&eacute;",
    "it&#8217;s",
]
TAGS = [
    "Climate change",
    "اردو ادب",
    "Budget",
    "Iran&#8217;s economy",
    "World news",
    "Économie",
    "Pakistan 🇵🇰",
    "Housing",
]


def make_posts(count: int, seed: int) -> list[SourcePost]:
    rng = random.Random(seed)
    moment = datetime(2026, 4, 19, 7, 30, tzinfo=UTC)
    posts = []
    for number in range(count):
        kind = rng.random()
        vocabulary = URDU if kind < 0.2 else ENGLISH
        words = [rng.choice(vocabulary) for _ in range(55)]
        for _ in range(rng.randint(1, 4)):
            words[rng.randrange(55)] = rng.choice(ENTITY_WORDS)
        if kind > 0.8:
            for _ in range(rng.randint(1, 4)):
                words[rng.randrange(55)] = rng.choice(EMOJI)
        words[rng.randrange(55)] = f"item{number}"  # every post distinct
        title_words = [rng.choice(vocabulary) for _ in range(rng.randint(4, 12))]
        title = (
            f"{' '.join(title_words[:2])}&#8217;s &#8220;{title_words[2]}&#8221; &#8212; "
            f"{' '.join(title_words[3:])} #{number}&#8230;"
        )
        posts.append(
            SourcePost(
                site="news",
                post_id=number,
                link=f"https://news.example.com/?p={15000 + number}",
                title_html=title,
                excerpt_html=f"<p>{' '.join(words)} [&hellip;]</p>\n",
                content_html=f"<p>{' '.join(words)}</p>",
                date_gmt=moment,
                modified_gmt=moment,
                tags=tuple(rng.sample(TAGS, rng.randint(3, 5))),
                featured_image=FeaturedImage(url="https://news.example.com/a.jpg", alt="A chart"),
            )
        )
    return posts


def compose_all(posts: list[SourcePost], network: str) -> int:
    rule, facets, card = NETWORKS[network]
    settings = AccountSettings(network=network)
    total = 0
    for post in posts:
        message = compose_message(post, settings, rule, facets=facets, card=card)
        total += len(message.text)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    posts = make_posts(args.posts, args.seed)
    print(f"composing {len(posts):,} distinct posts per network")
    overall = 0.0
    for network in NETWORKS:
        started = time.perf_counter()
        compose_all(posts, network)
        seconds = time.perf_counter() - started
        overall += seconds
        print(f"{network:>9}: {len(posts) / seconds:>9,.0f} messages/s  {seconds:7.2f} s")
    messages = len(posts) * len(NETWORKS)
    print(f"{'overall':>9}: {messages / overall:>9,.0f} messages/s  {overall:7.2f} s")

    tracemalloc.start()
    for network in NETWORKS:
        compose_all(posts, network)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak memory while composing (tracemalloc): {peak / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()

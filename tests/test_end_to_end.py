"""New WordPress posts shared to Mastodon, Bluesky and a webhook, exactly once.

The whole product as a user runs it: the real ``crosspost`` command against a
real WordPress, the real Bluesky PDS, a fake Mastodon and a webhook receiver,
in embedded mode (SQLite, one process) and in distributed mode (PostgreSQL,
Redis and a real Celery worker process).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import regex

from tests.fakes.fixtures import WEBHOOK_SECRET
from tests.fakes.mastodon import FakeMastodon
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.harness.bluesky_fixture import BlueskyHarness, list_posts
from tests.harness.services import CrosspostProcess, wait_for, write_env
from tests.harness.wordpress_admin import WordPressAdmin
from tests.harness.wordpress_fixture import WordPressHarness, start_harness, stop_harness
from tests.links import canonical, shares

LONG_BODY = " ".join(f"word{i}" for i in range(2400))


@pytest.fixture(scope="module")
def wordpress_manual_cron(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WordPressHarness]:
    """A WordPress whose scheduled posts go live only when the test runs WP-Cron,
    so that a post can go live *behind* the poller's cursor, as on a real site
    whose cron ran late."""
    state_dir = tmp_path_factory.mktemp("wp-e2e") / "state"
    harness = start_harness(state_dir, pretty=False, extra_env={"WP_DISABLE_CRON": "1"})
    try:
        yield harness
    finally:
        stop_harness(state_dir)


def _env(
    *,
    database_url: str,
    wordpress: WordPressHarness,
    mastodon: FakeMastodon,
    bluesky: BlueskyHarness,
    receiver: WebhookReceiver,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "SITES__BLOG__URL": wordpress.url,
        "ACCOUNTS__MASTO__NETWORK": "mastodon",
        "ACCOUNTS__MASTO__BASE_URL": mastodon.url,
        "ACCOUNTS__MASTO__ACCESS_TOKEN": mastodon.token,
        "ACCOUNTS__SKY__NETWORK": "bluesky",
        "ACCOUNTS__SKY__IDENTIFIER": bluesky.handle,
        "ACCOUNTS__SKY__APP_PASSWORD": bluesky.app_password,
        "ACCOUNTS__SKY__PDS_URL": bluesky.pds_url,
        "ACCOUNTS__HOOK__NETWORK": "webhook",
        "ACCOUNTS__HOOK__URL": receiver.hook_url,
        "ACCOUNTS__HOOK__SECRET": WEBHOOK_SECRET,
        "PUBLISHER_THREADS": "4",
        **(extra or {}),
    }


def seed_ten_posts(admin: WordPressAdmin, tag: str) -> dict[str, int]:
    """Ten posts covering what breaks formatting, keyed by a short name."""
    image = admin.upload_png(320, 200, alt_text=f"A test picture {tag}")
    posts = {
        "entities": admin.create_post(
            f"It's a \"test\" -- don't panic... {tag}", "<p>Quotes & dashes.</p>"
        ),
        "cafe": admin.create_post(
            f"Caf&eacute; &amp; cr&egrave;me {tag}", "<p>Entities sent encoded.</p>"
        ),
        "urdu": admin.create_post(
            f"اردو میں ایک خبر {tag}",
            "<p>یہ ایک مضمون ہے جو اردو زبان میں لکھا گیا ہے۔</p>",
            tags=["پاکستان"],
        ),
        "emoji": admin.create_post(
            f"Launch day 🚀 👩‍👩‍👧‍👦 🇵🇰 👍🏽 {tag}", "<p>Emoji 🎉 in the body too.</p>"
        ),
        "long": admin.create_post(f"A very long post {tag}", f"<p>{LONG_BODY}</p>"),
        "image": admin.create_post(
            f"Post with a picture {tag}", "<p>Look at this picture.</p>", featured_media=image
        ),
        "tags": admin.create_post(
            f"Tagged post {tag}",
            "<p>About the weather.</p>",
            tags=["Climate change", "News"],
            categories=["World"],
        ),
        "excerpt": admin.create_post(
            f"Manual excerpt {tag}",
            "<p>Body text.</p>",
            excerpt="A hand-written excerpt &#8212; with an entity.",
        ),
        "plain1": admin.create_post(f"Plain post one {tag}", "<p>First plain post.</p>"),
        "plain2": admin.create_post(f"Plain post two {tag}", "<p>Second plain post.</p>"),
    }
    return posts


def status_json(crosspost: CrosspostProcess) -> list[dict[str, Any]]:
    return json.loads(crosspost.run("status", "--json", "--limit", "100").stdout)  # type: ignore[no-any-return]


def bluesky_by_link(bluesky: BlueskyHarness) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for record in list_posts(bluesky):
        value = record["value"]
        for facet in value.get("facets", []):
            for feature in facet["features"]:
                if feature["$type"] == "app.bsky.richtext.facet#link":
                    found.setdefault(canonical(feature["uri"]), []).append(value)
    return found


def mastodon_by_link(mastodon: FakeMastodon, link: str) -> list[dict[str, Any]]:
    return [s for s in mastodon.statuses if shares(s["text"], link)]


def webhook_by_link(receiver: WebhookReceiver, link: str) -> list[dict[str, Any]]:
    return [e.payload for e in receiver.events if e.payload["data"]["url"] == link]


def assert_shared_once(
    link: str,
    title: str,
    *,
    mastodon: FakeMastodon,
    bluesky_posts: dict[str, list[dict[str, Any]]],
    receiver: WebhookReceiver,
) -> None:
    toots = mastodon_by_link(mastodon, link)
    assert len(toots) == 1, f"{title!r}: {len(toots)} Mastodon statuses"
    assert title in toots[0]["text"], toots[0]["text"]
    records = bluesky_posts.get(link, [])
    assert len(records) == 1, f"{title!r}: {len(records)} Bluesky posts"
    text = records[0]["text"]
    assert shares(text, link)
    assert len(regex.findall(r"\X", text)) <= 300 and len(text.encode()) <= 3000
    hooks = webhook_by_link(receiver, link)
    assert len(hooks) == 1, f"{title!r}: {len(hooks)} webhook deliveries"
    assert hooks[0]["data"]["title"] == title


def run_scenario(
    crosspost: CrosspostProcess,
    wordpress: WordPressHarness,
    mastodon: FakeMastodon,
    bluesky: BlueskyHarness,
    receiver: WebhookReceiver,
) -> None:
    tag = secrets.token_hex(3)
    admin = wordpress.admin()

    # First contact: what the site already has is a baseline, not shared.
    admin.create_post(f"Old post before first contact {tag}", "<p>Old.</p>")
    crosspost.run("run", "--once", "--timeout", "120")
    assert mastodon.statuses == []
    assert status_json(crosspost) == []

    scheduled_at = datetime.now(UTC) + timedelta(seconds=65)
    scheduled = admin.create_post(
        f"Scheduled post {tag}", "<p>Goes live later.</p>", status="future", date_gmt=scheduled_at
    )
    ids = seed_ten_posts(admin, tag)
    crosspost.run("run", "--once", "--timeout", "120")

    posts = {p["post_id"]: p for p in status_json(crosspost)}
    assert set(ids.values()) <= set(posts), "every seeded post is known"
    assert len(posts) == 10
    for post in posts.values():
        assert post["publish_status"] == "done"
        assert set(post["deliveries"]) == {"masto", "sky", "hook"}
        for account, delivery in post["deliveries"].items():
            assert delivery["status"] == "published", (account, delivery)
            assert delivery["attempts"] == 1
            assert [h["status"] for h in delivery["history"]] == ["queued", "success"]
            assert {h["account"] for h in delivery["history"]} == {account}
        assert post["deliveries"]["sky"]["remote_url"].startswith("https://bsky.app/profile/")
        assert post["deliveries"]["masto"]["remote_url"].startswith(mastodon.url)

    sky = bluesky_by_link(bluesky)
    for post_id in ids.values():
        post = posts[post_id]
        assert "&#" not in post["title"] and "&amp;" not in post["title"], post["title"]
        assert_shared_once(
            post["link"], post["title"], mastodon=mastodon, bluesky_posts=sky, receiver=receiver
        )
    assert len(mastodon.statuses) == 10
    assert posts[ids["entities"]]["title"] == f"It’s a “test” — don’t panic… {tag}"
    assert posts[ids["cafe"]]["title"] == f"Café & crème {tag}"
    assert "[…]" not in mastodon_by_link(mastodon, posts[ids["long"]]["link"])[0]["text"]
    image_record = sky[posts[ids["image"]]["link"]][0]
    assert image_record["embed"]["$type"] == "app.bsky.embed.external"
    assert image_record["embed"]["external"]["thumb"]["mimeType"].startswith("image/")
    tagged = sky[posts[ids["tags"]]["link"]][0]
    tags = {f["features"][0].get("tag") for f in tagged.get("facets", [])}
    assert {"ClimateChange", "News"} <= tags

    # An edit is never shared again; a scheduled post that goes live behind the
    # cursor is shared, once.
    admin.update_post(ids["plain1"], title=f"Plain post one, edited {tag}")
    wait_for(
        lambda: datetime.now(UTC) > scheduled_at + timedelta(seconds=1),
        timeout=90,
        what="the scheduled time",
    )
    later = admin.create_post(f"Published after the schedule {tag}", "<p>Newer.</p>")
    crosspost.run(
        "run", "--once", "--timeout", "120"
    )  # the cursor moves past the scheduled post's date
    admin.wait_for_status(scheduled, "publish")
    crosspost.run("run", "--once", "--timeout", "120")
    crosspost.run("run", "--once", "--timeout", "120")

    posts = {p["post_id"]: p for p in status_json(crosspost)}
    assert len(posts) == 12
    assert posts[ids["plain1"]]["title"] == f"Plain post one {tag}"
    sky = bluesky_by_link(bluesky)
    for post_id in (scheduled, later):
        post = posts[post_id]
        assert all(d["status"] == "published" for d in post["deliveries"].values())
        assert_shared_once(
            post["link"], post["title"], mastodon=mastodon, bluesky_posts=sky, receiver=receiver
        )
    assert len(mastodon.statuses) == 12
    assert len(mastodon_by_link(mastodon, posts[ids["plain1"]]["link"])) == 1


def test_embedded_mode_shares_each_post_once(
    crosspost: CrosspostProcess,
    tmp_path: Path,
    wordpress_manual_cron: WordPressHarness,
    fake_mastodon: FakeMastodon,
    bluesky_pds: BlueskyHarness,
    webhook_receiver: WebhookReceiver,
) -> None:
    write_env(
        crosspost.env_file,
        _env(
            database_url=f"sqlite:///{tmp_path / 'crosspost.db'}",
            wordpress=wordpress_manual_cron,
            mastodon=fake_mastodon,
            bluesky=bluesky_pds,
            receiver=webhook_receiver,
        ),
    )
    run_scenario(crosspost, wordpress_manual_cron, fake_mastodon, bluesky_pds, webhook_receiver)


def test_distributed_mode_shares_each_post_once(
    crosspost: CrosspostProcess,
    postgres_url: str,
    redis_url: str,
    wordpress_manual_cron: WordPressHarness,
    fake_mastodon: FakeMastodon,
    bluesky_pds: BlueskyHarness,
    webhook_receiver: WebhookReceiver,
) -> None:
    write_env(
        crosspost.env_file,
        _env(
            database_url=postgres_url,
            wordpress=wordpress_manual_cron,
            mastodon=fake_mastodon,
            bluesky=bluesky_pds,
            receiver=webhook_receiver,
            extra={
                "REDIS_URL": redis_url,
                "CELERY_QUEUE": f"crosspost-test-{secrets.token_hex(4)}",
            },
        ),
    )
    worker = crosspost.start("worker", name="worker")
    run_scenario(crosspost, wordpress_manual_cron, fake_mastodon, bluesky_pds, webhook_receiver)
    assert worker.poll() is None, crosspost.log("worker")
    assert "crosspost.publish" in crosspost.log("worker")

"""A worker killed with SIGKILL while publishing: nothing lost, nothing posted twice.

The fake Mastodon holds each status request for a few seconds before it acts
on it, so the kill lands while the request is out and its outcome unknown.
After a restart the sweeper takes the lost claims back once their lease runs
out, and the resends carry the same Idempotency-Key, record key and
webhook-id: each post ends published exactly once on every network.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select

from tests.fakes.mastodon import FakeMastodon
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.harness.bluesky_fixture import BlueskyHarness
from tests.harness.services import CrosspostProcess, wait_for, write_env
from tests.harness.wordpress_fixture import WordPressHarness
from tests.test_end_to_end import (
    _env,
    bluesky_by_link,
    mastodon_by_link,
    status_json,
    webhook_by_link,
)
from worker.store.schema import deliveries

POSTS = 4
# Short leases so the test does not wait two minutes for a lost claim.
FAST_RECOVERY = {
    "LEASE_SECONDS": "4",
    "REQUEUE_AFTER_SECONDS": "4",
    "SWEEP_INTERVAL_SECONDS": "1",
    "POLL_INTERVAL_SECONDS": "1",
}


def _sending(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(deliveries)
                    .where(deliveries.c.status == "sending")
                ).scalar_one()
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize("mode", ["distributed", "embedded"])
def test_killed_while_publishing_ends_published_once(
    mode: str,
    crosspost: CrosspostProcess,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    wordpress_plain: WordPressHarness,
    fake_mastodon: FakeMastodon,
    bluesky_pds: BlueskyHarness,
    webhook_receiver: WebhookReceiver,
) -> None:
    extra = dict(FAST_RECOVERY)
    if mode == "distributed":
        database_url = str(request.getfixturevalue("postgres_url"))
        extra["REDIS_URL"] = str(request.getfixturevalue("redis_url"))
        extra["CELERY_QUEUE"] = f"crosspost-crash-{secrets.token_hex(4)}"
    else:
        database_url = f"sqlite:///{tmp_path / 'crosspost.db'}"
    write_env(
        crosspost.env_file,
        _env(
            database_url=database_url,
            wordpress=wordpress_plain,
            mastodon=fake_mastodon,
            bluesky=bluesky_pds,
            receiver=webhook_receiver,
            extra=extra,
        ),
    )
    crosspost.run("run", "--once", "--timeout", "60")  # first contact: the baseline

    tag = secrets.token_hex(3)
    admin = wordpress_plain.admin()
    ids = [admin.create_post(f"Crash test {i} {tag}", f"<p>Body {i}.</p>") for i in range(POSTS)]
    fake_mastodon.delay_next(3.0, count=POSTS, path="/api/v1/statuses", method="POST")

    if mode == "distributed":
        victim = crosspost.start("worker", name="worker-1")
        cycle = crosspost.start("run", "--once", "--timeout", "120", name="cycle")
    else:
        victim = crosspost.start("run", name="embedded-1")
        cycle = None

    wait_for(
        lambda: fake_mastodon.requests_to("/api/v1/statuses", "POST"),
        timeout=60,
        what="a status request in flight",
    )
    held = _sending(database_url)
    crosspost.kill(victim)
    assert held >= 1, "the kill must land while a delivery is being sent"

    if mode == "distributed":
        crosspost.start("worker", name="worker-2")
        assert cycle is not None
        assert cycle.wait(timeout=150) == 0, crosspost.log("cycle")
    else:
        crosspost.run("run", "--once", "--timeout", "120")

    posts = {p["post_id"]: p for p in status_json(crosspost)}
    assert set(ids) <= set(posts)
    sky = bluesky_by_link(bluesky_pds)
    recovered: list[dict[str, Any]] = []
    for post_id in ids:
        post = posts[post_id]
        for account, delivery in post["deliveries"].items():
            assert delivery["status"] == "published", (account, delivery)
            history = [h["status"] for h in delivery["history"]]
            if "retrying" in history:
                recovered.append(delivery)
        link = post["link"]
        assert len(mastodon_by_link(fake_mastodon, link)) == 1
        assert len(sky.get(link, [])) == 1
        assert len(webhook_by_link(webhook_receiver, link)) == 1
    # The crash really cost a claim, and it was taken back, not lost.
    assert recovered, "no delivery went through a lost claim"
    assert all(any(h.get("error_kind") == "ambiguous" for h in d["history"]) for d in recovered)
    # The resends reached Mastodon and were recognised as repeats.
    assert len(fake_mastodon.requests_to("/api/v1/statuses", "POST")) > POSTS
    assert len(fake_mastodon.statuses) == POSTS

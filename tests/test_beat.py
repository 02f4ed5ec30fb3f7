"""Distributed mode with nothing but `crosspost worker` and `crosspost beat` running."""

from __future__ import annotations

import re
import secrets

from tests.fakes.mastodon import FakeMastodon
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.harness.bluesky_fixture import BlueskyHarness
from tests.harness.services import CrosspostProcess, wait_for, write_env
from tests.harness.wordpress_fixture import WordPressHarness
from tests.test_end_to_end import _env, mastodon_by_link, status_json


def test_beat_polls_and_the_worker_publishes(
    crosspost: CrosspostProcess,
    postgres_url: str,
    redis_url: str,
    wordpress_plain: WordPressHarness,
    fake_mastodon: FakeMastodon,
    bluesky_pds: BlueskyHarness,
    webhook_receiver: WebhookReceiver,
) -> None:
    write_env(
        crosspost.env_file,
        _env(
            database_url=postgres_url,
            wordpress=wordpress_plain,
            mastodon=fake_mastodon,
            bluesky=bluesky_pds,
            receiver=webhook_receiver,
            extra={
                "REDIS_URL": redis_url,
                "CELERY_QUEUE": f"crosspost-beat-{secrets.token_hex(4)}",
                "POLL_INTERVAL_SECONDS": "1",
                "SWEEP_INTERVAL_SECONDS": "1",
            },
        ),
    )
    crosspost.start("worker", name="worker")
    beat = crosspost.start("beat", name="beat")
    # The first scheduled poll is the site's baseline; wait for it before posting.
    wait_for(
        lambda: re.search(r"Task crosspost\.poll\[[^]]+\] succeeded", crosspost.log("worker")),
        timeout=60,
        what="the first scheduled poll",
    )

    post_id = wordpress_plain.admin().create_post(
        f"Shared by beat {secrets.token_hex(3)}", "<p>Scheduled work.</p>"
    )

    def published() -> bool:
        posts = [p for p in status_json(crosspost) if p["post_id"] == post_id]
        return bool(posts) and posts[0]["publish_status"] == "done"

    wait_for(published, timeout=90, interval=1, what="the post to be shared")
    post = next(p for p in status_json(crosspost) if p["post_id"] == post_id)
    assert {d["status"] for d in post["deliveries"].values()} == {"published"}
    assert len(mastodon_by_link(fake_mastodon, post["link"])) == 1
    assert beat.poll() is None, crosspost.log("beat")
    assert "crosspost.sweep" in crosspost.log("worker")

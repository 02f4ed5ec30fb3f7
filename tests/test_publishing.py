"""The real service against a real WordPress and fake networks over real HTTP.

Each test drives an embedded ``Service`` one cycle at a time
(``run_once(local=True)``), with a clock the test moves, and checks what a
user would look at: the post summaries (``crosspost status``), the accounts
table, the site's polling state and what each network actually received.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.fixtures import WEBHOOK_SECRET
from tests.fakes.mastodon import FakeMastodon
from tests.fakes.server import free_port
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.harness.wordpress_fixture import WordPressHarness, start_harness, stop_harness
from tests.links import shares
from worker.report import post_summaries
from worker.runner import run_once
from worker.service import Service
from worker.settings import load_settings
from worker.store.accounts import AccountState, get_state
from worker.store.sites import SiteState, all_sites

ROP_META_PLUGIN = Path(__file__).parent / "harness" / "wordpress" / "rop-meta.php"
STATUSES = "/api/v1/statuses"


class Clock:
    """The service's "now": starts at the real time and moves only when told."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Crosspost:
    service: Service
    clock: Clock

    def cycle(self) -> None:
        run_once(self.service, local=True, timeout=60)

    def summaries(self) -> list[dict[str, Any]]:
        with self.service.engine.connect() as conn:
            return post_summaries(conn, limit=200)

    def post(self, post_id: int) -> dict[str, Any]:
        [found] = [p for p in self.summaries() if p["post_id"] == post_id]
        return found

    def delivery(self, post_id: int, account: str) -> dict[str, Any]:
        delivery: dict[str, Any] = self.post(post_id)["deliveries"][account]
        return delivery

    def account(self, name: str) -> AccountState:
        with self.service.engine.connect() as conn:
            state = get_state(conn, name)
        assert state is not None
        return state

    def site(self, name: str) -> SiteState:
        with self.service.engine.connect() as conn:
            [state] = [s for s in all_sites(conn) if s.name == name]
        return state


Start = Callable[..., Crosspost]


@pytest.fixture
def start(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Start]:
    """Build an embedded service from settings given as environment variables."""
    made: list[Service] = []

    def _start(env: dict[str, str], *, database: str = "crosspost.db") -> Crosspost:
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / database}")
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        clock = Clock()
        service = Service(load_settings(env_file=None), clock=clock)
        made.append(service)
        return Crosspost(service, clock)

    yield _start
    for service in made:
        service.close()


def site_env(wordpress: WordPressHarness, name: str = "BLOG") -> dict[str, str]:
    return {f"SITES__{name}__URL": wordpress.url}


def masto_env(fake: FakeMastodon, *, token: str | None = None) -> dict[str, str]:
    return {
        "ACCOUNTS__MASTO__NETWORK": "mastodon",
        "ACCOUNTS__MASTO__BASE_URL": fake.url,
        "ACCOUNTS__MASTO__ACCESS_TOKEN": token or fake.token,
    }


def hook_env(receiver: WebhookReceiver, **extra: str) -> dict[str, str]:
    env = {
        "ACCOUNTS__HOOK__NETWORK": "webhook",
        "ACCOUNTS__HOOK__URL": receiver.hook_url,
        "ACCOUNTS__HOOK__SECRET": WEBHOOK_SECRET,
    }
    env.update({f"ACCOUNTS__HOOK__{key}": value for key, value in extra.items()})
    return env


def new_post(wordpress: WordPressHarness, title: str, content: str = "<p>Body.</p>") -> int:
    with wordpress.admin() as admin:
        return admin.create_post(f"{title} {secrets.token_hex(3)}", content)


def history(delivery: dict[str, Any]) -> list[str]:
    return [entry["status"] for entry in delivery["history"]]


def at(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


# ---------------------------------------------------------------------- Mastodon
def test_mastodon_5xx_after_creating_is_retried_once_with_the_same_key(
    start: Start, wordpress_plain: WordPressHarness, fake_mastodon: FakeMastodon
) -> None:
    crosspost = start({**site_env(wordpress_plain), **masto_env(fake_mastodon)})
    crosspost.cycle()  # first contact
    post_id = new_post(wordpress_plain, "Server error on the first try")
    # The instance creates the status, then fails while answering.
    fake_mastodon.fail_next(
        1, 500, {"error": "Internal server error"}, path=STATUSES, after_processing=True
    )

    crosspost.cycle()

    delivery = crosspost.delivery(post_id, "masto")
    assert delivery["status"] == "retry_wait"
    assert delivery["attempts"] == 1
    assert delivery["last_error_kind"] == "ambiguous"
    assert "500" in delivery["last_error"]
    retry_at = at(delivery["retry_at"])
    # Default backoff: 30 s base, equal jitter: 15 to 30 s after the attempt.
    assert crosspost.clock.now + timedelta(seconds=15) <= retry_at
    assert retry_at <= crosspost.clock.now + timedelta(seconds=30)
    assert crosspost.post(post_id)["publish_status"] == "queued"
    assert len(fake_mastodon.statuses) == 1

    crosspost.cycle()  # not due yet: nothing is sent
    assert len(fake_mastodon.requests_to(STATUSES, "POST")) == 1

    crosspost.clock.now = retry_at + timedelta(seconds=1)
    crosspost.cycle()

    delivery = crosspost.delivery(post_id, "masto")
    assert delivery["status"] == "published"
    assert delivery["attempts"] == 2
    [status] = fake_mastodon.statuses  # the repeat was recognised: still one
    assert delivery["remote_id"] == status["id"]
    assert delivery["remote_url"] == status["url"]
    assert delivery["retry_at"] is None
    assert history(delivery) == ["queued", "retrying", "success"]
    assert crosspost.post(post_id)["publish_status"] == "done"
    posts = fake_mastodon.requests_to(STATUSES, "POST")
    assert len(posts) == 2
    keys = {request.headers["idempotency-key"] for request in posts}
    assert len(keys) == 1 and keys != {""}


def test_mastodon_wrong_token_holds_the_account_without_a_retry_storm(
    start: Start, wordpress_plain: WordPressHarness, fake_mastodon: FakeMastodon
) -> None:
    wrong = "wrong-token-" + secrets.token_hex(8)
    crosspost = start({**site_env(wordpress_plain), **masto_env(fake_mastodon, token=wrong)})
    crosspost.cycle()
    first = new_post(wordpress_plain, "Wrong token")

    crosspost.cycle()

    delivery = crosspost.delivery(first, "masto")
    assert delivery["status"] == "retry_wait"
    assert delivery["last_error_kind"] == "auth"
    assert "access token" in delivery["last_error"]
    assert history(delivery) == ["queued", "error"]
    account = crosspost.account("masto")
    assert account.needs_attention is True
    assert account.hold_until is not None and account.hold_until > crosspost.clock.now
    assert at(delivery["retry_at"]) == account.hold_until
    assert account.last_error is not None and account.last_error.startswith("auth")
    assert len(fake_mastodon.requests_to(STATUSES, "POST")) == 1

    # More posts and more cycles while the account waits: no request at all.
    second = new_post(wordpress_plain, "Wrong token, second post")
    crosspost.clock.advance(minutes=10)
    crosspost.cycle()
    crosspost.cycle()

    assert len(fake_mastodon.requests_to(STATUSES, "POST")) == 1
    waiting = crosspost.delivery(second, "masto")
    assert waiting["status"] == "retry_wait"
    assert waiting["attempts"] == 0
    assert at(waiting["retry_at"]) == account.hold_until
    assert crosspost.delivery(first, "masto")["attempts"] == 1
    assert wrong not in repr(crosspost.summaries())
    assert wrong not in repr(crosspost.account("masto"))


def test_mastodon_rate_limit_waits_until_the_reset_for_the_whole_account(
    start: Start,
    wordpress_plain: WordPressHarness,
    fake_mastodon: FakeMastodon,
    webhook_receiver: WebhookReceiver,
) -> None:
    crosspost = start(
        {
            **site_env(wordpress_plain),
            **masto_env(fake_mastodon),
            **hook_env(webhook_receiver),
            "PUBLISHER_THREADS": "1",  # one at a time: the second sees the hold
        }
    )
    crosspost.cycle()
    reset = (datetime.now(UTC) + timedelta(minutes=10)).replace(microsecond=0)
    fake_mastodon.rate_limit(reset)
    posts = [new_post(wordpress_plain, f"Rate limited {n}") for n in (1, 2)]

    crosspost.cycle()

    for post_id in posts:
        delivery = crosspost.delivery(post_id, "masto")
        assert delivery["status"] == "retry_wait"
        assert at(delivery["retry_at"]) == reset
        # Other accounts are not held back by Mastodon's limit.
        assert crosspost.delivery(post_id, "hook")["status"] == "published"
    assert len(fake_mastodon.requests_to(STATUSES, "POST")) == 1
    account = crosspost.account("masto")
    assert account.hold_until == reset
    assert account.needs_attention is False
    assert len(webhook_receiver.events) == 2

    third = new_post(wordpress_plain, "Rate limited 3")
    crosspost.clock.advance(minutes=5)
    crosspost.cycle()
    assert at(crosspost.delivery(third, "masto")["retry_at"]) == reset
    assert len(fake_mastodon.requests_to(STATUSES, "POST")) == 1

    fake_mastodon.clear_rate_limit()
    crosspost.clock.now = reset + timedelta(seconds=1)
    crosspost.cycle()

    for post_id in [*posts, third]:
        assert crosspost.delivery(post_id, "masto")["status"] == "published"
        assert crosspost.post(post_id)["publish_status"] == "done"
    assert len(fake_mastodon.statuses) == 3
    assert len(fake_mastodon.requests_to(STATUSES, "POST")) == 4


class OverstatingMastodon(FakeMastodon):
    """An instance that advertises a higher limit than its status endpoint enforces."""

    advertised = 5000

    def _statuses_configuration(self) -> dict[str, Any]:
        return {**super()._statuses_configuration(), "max_characters": self.advertised}


@pytest.fixture
def overstating_mastodon() -> Iterator[FakeMastodon]:
    fake = OverstatingMastodon()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def test_rate_limits_do_not_use_up_attempts(
    start: Start,
    wordpress_plain: WordPressHarness,
    fake_mastodon: FakeMastodon,
) -> None:
    crosspost = start(
        {**site_env(wordpress_plain), **masto_env(fake_mastodon), "MAX_ATTEMPTS": "2"}
    )
    crosspost.cycle()
    post_id = new_post(wordpress_plain, "Patient")
    for _ in range(3):  # three rate limits in a row
        reset = (crosspost.clock.now + timedelta(minutes=1)).replace(microsecond=0)
        fake_mastodon.fail_next(
            1,
            429,
            {"error": "Too many requests"},
            {"X-RateLimit-Reset": reset.isoformat()},
            path=STATUSES,
        )
        crosspost.cycle()
        assert crosspost.delivery(post_id, "masto")["status"] == "retry_wait"
        crosspost.clock.now = reset + timedelta(seconds=1)
    # One 503 is the first failure that counts: still a retry, not failed.
    fake_mastodon.fail_next(1, 503, {"error": "busy"}, path=STATUSES)
    crosspost.cycle()
    delivery = crosspost.delivery(post_id, "masto")
    assert delivery["status"] == "retry_wait", delivery
    assert delivery["attempts"] == 4
    crosspost.clock.advance(hours=1)
    crosspost.cycle()
    assert crosspost.delivery(post_id, "masto")["status"] == "published"
    assert len(fake_mastodon.statuses) == 1


def test_mastodon_validation_error_fails_with_the_servers_message(
    start: Start, wordpress_plain: WordPressHarness, overstating_mastodon: FakeMastodon
) -> None:
    crosspost = start(
        {
            **site_env(wordpress_plain),
            **masto_env(overstating_mastodon),
            "ACCOUNTS__MASTO__TEMPLATE": "{title}\n\n{content}\n\n{url}",
        }
    )
    crosspost.cycle()
    body = " ".join(f"word{n}" for n in range(300))
    post_id = new_post(wordpress_plain, "Too long for the instance", f"<p>{body}</p>")

    crosspost.cycle()

    delivery = crosspost.delivery(post_id, "masto")
    server_says = "Validation failed: Text character limit of 500 exceeded"
    assert delivery["status"] == "failed"
    assert delivery["last_error_kind"] == "rejected"
    assert server_says in delivery["last_error"]
    assert history(delivery) == ["queued", "error"]
    assert server_says in delivery["history"][-1]["error"]
    assert crosspost.post(post_id)["publish_status"] == "done"
    assert overstating_mastodon.statuses == []

    crosspost.clock.advance(days=1)
    crosspost.cycle()  # failed is final: not sent again
    assert len(overstating_mastodon.requests_to(STATUSES, "POST")) == 1


# ---------------------------------------------------------------------- webhook
def test_webhook_lost_answer_without_dedup_is_unconfirmed_and_never_resent(
    start: Start, wordpress_plain: WordPressHarness, webhook_receiver: WebhookReceiver
) -> None:
    crosspost = start(
        {**site_env(wordpress_plain), **hook_env(webhook_receiver, RECEIVER_DEDUPES="false")}
    )
    crosspost.cycle()
    post_id = new_post(wordpress_plain, "Answer lost")
    webhook_receiver.drop_after_processing(1, path=webhook_receiver.path)

    crosspost.cycle()

    delivery = crosspost.delivery(post_id, "hook")
    assert delivery["status"] == "unconfirmed"
    assert delivery["last_error_kind"] == "ambiguous"
    assert delivery["retry_at"] is None
    assert history(delivery) == ["queued", "unconfirmed"]
    assert crosspost.post(post_id)["publish_status"] == "done"
    [event] = webhook_receiver.events  # it did arrive; we cannot know that
    assert event.payload["data"]["post_id"] == post_id

    for _ in range(2):
        crosspost.clock.advance(hours=12)
        crosspost.cycle()
    assert len(webhook_receiver.requests_to(webhook_receiver.path, "POST")) == 1
    assert crosspost.delivery(post_id, "hook")["status"] == "unconfirmed"


# ---------------------------------------------------------------------- sources
@pytest.fixture(scope="module")
def wordpress_rop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WordPressHarness]:
    """A WordPress of its own with the rop_* meta registered (the shared one stays stock)."""
    state_dir = tmp_path_factory.mktemp("wp-rop") / "state"
    try:
        harness = start_harness(state_dir, pretty=False)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        stop_harness(state_dir)
        pytest.fail(str(exc), pytrace=False)
    try:
        plugins = harness.testbed_dir / "site" / "wp-content" / "mu-plugins"
        plugins.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROP_META_PLUGIN, plugins / "testbed-rop-meta.php")
        yield harness
    finally:
        stop_harness(state_dir)


def test_post_meta_rop_publish_now_no_is_skipped_with_the_reason(
    start: Start, wordpress_rop: WordPressHarness, fake_mastodon: FakeMastodon
) -> None:
    crosspost = start({**site_env(wordpress_rop), **masto_env(fake_mastodon)})
    crosspost.cycle()
    with wordpress_rop.admin() as admin:
        skipped = admin.create_post(f"Do not share {secrets.token_hex(3)}", "<p>x</p>")
        stored = admin.update_post(skipped, meta={"rop_publish_now": "no"})
        assert stored["meta"]["rop_publish_now"] == "no", "the meta plugin is not active"
        shared = admin.create_post(f"Share me {secrets.token_hex(3)}", "<p>y</p>")

    crosspost.cycle()

    reason = 'post meta rop_publish_now is "no"'
    delivery = crosspost.delivery(skipped, "masto")
    assert delivery["status"] == "skipped"
    assert delivery["attempts"] == 0
    assert delivery["last_error"] == reason
    assert [(h["status"], h.get("error")) for h in delivery["history"]] == [("skipped", reason)]
    assert crosspost.post(skipped)["publish_status"] == "done"
    assert crosspost.delivery(shared, "masto")["status"] == "published"
    [status] = fake_mastodon.statuses
    assert shares(status["text"], crosspost.post(shared)["link"])


def test_first_contact_is_a_baseline_and_backfill_shares_the_newest(
    start: Start, wordpress_plain: WordPressHarness, fake_mastodon: FakeMastodon
) -> None:
    older = []
    for n in range(3):
        if n:
            time.sleep(1.1)  # WordPress dates have one-second resolution
        older.append(new_post(wordpress_plain, f"Before first contact {n}"))
    plain = start({**site_env(wordpress_plain), **masto_env(fake_mastodon)})
    backfill = start(
        {**site_env(wordpress_plain), **masto_env(fake_mastodon), "SITES__BLOG__BACKFILL": "2"},
        database="backfill.db",
    )

    plain.cycle()
    backfill.cycle()

    assert plain.summaries() == []
    assert plain.site("blog").baseline_done is True
    assert sorted(p["post_id"] for p in backfill.summaries()) == older[1:]
    assert all(p["deliveries"]["masto"]["status"] == "published" for p in backfill.summaries())
    assert len(fake_mastodon.statuses) == 2

    # Later cycles never share the baseline; a post made after it is shared once each.
    newer = new_post(wordpress_plain, "After first contact")
    plain.cycle()
    backfill.cycle()
    plain.cycle()
    assert [p["post_id"] for p in plain.summaries()] == [newer]
    assert {p["post_id"] for p in backfill.summaries()} == {*older[1:], newer}
    links = {p["post_id"]: p["link"] for p in backfill.summaries()}
    counts = {
        post_id: sum(shares(s["text"], link) for s in fake_mastodon.statuses)
        for post_id, link in links.items()
    }
    assert counts == {older[1]: 1, older[2]: 1, newer: 2}
    assert len(fake_mastodon.statuses) == 4


def test_a_site_that_is_down_does_not_stop_the_others(
    start: Start,
    wordpress_plain: WordPressHarness,
    fake_mastodon: FakeMastodon,
    caplog: pytest.LogCaptureFixture,
) -> None:
    down_url = f"http://127.0.0.1:{free_port()}"
    crosspost = start(
        {
            **site_env(wordpress_plain),
            "SITES__DOWN__URL": down_url,
            **masto_env(fake_mastodon),
        }
    )
    crosspost.cycle()
    post_id = new_post(wordpress_plain, "Shared while the other site is down")

    with caplog.at_level(logging.WARNING, logger="worker.poller"):
        crosspost.cycle()

    assert crosspost.delivery(post_id, "masto")["status"] == "published"
    assert len(fake_mastodon.statuses) == 1
    down = crosspost.site("down")
    assert down.last_poll_ok is False
    assert down.baseline_done is False
    assert down.last_error is not None
    assert "'down'" in down.last_error and down_url.removeprefix("http://") in down.last_error
    assert down.failures == 2
    assert down.next_poll_at is not None and down.next_poll_at > crosspost.clock.now
    blog = crosspost.site("blog")
    assert blog.last_poll_ok is True and blog.last_error is None
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(line.startswith("site down: poll failed") for line in lines), lines
    assert not any("site blog" in line for line in lines), lines

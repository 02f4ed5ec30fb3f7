"""The store's invariants, on SQLite and on PostgreSQL alike.

Each test here runs twice (``database_url``): the claims, the unique
constraint and the sweeper's queries are what keep a post from being shared
twice, and the two databases lock differently.
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, func, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from tests.fakes.fixtures import WEBHOOK_SECRET
from worker.models import DeliveryStatus, HistoryStatus, SourcePost
from worker.platforms.configured import ConfiguredAdapters
from worker.settings import Settings, load_settings
from worker.store import accounts as account_store
from worker.store import deliveries as delivery_store
from worker.store import posts as post_store
from worker.store.database import alembic_config, create_db_engine, migrate
from worker.store.schema import deliveries, history
from worker.sweeper import LOST_CLAIM, Sweeper

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
LEASE = 120.0
REQUEUE_AFTER = 300.0


# ---------------------------------------------------------------------- helpers
@pytest.fixture
def settings(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Three accounts: Mastodon (idempotent), a webhook whose receiver
    de-duplicates, and one whose receiver does not."""
    env = {
        "DATABASE_URL": database_url,
        "LEASE_SECONDS": str(LEASE),
        "REQUEUE_AFTER_SECONDS": str(REQUEUE_AFTER),
        "ACCOUNTS__MASTO__NETWORK": "mastodon",
        "ACCOUNTS__MASTO__BASE_URL": "https://masto.example",
        "ACCOUNTS__MASTO__ACCESS_TOKEN": "store-test-token",
        "ACCOUNTS__HOOK__NETWORK": "webhook",
        "ACCOUNTS__HOOK__URL": "https://hooks.example/in",
        "ACCOUNTS__HOOK__SECRET": WEBHOOK_SECRET,
        "ACCOUNTS__RAWHOOK__NETWORK": "webhook",
        "ACCOUNTS__RAWHOOK__URL": "https://plain.example/in",
        "ACCOUNTS__RAWHOOK__SECRET": WEBHOOK_SECRET,
        "ACCOUNTS__RAWHOOK__RECEIVER_DEDUPES": "false",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return load_settings(env_file=None)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = create_db_engine(settings.database_url)
    migrate(engine)
    with engine.begin() as conn:
        account_store.sync_accounts(conn, settings.accounts)
    try:
        yield engine
    finally:
        engine.dispose()


def new_post(conn: Connection, post_id: int, *, site: str = "blog") -> int:
    post = SourcePost(
        site=site,
        post_id=post_id,
        link=f"https://blog.example/?p={post_id}",
        title_html=f"Post {post_id}",
        excerpt_html="<p>Excerpt</p>",
        content_html="<p>Body</p>",
        date_gmt=NOW - timedelta(hours=1),
        modified_gmt=NOW - timedelta(hours=1),
    )
    ref = post_store.record_new(conn, post, f"Post {post_id}", now=NOW)
    assert ref is not None
    return ref


def new_delivery(
    engine: Engine, post_id: int, account: str = "masto", *, now: datetime = NOW
) -> int:
    network = "mastodon" if account == "masto" else "webhook"
    with engine.begin() as conn:
        ref = new_post(conn, post_id)
        delivery_id = delivery_store.create_delivery(
            conn,
            post_ref=ref,
            account=account,
            network=network,
            idempotency_key=f"key-{post_id}-{account}",
            now=now,
        )
    assert delivery_id is not None
    return delivery_id


def row(engine: Engine, delivery_id: int) -> dict[str, object]:
    with engine.connect() as conn:
        found = conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).one()
    return dict(found._mapping)


def history_of(engine: Engine, delivery_id: int) -> list[tuple[str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(history.c.status, history.c.error)
            .where(history.c.delivery_id == delivery_id)
            .order_by(history.c.id)
        ).all()
    return [(r.status, r.error) for r in rows]


def claim(engine: Engine, delivery_id: int, *, now: datetime = NOW) -> delivery_store.Claim | None:
    with engine.begin() as conn:
        return delivery_store.claim(conn, delivery_id, now=now, lease_seconds=LEASE)


# The history entry an attempt ending in each status gets, as the publisher writes it.
HISTORY_FOR = {
    DeliveryStatus.PUBLISHED: HistoryStatus.SUCCESS,
    DeliveryStatus.FAILED: HistoryStatus.ERROR,
    DeliveryStatus.UNCONFIRMED: HistoryStatus.UNCONFIRMED,
    DeliveryStatus.RETRY_WAIT: HistoryStatus.RETRYING,
    DeliveryStatus.SKIPPED: HistoryStatus.SKIPPED,
}


def finish(engine: Engine, c: delivery_store.Claim, status: DeliveryStatus, **kw: object) -> bool:
    with engine.begin() as conn:
        return delivery_store.record_attempt(
            conn,
            c,
            status=status,
            history=HISTORY_FOR[status],
            now=NOW,
            **kw,  # type: ignore[arg-type]
        )


def take_due(engine: Engine, now: datetime) -> list[int]:
    with engine.begin() as conn:
        return delivery_store.take_due(conn, now=now, requeue_after=REQUEUE_AFTER)


# ---------------------------------------------------------------------- migrations
def test_migrations_apply_to_an_empty_database_and_again(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        assert inspect(engine).get_table_names() == []
        migrate(engine)
        tables = set(inspect(engine).get_table_names())
        assert {"sites", "posts", "accounts", "deliveries", "history"} <= tables
        with engine.begin() as conn:
            ref = new_post(conn, 1)

        migrate(engine)  # every start runs it: a second run changes nothing

        head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").all() == [
                (head,)
            ]
            assert post_store.known_post_ids(conn, "blog", [1]) == {1}
        assert set(inspect(engine).get_table_names()) == tables
        assert ref is not None
    finally:
        engine.dispose()


# ---------------------------------------------------------------------- uniqueness
def test_one_delivery_per_post_and_account(engine: Engine) -> None:
    with engine.begin() as conn:
        ref = new_post(conn, 7)
        first = delivery_store.create_delivery(
            conn, post_ref=ref, account="masto", network="mastodon", idempotency_key="a", now=NOW
        )
        again = delivery_store.create_delivery(
            conn, post_ref=ref, account="masto", network="mastodon", idempotency_key="b", now=NOW
        )
        other = delivery_store.create_delivery(
            conn, post_ref=ref, account="hook", network="webhook", idempotency_key="c", now=NOW
        )
    assert first is not None
    assert again is None
    assert other is not None and other != first
    # The second attempt left no trace: one queued history entry, the first key kept.
    assert history_of(engine, first) == [("queued", None)]
    assert row(engine, first)["idempotency_key"] == "a"

    # The constraint itself holds, not only the helper's ON CONFLICT.
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            insert(deliveries).values(
                post_ref=ref,
                account="masto",
                network="mastodon",
                status="queued",
                attempts=0,
                idempotency_key="d",
                created_at=NOW,
                updated_at=NOW,
            )
        )
    with engine.connect() as conn:
        count = conn.execute(
            select(func.count()).select_from(deliveries).where(deliveries.c.post_ref == ref)
        ).scalar_one()
    assert count == 2


# ---------------------------------------------------------------------- claims
def test_claim_is_compare_and_set(engine: Engine) -> None:
    delivery_id = new_delivery(engine, 1)

    first = claim(engine, delivery_id)
    second = claim(engine, delivery_id)
    assert first is not None and first.attempt == 1
    assert second is None
    state = row(engine, delivery_id)
    assert state["status"] == "sending"
    assert state["attempts"] == 1
    assert state["claim_token"] == first.token
    assert state["lease_until"] == NOW + timedelta(seconds=LEASE)

    # Only the holder's token records an outcome.
    stale = delivery_store.Claim(delivery_id, token="0" * 32, attempt=1)
    assert not finish(engine, stale, DeliveryStatus.PUBLISHED, remote_id="x")
    assert row(engine, delivery_id)["status"] == "sending"

    retry_at = NOW + timedelta(minutes=10)
    assert finish(engine, first, DeliveryStatus.RETRY_WAIT, retry_at=retry_at)
    assert not finish(engine, first, DeliveryStatus.PUBLISHED)  # used up
    assert row(engine, delivery_id)["status"] == "retry_wait"

    # Waiting for a future retry_at: nobody may take it early.
    assert claim(engine, delivery_id, now=NOW + timedelta(minutes=9)) is None
    assert row(engine, delivery_id)["attempts"] == 1
    later = claim(engine, delivery_id, now=retry_at)
    assert later is not None and later.attempt == 2
    assert later.token != first.token
    # The first worker's token is stale now.
    assert not finish(engine, first, DeliveryStatus.FAILED)
    assert finish(engine, later, DeliveryStatus.PUBLISHED, remote_id="42")
    assert row(engine, delivery_id)["status"] == "published"
    # A final delivery cannot be claimed again (a redelivered task message).
    assert claim(engine, delivery_id, now=NOW + timedelta(days=1)) is None


def test_concurrent_claims_each_delivery_taken_exactly_once(engine: Engine) -> None:
    ids = [new_delivery(engine, post_id) for post_id in range(100, 120)]
    threads = 8
    barrier = threading.Barrier(threads)
    wins: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(seed: int) -> None:
        order = ids[:]
        random.Random(seed).shuffle(order)
        try:
            barrier.wait(timeout=30)
            for delivery_id in order:
                with engine.begin() as conn:
                    got = delivery_store.claim(conn, delivery_id, now=NOW, lease_seconds=LEASE)
                if got is not None:
                    with lock:
                        wins.append(got.delivery_id)
        except BaseException as exc:  # surfaced below: a thread must not fail silently
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    assert not errors, errors
    assert Counter(wins) == Counter(ids), "every delivery claimed exactly once"
    with engine.connect() as conn:
        rows = conn.execute(
            select(deliveries.c.status, deliveries.c.attempts).where(deliveries.c.id.in_(ids))
        ).all()
    assert {(r.status, r.attempts) for r in rows} == {("sending", 1)}


# ---------------------------------------------------------------------- sweeper
@pytest.mark.parametrize(
    ("account", "expected", "returned", "history_status"),
    [
        ("masto", "queued", True, "retrying"),
        ("hook", "queued", True, "retrying"),
        ("rawhook", "unconfirmed", False, "unconfirmed"),
    ],
)
def test_sweeper_reclaims_an_expired_lease(
    engine: Engine,
    settings: Settings,
    account: str,
    expected: str,
    returned: bool,
    history_status: str,
) -> None:
    expired = new_delivery(engine, 1, account)
    alive = new_delivery(engine, 2, account)
    assert claim(engine, expired) is not None
    later = NOW + timedelta(seconds=LEASE / 2)
    assert claim(engine, alive, now=later) is not None

    clock_now = NOW + timedelta(seconds=LEASE + 1)
    with httpx.Client() as http:
        sweeper = Sweeper(
            engine, settings, ConfiguredAdapters(settings.accounts, http), lambda: clock_now
        )
        due = sweeper.sweep()

    state = row(engine, expired)
    assert state["status"] == expected
    assert state["claim_token"] is None
    assert state["last_error_kind"] == "ambiguous"
    assert state["last_error"] == LOST_CLAIM
    assert (expired in due) is returned
    assert history_of(engine, expired) == [("queued", None), (history_status, LOST_CLAIM)]
    # A worker still inside its lease is left alone.
    assert alive not in due
    assert row(engine, alive)["status"] == "sending"
    assert history_of(engine, alive) == [("queued", None)]


# ---------------------------------------------------------------------- take_due
def test_take_due_returns_what_is_due_and_nothing_else(engine: Engine) -> None:
    now = NOW + timedelta(hours=1)

    def waiting(post_id: int, account: str, retry_at: datetime) -> int:
        delivery_id = new_delivery(engine, post_id, account)
        c = claim(engine, delivery_id)
        assert c is not None
        assert finish(engine, c, DeliveryStatus.RETRY_WAIT, retry_at=retry_at)
        return delivery_id

    due_retry = waiting(1, "masto", now - timedelta(seconds=1))
    future_retry = waiting(2, "masto", now + timedelta(minutes=1))
    paused = waiting(3, "hook", now - timedelta(minutes=1))
    held = waiting(4, "rawhook", now - timedelta(minutes=1))
    lost = new_delivery(engine, 5, now=now - timedelta(seconds=REQUEUE_AFTER + 1))
    fresh = new_delivery(engine, 6, now=now - timedelta(seconds=REQUEUE_AFTER / 2))
    published = new_delivery(engine, 7)
    c = claim(engine, published)
    assert c is not None and finish(engine, c, DeliveryStatus.PUBLISHED)

    with engine.begin() as conn:
        assert account_store.set_paused(conn, "hook", True)
        account_store.hold(
            conn, "rawhook", until=now + timedelta(minutes=2), needs_attention=False, error="429"
        )

    due = take_due(engine, now)

    assert sorted(due) == sorted([due_retry, lost])
    assert row(engine, due_retry)["status"] == "queued"
    assert row(engine, due_retry)["retry_at"] is None
    assert row(engine, lost)["enqueued_at"] == now
    assert row(engine, future_retry)["status"] == "retry_wait"
    assert row(engine, paused)["status"] == "retry_wait"
    assert row(engine, held)["status"] == "retry_wait"
    assert row(engine, fresh)["status"] == "queued"
    # Marked as enqueued: the next sweep does not send them out a second time.
    assert take_due(engine, now + timedelta(seconds=1)) == []

    # Once the pause and the hold end, their deliveries come back.
    with engine.begin() as conn:
        account_store.set_paused(conn, "hook", False)
    after_hold = now + timedelta(minutes=3)
    assert sorted(take_due(engine, after_hold)) == sorted([future_retry, paused, held, fresh])


# ---------------------------------------------------------------------- requeue
def test_requeue_by_id_and_by_account(engine: Engine) -> None:
    def settled(post_id: int, account: str, status: DeliveryStatus) -> int:
        delivery_id = new_delivery(engine, post_id, account)
        c = claim(engine, delivery_id)
        assert c is not None
        assert finish(engine, c, status, error="boom")
        return delivery_id

    failed = settled(1, "masto", DeliveryStatus.FAILED)
    unconfirmed = settled(2, "rawhook", DeliveryStatus.UNCONFIRMED)
    failed_hook = settled(3, "hook", DeliveryStatus.FAILED)
    failed_masto = settled(4, "masto", DeliveryStatus.FAILED)
    published = settled(5, "masto", DeliveryStatus.PUBLISHED)
    later = NOW + timedelta(minutes=5)

    with engine.begin() as conn:
        by_id = delivery_store.requeue(conn, now=later, ids=[failed, unconfirmed, published])
    assert sorted(by_id) == sorted([failed, unconfirmed])
    for delivery_id in (failed, unconfirmed):
        state = row(engine, delivery_id)
        assert state["status"] == "queued"
        assert state["retry_at"] is None
        # created, the failed attempt, then the person's retry
        assert len(history_of(engine, delivery_id)) == 3
        assert history_of(engine, delivery_id)[-1] == ("queued", "retry requested")
    assert row(engine, published)["status"] == "published"
    assert history_of(engine, published) == [("queued", None), ("success", "boom")]

    with engine.begin() as conn:
        by_account = delivery_store.requeue(conn, now=later, account="hook")
    assert by_account == [failed_hook]
    assert row(engine, failed_hook)["status"] == "queued"
    assert row(engine, failed_masto)["status"] == "failed"

    # The retry command runs in its own process and enqueues nothing itself:
    # the next sweep must send what it re-queued at once, not after requeue_after.
    assert sorted(take_due(engine, later)) == sorted([failed, unconfirmed, failed_hook])

    # Re-queued deliveries are claimable at once, for a new attempt.
    again = claim(engine, failed, now=later)
    assert again is not None and again.attempt == 2


def test_requeue_of_nothing_changes_nothing(engine: Engine) -> None:
    delivery_id = new_delivery(engine, 1)
    with engine.begin() as conn:
        # A queued delivery is not "failed": the retry command leaves it alone.
        assert delivery_store.requeue(conn, now=NOW, account="masto") == []
        assert delivery_store.requeue(conn, now=NOW, ids=[delivery_id]) == []
    assert history_of(engine, delivery_id) == [("queued", None)]


def test_concurrent_first_migrations_take_turns(postgres_url: str) -> None:
    """Workers, beat and the CLI starting together on a fresh database all
    migrate at once; none may fail on a half-created schema."""
    code = (
        "import sys; from worker.store.database import create_db_engine, migrate; "
        "migrate(create_db_engine(sys.argv[1]))"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", code, postgres_url], stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=120)[1].decode() for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0, 0], errors

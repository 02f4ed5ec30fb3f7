"""The overview's queue depth, read from a real Redis filled by the real Celery dispatcher."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from worker.celery_app import make_celery
from worker.dashboard.queries import queue_depth, worker_state
from worker.dispatch import CeleryDispatcher
from worker.settings import load_settings
from worker.store.database import create_db_engine, migrate
from worker.store.heartbeats import beat

pytestmark = [pytest.mark.redis]


def test_queue_depth_counts_what_the_dispatcher_enqueued(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = f"crosspost-test-{secrets.token_hex(4)}"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("CELERY_QUEUE", queue)
    settings = load_settings(env_file=None)
    dispatcher = CeleryDispatcher(make_celery(settings), queue)
    try:
        assert queue_depth(redis_url, queue) == 0
        dispatcher.dispatch([101, 102, 103])  # no worker listens on this queue
        assert queue_depth(redis_url, queue) == 3

        engine = create_db_engine(settings.database_url)
        migrate(engine)
        now = datetime.now(UTC)
        with engine.begin() as conn:
            beat(conn, "worker-1@host", mode="distributed", now=now)
            beat(conn, "worker-1@host", mode="distributed", now=now)  # overwritten, not added
        with engine.connect() as conn:
            state = worker_state(conn, settings, now=now)
        assert state.mode == "distributed" and state.queue == queue
        assert state.queue_depth == 3 and state.queue_error is None
        assert [b.name for b in state.heartbeats] == ["worker-1@host"]
        engine.dispose()
    finally:
        dispatcher.close()
        redis.Redis.from_url(redis_url).delete(queue)


def test_an_unreachable_redis_is_shown_not_raised(tmp_path: Path) -> None:
    settings = load_settings(env_file=None)
    object.__setattr__(settings, "redis_url", "redis://127.0.0.1:1/0")
    engine = create_db_engine(f"sqlite:///{tmp_path / 'c.db'}")
    migrate(engine)
    with engine.connect() as conn:
        state = worker_state(conn, settings, now=datetime.now(UTC))
    assert state.queue_depth is None and state.queue_error is not None
    assert "Redis unreachable" in state.queue_error

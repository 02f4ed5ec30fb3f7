"""The history of a delivery: one row per attempt or per change a person made."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, func, insert, select

from worker.models import HistoryStatus
from worker.store.schema import history


def append_history(
    conn: Connection,
    delivery_id: int,
    *,
    now: datetime,
    attempt: int,
    status: HistoryStatus,
    error_kind: str | None = None,
    error: str | None = None,
    remote_id: str | None = None,
    remote_url: str | None = None,
    duration_ms: int | None = None,
) -> None:
    conn.execute(
        insert(history).values(
            delivery_id=delivery_id,
            timestamp=now,
            attempt=attempt,
            status=status.value,
            error_kind=error_kind,
            error=error,
            remote_id=remote_id,
            remote_url=remote_url,
            duration_ms=duration_ms,
        )
    )


def count_errors(conn: Connection, delivery_id: int, *, kinds: Iterable[str]) -> int:
    """How many recorded attempts of a delivery failed with one of ``kinds``."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(history)
            .where(
                history.c.delivery_id == delivery_id,
                history.c.error_kind.in_([str(k) for k in kinds]),
            )
        ).scalar_one()
    )

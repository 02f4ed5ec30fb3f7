"""Heartbeats: each running part records when it was last alive.

The dashboard shows them, so an operator sees at once that the worker or the
sweep stopped.  One row per part, overwritten on every beat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from worker.store.schema import heartbeats
from worker.store.upsert import insert_ignore


@dataclass(frozen=True)
class Heartbeat:
    name: str
    mode: str
    last_seen: datetime


def beat(conn: Connection, name: str, *, mode: str, now: datetime) -> None:
    """Record that ``name`` (running in ``mode``) is alive at ``now``."""
    if insert_ignore(conn, heartbeats, {"name": name, "mode": mode, "last_seen": now}) is None:
        conn.execute(
            update(heartbeats).where(heartbeats.c.name == name).values(mode=mode, last_seen=now)
        )


def all_heartbeats(conn: Connection) -> list[Heartbeat]:
    rows = conn.execute(select(heartbeats).order_by(heartbeats.c.last_seen.desc())).all()
    return [Heartbeat(name=r.name, mode=r.mode, last_seen=r.last_seen) for r in rows]

"""Per-site polling state: the API root, the cursor and the health of the last poll."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from worker.store.schema import sites
from worker.store.upsert import insert_ignore


@dataclass(frozen=True)
class SiteState:
    name: str
    api_root: str | None
    cursor: datetime | None
    baseline_done: bool
    last_poll_at: datetime | None
    last_poll_ok: bool | None
    last_error: str | None
    failures: int
    next_poll_at: datetime | None


def get_site(conn: Connection, name: str) -> SiteState:
    """The site's state, created empty on first use."""
    insert_ignore(conn, sites, {"name": name, "baseline_done": False, "failures": 0})
    row = conn.execute(select(sites).where(sites.c.name == name)).one()
    return SiteState(**row._asdict())


def all_sites(conn: Connection) -> list[SiteState]:
    return [SiteState(**row._asdict()) for row in conn.execute(select(sites)).all()]


def update_site(conn: Connection, name: str, **values: Any) -> None:
    conn.execute(update(sites).where(sites.c.name == name).values(**values))

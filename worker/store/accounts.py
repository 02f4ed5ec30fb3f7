"""Per-account operating state: paused by a person, held after a network said wait."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from worker.accounts import AccountSettings
from worker.store.schema import accounts
from worker.store.upsert import insert_ignore


@dataclass(frozen=True)
class AccountState:
    name: str
    network: str
    paused: bool
    needs_attention: bool
    hold_until: datetime | None
    last_error: str | None

    def blocked_until(self, now: datetime) -> datetime | None:
        """When the account may send again, or None if it may now."""
        if self.hold_until is not None and self.hold_until > now:
            return self.hold_until
        return None


def sync_accounts(conn: Connection, configured: Mapping[str, AccountSettings]) -> None:
    """Make sure every configured account has a state row (kept across restarts)."""
    for name, settings in configured.items():
        insert_ignore(
            conn,
            accounts,
            {"name": name, "network": settings.network, "paused": False, "needs_attention": False},
        )
        conn.execute(
            update(accounts).where(accounts.c.name == name).values(network=settings.network)
        )


def get_state(conn: Connection, name: str) -> AccountState | None:
    row = conn.execute(select(accounts).where(accounts.c.name == name)).first()
    if row is None:
        return None
    return AccountState(
        name=row.name,
        network=row.network,
        paused=row.paused,
        needs_attention=row.needs_attention,
        hold_until=row.hold_until,
        last_error=row.last_error,
    )


def all_states(conn: Connection) -> list[AccountState]:
    rows = conn.execute(select(accounts).order_by(accounts.c.name)).all()
    return [
        AccountState(
            name=row.name,
            network=row.network,
            paused=row.paused,
            needs_attention=row.needs_attention,
            hold_until=row.hold_until,
            last_error=row.last_error,
        )
        for row in rows
    ]


def hold(
    conn: Connection,
    name: str,
    *,
    until: datetime,
    needs_attention: bool,
    error: str,
) -> None:
    conn.execute(
        update(accounts)
        .where(accounts.c.name == name)
        .values(hold_until=until, needs_attention=needs_attention, last_error=error)
    )


def clear_hold(conn: Connection, name: str, *, now: datetime) -> None:
    conn.execute(
        update(accounts)
        .where(accounts.c.name == name)
        .values(hold_until=None, needs_attention=False, last_error=None, checked_at=now)
    )


def set_paused(conn: Connection, name: str, paused: bool) -> bool:
    result = conn.execute(update(accounts).where(accounts.c.name == name).values(paused=paused))
    return result.rowcount == 1

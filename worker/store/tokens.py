"""Credentials a network hands us at run time (rotated refresh tokens).

Some networks replace the refresh token on every use and the old one stops
working.  The new one must be stored durably *before* it is used, or a crash
between the two loses the account's access.  Each ``put`` commits at once.
These values are secrets: nothing reads them but the account's adapter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import Engine, select, update

from worker.clock import utcnow
from worker.store.schema import account_tokens
from worker.store.upsert import insert_ignore


class TokenStore(Protocol):
    def get(self, name: str) -> str | None: ...

    def put(self, name: str, value: str) -> None: ...


class DatabaseTokens:
    """One account's tokens in the database."""

    def __init__(self, engine: Engine, account: str) -> None:
        self._engine = engine
        self._account = account

    def get(self, name: str) -> str | None:
        with self._engine.connect() as conn:
            value = conn.execute(
                select(account_tokens.c.value).where(
                    account_tokens.c.account == self._account, account_tokens.c.name == name
                )
            ).scalar_one_or_none()
        return None if value is None else str(value)

    def put(self, name: str, value: str) -> None:
        now: datetime = utcnow()
        with self._engine.begin() as conn:
            created = insert_ignore(
                conn,
                account_tokens,
                {"account": self._account, "name": name, "value": value, "updated_at": now},
            )
            if created is None:
                conn.execute(
                    update(account_tokens)
                    .where(
                        account_tokens.c.account == self._account,
                        account_tokens.c.name == name,
                    )
                    .values(value=value, updated_at=now)
                )


class MemoryTokens:
    """Tokens kept in memory only: for a one-off probe with no database."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        return self._values.get(name)

    def put(self, name: str, value: str) -> None:
        self._values[name] = value

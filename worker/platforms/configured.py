"""One adapter per configured account, made on first use and kept.

Adapters keep state worth keeping (a Bluesky session, a Mastodon instance's
limit), so a process makes each once and shares it between its threads.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import httpx
from sqlalchemy import Engine

from worker.accounts import AccountSettings
from worker.platforms.base import Adapter
from worker.platforms.registry import ADAPTERS
from worker.store.tokens import DatabaseTokens


class ConfiguredAdapters:
    def __init__(
        self,
        accounts: Mapping[str, AccountSettings],
        http: httpx.Client,
        engine: Engine | None = None,
    ) -> None:
        self._accounts = dict(accounts)
        self._http = http
        self._engine = engine
        self._made: dict[str, Adapter] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Adapter | None:
        """The adapter of account ``name``, or None if it is not configured."""
        settings = self._accounts.get(name)
        if settings is None:
            return None
        with self._lock:
            adapter = self._made.get(name)
            if adapter is None:
                tokens = DatabaseTokens(self._engine, name) if self._engine else None
                adapter = ADAPTERS[settings.network](name, settings, self._http, tokens)
                self._made[name] = adapter
            return adapter

    def all_secrets(self) -> list[str]:
        """Every secret of every account, for the log filter."""
        found: list[str] = []
        for name in self._accounts:
            adapter = self.get(name)
            if adapter is not None:
                found.extend(adapter.secrets())
        return found

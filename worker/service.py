"""The service: settings, database, network client and the parts, wired once.

Both ways of running build the same ``Service``; they differ only in the
dispatcher they give it (see ``worker.dispatch``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import httpx
from sqlalchemy import Engine

from worker.clock import utcnow
from worker.delivery import Publisher
from worker.dispatch import Dispatcher
from worker.platforms.configured import ConfiguredAdapters
from worker.poller import Poller
from worker.settings import Settings
from worker.store.accounts import sync_accounts
from worker.store.database import create_db_engine, migrate
from worker.sweeper import Sweeper


class Service:
    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.engine = engine or create_db_engine(settings.database_url)
        migrate(self.engine)
        with self.engine.begin() as conn:
            sync_accounts(conn, settings.accounts)
        self.http = httpx.Client(
            timeout=httpx.Timeout(settings.http_timeout_seconds, connect=10.0),
            headers={"User-Agent": settings.user_agent},
            follow_redirects=False,
        )
        self.adapters = ConfiguredAdapters(settings.accounts, self.http, self.engine)
        self.poller = Poller(self.engine, settings, self.http, clock)
        self.publisher = Publisher(self.engine, settings, self.adapters, clock)
        self.sweeper = Sweeper(self.engine, settings, self.adapters, clock)
        self._dispatcher: Dispatcher | None = None

    def use(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher

    def dispatch(self, delivery_ids: Sequence[int]) -> None:
        if self._dispatcher is None:
            raise RuntimeError("no dispatcher set: call Service.use() first")
        if delivery_ids:
            self._dispatcher.dispatch(delivery_ids)

    def poll(self, *, force: bool = False) -> int:
        """Poll the sites that are due and dispatch their new deliveries."""
        created = self.poller.poll_due(force=force)
        self.dispatch(created)
        return len(created)

    def sweep(self) -> int:
        """Reclaim lost claims and dispatch everything due."""
        due = self.sweeper.sweep()
        self.dispatch(due)
        return len(due)

    def close(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.close()
        self.http.close()
        self.engine.dispose()

"""The sweeper: the database is the truth, the queue only a wake-up call.

Run periodically, it takes back claims whose worker died and finds every
delivery that is due, so that losing every queued message loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from worker.models import DeliveryStatus, HistoryStatus
from worker.platforms.configured import ConfiguredAdapters
from worker.settings import Settings
from worker.store import deliveries as delivery_store
from worker.store.history import append_history

log = logging.getLogger(__name__)

LOST_CLAIM = "the worker sending it stopped (its claim expired): outcome unknown"


class Sweeper:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        adapters: ConfiguredAdapters,
        clock: Callable[[], datetime],
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.adapters = adapters
        self.clock = clock

    def sweep(self) -> list[int]:
        """Reclaim lost claims; return the ids of deliveries to enqueue now."""
        now = self.clock()
        with self.engine.begin() as conn:
            for delivery_id, account, attempt in delivery_store.expired_claims(conn, now=now):
                adapter = self.adapters.get(account)
                # Resending is safe only where the network recognises a repeat.
                idempotent = adapter is not None and adapter.idempotent
                target = DeliveryStatus.QUEUED if idempotent else DeliveryStatus.UNCONFIRMED
                if delivery_store.release_expired(
                    conn, delivery_id, now=now, to=target, error=LOST_CLAIM
                ):
                    append_history(
                        conn,
                        delivery_id,
                        now=now,
                        attempt=attempt,
                        status=HistoryStatus.RETRYING if idempotent else HistoryStatus.UNCONFIRMED,
                        error_kind="ambiguous",
                        error=LOST_CLAIM,
                    )
                    log.warning("delivery %s: claim expired; now %s", delivery_id, target.value)
            return delivery_store.take_due(
                conn, now=now, requeue_after=self.settings.requeue_after_seconds
            )

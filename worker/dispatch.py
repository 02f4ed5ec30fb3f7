"""The one place that turns "publish delivery 42" into work.

Embedded mode hands it to a local thread pool, distributed mode sends a Celery
message.  Nothing else in the service knows which mode it runs in.  Callers
dispatch only after the transaction that made the delivery due has committed,
so a worker never looks for a row it cannot see yet.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

log = logging.getLogger(__name__)

PUBLISH_TASK = "crosspost.publish"


class Dispatcher(Protocol):
    def dispatch(self, delivery_ids: Sequence[int]) -> None: ...

    def close(self) -> None: ...


class LocalDispatcher:
    """A pool of publisher threads in this process."""

    def __init__(self, publish: Callable[[int], object], threads: int) -> None:
        self._publish = publish
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="publisher")
        self._in_flight = 0
        self._idle = threading.Condition()

    def dispatch(self, delivery_ids: Sequence[int]) -> None:
        for delivery_id in delivery_ids:
            with self._idle:
                self._in_flight += 1
            self._pool.submit(self._run, delivery_id)

    def _run(self, delivery_id: int) -> None:
        try:
            self._publish(delivery_id)
        except Exception:  # the sweeper will find the delivery again
            log.exception("delivery %s: publishing failed unexpectedly", delivery_id)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every dispatched delivery has been worked on."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class CeleryDispatcher:
    """A Celery message per delivery, carrying only its id."""

    def __init__(self, app: Any, queue: str) -> None:
        self._app = app
        self._queue = queue

    def dispatch(self, delivery_ids: Sequence[int]) -> None:
        for delivery_id in delivery_ids:
            # If Redis is down the sweeper enqueues it again later.
            try:
                self._app.send_task(PUBLISH_TASK, args=[delivery_id], queue=self._queue)
            except Exception as exc:
                log.warning(
                    "delivery %s: could not enqueue (%s); the sweeper will retry",
                    delivery_id,
                    type(exc).__name__,
                )

    def close(self) -> None:
        return None

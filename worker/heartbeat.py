"""Heartbeats: each running part says it is alive, for the dashboard."""

from __future__ import annotations

import logging
import socket
import threading

from worker.service import Service
from worker.store.heartbeats import beat

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 30.0


def heartbeat(service: Service, name: str, *, mode: str) -> None:
    """Say that ``name`` is alive (shown on the dashboard); never raises."""
    try:
        with service.engine.begin() as conn:
            beat(conn, name, mode=mode, now=service.clock())
    except Exception:  # a missed heartbeat must not stop the work it reports on
        log.warning("could not record the heartbeat of %s", name, exc_info=True)


def part_name(kind: str) -> str:
    """A stable name for a running part: the same after a restart on the same host."""
    return f"{kind}@{socket.gethostname()}"


class HeartbeatThread:
    """Beats every ``interval`` seconds in a daemon thread (the Celery worker's)."""

    def __init__(
        self, service: Service, name: str, *, mode: str, interval: float = HEARTBEAT_SECONDS
    ) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, args=(service, name, mode, interval), daemon=True, name="heartbeat"
        )

    def _loop(self, service: Service, name: str, mode: str, interval: float) -> None:
        while not self._stop.is_set():
            heartbeat(service, name, mode=mode)
            self._stop.wait(interval)

    def start(self) -> HeartbeatThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

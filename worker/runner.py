"""The loops that drive a service: forever, or one full cycle for cron and tests."""

from __future__ import annotations

import logging
import socket
import threading
import time

from worker.dispatch import LocalDispatcher
from worker.service import Service
from worker.store.deliveries import count_unsettled

log = logging.getLogger(__name__)


class CycleTimeout(Exception):
    """``run --once`` gave up waiting for deliveries to settle."""


HEARTBEAT_SECONDS = 30.0


def heartbeat(service: Service, name: str, *, mode: str) -> None:
    """Say that ``name`` is alive (shown on the dashboard); never raises."""
    from worker.store.heartbeats import beat

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


def run_forever(service: Service, stop: threading.Event) -> None:
    """Embedded mode: poll, sweep and publish in this process until ``stop``."""
    dispatcher = LocalDispatcher(service.publisher.publish, service.settings.publisher_threads)
    service.use(dispatcher)
    tick = min(service.settings.sweep_interval_seconds, service.settings.poll_interval_seconds)
    log.info(
        "crosspost running: %d sites, %d accounts",
        len(service.settings.sites),
        len(service.settings.accounts),
    )
    name = part_name("run")
    while not stop.is_set():
        heartbeat(service, name, mode="embedded")
        try:
            service.poll()
            service.sweep()
        except Exception:  # a database hiccup must not end the service
            log.exception("cycle failed; trying again in %.0f s", tick)
        stop.wait(tick)
    log.info("stopping: waiting for deliveries being sent")
    dispatcher.close()


def run_once(service: Service, *, local: bool, timeout: float) -> None:
    """Poll every site, publish everything due, wait until nothing is in flight.

    With ``local`` the work runs in this process's pool; otherwise the service
    already dispatches to Celery workers and this waits on the database.
    """
    dispatcher = None
    if local:
        dispatcher = LocalDispatcher(service.publisher.publish, service.settings.publisher_threads)
        service.use(dispatcher)
    deadline = time.monotonic() + timeout
    service.poll(force=True)
    service.sweep()
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CycleTimeout(f"deliveries still in flight after {timeout:.0f} s")
            if dispatcher is not None:
                dispatcher.wait_idle(timeout=remaining)
            if service.sweep():
                continue
            with service.engine.connect() as conn:
                unsettled = count_unsettled(conn, now=service.clock())
            if unsettled == 0:
                return
            time.sleep(0.2)
    finally:
        if dispatcher is not None:
            dispatcher.close()

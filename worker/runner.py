"""The loops that drive a service: forever, or one full cycle for cron and tests."""

from __future__ import annotations

import logging
import threading
import time

from worker.dispatch import LocalDispatcher
from worker.heartbeat import heartbeat, part_name
from worker.service import Service
from worker.store.deliveries import count_unsettled

log = logging.getLogger(__name__)


class CycleTimeout(Exception):
    """``run --once`` gave up waiting for deliveries to settle."""


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

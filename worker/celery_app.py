"""The Celery app (distributed mode): a Redis broker, thin tasks, a beat schedule.

Tasks take ids only and call the same service code as embedded mode.  Long
waits are never Celery countdowns: they live in the database as ``retry_at``
and the periodic sweep enqueues what is due.  Messages are acknowledged on
receipt: if a worker dies, the sweeper (not the broker) brings the work back.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from celery import Celery

from worker.dispatch import PUBLISH_TASK
from worker.settings import Settings

POLL_TASK = "crosspost.poll"
SWEEP_TASK = "crosspost.sweep"


def make_celery(settings: Settings) -> Celery:
    if not settings.redis_url:
        raise ValueError("REDIS_URL is not set: distributed mode needs a broker")
    app = Celery("crosspost", broker=settings.redis_url, set_as_current=True)
    queue = settings.celery_queue
    app.conf.update(
        task_default_queue=queue,
        task_ignore_result=True,
        task_acks_late=False,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        beat_schedule_filename=str(Path(tempfile.gettempdir()) / f"crosspost-beat-{queue}"),
        beat_schedule={
            "poll-sites": {
                "task": POLL_TASK,
                "schedule": settings.poll_interval_seconds,
                "options": {"queue": queue, "expires": settings.poll_interval_seconds},
            },
            "sweep": {
                "task": SWEEP_TASK,
                "schedule": settings.sweep_interval_seconds,
                "options": {"queue": queue, "expires": settings.sweep_interval_seconds},
            },
        },
    )
    register_tasks(app)
    return app


def register_tasks(app: Celery) -> None:
    from worker import tasks

    def publish(delivery_id: int) -> str | None:
        status = tasks.service().publisher.publish(delivery_id)
        return status.value if status else None

    def poll() -> int:
        return tasks.service().poll()

    def sweep() -> int:
        from worker.heartbeat import heartbeat

        service = tasks.service()
        # Beat sends this on its schedule: its heartbeat shows that beat runs.
        heartbeat(service, "sweep (beat)", mode="distributed")
        return service.sweep()

    task: Any = app.task
    task(name=PUBLISH_TASK)(publish)
    task(name=POLL_TASK)(poll)
    task(name=SWEEP_TASK)(sweep)

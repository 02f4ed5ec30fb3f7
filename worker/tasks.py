"""The service a Celery worker process uses, set once when the worker starts."""

from __future__ import annotations

from worker.service import Service

_service: Service | None = None


def install(service: Service) -> None:
    global _service
    _service = service


def service() -> Service:
    if _service is None:
        raise RuntimeError("the worker's service is not set up (start it with `crosspost worker`)")
    return _service

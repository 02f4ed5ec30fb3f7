"""Serving the dashboard with uvicorn: in the foreground, or in a thread of ``crosspost run``."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import uvicorn
from sqlalchemy import Engine

from worker.errors import ConfigError
from worker.settings import Settings

log = logging.getLogger(__name__)

AUTH_VARIABLES = (
    "DASHBOARD_PASSWORD or DASHBOARD_TOKEN (or DASHBOARD_ALLOW_NO_AUTH=true on 127.0.0.1)"
)


def require_auth(settings: Settings) -> None:
    """Refuse to serve a dashboard anyone could use."""
    if not settings.dashboard_configured:
        raise ConfigError(f"the dashboard needs a way to log in: set {AUTH_VARIABLES}")


def _server(
    settings: Settings,
    engine: Engine,
    reload_settings: Callable[[], Settings] | None,
    *,
    port: int | None = None,
) -> uvicorn.Server:
    from worker.dashboard.app import create_app

    app = create_app(settings, engine, reload_settings=reload_settings)
    config = uvicorn.Config(
        app,
        host=settings.dashboard_host,
        port=settings.dashboard_port if port is None else port,
        log_level="warning",
        access_log=False,
        # The service configures logging itself; uvicorn must not replace it.
        log_config=None,
        proxy_headers=False,
    )
    return uvicorn.Server(config)


def serve(
    settings: Settings, engine: Engine, reload_settings: Callable[[], Settings] | None = None
) -> None:
    """Run the dashboard until Ctrl-C / SIGTERM (uvicorn handles both)."""
    require_auth(settings)
    server = _server(settings, engine, reload_settings)
    log.info("dashboard on http://%s:%d/", settings.dashboard_host, settings.dashboard_port)
    server.run()


class BackgroundDashboard:
    """The dashboard in a daemon thread, for ``crosspost run`` and the tests."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        reload_settings: Callable[[], Settings] | None = None,
        *,
        port: int | None = None,
    ) -> None:
        self.server = _server(settings, engine, reload_settings, port=port)
        # uvicorn leaves signals alone outside the main thread: the main
        # thread's handlers stop the service, and ``stop`` stops this.
        self.thread = threading.Thread(target=self.server.run, name="dashboard", daemon=True)

    def start(self, timeout: float = 10.0) -> BackgroundDashboard:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the dashboard did not start (is the port in use?)")
            if time.monotonic() > deadline:
                raise RuntimeError("the dashboard did not start in time")
            time.sleep(0.02)
        return self

    @property
    def url(self) -> str:
        """The address it listens on (the real port when asked for port 0)."""
        [server] = self.server.servers
        host, port = server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

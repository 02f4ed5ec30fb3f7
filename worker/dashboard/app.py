"""The dashboard's web app: ``create_app`` wires pages, API, auth and static files.

Pages are server-rendered (Jinja2, autoescaped) and use no script of ours;
every state change is a POST with a CSRF token that answers with a 303
redirect.  The JSON API under ``/api`` serves the same reads and actions and
is described at ``/openapi.json``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine
from starlette.responses import Response

from worker.clock import utcnow
from worker.dashboard import api, pages
from worker.dashboard.auth import Auth, CsrfFailed, LoginRequired, NotAuthenticated
from worker.dashboard.context import Dashboard
from worker.dashboard.models import STATE_LABELS
from worker.settings import Settings

HERE = Path(__file__).parent

# No inline script or style is allowed at all: the pages need none, and a
# title that slipped past escaping still could not run.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ago(value: datetime | None, now: datetime | None = None) -> str:
    """ "3 min ago" / "in 2 h", for a glance; the exact time goes in a tooltip."""
    if value is None:
        return "—"
    seconds = ((now or utcnow()) - value).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        text = f"{seconds:.0f} s"
    elif seconds < 3600:
        text = f"{seconds / 60:.0f} min"
    elif seconds < 86400:
        text = f"{seconds / 3600:.1f} h"
    else:
        text = f"{seconds / 86400:.1f} d"
    return f"in {text}" if future else f"{text} ago"


def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["ago"] = _ago
    env.filters["urlquote"] = lambda value: quote(str(value), safe="")
    env.globals["state_labels"] = STATE_LABELS
    return env


def create_app(
    settings: Settings,
    engine: Engine,
    *,
    clock: Callable[[], datetime] = utcnow,
    reload_settings: Callable[[], Settings] | None = None,
) -> FastAPI:
    app = FastAPI(
        title="Crosspost dashboard API",
        version="1",
        description=(
            "What the dashboard's pages show and do. Authenticate with "
            "`Authorization: Bearer <DASHBOARD_TOKEN>` (or a logged-in session "
            "cookie, with the `X-CSRF-Token` header on POST)."
        ),
        # Swagger UI and ReDoc load scripts from a CDN: no external assets here.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.dashboard = Dashboard(
        settings=settings,
        engine=engine,
        auth=Auth(settings),
        clock=clock,
        reload_settings=reload_settings or (lambda: settings),
        templates=templates(),
    )
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(pages.pages)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(NotAuthenticated)
    async def _unauthenticated(_request: Request, _exc: NotAuthenticated) -> Response:
        return JSONResponse(
            {"detail": "authentication required: Authorization: Bearer <DASHBOARD_TOKEN>"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, _exc: CsrfFailed) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "missing or wrong CSRF token"}, status_code=403)
        return HTMLResponse(
            "<!doctype html><title>Forbidden</title><h1>403: missing or wrong CSRF token</h1>"
            '<p>Reload the page and try again. <a href="/">Back to the dashboard</a></p>',
            status_code=403,
        )

    @app.middleware("http")
    async def _headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith("/static/"):
            # Pages show live state and may be personal: never cache them.
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app

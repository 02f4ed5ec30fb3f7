"""What every route needs: settings, the database, auth, the clock, templates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request
from jinja2 import Environment
from sqlalchemy import Engine

from worker.dashboard.auth import Auth
from worker.settings import Settings


@dataclass
class Dashboard:
    settings: Settings
    engine: Engine
    auth: Auth
    clock: Callable[[], datetime]
    # Reads the settings again (``.env`` as it is now), for "check again".
    reload_settings: Callable[[], Settings]
    templates: Environment


def dashboard(request: Request) -> Dashboard:
    found = request.app.state.dashboard
    assert isinstance(found, Dashboard)
    return found

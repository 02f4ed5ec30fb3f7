"""A running dashboard over a real store, for the dashboard's tests.

``dashboard_world`` builds what an operator would have: the real service on a
SQLite file, polling the real WordPress harness and sending to a fake
Mastodon and a webhook receiver over HTTP, with the real app served by
uvicorn on 127.0.0.1 in a thread.  Tests make posts in WordPress, drive
publishing one cycle at a time (``run_once(local=True)``) and look at the
dashboard as a browser or an API client would.

Registered through ``pytest_plugins`` in ``tests/conftest.py``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.fixtures import WEBHOOK_SECRET
from tests.fakes.mastodon import FakeMastodon
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.harness.wordpress_fixture import WordPressHarness
from worker.dashboard.server import BackgroundDashboard
from worker.report import post_summaries
from worker.runner import run_once
from worker.service import Service
from worker.settings import load_settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse battery staple"
TOKEN = "api-token-" + "7" * 24
STATUSES = "/api/v1/statuses"


@dataclass
class World:
    service: Service
    wordpress: WordPressHarness
    mastodon: FakeMastodon
    receiver: WebhookReceiver
    web: BackgroundDashboard
    env: dict[str, str]

    @property
    def url(self) -> str:
        return self.web.url

    def cycle(self) -> None:
        run_once(self.service, local=True, timeout=60)

    def new_post(self, title: str) -> int:
        with self.wordpress.admin() as admin:
            return admin.create_post(title, "<p>Body of the post.</p>")

    def post(self, post_id: int) -> dict[str, Any]:
        with self.service.engine.connect() as conn:
            [found] = [p for p in post_summaries(conn, limit=500) if p["post_id"] == post_id]
        return found

    def delivery(self, post_id: int, account: str) -> dict[str, Any]:
        found: dict[str, Any] = self.post(post_id)["deliveries"][account]
        return found

    def secrets(self) -> list[str]:
        """Every secret in the settings: none may appear in a page or a response."""
        return [
            self.mastodon.token,
            WEBHOOK_SECRET,
            WEBHOOK_SECRET.removeprefix("whsec_"),
            PASSWORD,
            TOKEN,
        ]


@pytest.fixture
def dashboard_world(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    wordpress_plain: WordPressHarness,
    fake_mastodon: FakeMastodon,
    webhook_receiver: WebhookReceiver,
) -> Iterator[World]:
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'crosspost.db'}",
        "SITES__BLOG__URL": wordpress_plain.url,
        "ACCOUNTS__MASTO__NETWORK": "mastodon",
        "ACCOUNTS__MASTO__BASE_URL": fake_mastodon.url,
        "ACCOUNTS__MASTO__ACCESS_TOKEN": fake_mastodon.token,
        "ACCOUNTS__HOOK__NETWORK": "webhook",
        "ACCOUNTS__HOOK__URL": webhook_receiver.hook_url,
        "ACCOUNTS__HOOK__SECRET": WEBHOOK_SECRET,
        # One failed attempt is final, so a test gets a failed delivery at once.
        "MAX_ATTEMPTS": "1",
        "DASHBOARD_PASSWORD": PASSWORD,
        "DASHBOARD_TOKEN": TOKEN,
        "DASHBOARD_SECRET_KEY": secrets.token_hex(16),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings(env_file=None)
    service = Service(settings)
    web = BackgroundDashboard(
        settings, service.engine, reload_settings=lambda: load_settings(env_file=None), port=0
    ).start()
    world = World(service, wordpress_plain, fake_mastodon, webhook_receiver, web, env)
    try:
        world.cycle()  # first contact: the posts already there are not shared
        yield world
    finally:
        web.stop()
        service.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium, driven by Playwright (no downloaded browser)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: scripts/test installs Debian's chromium", pytrace=False
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()

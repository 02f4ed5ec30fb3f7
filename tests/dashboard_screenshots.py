"""Screenshots of every dashboard page, for the README: ``scripts/screenshots``.

Seeds a realistic store in bulk (``tests/dashboard_seed.py``), serves the real
app on 127.0.0.1, logs in with Debian's chromium through Playwright, and saves
one PNG per page under ``docs/screenshots/``.
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import sync_playwright
from sqlalchemy import select

from tests.dashboard_fixtures import CHROMIUM, CHROMIUM_ARGS
from tests.dashboard_seed import seed
from worker.dashboard.server import BackgroundDashboard
from worker.settings import load_settings
from worker.store.database import create_db_engine, migrate
from worker.store.schema import deliveries

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
PASSWORD = "screenshot-password"

ENV = {
    "DASHBOARD_PASSWORD": PASSWORD,
    "SITES__NEWS__URL": "https://news.example",
    "SITES__BLOG__URL": "https://blog.example",
    "SITES__SHOP__URL": "https://shop.example",
    "ACCOUNTS__MASTO__NETWORK": "mastodon",
    "ACCOUNTS__MASTO__BASE_URL": "https://mastodon.example",
    "ACCOUNTS__MASTO__ACCESS_TOKEN": "not-a-real-token",
    "ACCOUNTS__SKY__NETWORK": "bluesky",
    "ACCOUNTS__SKY__IDENTIFIER": "news.bsky.social",
    "ACCOUNTS__SKY__APP_PASSWORD": "xxxx-xxxx-xxxx-xxxx",
    "ACCOUNTS__HOOK__NETWORK": "webhook",
    "ACCOUNTS__HOOK__URL": "https://receiver.example/hooks/crosspost",
    "ACCOUNTS__HOOK__SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="crosspost-shots-") as work:
        os.environ.update({**ENV, "DATABASE_URL": f"sqlite:///{Path(work) / 'c.db'}"})
        settings = load_settings(env_file=None)
        engine = create_db_engine(settings.database_url)
        migrate(engine)
        seed(
            engine,
            deliveries_count=1800,
            now=datetime.now(UTC),
            days=20,
            account_networks={"masto": "mastodon", "sky": "bluesky", "hook": "webhook"},
        )
        with engine.connect() as conn:
            failed_post = conn.execute(
                select(deliveries.c.post_ref)
                .where(deliveries.c.status == "failed")
                .order_by(deliveries.c.post_ref.desc())
            ).first()
        assert failed_post is not None
        web = BackgroundDashboard(settings, engine, port=0).start()
        try:
            shoot(web.url, failed_post[0])
        finally:
            web.stop()
            engine.dispose()


def shoot(url: str, post_ref: int) -> None:
    pages = {
        "login": "/login",
        "overview": "/",
        "posts": "/posts",
        "post": f"/posts/{post_ref}",
        "failures": "/failures",
        "waiting": "/waiting",
        "retry-all": "/retry-all?list=failures",
        "accounts": "/accounts",
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            base_url=url, viewport={"width": 1280, "height": 860}, device_scale_factor=1
        )
        page = context.new_page()
        page.goto("/login")
        page.screenshot(path=str(OUT / "login.png"))
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/$"))
        for name, path in pages.items():
            if name == "login":
                continue
            page.goto(path)
            page.screenshot(path=str(OUT / f"{name}.png"), full_page=name in {"overview", "post"})
            print(f"docs/screenshots/{name}.png")
        browser.close()


if __name__ == "__main__":
    main()

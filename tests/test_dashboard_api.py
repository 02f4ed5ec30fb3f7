"""The JSON API against its own OpenAPI description, with schemathesis.

Every operation in ``/openapi.json`` is called with generated inputs (bounded
so the file runs in well under a minute), authenticated with the bearer
token, on a real app over real HTTP with a seeded SQLite store.  Checked: no
5xx, every status code is documented, every body matches its schema.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from tests.dashboard_fixtures import TOKEN
from tests.dashboard_seed import seed
from tests.fakes.fixtures import WEBHOOK_SECRET
from tests.fakes.mastodon import FakeMastodon
from tests.fakes.webhook_receiver import WebhookReceiver
from worker.dashboard.server import BackgroundDashboard
from worker.settings import load_settings
from worker.store.database import create_db_engine, migrate

BEARER = {"Authorization": f"Bearer {TOKEN}"}
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app on a store with 400 deliveries in every state."""
    folder: Path = tmp_path_factory.mktemp("dashboard-api")
    mastodon = FakeMastodon().start()
    receiver = WebhookReceiver(WEBHOOK_SECRET).start()
    env = {
        "DATABASE_URL": f"sqlite:///{folder / 'crosspost.db'}",
        "SITES__NEWS__URL": "https://news.example",
        "ACCOUNTS__MASTO__NETWORK": "mastodon",
        "ACCOUNTS__MASTO__BASE_URL": mastodon.url,
        "ACCOUNTS__MASTO__ACCESS_TOKEN": mastodon.token,  # type: ignore[attr-defined]
        "ACCOUNTS__HOOK__NETWORK": "webhook",
        "ACCOUNTS__HOOK__URL": receiver.hook_url,  # type: ignore[attr-defined]
        "ACCOUNTS__HOOK__SECRET": WEBHOOK_SECRET,
        "DASHBOARD_TOKEN": TOKEN,
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        config = load_settings(env_file=None)
    engine = create_db_engine(config.database_url)
    migrate(engine)
    seed(
        engine,
        deliveries_count=400,
        now=datetime.now(UTC),
        site_names=("news", "blog"),
        account_networks={"masto": "mastodon", "hook": "webhook"},
    )
    web = BackgroundDashboard(config, engine, port=0).start()
    try:
        yield web.url
    finally:
        web.stop()
        engine.dispose()
        receiver.stop()
        mastodon.stop()


def test_unconfirmed_can_be_marked_published_with_its_url(api_url: str) -> None:
    # Runs before the generated calls below, which may retry every delivery.
    page = httpx.get(f"{api_url}/api/failures?per_page=200", headers=BEARER).json()
    unconfirmed = [d for d in page["items"] if d["status"] == "unconfirmed"]
    assert unconfirmed, "the seed has unconfirmed deliveries"
    target = unconfirmed[0]
    url = "https://mastodon.example/@me/1"
    answer = httpx.post(
        f"{api_url}/api/deliveries/{target['id']}/published",
        json={"remote_url": url},
        headers=BEARER,
    )
    assert answer.json() == {"ok": True, "message": "marked published"}
    again = httpx.post(
        f"{api_url}/api/deliveries/{target['id']}/published", json={}, headers=BEARER
    )
    assert again.json()["ok"] is False  # only an unconfirmed one can be
    post = httpx.get(f"{api_url}/api/posts/{target['post_ref']}", headers=BEARER).json()
    [delivery] = [d for d in post["deliveries"] if d["id"] == target["id"]]
    assert delivery["status"] == "published" and delivery["remote_url"] == url
    last = delivery["history"][-1]
    assert last["status"] == "success" and last["remote_url"] == url
    assert last["error"] == "marked published by a person"


EXAMPLES = int(os.environ.get("CROSSPOST_API_EXAMPLES", "25"))


def test_api_matches_its_openapi_description(api_url: str) -> None:
    """Each operation, EXAMPLES generated calls: no 5xx, no undocumented answer.

    Driven through schemathesis's Python API (one hypothesis run per
    operation) rather than its pytest plugin, whose lazy fixture loader does
    not work with this pytest.
    """
    api = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    problems: list[str] = []
    operations = 0
    calls: list[int] = []
    for result in api.get_all_operations():
        operation = result.ok()
        operations += 1

        # Valid inputs and invalid ones (which must get a documented 4xx).
        strategy = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Any) -> None:
            response = case.call_and_validate(base_url=api_url, headers=BEARER, checks=CHECKS)
            calls.append(response.status_code)

        try:
            call()
        except Exception as exc:  # collect every operation's failure, then report
            problems.append(f"{operation.label}: {exc}")
    assert operations >= 13
    assert len(calls) >= operations * 5, "schemathesis made too few calls to mean anything"
    assert 200 in calls and 422 in calls  # valid and invalid inputs both tried
    assert not problems, "\n\n".join(problems)


def test_openapi_describes_every_page_action(api_url: str) -> None:
    """What the pages do, the API does: one operation per action."""
    paths = httpx.get(f"{api_url}/openapi.json").json()["paths"]
    assert set(paths) >= {
        "/api/overview",
        "/api/posts",
        "/api/posts/{post_ref}",
        "/api/failures",
        "/api/waiting",
        "/api/retry-count",
        "/api/accounts",
        "/api/deliveries/retry",
        "/api/deliveries/{delivery_id}/published",
        "/api/deliveries/{delivery_id}/send-again",
        "/api/accounts/{name}/pause",
        "/api/accounts/{name}/resume",
        "/api/accounts/{name}/check",
    }
    assert not [p for p in paths if not p.startswith("/api/")]  # pages are not API

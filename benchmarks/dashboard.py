"""How fast the dashboard's pages and API answer with 100,000 deliveries in the store.

Seeds a store in bulk (``tests/dashboard_seed.py``: posts from three sites
over 30 days, four accounts, a realistic spread of states, ~200,000 history
rows), serves the real app with uvicorn on 127.0.0.1, logs in, and times
each page and API endpoint over HTTP: the median and worst of several
requests.  SQLite always; PostgreSQL too with ``--postgres``.

    .venv/bin/python -m benchmarks.dashboard [--deliveries 100000] [--rounds 7] [--postgres]
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

from tests.dashboard_seed import seed
from tests.harness.services import POSTGRES_ADMIN
from worker.dashboard.server import BackgroundDashboard
from worker.settings import load_settings
from worker.store.database import create_db_engine, migrate

PASSWORD = "benchmark-password"
BUDGET_MS = 200.0

PAGES = [
    "/",
    "/posts",
    "/posts?page=300",
    "/posts?account=masto&state=failed",
    "/posts?q=harvest",
    "/posts/{post_ref}",
    "/failures",
    "/failures?page=20",
    "/failures?account=sky",
    "/waiting",
    "/accounts",
    "/retry-all?list=failures",
    "/api/overview",
    "/api/posts",
    "/api/posts?state=unconfirmed",
    "/api/posts/{post_ref}",
    "/api/failures",
    "/api/waiting",
    "/api/accounts",
    "/api/retry-count",
]


def measure(database_url: str, deliveries: int, rounds: int) -> list[tuple[str, float, float]]:
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "DASHBOARD_PASSWORD": PASSWORD,
            "SITES__NEWS__URL": "https://news.example",
        }
    )
    settings = load_settings(env_file=None)
    engine = create_db_engine(database_url)
    migrate(engine)
    started = time.perf_counter()
    seed(engine, deliveries_count=deliveries, now=datetime.now(UTC))
    print(f"  seeded {deliveries} deliveries in {time.perf_counter() - started:.1f} s")
    web = BackgroundDashboard(settings, engine, port=0).start()
    results = []
    try:
        with httpx.Client(base_url=web.url, timeout=30) as client:
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
            assert token
            client.post("/login", data={"password": PASSWORD, "csrf_token": token.group(1)})
            post_ref = deliveries // 4 // 2
            for template in PAGES:
                url = template.format(post_ref=post_ref)
                timings = []
                for _ in range(rounds + 1):  # the first warms caches; not counted
                    begin = time.perf_counter()
                    answer = client.get(url)
                    timings.append((time.perf_counter() - begin) * 1000)
                    assert answer.status_code == 200, (url, answer.status_code)
                timings = timings[1:]
                results.append((url, statistics.median(timings), max(timings)))
    finally:
        web.stop()
        engine.dispose()
    return results


def report(name: str, results: list[tuple[str, float, float]]) -> bool:
    print(f"\n{name}\n  {'page':<40} {'median ms':>10} {'max ms':>8}")
    ok = True
    for url, median, worst in results:
        flag = "" if median < BUDGET_MS else "  OVER BUDGET"
        ok = ok and not flag
        print(f"  {url:<40} {median:>10.1f} {worst:>8.1f}{flag}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deliveries", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()

    ok = True
    with tempfile.TemporaryDirectory(prefix="crosspost-dash-bench-") as work:
        url = f"sqlite:///{Path(work) / 'crosspost.db'}"
        ok &= report(
            f"SQLite, {args.deliveries} deliveries", measure(url, args.deliveries, args.rounds)
        )
    if args.postgres:
        name = f"crosspost_bench_{secrets.token_hex(4)}"
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        base = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        try:
            ok &= report(
                f"PostgreSQL, {args.deliveries} deliveries",
                measure(f"{base}/{name}", args.deliveries, args.rounds),
            )
        finally:
            with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"\nbudget {BUDGET_MS:.0f} ms per page (median): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()

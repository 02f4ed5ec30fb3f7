"""A real Bluesky PDS for the test session (``tests/harness/bluesky``).

``bluesky_pds`` starts its own PDS + PLC on free loopback ports, with its own
run directory, so that a testbed someone already runs on the default ports and
run dir is left alone.  It stops exactly that instance at the end of the
session (``down.sh`` kills the PID ``up.sh`` recorded in our run dir and
removes the temporary data dir).

The first start on a machine installs node_modules into ~/.cache/bsky-testbed
(about 90 s); later starts take 2-3 s.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

HARNESS_DIR = Path(__file__).resolve().parent / "bluesky"
# One run dir per process: two test sessions (or a benchmark beside a test
# run) each get their own PDS and never stop the other's.
RUN_DIR = Path(
    os.environ.get("CROSSPOST_BSKY_RUN_DIR", f"/tmp/crosspost-tests/bsky-run-{os.getpid()}")
)
# up.sh waits up to BSKY_START_TIMEOUT for the server; the install comes on top.
UP_TIMEOUT_S = 600


@dataclass(frozen=True)
class BlueskyHarness:
    """What ``up.sh`` printed about the running testbed.  Secrets stay out of repr."""

    pds_url: str
    plc_url: str
    handle: str
    did: str
    email: str
    password: str = field(repr=False)
    app_password: str = field(repr=False)
    admin_password: str = field(repr=False)
    jwt_secret: str = field(repr=False)
    testbed_dir: str
    pid: int
    run_dir: Path


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # Drop any BSKY_* the caller exported for another instance: ours is fresh.
    for key in [k for k in env if k.startswith("BSKY_")]:
        del env[key]
    env.update(BSKY_PDS_PORT="0", BSKY_PLC_PORT="0", BSKY_RUN_DIR=str(RUN_DIR))
    return env


def parse_env_lines(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.startswith("BSKY_"):
            values[key.strip()] = value.strip()
    return values


def start_testbed() -> BlueskyHarness:
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["bash", str(HARNESS_DIR / "up.sh")],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=UP_TIMEOUT_S,
        check=False,
    )
    values = parse_env_lines(proc.stdout)
    if proc.returncode != 0 or values.get("BSKY_TESTBED_READY") != "1":
        raise RuntimeError(
            f"Bluesky testbed did not start (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    return BlueskyHarness(
        pds_url=values["BSKY_PDS_URL"],
        plc_url=values["BSKY_PLC_URL"],
        handle=values["BSKY_HANDLE"],
        did=values["BSKY_DID"],
        email=values.get("BSKY_EMAIL", ""),
        password=values["BSKY_PASSWORD"],
        app_password=values["BSKY_APP_PASSWORD"],
        admin_password=values.get("BSKY_ADMIN_PASSWORD", ""),
        jwt_secret=values["BSKY_TESTBED_JWT_SECRET"],
        testbed_dir=values.get("BSKY_TESTBED_DIR", ""),
        pid=int(values.get("BSKY_TESTBED_PID", "0")),
        run_dir=RUN_DIR,
    )


def stop_testbed() -> None:
    subprocess.run(
        ["bash", str(HARNESS_DIR / "down.sh")],
        env=_env(),
        capture_output=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="session")
def bluesky_pds() -> Iterator[BlueskyHarness]:
    try:
        harness = start_testbed()
    except (RuntimeError, subprocess.TimeoutExpired, KeyError) as exc:
        stop_testbed()  # a half-started server must not outlive the session
        pytest.fail(f"Bluesky PDS harness: {exc}", pytrace=False)
    try:
        yield harness
    finally:
        stop_testbed()


def list_posts(harness: BlueskyHarness) -> list[dict[str, Any]]:
    """Every post record in the test account's repo, newest first.

    There is no AppView in the testbed, so this reads the repository itself
    (``com.atproto.repo.listRecords``, no auth needed), following the cursor.
    """
    records: list[dict[str, Any]] = []
    cursor: str | None = None
    with httpx.Client(base_url=harness.pds_url, timeout=10.0) as client:
        while True:
            params: dict[str, str | int] = {
                "repo": harness.did,
                "collection": "app.bsky.feed.post",
                "limit": 100,
            }
            if cursor:
                params["cursor"] = cursor
            res = client.get("/xrpc/com.atproto.repo.listRecords", params=params)
            res.raise_for_status()
            body = res.json()
            records.extend(body.get("records", []))
            cursor = body.get("cursor")
            if not cursor or not body.get("records"):
                return records

"""Pytest fixtures that run the real WordPress harness (``tests/harness/wordpress``).

Two session-wide instances: ``wordpress_plain`` (plain permalinks: the REST API
lives at ``?rest_route=``, ``/wp-json/`` answers HTML) and ``wordpress_pretty``
(``/wp-json/`` routed).  Each gets its own state directory and free port, so it
never touches the lead's instance in ``/tmp/wp-testbed`` on :8081, nor another
test session's: the directory name carries this process's id, and at the end
``down.sh --purge`` stops its servers and drops its database.

Set ``CROSSPOST_TEST_TMP`` to move the state directories (default
``/tmp/crosspost-tests``).  The first run on a fresh machine installs packages
with apt, which takes a while.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.harness.wordpress_admin import WordPressAdmin

HARNESS_DIR = Path(__file__).resolve().parent / "wordpress"
UP_TIMEOUT_SECONDS = 900  # a cold apt install is the slow case
DOWN_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class WordPressHarness:
    """One running harness WordPress, as ``up.sh`` described it."""

    url: str
    user: str
    app_password: str
    rest_root: str
    rest_posts: str
    testbed_dir: Path
    pretty_permalinks: bool
    version: str
    server_pid: int
    env: Mapping[str, str] = field(repr=False, compare=False)

    def admin(self) -> WordPressAdmin:
        """A content-making client logged in with the application password."""
        return WordPressAdmin(self.url, self.user, self.app_password)


def parse_env_lines(text: str) -> dict[str, str]:
    """Read ``KEY=VALUE`` lines (values shell-quoted where needed) into a dict."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        if not key.isidentifier():
            continue
        parts = shlex.split(raw) if raw else [""]
        values[key] = parts[0] if len(parts) == 1 else raw
    return values


def free_port() -> int:
    """A port nobody listens on now (a small race remains; up.sh checks it again)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_harness(
    state_dir: Path,
    *,
    pretty: bool,
    port: int | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> WordPressHarness:
    """Run ``up.sh`` for this state dir and return what it printed."""
    state_dir.parent.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "WP_TESTBED_DIR": str(state_dir),
        "WP_PORT": str(port or free_port()),
        "WP_PRETTY_PERMALINKS": "1" if pretty else "0",
        # One PHP worker: more lose WP-Cron events (see the harness README).
        "WP_SERVER_WORKERS": "1",
        **(extra_env or {}),
    }
    result = subprocess.run(
        ["bash", str(HARNESS_DIR / "up.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=UP_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join(result.stderr.splitlines()[-30:])
        raise RuntimeError(f"WordPress harness did not start (exit {result.returncode}):\n{tail}")
    values = parse_env_lines(result.stdout)
    return WordPressHarness(
        url=values["WP_URL"],
        user=values["WP_USER"],
        app_password=values["WP_APP_PASSWORD"],
        rest_root=values["WP_REST_ROOT"],
        rest_posts=values["WP_REST_POSTS"],
        testbed_dir=Path(values["WP_TESTBED_DIR"]),
        pretty_permalinks=values.get("WP_PRETTY_PERMALINKS") == "1",
        version=values.get("WP_VERSION", ""),
        server_pid=int(values.get("WP_SERVER_PID", "0")),
        env=values,
    )


def stop_harness(state_dir: Path, *, purge: bool = True) -> None:
    """Stop what ``up.sh`` started for this state dir (and, with purge, delete it)."""
    args = ["bash", str(HARNESS_DIR / "down.sh")]
    if purge:
        args.append("--purge")
    subprocess.run(
        [*args, str(state_dir)],
        capture_output=True,
        timeout=DOWN_TIMEOUT_SECONDS,
        check=False,
    )


def _state_dir(kind: str) -> Path:
    base = Path(os.environ.get("CROSSPOST_TEST_TMP", "/tmp/crosspost-tests"))
    return base / f"wp-{kind}-{os.getpid()}"


def _harness(kind: str, *, pretty: bool) -> Iterator[WordPressHarness]:
    state_dir = _state_dir(kind)
    try:
        harness = start_harness(state_dir, pretty=pretty)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        stop_harness(state_dir)
        pytest.fail(str(exc), pytrace=False)
    try:
        yield harness
    finally:
        stop_harness(state_dir)


@pytest.fixture(scope="session")
def wordpress_plain() -> Iterator[WordPressHarness]:
    """A real WordPress with plain permalinks (REST root ``/?rest_route=/``)."""
    yield from _harness("plain", pretty=False)


@pytest.fixture(scope="session")
def wordpress_pretty() -> Iterator[WordPressHarness]:
    """A real WordPress with ``/%postname%/`` permalinks (REST root ``/wp-json/``)."""
    yield from _harness("pretty", pretty=True)

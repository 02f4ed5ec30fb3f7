"""The dashboard's security model, over real HTTP against the real app.

No auth, no start; every page needs the login; every state change needs the
session's CSRF token; cookies are HttpOnly and SameSite; hostile titles are
escaped; no secret from the settings ever reaches a page or a response.
"""

from __future__ import annotations

import re
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.dashboard_fixtures import PASSWORD, STATUSES, TOKEN, World
from tests.harness.services import CrosspostProcess, wait_for, write_env

pytestmark = [pytest.mark.wordpress]


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


@contextmanager
def logged_in(world: World) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.url, follow_redirects=False, timeout=10) as client:
        token = csrf_of(client.get("/login").text)
        answer = client.post(
            "/login", data={"password": PASSWORD, "csrf_token": token, "next": "/"}
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/"
        yield client


@pytest.fixture
def failed(dashboard_world: World) -> Iterator[tuple[World, int]]:
    """A world with one failed Mastodon delivery; yields it and the delivery id."""
    world = dashboard_world
    world.mastodon.fail_next(1, 503, {"error": "Service Unavailable"}, path=STATUSES)
    post_id = world.new_post("Will fail once")
    world.cycle()
    delivery = world.delivery(post_id, "masto")
    assert delivery["status"] == "failed"
    yield world, int(delivery["id"])


def status_of(world: World, delivery_id: int) -> str:
    from sqlalchemy import select

    from worker.store.schema import deliveries

    with world.service.engine.connect() as conn:
        return str(
            conn.execute(
                select(deliveries.c.status).where(deliveries.c.id == delivery_id)
            ).scalar_one()
        )


# ------------------------------------------------------------ refusing to start
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_dashboard_refuses_to_start_without_auth(crosspost: CrosspostProcess) -> None:
    write_env(crosspost.env_file, {"DATABASE_URL": "sqlite:///crosspost.db"})
    result = crosspost.run("dashboard", check=False, timeout=60)
    assert result.returncode == 2
    assert "DASHBOARD_PASSWORD" in result.stderr and "DASHBOARD_TOKEN" in result.stderr


def test_no_auth_is_refused_unless_bound_to_loopback(crosspost: CrosspostProcess) -> None:
    write_env(
        crosspost.env_file,
        {
            "DATABASE_URL": "sqlite:///crosspost.db",
            "DASHBOARD_ALLOW_NO_AUTH": "true",
            "DASHBOARD_HOST": "0.0.0.0",
        },
    )
    result = crosspost.run("dashboard", check=False, timeout=60)
    assert result.returncode == 2
    assert "DASHBOARD_ALLOW_NO_AUTH" in result.stderr and "loopback" in result.stderr


def test_no_auth_on_loopback_serves_when_explicitly_allowed(
    crosspost: CrosspostProcess,
) -> None:
    port = free_port()
    write_env(
        crosspost.env_file,
        {
            "DATABASE_URL": "sqlite:///crosspost.db",
            "DASHBOARD_ALLOW_NO_AUTH": "true",
            "DASHBOARD_PORT": port,
        },
    )
    process = crosspost.start("dashboard", name="dashboard")

    def answers() -> httpx.Response | None:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
        except httpx.HTTPError:
            assert process.poll() is None, crosspost.log("dashboard")
            return None

    page = wait_for(answers, timeout=30, what="the dashboard to answer")
    assert page.status_code == 200 and "<h1>Overview</h1>" in page.text


def test_run_logs_how_to_turn_the_dashboard_on(crosspost: CrosspostProcess) -> None:
    write_env(crosspost.env_file, {"DATABASE_URL": "sqlite:///crosspost.db"})
    process = crosspost.start("run", name="run")
    wait_for(lambda: "dashboard off" in crosspost.log("run"), timeout=30, what="the log line")
    assert "DASHBOARD_PASSWORD" in crosspost.log("run")
    crosspost.kill(process, subprocess.signal.SIGTERM)


def test_run_serves_the_dashboard_when_a_password_is_set(crosspost: CrosspostProcess) -> None:
    port = free_port()
    write_env(
        crosspost.env_file,
        {
            "DATABASE_URL": "sqlite:///crosspost.db",
            "DASHBOARD_PASSWORD": PASSWORD,
            "DASHBOARD_PORT": port,
        },
    )
    crosspost.start("run", name="run")
    wait_for(lambda: "dashboard on" in crosspost.log("run"), timeout=30, what="the log line")
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", follow_redirects=False) as client:
        assert client.get("/").status_code == 303  # the login, not an open page
        token = csrf_of(client.get("/login").text)
        client.post("/login", data={"password": PASSWORD, "csrf_token": token})
        # The embedded runner's heartbeat is on the overview.
        overview = wait_for(
            lambda: (page := client.get("/").text) and "run@" in page and page,
            timeout=20,
            what="the runner's heartbeat",
        )
        assert "embedded" in overview


# ------------------------------------------------------------------- sessions
def test_pages_need_a_login_and_the_api_a_token(dashboard_world: World) -> None:
    with httpx.Client(base_url=dashboard_world.url, follow_redirects=False) as client:
        for page in ("/", "/posts", "/failures", "/waiting", "/accounts", "/posts/1"):
            answer = client.get(page)
            assert answer.status_code == 303, page
            assert answer.headers["location"].startswith("/login?next=")
        assert client.get("/api/overview").status_code == 401
        wrong = {"Authorization": "Bearer not-the-token"}
        assert client.get("/api/overview", headers=wrong).status_code == 401
        right = {"Authorization": f"Bearer {TOKEN}"}
        assert client.get("/api/overview", headers=right).status_code == 200
        # The token is for the API; the pages want the login.
        assert client.get("/", headers=right).status_code == 303


def test_wrong_password_gets_no_session(dashboard_world: World) -> None:
    with httpx.Client(base_url=dashboard_world.url, follow_redirects=False) as client:
        token = csrf_of(client.get("/login").text)
        answer = client.post("/login", data={"password": "guess", "csrf_token": token})
        assert answer.status_code == 401 and "Wrong password." in answer.text
        assert client.get("/").status_code == 303


def test_session_cookie_flags(dashboard_world: World) -> None:
    with httpx.Client(base_url=dashboard_world.url, follow_redirects=False) as client:
        token = csrf_of(client.get("/login").text)
        answer = client.post("/login", data={"password": PASSWORD, "csrf_token": token})
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("crosspost_session=")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain http here; https gets Secure
        # A new CSRF token after login (no session fixation).
        assert csrf_of(client.get("/").text) != token


def test_login_does_not_redirect_off_site(dashboard_world: World) -> None:
    with httpx.Client(base_url=dashboard_world.url, follow_redirects=False) as client:
        token = csrf_of(client.get("/login").text)
        answer = client.post(
            "/login",
            data={"password": PASSWORD, "csrf_token": token, "next": "//evil.example/x"},
        )
        assert answer.headers["location"] == "/"


# ----------------------------------------------------------------------- CSRF
def test_csrf_missing_or_wrong_is_refused_and_changes_nothing(
    failed: tuple[World, int],
) -> None:
    world, delivery_id = failed
    with logged_in(world) as client:
        good = csrf_of(client.get("/failures").text)
        for data in ({"one": str(delivery_id)}, {"one": str(delivery_id), "csrf_token": "x" * 43}):
            answer = client.post("/deliveries/retry", data=data)
            assert answer.status_code == 403
            assert status_of(world, delivery_id) == "failed"
        for action in ("pause", "resume", "check"):
            assert client.post(f"/accounts/masto/{action}", data={}).status_code == 403
        assert client.get("/api/accounts").json()[1]["paused"] is False
        # A session (not the bearer token) on the API needs the header too.
        assert client.post("/api/deliveries/retry", json={"ids": [delivery_id]}).status_code == 403
        assert status_of(world, delivery_id) == "failed"

        answer = client.post(
            "/deliveries/retry", data={"one": str(delivery_id), "csrf_token": good}
        )
        assert answer.status_code == 303
        assert status_of(world, delivery_id) == "queued"


def test_csrf_token_of_another_session_is_refused(failed: tuple[World, int]) -> None:
    world, delivery_id = failed
    with logged_in(world) as mine, logged_in(world) as theirs:
        stolen = csrf_of(theirs.get("/failures").text)
        answer = mine.post(
            "/deliveries/retry", data={"one": str(delivery_id), "csrf_token": stolen}
        )
        assert answer.status_code == 403
        assert status_of(world, delivery_id) == "failed"


def test_bearer_token_needs_no_csrf(failed: tuple[World, int]) -> None:
    world, delivery_id = failed
    answer = httpx.post(
        f"{world.url}/api/deliveries/retry",
        json={"ids": [delivery_id]},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert answer.status_code == 200 and answer.json() == {"retried": [delivery_id], "count": 1}
    assert status_of(world, delivery_id) == "queued"


# --------------------------------------------------------- escaping and secrets
def test_hostile_title_is_escaped_everywhere(dashboard_world: World) -> None:
    world = dashboard_world
    world.mastodon.fail_next(1, 503, {"error": "<img src=x onerror=alert(1)>"}, path=STATUSES)
    post_id = world.new_post("&lt;script&gt;alert(1)&lt;/script&gt; title")
    world.cycle()
    with logged_in(world) as client:
        pages = ["/posts", "/failures", "/posts?q=script"]
        listing = client.get("/posts").text
        ref = re.search(r'href="/posts/(\d+)" class="title">&lt;script&gt;', listing)
        assert ref, listing
        pages.append(f"/posts/{ref.group(1)}")
        for page in pages:
            html = client.get(page).text
            assert "&lt;script&gt;alert(1)&lt;/script&gt; title" in html, page
            assert "<script" not in html, page
            assert "<img" not in html, page
        headers = client.get("/").headers
        assert "script-src" not in headers["content-security-policy"]  # default-src 'none'
        assert "default-src 'none'" in headers["content-security-policy"]
    assert world.post(post_id)["title"] == "<script>alert(1)</script> title"


def test_no_secret_in_any_page_or_api_response(failed: tuple[World, int]) -> None:
    world, _ = failed
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    with logged_in(world) as client:
        refs = re.findall(r'href="/posts/(\d+)"', client.get("/posts").text)
        assert refs
        urls = [
            "/",
            "/posts",
            "/failures",
            "/waiting",
            "/accounts",
            "/retry-all?list=failures",
            "/openapi.json",
            "/static/style.css",
            "/api/overview",
            "/api/posts",
            "/api/failures",
            "/api/waiting",
            "/api/accounts",
            "/api/retry-count",
            *(f"/posts/{r}" for r in refs),
            *(f"/api/posts/{r}" for r in refs),
        ]
        bodies = [client.get(url, headers=bearer if url.startswith("/api") else {}) for url in urls]
        # The check probe's answer, shown as a flash message, too.
        check = client.post(
            "/accounts/masto/check", data={"csrf_token": csrf_of(client.get("/accounts").text)}
        )
        bodies.append(client.get(check.headers["location"]))
        bodies.append(client.post("/api/accounts/hook/check", headers=bearer))
    for answer in bodies:
        assert answer.status_code == 200, answer.url
        text = answer.text + str(answer.headers)
        for secret in world.secrets():
            assert secret not in text, f"{answer.url} shows a secret"


def test_flash_cookie_cannot_be_forged(dashboard_world: World) -> None:
    with logged_in(dashboard_world) as client:
        client.cookies.set("crosspost_flash", "<script>alert(1)</script>")
        html = client.get("/").text
        assert "alert(1)" not in html

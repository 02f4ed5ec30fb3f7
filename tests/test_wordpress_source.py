"""The WordPress source against a real WordPress, with plain and pretty permalinks.

Every test makes its own posts (unique titles, and dates in a window of its own
where it lists by date) because other tests share the same site.
"""

from __future__ import annotations

import logging
import random
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from tests.harness.wordpress_admin import WordPressAdmin
from tests.harness.wordpress_fixture import WordPressHarness
from worker.errors import SourceError
from worker.settings import SiteSettings
from worker.sources.wordpress import PostStub, WordPressSource

pytestmark = pytest.mark.wordpress

SITE_NAME = "field-notes"

# ---------------------------------------------------------------------- fixtures


@pytest.fixture(params=["plain", "pretty"])
def wp(request: pytest.FixtureRequest) -> WordPressHarness:
    harness: WordPressHarness = request.getfixturevalue(f"wordpress_{request.param}")
    return harness


@pytest.fixture
def admin(wp: WordPressHarness) -> Iterator[WordPressAdmin]:
    with wp.admin() as client:
        yield client


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=15.0) as client:
        yield client


def make_source(
    url: str,
    http: httpx.Client,
    *,
    username: str | None = None,
    app_password: str | None = None,
    timeout: float | None = None,
) -> WordPressSource:
    settings = SiteSettings(
        url=url,
        username=username,
        app_password=SecretStr(app_password) if app_password is not None else None,
    )
    return WordPressSource(SITE_NAME, settings, http, timeout=timeout)


def unique(label: str) -> str:
    return f"{label} {uuid.uuid4().hex[:10]}"


def private_window() -> datetime:
    """A past moment no other test dates posts near, to list only our own."""
    start = datetime(2004, 1, 1, tzinfo=UTC)
    return start + timedelta(minutes=random.randrange(0, 5_000_000))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


Reply = tuple[int, dict[str, str], bytes]


@contextmanager
def tiny_server(answer: Callable[[str, dict[str, list[str]]], Reply]) -> Iterator[str]:
    """A stdlib HTTP server on 127.0.0.1:0 answering with ``answer(path, query)``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            status, headers, body = answer(parts.path, parse_qs(parts.query))
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output quiet

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


HTML = {"Content-Type": "text/html; charset=UTF-8"}
JSON = {"Content-Type": "application/json; charset=UTF-8"}


def plain_website(path: str, query: dict[str, list[str]]) -> Reply:
    """An ordinary website: a home page for / (whatever the query), 404 elsewhere."""
    if path in ("", "/"):
        return 200, HTML, b"<!doctype html><html><head><title>Shop</title></head></html>"
    return 404, HTML, b"<html><body>Not found</body></html>"


# ---------------------------------------------------------------------- discovery


def test_discovery_on_plain_permalinks_takes_the_query_form(
    wordpress_plain: WordPressHarness, http: httpx.Client
) -> None:
    # The trap: /wp-json/ answers 200 with the HTML home page on plain permalinks.
    trap = http.get(f"{wordpress_plain.url}/wp-json/")
    assert trap.status_code == 200
    assert trap.headers["content-type"].startswith("text/html")

    root = make_source(wordpress_plain.url, http).discover_root()

    assert "wp-json" not in root
    assert httpx.URL(root).params["rest_route"] == "/"
    index = http.get(root).json()
    assert "wp/v2" in index["namespaces"]


def test_discovery_on_pretty_permalinks_takes_wp_json(
    wordpress_pretty: WordPressHarness, http: httpx.Client
) -> None:
    root = make_source(wordpress_pretty.url, http).discover_root()

    assert root == f"{wordpress_pretty.url}/wp-json/"


def test_discovery_without_any_api_link_skips_the_html_wp_json_on_plain(
    wordpress_plain: WordPressHarness, http: httpx.Client
) -> None:
    # A host that strips WordPress's api.w.org hints (some caches and security
    # plugins do): discovery must fall back, and on plain permalinks /wp-json/
    # answers the HTML home page, which is not the API.
    upstream = wordpress_plain.url

    def stripped(path: str, query: dict[str, list[str]]) -> Reply:
        answer = httpx.get(upstream + path, params=query, timeout=15)
        body = re.sub(rb"<link[^>]*api\.w\.org[^>]*>", b"", answer.content)
        return answer.status_code, {"Content-Type": answer.headers["content-type"]}, body

    with tiny_server(stripped) as url:
        assert "api.w.org" not in http.get(f"{url}/").text
        assert http.get(f"{url}/wp-json/").headers["content-type"].startswith("text/html")

        root = make_source(url, http).discover_root()

    assert root == f"{url}/?rest_route=/"


def test_discovery_reads_the_html_link_when_no_header_is_sent(
    wp: WordPressHarness, http: httpx.Client
) -> None:
    # A front page (here on another host) that names the API only in its <head>.
    page = (
        '<html><head><link rel="https://api.w.org/" href="' + wp.rest_root + '" />'
        "</head><body>Front page</body></html>"
    ).encode()
    with tiny_server(lambda path, query: (200, HTML, page)) as url:
        root = make_source(url, http).discover_root()

    assert root == wp.rest_root


def test_a_website_that_is_not_wordpress_is_refused(http: httpx.Client) -> None:
    with tiny_server(plain_website) as url:
        source = make_source(url, http)
        with pytest.raises(SourceError) as found:
            source.discover_root()
        message = str(found.value)
        assert "not a WordPress REST API" in message
        assert SITE_NAME in message
        assert url in message

        # Pointed straight at it, listing refuses the HTML too.
        with pytest.raises(SourceError, match="not a WordPress REST API"):
            source.list_since(f"{url}/?rest_route=/", datetime(2020, 1, 1, tzinfo=UTC))


# ---------------------------------------------------------------------- listing


def test_list_since_pages_through_every_post_oldest_first(
    wp: WordPressHarness, admin: WordPressAdmin, http: httpx.Client
) -> None:
    start = private_window()
    earlier = admin.create_post(
        unique("Too early"), "<p>x</p>", date_gmt=start - timedelta(hours=1)
    )
    # Created newest first, so the order we get back is WordPress's dates, not ids.
    dates = [start + timedelta(minutes=m) for m in (5, 4, 3, 2, 1)]
    ids = [admin.create_post(unique("Paging"), "<p>x</p>", date_gmt=d) for d in dates]
    source = make_source(wp.url, http)
    root = source.discover_root()

    stubs = source.list_since(root, start, per_page=2)

    mine = [s for s in stubs if s.date_gmt <= start + timedelta(minutes=10)]
    assert mine == [
        PostStub(post_id=i, date_gmt=d) for i, d in reversed(list(zip(ids, dates, strict=True)))
    ]
    assert earlier not in {s.post_id for s in stubs}
    assert stubs == sorted(stubs, key=lambda s: (s.date_gmt, s.post_id))
    assert len({s.post_id for s in stubs}) == len(stubs)
    assert all(s.date_gmt.utcoffset() == timedelta(0) for s in stubs)


def test_only_published_posts_are_listed_even_when_logged_in(
    wp: WordPressHarness, admin: WordPressAdmin, http: httpx.Client
) -> None:
    start = private_window()
    published = admin.create_post(unique("Out"), "<p>x</p>", date_gmt=start + timedelta(minutes=1))
    draft = admin.create_post(
        unique("Draft"), "<p>x</p>", status="draft", date_gmt=start + timedelta(minutes=2)
    )
    scheduled = admin.create_post(
        unique("Later"), "<p>x</p>", date_gmt=datetime.now(UTC) + timedelta(days=3)
    )
    assert admin.get_post(scheduled)["status"] == "future"
    # Logged in, WordPress could show drafts and scheduled posts: the source must not ask.
    source = make_source(wp.url, http, username=wp.user, app_password=wp.app_password)
    root = source.discover_root()

    listed = {s.post_id for s in source.list_since(root, start)}

    assert published in listed
    assert draft not in listed
    assert scheduled not in listed
    assert source.fetch(root, [draft, scheduled]) == []


def test_a_scheduled_post_is_listed_once_cron_publishes_it(
    wordpress_plain: WordPressHarness, http: httpx.Client
) -> None:
    # WordPress publishes at once anything due within a minute, so a real
    # schedule must be at least that far ahead: this test waits for it.  Cron
    # does not depend on permalinks, so one instance is enough.
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=62)
    with wordpress_plain.admin() as admin:
        post_id = admin.create_post(
            unique("Scheduled"), "<p>soon</p>", status="future", date_gmt=due
        )
        assert admin.get_post(post_id)["status"] == "future"
        source = make_source(wordpress_plain.url, http)
        root = source.discover_root()
        since = due - timedelta(minutes=5)
        assert post_id not in {s.post_id for s in source.list_since(root, since)}
        assert source.fetch(root, [post_id]) == []

        time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 1.0)
        admin.wait_for_status(post_id, "publish", timeout=60)

    stubs = {s.post_id: s for s in source.list_since(root, since)}
    assert post_id in stubs
    # It keeps its scheduled date, not the moment cron ran.
    assert stubs[post_id].date_gmt == due
    [post] = source.fetch(root, [post_id])
    assert post.date_gmt == due


def test_newest_gives_the_latest_published_posts(
    wp: WordPressHarness, admin: WordPressAdmin, http: httpx.Client
) -> None:
    # Later than anything other tests made, even posts made this very second.
    time.sleep(1.1)
    ids = [admin.create_post(unique("Newest"), "<p>x</p>") for _ in range(3)]
    admin.create_post(unique("Newest draft"), "<p>x</p>", status="draft")
    source = make_source(wp.url, http)
    root = source.discover_root()

    three = source.newest(root, 3)
    two = source.newest(root, 2)

    assert {s.post_id for s in three} == set(ids)
    assert len(two) == 2
    assert {s.post_id for s in two} <= set(ids)
    assert three == sorted(three, key=lambda s: (s.date_gmt, s.post_id))
    assert source.newest(root, 0) == []


# ---------------------------------------------------------------------- fetch


def test_fetch_normalises_a_post_as_wordpress_rendered_it(
    wp: WordPressHarness, admin: WordPressAdmin, http: httpx.Client
) -> None:
    marker = uuid.uuid4().hex[:10]
    media_id = admin.upload_png(64, 40, alt_text=f"A gradient {marker}")
    date = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    post_id = admin.create_post(
        f'It\'s a "test" {marker}',
        "<p>اردو میں خبر 🎉 👩‍👩‍👧 &amp; more</p>",
        excerpt="Short & sweet",
        date_gmt=date,
        tags=[f"tag-{marker}", "Q&A"],
        categories=[f"Section {marker}"],
        featured_media=media_id,
    )
    source = make_source(wp.url, http)
    root = source.discover_root()

    [post] = source.fetch(root, [post_id])

    assert post.site == SITE_NAME
    assert post.post_id == post_id
    # Entities are kept as WordPress rendered them: composing decodes them later.
    assert post.title_html == f"It&#8217;s a &#8220;test&#8221; {marker}"
    assert "اردو میں خبر 🎉 👩‍👩‍👧 &amp; more" in post.content_html
    assert post.excerpt_html.strip() == "<p>Short &#038; sweet</p>"
    assert sorted(post.tags) == sorted([f"tag-{marker}", "Q&A"])
    assert post.categories == (f"Section {marker}",)
    assert post.author == wp.user
    assert post.meta == {}
    assert post.date_gmt == date
    assert post.date_gmt.utcoffset() == timedelta(0)
    assert post.modified_gmt >= post.date_gmt

    assert post.featured_image is not None
    assert post.featured_image.alt == f"A gradient {marker}"
    assert post.featured_image.mime_type == "image/png"
    image = http.get(post.featured_image.url)
    assert image.status_code == 200
    assert image.content.startswith(b"\x89PNG")

    assert post.link == admin.get_post(post_id)["link"]
    page = http.get(post.link, follow_redirects=True)
    assert page.status_code == 200
    assert marker in page.text


def test_fetch_keeps_the_order_asked_and_leaves_out_what_is_not_public(
    wp: WordPressHarness,
    admin: WordPressAdmin,
    http: httpx.Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = admin.create_post(unique("First"), "<p>1</p>")
    second = admin.create_post(unique("Second"), "<p>2</p>")
    draft = admin.create_post(unique("Draft"), "<p>d</p>", status="draft")
    locked = admin.create_post(unique("Locked"), "<p>secret</p>", password="letmein")
    trashed = admin.create_post(unique("Trashed"), "<p>t</p>")
    admin.delete_post(trashed)
    source = make_source(wp.url, http)
    root = source.discover_root()

    with caplog.at_level(logging.INFO, logger="worker.sources.wordpress"):
        posts = source.fetch(root, [second, draft, first, locked, trashed, 987_654_321, second])

    assert [p.post_id for p in posts] == [second, first]
    assert f"skipping post {locked}: password-protected" in caplog.text


def test_fetch_asks_in_chunks_of_at_most_100(
    wp: WordPressHarness, admin: WordPressAdmin, http: httpx.Client
) -> None:
    real = admin.create_post(unique("Chunked"), "<p>x</p>")
    # WordPress answers 400 to per_page over 100, so one big request would fail.
    ids = [*range(900_000_000, 900_000_150), real]
    source = make_source(wp.url, http)

    posts = source.fetch(source.discover_root(), ids)

    assert [p.post_id for p in posts] == [real]


# ---------------------------------------------------------------------- failures


def test_a_site_that_is_down_raises_source_error_naming_it(http: httpx.Client) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    source = make_source(url, http)

    for call in (
        source.discover_root,
        lambda: source.list_since(f"{url}/wp-json/", datetime(2020, 1, 1, tzinfo=UTC)),
        lambda: source.newest(f"{url}/?rest_route=/", 5),
        lambda: source.fetch(f"{url}/wp-json/", [1, 2]),
    ):
        with pytest.raises(SourceError) as found:
            call()
        message = str(found.value)
        assert SITE_NAME in message
        assert url in message
        assert "cannot connect" in message


def test_a_server_that_never_answers_times_out(http: httpx.Client) -> None:
    # The kernel accepts the connection; nobody ever reads or answers it.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        source = make_source(url, http, timeout=0.5)
        started = time.monotonic()
        with pytest.raises(SourceError, match="timed out") as found:
            source.list_since(f"{url}/wp-json/", datetime(2020, 1, 1, tzinfo=UTC))
    assert time.monotonic() - started < 5
    assert SITE_NAME in str(found.value)


def test_wordpress_errors_carry_its_code_and_message(
    wp: WordPressHarness, http: httpx.Client
) -> None:
    source = make_source(wp.url, http)
    # A root one level off: WordPress itself answers 404 rest_no_route.
    bad_root = (
        f"{wp.url}/wp-json/nowhere/" if wp.pretty_permalinks else f"{wp.url}/?rest_route=/nowhere/"
    )

    with pytest.raises(SourceError) as found:
        source.list_since(bad_root, datetime(2020, 1, 1, tzinfo=UTC))

    message = str(found.value)
    assert "HTTP 404" in message
    assert "rest_no_route" in message
    assert "No route was found" in message
    assert SITE_NAME in message


def test_invalid_json_is_reported(http: httpx.Client) -> None:
    def broken(path: str, query: dict[str, list[str]]) -> Reply:
        return 200, JSON, b'[{"id": 1, "date_gmt": '

    with tiny_server(broken) as url:
        source = make_source(url, http)
        with pytest.raises(SourceError, match="invalid JSON") as found:
            source.list_since(f"{url}/wp-json/", datetime(2020, 1, 1, tzinfo=UTC))
    assert SITE_NAME in str(found.value)


def test_a_page_past_the_end_ends_paging_quietly(http: httpx.Client) -> None:
    # WordPress's answer when posts vanish between pages: said 3 pages, has 1.
    def shrinking(path: str, query: dict[str, list[str]]) -> Reply:
        if query.get("page") == ["1"]:
            body = b'[{"id": 7, "date_gmt": "2024-05-01T10:00:00", "status": "publish"}]'
            return 200, {**JSON, "X-WP-Total": "3", "X-WP-TotalPages": "3"}, body
        return (
            400,
            JSON,
            b'{"code":"rest_post_invalid_page_number","message":"The page number requested'
            b' is larger than the number of pages available.","data":{"status":400}}',
        )

    with tiny_server(shrinking) as url:
        stubs = make_source(url, http).list_since(
            f"{url}/wp-json/", datetime(2020, 1, 1, tzinfo=UTC), per_page=1
        )

    assert stubs == [PostStub(7, datetime(2024, 5, 1, 10, 0, tzinfo=UTC))]


def test_the_app_password_never_appears_in_errors_or_logs(
    wp: WordPressHarness, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    secret = wp.app_password
    down = f"http://127.0.0.1:{closed_port()}"
    with caplog.at_level(logging.DEBUG), tiny_server(plain_website) as not_wp:
        attempts: list[tuple[str, Callable[[WordPressSource], object]]] = [
            (down, lambda s: s.discover_root()),
            # Credentials in the URL itself must not be echoed either.
            (f"http://{wp.user}:{secret}@127.0.0.1:{closed_port()}", lambda s: s.discover_root()),
            (not_wp, lambda s: s.discover_root()),
            (not_wp, lambda s: s.fetch(f"{not_wp}/wp-json/", [1])),
            (wp.url, lambda s: s.list_since(f"{wp.url}/?rest_route=/nowhere/", datetime.now(UTC))),
        ]
        # A password written into the site URL, with no app password configured.
        url_only = f"http://editor:url-pass-{secret}@127.0.0.1:{closed_port()}/"
        with pytest.raises(SourceError) as found:
            make_source(url_only, http).discover_root()
        assert "url-pass" not in str(found.value)
        assert "127.0.0.1" in str(found.value)
        for url, call in attempts:
            source = make_source(url, http, username=wp.user, app_password=secret)
            with pytest.raises(SourceError) as found:
                call(source)
            assert secret not in str(found.value)
            assert secret not in repr(found.value.args)
            assert SITE_NAME in str(found.value)
    assert secret not in caplog.text

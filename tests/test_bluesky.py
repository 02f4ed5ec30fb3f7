"""The Bluesky adapter against a real PDS (``tests/harness/bluesky``), over real HTTP.

What a user checks: the post is there with the text, clickable links and tags,
the right timestamp and the card; sending twice gives one post; a too-long
text fails with Bluesky's own words; wrong credentials say so without
showing the password; an expired token does not stop the post.

A few answers the testbed cannot be made to give (429, 503, a proxy's HTML
page) come from a small stdlib HTTP server answering like a PDS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import pytest
from pydantic import SecretStr

from tests.harness.bluesky_fixture import BlueskyHarness, list_posts
from worker.compose.length import BLUESKY
from worker.errors import (
    AmbiguousError,
    AuthError,
    DuplicateError,
    RateLimitedError,
    RejectedError,
)
from worker.models import Card, ComposedMessage, DeliveryRef, Facet, SourcePost
from worker.platforms.bluesky import (
    BlueskyAdapter,
    BlueskySettings,
    format_created_at,
    retry_at_from,
)
from worker.platforms.tid import TID_PATTERN, TidClock, decode_tid, encode_tid, tid_microseconds

POST = "app.bsky.feed.post"
CREATED_AT = datetime(2026, 11, 24, 21, 5, 7, 123456, tzinfo=UTC)
CREATED_AT_TEXT = "2026-11-24T21:05:07.123Z"


# ---------------------------------------------------------------- helpers
def make_png(width: int = 48, height: int = 32) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    pixel_rows = (
        b"\x00" + b"".join(bytes((x * 5 % 256, y * 7 % 256, 160)) for x in range(width))
        for y in range(height)
    )
    rows = b"".join(pixel_rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PNG = make_png()
BIG_IMAGE = b"\x89PNG" + b"\x00" * 1_200_000  # over the 1,000,000-byte thumb limit


def byte_span(text: str, part: str) -> tuple[int, int]:
    """UTF-8 byte offsets [start, end) of ``part`` in ``text``, counted by hand."""
    start = len(text[: text.index(part)].encode("utf-8"))
    return start, start + len(part.encode("utf-8"))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def forge_expired(token: str, secret: str) -> str:
    """The same token with ``exp`` in the past, re-signed HS256 with the testbed's key.

    The PDS checks signature, then ``exp``: a genuine-looking but expired token
    is what a worker holds after a long idle period.
    """
    header_b64, payload_b64, _ = token.split(".")
    header = json.loads(b64url_decode(header_b64))
    payload = json.loads(b64url_decode(payload_b64))
    assert header["alg"] == "HS256"
    payload["iat"] = int(time.time()) - 7300
    payload["exp"] = int(time.time()) - 100
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(payload, separators=(",", ":")).encode())
    )
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def source_post() -> SourcePost:
    return SourcePost(
        site="news",
        post_id=15004,
        link="https://news.example/?p=15004",
        title_html="Iran&#8217;s news",
        excerpt_html="<p>Excerpt [&hellip;]</p>",
        content_html="<p>Body</p>",
        date_gmt=CREATED_AT - timedelta(minutes=5),
        modified_gmt=CREATED_AT - timedelta(minutes=5),
    )


def delivery(key: str | None = None, delivery_id: int = 1) -> DeliveryRef:
    return DeliveryRef(
        delivery_id=delivery_id,
        account="bsky",
        attempt=1,
        idempotency_key=key or BlueskyAdapter.new_idempotency_key(),
        created_at=CREATED_AT,
        post=source_post(),
    )


def plain(text: str) -> ComposedMessage:
    return ComposedMessage(text=text, link="", length=BLUESKY.length(text))


@dataclass
class Recorder:
    """Which XRPC calls an adapter made and what the server answered (status, error)."""

    calls: list[tuple[str, int, str]] = field(default_factory=list)

    def hook(self, res: httpx.Response) -> None:
        res.read()
        try:
            error = str(res.json().get("error", ""))
        except (ValueError, AttributeError):
            error = ""
        self.calls.append((res.request.url.path.removeprefix("/xrpc/"), res.status_code, error))

    def names(self) -> list[str]:
        return [name for name, _, _ in self.calls]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make_adapter(
    bluesky_pds: BlueskyHarness, recorder: Recorder
) -> Iterator[Callable[..., BlueskyAdapter]]:
    clients: list[httpx.Client] = []

    def build(**overrides: Any) -> BlueskyAdapter:
        values: dict[str, Any] = {
            "identifier": bluesky_pds.handle,
            "app_password": SecretStr(bluesky_pds.app_password),
            "pds_url": bluesky_pds.pds_url,
        }
        values.update(overrides)
        client = httpx.Client(timeout=30.0, event_hooks={"response": [recorder.hook]})
        clients.append(client)
        return BlueskyAdapter("bsky", BlueskySettings(**values), client)

    yield build
    for client in clients:
        client.close()


def get_record(harness: BlueskyHarness, rkey: str) -> httpx.Response:
    return httpx.get(
        f"{harness.pds_url}/xrpc/com.atproto.repo.getRecord",
        params={"repo": harness.did, "collection": POST, "rkey": rkey},
        timeout=10.0,
    )


# ---------------------------------------------------------------- a web server for card images
class _ImageHandler(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[str, bytes]]] = {
        "/thumb.png": ("image/png", PNG),
        "/big.png": ("image/png", BIG_IMAGE),
        "/page.html": ("text/html; charset=utf-8", b"<html>not an image</html>"),
    }

    def do_GET(self) -> None:
        route = self.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        content_type, body = route
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def image_site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ImageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# ---------------------------------------------------------------- TIDs (no server)
def test_tid_format_and_strict_order_across_threads() -> None:
    clock = TidClock()
    before = time.time_ns() // 1000
    per_thread: list[list[str]] = [[] for _ in range(8)]

    def work(out: list[str]) -> None:
        out.extend(clock.next() for _ in range(2000))

    threads = [threading.Thread(target=work, args=(out,)) for out in per_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    after = time.time_ns() // 1000

    everything = [tid for out in per_thread for tid in out]
    assert len(set(everything)) == len(everything) == 16000
    assert all(len(tid) == 13 and TID_PATTERN.fullmatch(tid) for tid in everything)
    for out in per_thread:  # each caller sees strictly increasing keys, as strings too
        assert out == sorted(out) and len(set(out)) == len(out)
    # The timestamp part is "now" in microseconds (bumped by at most one per TID).
    stamps = [tid_microseconds(tid) for tid in everything]
    assert before <= min(stamps) and max(stamps) <= after + len(everything)
    assert encode_tid(0) == "2222222222222"
    assert decode_tid(encode_tid(12345 << 10 | 7)) == 12345 << 10 | 7


def test_adapter_keys_are_fresh_tids() -> None:
    first, second = BlueskyAdapter.new_idempotency_key(), BlueskyAdapter.new_idempotency_key()
    assert TID_PATTERN.fullmatch(first) and TID_PATTERN.fullmatch(second)
    assert first < second


# ---------------------------------------------------------------- against the real PDS
needs_pds = pytest.mark.bluesky


@needs_pds
def test_post_with_urdu_emoji_facets_and_card_thumb(
    bluesky_pds: BlueskyHarness, make_adapter: Callable[..., BlueskyAdapter], image_site: str
) -> None:
    url = "https://news.example/?p=15004&lang=ur"
    text = f"خبر: کراچی میں بارش 🌧️👩🏽‍💻 — read {url} #پاکستان"
    link_start, link_end = byte_span(text, url)
    tag_start, tag_end = byte_span(text, "#پاکستان")
    assert text.encode("utf-8")[link_start:link_end].decode() == url  # offsets are bytes
    card = Card(
        url=url,
        title="کراچی — Karachi rain 📰",
        description="Card description, اردو بھی",
        image_url=f"{image_site}/thumb.png",
    )
    message = ComposedMessage(
        text=text,
        link=url,
        length=BLUESKY.length(text),
        card=card,
        facets=(
            Facet(link_start, link_end, "link", url),
            Facet(tag_start, tag_end, "tag", "پاکستان"),
        ),
    )
    ref = delivery()
    adapter = make_adapter()

    result = adapter.publish(message, ref)

    assert result.remote_id == f"at://{bluesky_pds.did}/{POST}/{ref.idempotency_key}"
    assert result.remote_url == (
        f"https://bsky.app/profile/{bluesky_pds.handle}/post/{ref.idempotency_key}"
    )
    res = get_record(bluesky_pds, ref.idempotency_key)
    assert res.status_code == 200, res.text
    value = res.json()["value"]
    assert value["$type"] == POST
    assert value["text"] == text
    assert value["createdAt"] == CREATED_AT_TEXT
    assert value["facets"] == [
        {
            "index": {"byteStart": link_start, "byteEnd": link_end},
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": url}],
        },
        {
            "index": {"byteStart": tag_start, "byteEnd": tag_end},
            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "پاکستان"}],
        },
    ]
    external = value["embed"]["external"]
    assert value["embed"]["$type"] == "app.bsky.embed.external"
    assert (external["uri"], external["title"], external["description"]) == (
        card.url,
        card.title,
        card.description,
    )
    thumb = external["thumb"]
    assert thumb["$type"] == "blob"
    assert thumb["mimeType"] == "image/png"
    assert thumb["size"] == len(PNG)
    blob = httpx.get(
        f"{bluesky_pds.pds_url}/xrpc/com.atproto.sync.getBlob",
        params={"did": bluesky_pds.did, "cid": thumb["ref"]["$link"]},
        timeout=10.0,
    )
    assert blob.status_code == 200 and blob.content == PNG


@needs_pds
@pytest.mark.parametrize("image", ["big.png", "page.html", "missing.png"])
def test_card_without_usable_image_is_posted_without_thumb(
    bluesky_pds: BlueskyHarness,
    make_adapter: Callable[..., BlueskyAdapter],
    image_site: str,
    image: str,
) -> None:
    url = "https://news.example/?p=2"
    card = Card(url=url, title="Title", description="", image_url=f"{image_site}/{image}")
    message = replace(plain(f"No thumb here {url}"), link=url, card=card)
    ref = delivery()

    make_adapter().publish(message, ref)

    external = get_record(bluesky_pds, ref.idempotency_key).json()["value"]["embed"]["external"]
    assert external["title"] == "Title" and external["uri"] == url
    assert "thumb" not in external


@needs_pds
def test_card_can_be_turned_off(
    bluesky_pds: BlueskyHarness, make_adapter: Callable[..., BlueskyAdapter]
) -> None:
    url = "https://news.example/?p=3"
    message = replace(plain(f"Text only {url}"), card=Card(url=url, title="T", description="D"))
    ref = delivery()
    make_adapter(link_card=False).publish(message, ref)
    assert "embed" not in get_record(bluesky_pds, ref.idempotency_key).json()["value"]


@needs_pds
def test_same_delivery_twice_is_one_post(
    bluesky_pds: BlueskyHarness,
    make_adapter: Callable[..., BlueskyAdapter],
    image_site: str,
    recorder: Recorder,
) -> None:
    url = "https://news.example/?p=4"
    card = Card(url=url, title="Twice", description="", image_url=f"{image_site}/thumb.png")
    message = replace(plain(f"Sent twice, posted once {url}"), link=url, card=card)
    ref = delivery()
    before = len(list_posts(bluesky_pds))

    first = make_adapter().publish(message, ref)
    # A second worker (new adapter, new session) retries the same delivery.
    second = make_adapter().publish(message, replace(ref, attempt=2))

    assert first == second
    posts = list_posts(bluesky_pds)
    assert len(posts) == before + 1
    assert [p["uri"] for p in posts].count(first.remote_id) == 1
    put_answers = [
        (status, err) for name, status, err in recorder.calls if name.endswith("putRecord")
    ]
    assert put_answers == [(200, ""), (200, "")]


@needs_pds
def test_other_content_on_our_key_is_a_duplicate(
    bluesky_pds: BlueskyHarness, make_adapter: Callable[..., BlueskyAdapter]
) -> None:
    ref = delivery()
    adapter = make_adapter()
    first = adapter.publish(plain("The first attempt got through"), ref)

    with pytest.raises(DuplicateError) as caught:
        adapter.publish(plain("A later attempt composed differently"), ref)

    assert caught.value.remote_id == first.remote_id
    assert caught.value.remote_url == first.remote_url
    assert "InvalidSwap" in caught.value.message
    value = get_record(bluesky_pds, ref.idempotency_key).json()["value"]
    assert value["text"] == "The first attempt got through"


@needs_pds
def test_too_long_text_is_rejected_with_the_servers_words(
    bluesky_pds: BlueskyHarness, make_adapter: Callable[..., BlueskyAdapter]
) -> None:
    text = "ب" * 300 + "😀"  # 301 graphemes, 603 bytes: only the grapheme limit is broken
    ref = delivery()
    with pytest.raises(RejectedError) as caught:
        make_adapter().publish(plain(text), ref)
    assert "grapheme too big (maximum 300, got 301)" in caught.value.message
    assert "InvalidRequest" in caught.value.message
    assert get_record(bluesky_pds, ref.idempotency_key).status_code == 400  # nothing posted


@needs_pds
def test_wrong_app_password(
    bluesky_pds: BlueskyHarness, make_adapter: Callable[..., BlueskyAdapter]
) -> None:
    wrong = "zzzz-wrong-pass-9876"
    adapter = make_adapter(app_password=SecretStr(wrong))
    before = len(list_posts(bluesky_pds))

    result = adapter.check()
    assert not result.ok
    assert "AuthenticationRequired" in result.detail and bluesky_pds.handle in result.detail
    assert wrong not in result.detail

    with pytest.raises(AuthError) as caught:
        adapter.publish(plain("never posted"), delivery())
    assert wrong not in str(caught.value) and wrong not in repr(caught.value)
    assert wrong not in repr(adapter) and wrong not in repr(adapter.settings)
    assert len(list_posts(bluesky_pds)) == before


@needs_pds
def test_check_reports_the_account(
    bluesky_pds: BlueskyHarness, make_adapter: Callable[..., BlueskyAdapter]
) -> None:
    result = make_adapter().check()
    assert result.ok
    assert result.detail == (
        f"logged in as {bluesky_pds.handle} ({bluesky_pds.did}) on {bluesky_pds.pds_url}"
    )
    assert bluesky_pds.app_password not in result.detail


@needs_pds
def test_expired_access_token_is_refreshed_and_the_post_goes_out(
    bluesky_pds: BlueskyHarness,
    make_adapter: Callable[..., BlueskyAdapter],
    recorder: Recorder,
) -> None:
    adapter = make_adapter()
    assert adapter.check().ok
    session = adapter._session
    assert session is not None
    # As after hours of idling: the cached access token has expired.
    adapter._session = replace(
        session, access_jwt=forge_expired(session.access_jwt, bluesky_pds.jwt_secret)
    )
    recorder.calls.clear()
    ref = delivery()

    result = adapter.publish(plain("Posted after a token refresh"), ref)

    assert recorder.calls == [
        ("com.atproto.repo.putRecord", 400, "ExpiredToken"),
        ("com.atproto.server.refreshSession", 200, ""),
        ("com.atproto.repo.putRecord", 200, ""),
    ]
    assert get_record(bluesky_pds, ref.idempotency_key).json()["uri"] == result.remote_id
    # The refreshed pair is kept: the next post needs no refresh and no login.
    recorder.calls.clear()
    adapter.publish(plain("And the next one"), delivery())
    assert recorder.names() == ["com.atproto.repo.putRecord"]


@needs_pds
def test_expired_refresh_token_leads_to_a_new_login(
    bluesky_pds: BlueskyHarness,
    make_adapter: Callable[..., BlueskyAdapter],
    recorder: Recorder,
) -> None:
    adapter = make_adapter()
    assert adapter.check().ok
    session = adapter._session
    assert session is not None
    adapter._session = replace(
        session,
        access_jwt=forge_expired(session.access_jwt, bluesky_pds.jwt_secret),
        refresh_jwt=forge_expired(session.refresh_jwt, bluesky_pds.jwt_secret),
    )
    recorder.calls.clear()
    ref = delivery()

    adapter.publish(plain("Posted after logging in again"), ref)

    assert recorder.calls == [
        ("com.atproto.repo.putRecord", 400, "ExpiredToken"),
        ("com.atproto.server.refreshSession", 400, "ExpiredToken"),
        ("com.atproto.server.createSession", 200, ""),
        ("com.atproto.repo.putRecord", 200, ""),
    ]
    assert get_record(bluesky_pds, ref.idempotency_key).status_code == 200


@needs_pds
def test_threads_share_one_login(
    bluesky_pds: BlueskyHarness,
    make_adapter: Callable[..., BlueskyAdapter],
    recorder: Recorder,
) -> None:
    adapter = make_adapter()
    refs = [delivery(delivery_id=i) for i in range(6)]
    errors: list[BaseException] = []

    def send(ref: DeliveryRef) -> None:
        try:
            adapter.publish(plain(f"Thread post {ref.delivery_id}"), ref)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(ref,)) for ref in refs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert recorder.names().count("com.atproto.server.createSession") == 1
    uris = {p["uri"] for p in list_posts(bluesky_pds)}
    assert all(f"at://{bluesky_pds.did}/{POST}/{ref.idempotency_key}" in uris for ref in refs)


# ---------------------------------------------------------------- answers the testbed cannot give
@dataclass
class Canned:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class _FakePdsHandler(BaseHTTPRequestHandler):
    """Logs in anyone; answers putRecord with whatever the test canned."""

    canned: Canned = Canned(200, b"{}")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.endswith("createSession"):
            session = {"did": "did:plc:fake", "handle": "fake.test"}
            session |= {"accessJwt": "access-secret-jwt", "refreshJwt": "refresh-secret-jwt"}
            self._answer(Canned(200, json.dumps(session).encode()))
        else:
            self._answer(self.canned)

    def _answer(self, canned: Canned) -> None:
        self.send_response(canned.status)
        for name, value in canned.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(canned.body)))
        self.end_headers()
        self.wfile.write(canned.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def fake_pds() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakePdsHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _xrpc_error(error: str, message: str) -> bytes:
    return json.dumps({"error": error, "message": message}).encode()


@pytest.mark.parametrize(
    ("canned", "kind"),
    [
        (
            Canned(
                429, _xrpc_error("RateLimitExceeded", "Rate Limit Exceeded"), {"Retry-After": "120"}
            ),
            RateLimitedError,
        ),
        (
            Canned(
                503, b"<html><body>Service Unavailable</body></html>", {"Content-Type": "text/html"}
            ),
            AmbiguousError,
        ),
        (Canned(502, b""), AmbiguousError),
        (Canned(500, _xrpc_error("InternalServerError", "Internal Server Error")), AmbiguousError),
        (Canned(501, _xrpc_error("MethodNotImplemented", "Method Not Implemented")), RejectedError),
        (Canned(413, b"request entity too large"), RejectedError),
        (Canned(401, _xrpc_error("AccountTakedown", "Account has been taken down")), AuthError),
        (Canned(400, _xrpc_error("InvalidToken", "Token could not be verified")), AuthError),
    ],
)
def test_answers_map_to_failure_kinds(fake_pds: str, canned: Canned, kind: type[Exception]) -> None:
    _FakePdsHandler.canned = canned
    settings = BlueskySettings(
        identifier="fake.test", app_password=SecretStr("fake-app-password"), pds_url=fake_pds
    )
    with httpx.Client(timeout=10.0) as client:
        adapter = BlueskyAdapter("fake", settings, client)
        started = datetime.now(UTC)
        with pytest.raises(kind) as caught:
            adapter.publish(plain("hello"), delivery())
    text = str(caught.value)
    assert f"HTTP {canned.status}" in text
    for secret in ("fake-app-password", "access-secret-jwt", "refresh-secret-jwt"):
        assert secret not in text
    if isinstance(caught.value, RateLimitedError):
        assert caught.value.retry_at is not None
        assert abs((caught.value.retry_at - started).total_seconds() - 120) < 5
    if canned.status == 503:
        assert "Service Unavailable" in text  # the proxy's page, read without crashing


def test_rate_limit_reset_epoch_is_used_without_retry_after() -> None:
    reset = int(time.time()) + 300
    res = httpx.Response(429, headers={"RateLimit-Reset": str(reset)})
    assert retry_at_from(res) == datetime.fromtimestamp(reset, UTC)
    assert retry_at_from(httpx.Response(429)) is None


def test_non_tid_key_is_refused_before_sending(fake_pds: str) -> None:
    settings = BlueskySettings(
        identifier="fake.test", app_password=SecretStr("x"), pds_url=fake_pds
    )
    with httpx.Client() as client:
        adapter = BlueskyAdapter("fake", settings, client)
        with pytest.raises(RejectedError, match="not a TID"):
            adapter.publish(plain("hello"), delivery(key="custom-key-1"))


def test_created_at_format_is_fixed() -> None:
    assert format_created_at(CREATED_AT) == CREATED_AT_TEXT
    naive = CREATED_AT.replace(tzinfo=None)
    assert format_created_at(naive) == CREATED_AT_TEXT
    east = CREATED_AT.astimezone(timezone(timedelta(hours=5)))
    assert format_created_at(east) == CREATED_AT_TEXT
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", format_created_at(CREATED_AT))


def test_check_on_an_unreachable_server_says_so() -> None:
    with socket.socket() as probe:  # a port nobody listens on any more
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = BlueskySettings(
        identifier="alice.test",
        app_password=SecretStr("abcd-efgh-ijkl-mnop"),
        pds_url=f"http://127.0.0.1:{port}",
    )
    with httpx.Client(timeout=5.0) as client:
        result = BlueskyAdapter("down", settings, client).check()
    assert not result.ok
    assert "could not connect to 127.0.0.1" in result.detail
    assert "abcd-efgh-ijkl-mnop" not in result.detail

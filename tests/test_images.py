"""``fetch_image`` against a small stdlib HTTP server on 127.0.0.1.

The server counts the bytes it managed to send, so "stops reading past the
limit" is checked from the other end of the socket, not from the fetcher's
own account of itself.
"""

from __future__ import annotations

import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from worker.platforms.images import (
    FetchedImage,
    ImageUnavailable,
    fetch_image,
    image_size,
    sniff_mime_type,
)

MIB = 1024 * 1024


# ---------------------------------------------------------------------- images, by hand
def make_png(width: int = 48, height: int = 32) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + b"\x10\x20\x30" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def make_gif(width: int, height: int) -> bytes:
    # Header, logical screen descriptor, a 2-colour table, one 1x1 image, trailer.
    screen = struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    image = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return b"GIF89a" + screen + image + b"\x3b"


def make_jpeg_header(width: int, height: int, *, frame: int = 0xC0) -> bytes:
    """SOI, a JFIF APP0, an Exif-sized APP1 and a frame header: what a size reader walks."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x01\x00\x48\x00\x48\x00\x00"
    exif_body = b"Exif\x00\x00" + b"\x00" * 300
    app1 = b"\xff\xe1" + struct.pack(">H", len(exif_body) + 2) + exif_body
    sof = bytes((0xFF, frame)) + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + app1 + b"\xff" + sof + b"\xff\xda" + b"\x00" * 64 + b"\xff\xd9"


def make_webp(kind: str, width: int, height: int) -> bytes:
    if kind == "VP8X":
        payload = b"\x10\x00\x00\x00" + (width - 1).to_bytes(3, "little")
        payload += (height - 1).to_bytes(3, "little")
    elif kind == "VP8L":
        bits = (width - 1) | ((height - 1) << 14)
        payload = b"\x2f" + bits.to_bytes(4, "little") + b"\x00" * 8
    else:  # "VP8 ": frame tag, start code, 14-bit sizes (top two bits: scale)
        payload = b"\x9d\x01\x00" + b"\x9d\x01\x2a"
        payload += struct.pack("<HH", width | 0x4000, height) + b"\x00" * 8
    chunk = kind.encode("ascii") + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


PNG = make_png(48, 32)
HTML = b"<!doctype html><html><head><title>Not found</title></head><body>" + b"x" * 400


# ---------------------------------------------------------------------- the server
@dataclass
class Served:
    """What the server sent on one route: bytes that reached the socket."""

    bytes_sent: int = 0
    requests: int = 0
    done: threading.Event = field(default_factory=threading.Event)


Route = Callable[[BaseHTTPRequestHandler, Served], None]


class ImageSite:
    """Routes are functions writing the whole answer; each counts what it sent."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.served: dict[str, Served] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # close-delimited bodies need no length

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                route = site.routes.get(path)
                served = site.served.setdefault(path, Served())
                served.requests += 1
                try:
                    if route is None:
                        self.send_error(404)
                    else:
                        route(self, served)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client hung up: that is what some tests want
                finally:
                    served.done.set()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, path: str, route: Route) -> str:
        self.routes[path] = route
        self.served.pop(path, None)
        return f"{self.url}{path}"

    def add_body(
        self,
        path: str,
        body: bytes,
        content_type: str | None,
        *,
        length: int | None = -1,
        chunk: int = 64 * 1024,
    ) -> str:
        """A 200 with ``body`` (written in chunks); ``length`` -1 = the real one, None = none."""

        def route(handler: BaseHTTPRequestHandler, served: Served) -> None:
            handler.send_response(200)
            if content_type is not None:
                handler.send_header("Content-Type", content_type)
            if length is not None:
                handler.send_header("Content-Length", str(len(body) if length == -1 else length))
            handler.end_headers()
            for start in range(0, len(body), chunk):
                piece = body[start : start + chunk]
                handler.wfile.write(piece)
                handler.wfile.flush()
                served.bytes_sent += len(piece)

        return self.add(path, route)

    def add_redirect(self, path: str, location: str, status: int = 302) -> str:
        def route(handler: BaseHTTPRequestHandler, served: Served) -> None:
            handler.send_response(status)
            handler.send_header("Location", location)
            handler.send_header("Content-Length", "0")
            handler.end_headers()

        return self.add(path, route)

    def sent(self, path: str) -> Served:
        served = self.served[path]
        assert served.done.wait(10), f"the server never finished {path}"
        return served


@pytest.fixture(scope="module")
def site() -> Iterator[ImageSite]:
    server = ImageSite()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as client:
        yield client


def fetch(http: httpx.Client, url: str, *, max_bytes: int = MIB, timeout: float = 5.0) -> Any:
    return fetch_image(http, url, max_bytes=max_bytes, timeout=timeout)


def unavailable(
    http: httpx.Client, url: str, *, max_bytes: int = MIB, timeout: float = 5.0
) -> ImageUnavailable:
    with pytest.raises(ImageUnavailable) as caught:
        fetch(http, url, max_bytes=max_bytes, timeout=timeout)
    return caught.value


# ---------------------------------------------------------------------- success
def test_png_is_fetched_with_its_type_and_size(site: ImageSite, http: httpx.Client) -> None:
    url = site.add_body("/photo.png", PNG, "image/png")
    image = fetch(http, url)
    assert isinstance(image, FetchedImage)
    assert image.data == PNG
    assert (image.mime_type, image.width, image.height) == ("image/png", 48, 32)
    assert "bytes" in repr(image) and "\\x89" not in repr(image)


def test_mislabelled_image_keeps_the_type_its_bytes_prove(
    site: ImageSite, http: httpx.Client
) -> None:
    # WordPress serving a PNG under a .jpg name: still a usable image, sent as PNG.
    url = site.add_body("/really-a-png.jpg", PNG, "image/jpeg; charset=binary")
    assert fetch(http, url).mime_type == "image/png"


def test_image_exactly_at_the_limit_is_taken(site: ImageSite, http: httpx.Client) -> None:
    url = site.add_body("/exact.png", PNG, "image/png", length=None)
    assert fetch(http, url, max_bytes=len(PNG)).data == PNG
    assert unavailable(http, url, max_bytes=len(PNG) - 1).code == "too_large"


def test_relative_redirect_to_http_is_followed(site: ImageSite, http: httpx.Client) -> None:
    site.add_body("/target.png", PNG, "image/png")
    url = site.add_redirect("/moved.png", "/target.png", 301)
    assert fetch(http, url).data == PNG


# ---------------------------------------------------------------------- the byte limit
def test_over_the_limit_without_a_length_stops_reading_early(
    site: ImageSite, http: httpx.Client
) -> None:
    huge = PNG + b"\x00" * (64 * MIB)
    url = site.add_body("/endless.png", huge, "image/png", length=None)

    error = unavailable(http, url, max_bytes=MIB)

    assert error.code == "too_large"
    assert str(MIB) in error.reason
    sent = site.sent("/endless.png").bytes_sent
    # The limit, plus whatever the two kernels' socket buffers held when the
    # client hung up; a fetcher that read to the end would have taken 64 MiB.
    assert MIB < sent < 16 * MIB, sent


def test_declared_length_over_the_limit_is_refused_before_the_body(
    site: ImageSite, http: httpx.Client
) -> None:
    huge = PNG + b"\x00" * (64 * MIB)
    url = site.add_body("/declared.png", huge, "image/png")

    error = unavailable(http, url, max_bytes=MIB)

    assert error.code == "too_large"
    assert "declared" in error.reason
    assert site.sent("/declared.png").bytes_sent < 16 * MIB


# ---------------------------------------------------------------------- content type
def test_wrong_content_type_is_refused_without_reading(site: ImageSite, http: httpx.Client) -> None:
    url = site.add_body("/page.html", HTML, "text/html; charset=utf-8")
    error = unavailable(http, url)
    assert error.code == "content_type"
    assert "'text/html'" in error.reason


def test_missing_content_type_is_refused(site: ImageSite, http: httpx.Client) -> None:
    url = site.add_body("/untyped", PNG, None)
    assert unavailable(http, url).code == "content_type"


@pytest.mark.parametrize("body", [HTML, b"<html>", b"GIF90a" + b"\x00" * 40])
def test_lying_content_type_is_caught_by_the_bytes(
    site: ImageSite, http: httpx.Client, body: bytes
) -> None:
    url = site.add_body("/lie.png", body, "image/png")
    error = unavailable(http, url)
    assert error.code == "not_image"
    assert "image/png" in error.reason  # the log says what the server claimed


def test_lying_server_is_caught_at_the_first_bytes_not_the_last(
    site: ImageSite, http: httpx.Client
) -> None:
    big_page = HTML * (40 * MIB // len(HTML))
    url = site.add_body("/big-lie.png", big_page, "image/png", length=None)

    error = unavailable(http, url, max_bytes=64 * MIB)

    assert error.code == "not_image"
    assert site.sent("/big-lie.png").bytes_sent < 16 * MIB


def test_empty_answer_is_unavailable(site: ImageSite, http: httpx.Client) -> None:
    url = site.add_body("/empty.png", b"", "image/png")
    assert unavailable(http, url).code == "empty"


# ---------------------------------------------------------------------- status, redirects
@pytest.mark.parametrize("status", [404, 403, 500])
def test_http_errors_are_unavailable(site: ImageSite, http: httpx.Client, status: int) -> None:
    def route(handler: BaseHTTPRequestHandler, served: Served) -> None:
        handler.send_error(status)

    url = site.add(f"/status-{status}.png", route)
    error = unavailable(http, url)
    assert error.code == "http_status"
    assert error.reason == f"HTTP {status}"


def test_unknown_path_is_a_404(site: ImageSite, http: httpx.Client) -> None:
    error = unavailable(http, f"{site.url}/nothing-here.png")
    assert (error.code, error.reason) == ("http_status", "HTTP 404")


@pytest.mark.parametrize(
    "location", ["file:///etc/passwd", "ftp://files.example/a.png", "gopher://x.example/"]
)
def test_redirect_to_a_non_http_scheme_is_refused(
    site: ImageSite, http: httpx.Client, location: str
) -> None:
    url = site.add_redirect("/sneaky.png", location)
    error = unavailable(http, url)
    assert error.code == "redirect"
    assert location.split(":")[0] in error.reason
    assert "passwd" not in error.reason and "files.example" not in error.reason


def test_redirect_loop_ends(site: ImageSite, http: httpx.Client) -> None:
    url = site.add_redirect("/loop.png", "/loop.png")
    error = unavailable(http, url)
    assert error.code == "redirect"
    assert site.served["/loop.png"].requests == 6  # the first try and five redirects


@pytest.mark.parametrize("url", ["file:///etc/passwd", "data:image/png;base64,iVBO", "not a url"])
def test_non_http_urls_are_never_opened(http: httpx.Client, url: str) -> None:
    assert unavailable(http, url).code == "bad_url"


def test_nothing_listening_is_a_network_failure(http: httpx.Client) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = unavailable(http, f"http://127.0.0.1:{port}/a.png")
    assert error.code == "network"
    assert "ConnectError" in error.reason


# ---------------------------------------------------------------------- time
def test_server_that_never_answers_times_out(site: ImageSite, http: httpx.Client) -> None:
    release = threading.Event()

    def route(handler: BaseHTTPRequestHandler, served: Served) -> None:
        release.wait(10)

    url = site.add("/silent.png", route)
    started = time.monotonic()
    try:
        error = unavailable(http, url, timeout=0.5)
    finally:
        release.set()
    assert error.code == "timeout"
    assert error.reason == "timed out after 0.5 s"
    assert time.monotonic() - started < 2.5


def test_dripping_server_is_cut_off_by_the_overall_timeout(
    site: ImageSite, http: httpx.Client
) -> None:
    # Every read arrives well inside the timeout; only the total is too long.
    def route(handler: BaseHTTPRequestHandler, served: Served) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        handler.end_headers()
        handler.wfile.write(PNG[:40])
        handler.wfile.flush()
        for _ in range(100):
            time.sleep(0.1)
            handler.wfile.write(b"\x00")
            handler.wfile.flush()
            served.bytes_sent += 1

    url = site.add("/drip.png", route)
    started = time.monotonic()
    error = unavailable(http, url, timeout=1.0)
    elapsed = time.monotonic() - started
    assert error.code == "timeout"
    assert elapsed < 3.0, elapsed


# ---------------------------------------------------------------------- formats
@pytest.mark.parametrize(
    ("data", "mime_type", "size"),
    [
        (make_png(640, 427), "image/png", (640, 427)),
        (make_gif(300, 200), "image/gif", (300, 200)),
        (make_jpeg_header(1920, 1080), "image/jpeg", (1920, 1080)),
        (make_jpeg_header(800, 600, frame=0xC2), "image/jpeg", (800, 600)),  # progressive
        (make_webp("VP8X", 4000, 3000), "image/webp", (4000, 3000)),
        (make_webp("VP8L", 1024, 768), "image/webp", (1024, 768)),
        (make_webp("VP8 ", 550, 368), "image/webp", (550, 368)),
    ],
)
def test_formats_are_sniffed_and_measured(
    data: bytes, mime_type: str, size: tuple[int, int]
) -> None:
    assert sniff_mime_type(data[:32]) == mime_type
    assert image_size(data, mime_type) == size


def test_cut_short_headers_give_no_size_rather_than_a_guess() -> None:
    assert image_size(make_png()[:20], "image/png") is None
    assert image_size(make_jpeg_header(10, 10)[:40], "image/jpeg") is None
    assert image_size(make_webp("VP8X", 10, 10)[:26], "image/webp") is None
    assert image_size(b"\xff\xd8\x00garbage", "image/jpeg") is None


@pytest.mark.parametrize(
    ("name", "data", "mime_type", "size"),
    [
        ("a.gif", make_gif(300, 200), "image/gif", (300, 200)),
        ("a.jpg", make_jpeg_header(1200, 630), "image/jpeg", (1200, 630)),
        ("a.webp", make_webp("VP8X", 1200, 630), "image/webp", (1200, 630)),
    ],
)
def test_fetched_images_carry_their_size(
    site: ImageSite,
    http: httpx.Client,
    name: str,
    data: bytes,
    mime_type: str,
    size: tuple[int, int],
) -> None:
    url = site.add_body(f"/{name}", data, mime_type)
    image = fetch(http, url)
    assert (image.mime_type, (image.width, image.height)) == (mime_type, size)

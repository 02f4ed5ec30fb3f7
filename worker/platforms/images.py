"""Downloading a post's image for a network, once and safely.

Every adapter that uploads an image (a Bluesky card thumb, a Mastodon
attachment) gets its bytes through ``fetch_image``:

* the download is streamed and stops as soon as it passes ``max_bytes``
  (a declared ``Content-Length`` over the limit is refused before reading),
  so a huge or endless answer costs at most the limit plus one chunk;
* ``timeout`` bounds the whole download, not only each read: a server that
  drips a byte at a time is cut off too;
* the answer must say ``image/*`` *and* its first bytes must be PNG, JPEG,
  GIF or WebP, the formats every network here accepts.  A server that labels
  an HTML error page ``image/png`` is caught, and the MIME type we hand on is
  the one the bytes prove, not the one the server claimed;
* redirects are followed by hand (a few hops), only to http(s) addresses.

A failure is an ``ImageUnavailable`` with a short ``reason`` for the logs and a
``code`` for code and tests.  It is not a publishing failure: an image is an
extra, and each adapter decides to post without it.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from typing import Literal

import httpx

from worker.errors import CrosspostError

MAX_REDIRECTS = 5
# Enough for every format's size fields except a JPEG with big metadata
# segments before its frame header; those are found in the full data.
_SNIFF_BYTES = 32
_ACCEPT = "image/png, image/jpeg, image/gif, image/webp;q=0.9, image/*;q=0.5"

UnavailableCode = Literal[
    "bad_url",
    "http_status",
    "redirect",
    "content_type",
    "not_image",
    "too_large",
    "empty",
    "timeout",
    "network",
]


class ImageUnavailable(CrosspostError):
    """The image could not be had; ``reason`` says why in words fit for a log."""

    def __init__(self, reason: str, *, code: UnavailableCode) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code: UnavailableCode = code


@dataclass(frozen=True)
class FetchedImage:
    """An image's bytes and what they are.  ``mime_type`` comes from the bytes;
    ``width``/``height`` from the format's header, ``None`` when not found."""

    data: bytes
    mime_type: str
    width: int | None = None
    height: int | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:  # the bytes would flood a log or a test report
        return (
            f"FetchedImage({self.mime_type}, {self.size} bytes, "
            f"{self.width or '?'}x{self.height or '?'})"
        )


def fetch_image(http: httpx.Client, url: str, *, max_bytes: int, timeout: float) -> FetchedImage:
    """Download ``url`` as an image of at most ``max_bytes`` within ``timeout`` seconds.

    Raises ``ImageUnavailable``; never an ``httpx`` error.
    """
    deadline = time.monotonic() + timeout
    target = _checked_url(url)
    for _ in range(MAX_REDIRECTS + 1):
        left = _time_left(deadline, timeout)
        try:
            with http.stream(
                "GET",
                target,
                headers={"Accept": _ACCEPT},
                timeout=httpx.Timeout(left),
                # By hand below: httpx would follow to any scheme it knows.
                follow_redirects=False,
            ) as res:
                if res.is_redirect:
                    target = _redirect_target(res)
                    continue
                return _read_image(res, max_bytes=max_bytes, deadline=deadline, timeout=timeout)
        except httpx.TimeoutException:
            raise ImageUnavailable(f"timed out after {timeout:g} s", code="timeout") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise ImageUnavailable(
                f"download failed: {type(exc).__name__}", code="network"
            ) from None
    raise ImageUnavailable(f"more than {MAX_REDIRECTS} redirects", code="redirect")


def _checked_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise ImageUnavailable("not a valid URL", code="bad_url") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        # file:, data:, ftp: … from a post's metadata must never be opened.
        raise ImageUnavailable(f"not an http(s) URL (scheme {parsed.scheme!r})", code="bad_url")
    return parsed


def _redirect_target(res: httpx.Response) -> httpx.URL:
    # ``is_redirect`` already made sure there is a Location.
    location = res.headers["location"].strip()
    try:
        target = res.request.url.join(location)
    except httpx.InvalidURL:
        raise ImageUnavailable("redirect to an invalid URL", code="redirect") from None
    if target.scheme not in ("http", "https") or not target.host:
        # Only the scheme is named: a redirect target may carry a signed token.
        raise ImageUnavailable(
            f"redirect to a non-http(s) address refused (scheme {target.scheme!r})",
            code="redirect",
        )
    return target


def _time_left(deadline: float, timeout: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise ImageUnavailable(f"timed out after {timeout:g} s", code="timeout")
    return left


def _read_image(
    res: httpx.Response, *, max_bytes: int, deadline: float, timeout: float
) -> FetchedImage:
    if res.status_code != 200:
        raise ImageUnavailable(f"HTTP {res.status_code}", code="http_status")
    declared_type = res.headers.get("content-type", "").split(";")[0].strip().lower()
    if not declared_type.startswith("image/"):
        raise ImageUnavailable(
            f"content type {declared_type or 'missing'!r} is not an image", code="content_type"
        )
    declared_size = res.headers.get("content-length", "").strip()
    if declared_size.isdigit() and int(declared_size) > max_bytes:
        raise ImageUnavailable(
            f"{declared_size} bytes declared, over the limit of {max_bytes}", code="too_large"
        )

    chunks: list[bytes] = []
    size = 0
    mime_type: str | None = None
    for chunk in res.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            # Leaving the ``with`` closes the connection: nothing more is read.
            raise ImageUnavailable(f"over the limit of {max_bytes} bytes", code="too_large")
        chunks.append(chunk)
        if mime_type is None and size >= _SNIFF_BYTES:
            # Decide early, so an HTML page labelled image/png is not read to its end.
            mime_type = _sniffed_or_raise(b"".join(chunks), declared_type)
        _time_left(deadline, timeout)
    if size == 0:
        raise ImageUnavailable("empty answer", code="empty")
    data = b"".join(chunks)
    mime_type = mime_type or _sniffed_or_raise(data, declared_type)
    width, height = image_size(data, mime_type) or (None, None)
    return FetchedImage(data=data, mime_type=mime_type, width=width, height=height)


def _sniffed_or_raise(head: bytes, declared_type: str) -> str:
    sniffed = sniff_mime_type(head)
    if sniffed is None:
        raise ImageUnavailable(
            f"content is not a PNG, JPEG, GIF or WebP image (server said {declared_type!r})",
            code="not_image",
        )
    return sniffed


# ---------------------------------------------------------------------- formats


def sniff_mime_type(head: bytes) -> str | None:
    """The MIME type the first bytes prove, for the four formats we accept."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_size(data: bytes, mime_type: str) -> tuple[int, int] | None:
    """Width and height from the format's header; ``None`` when the header is
    cut short or unusual (the caller then simply does not know)."""
    try:
        if mime_type == "image/png":
            return _png_size(data)
        if mime_type == "image/gif":
            return _gif_size(data)
        if mime_type == "image/webp":
            return _webp_size(data)
        if mime_type == "image/jpeg":
            return _jpeg_size(data)
    except (struct.error, IndexError):
        return None
    return None


def _positive(width: int, height: int) -> tuple[int, int] | None:
    return (width, height) if width > 0 and height > 0 else None


def _png_size(data: bytes) -> tuple[int, int] | None:
    # The first chunk must be IHDR: length(4) "IHDR" width(4) height(4), big-endian.
    if data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return _positive(width, height)


def _gif_size(data: bytes) -> tuple[int, int] | None:
    # Logical screen descriptor right after the signature, little-endian.
    width, height = struct.unpack("<HH", data[6:10])
    return _positive(width, height)


def _webp_size(data: bytes) -> tuple[int, int] | None:
    kind = data[12:16]
    # Slices of a short header are short, not errors: check the length first.
    if len(data) < 30:
        return None
    if kind == b"VP8X":  # extended: canvas size minus one, 24 bits each
        width = 1 + int.from_bytes(data[24:27], "little")
        height = 1 + int.from_bytes(data[27:30], "little")
        return _positive(width, height)
    if kind == b"VP8L":  # lossless: signature 0x2f, then 14 + 14 bits (minus one)
        if data[20] != 0x2F:
            return None
        bits = int.from_bytes(data[21:25], "little")
        return _positive(1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF))
    if kind == b"VP8 ":  # lossy: 3-byte frame tag, start code, then 14-bit sizes
        if data[23:26] != b"\x9d\x01\x2a":
            return None
        width, height = struct.unpack("<HH", data[26:30])
        return _positive(width & 0x3FFF, height & 0x3FFF)
    return None


# Start-of-frame markers carry the size; C4 (Huffman tables), C8 (reserved)
# and CC (arithmetic coding) share the range but are not frames.
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers that stand alone, without a length field.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    position = 2  # after SOI
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None  # lost in the structure: give up rather than guess
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker in _JPEG_STANDALONE:
            position += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, or scan data before any frame
            return None
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if marker in _JPEG_FRAMES:
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return _positive(width, height)
        position += 2 + length
    return None

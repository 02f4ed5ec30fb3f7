"""A small typed client that makes test content in the harness WordPress.

It writes through the real REST API with the harness's application password, the
way an editor's tools would, so what the source reads back is what WordPress
itself rendered (texturized titles, generated excerpts, image sizes).

Routes are addressed as ``?rest_route=…``: that form works with plain and pretty
permalinks alike, so one client serves both harness instances.
"""

from __future__ import annotations

import struct
import time
import uuid
import zlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import httpx


class AdminError(RuntimeError):
    """WordPress refused a write; the message holds its status and answer."""


def make_png(width: int, height: int) -> bytes:
    """A valid RGB PNG with a gradient, built from zlib and struct only."""
    if width < 1 or height < 1:
        raise ValueError("a PNG needs at least one pixel")
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type 0 (None) for each scanline
        for x in range(width):
            rows += bytes(
                (
                    (x * 255) // max(width - 1, 1),
                    (y * 255) // max(height - 1, 1),
                    160,
                )
            )

    def chunk(tag: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(tag + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def wp_gmt(moment: datetime) -> str:
    """A ``date_gmt`` value as WordPress takes it: UTC, no offset suffix."""
    if moment.tzinfo is None:
        raise ValueError("pass an aware datetime")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


class WordPressAdmin:
    """Create, change and delete posts, terms and media as the harness admin."""

    def __init__(self, url: str, user: str, app_password: str, *, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(
            auth=httpx.BasicAuth(user, app_password),
            timeout=timeout,
            headers={"Accept": "application/json"},
        )
        self._term_ids: dict[tuple[str, str], int] = {}

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> WordPressAdmin:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ posts

    def create_post(
        self,
        title: str,
        content: str,
        *,
        excerpt: str | None = None,
        status: str = "publish",
        date_gmt: datetime | None = None,
        tags: Iterable[str] = (),
        categories: Iterable[str] = (),
        featured_media: int | None = None,
        password: str | None = None,
    ) -> int:
        """Create a post and return its id; missing tags and categories are created.

        WordPress schedules (status ``future``) only what is due at least a minute
        ahead: a ``date_gmt`` closer than that is published at once, whatever
        ``status`` says, and a later one with ``publish`` becomes ``future``.
        """
        body: dict[str, Any] = {"title": title, "content": content, "status": status}
        if excerpt is not None:
            body["excerpt"] = excerpt
        if date_gmt is not None:
            body["date_gmt"] = wp_gmt(date_gmt)
        tag_ids = [self.term_id("tags", name) for name in tags]
        if tag_ids:
            body["tags"] = tag_ids
        category_ids = [self.term_id("categories", name) for name in categories]
        if category_ids:
            body["categories"] = category_ids
        if featured_media is not None:
            body["featured_media"] = featured_media
        if password is not None:
            body["password"] = password
        post = self._call("POST", "/wp/v2/posts", json=body)
        return int(post["id"])

    def update_post(self, post_id: int, **fields: Any) -> dict[str, Any]:
        """Change fields of a post (REST names: title, content, status, date_gmt…)."""
        body = dict(fields)
        if isinstance(body.get("date_gmt"), datetime):
            body["date_gmt"] = wp_gmt(body["date_gmt"])
        result: dict[str, Any] = self._call("POST", f"/wp/v2/posts/{post_id}", json=body)
        return result

    def get_post(self, post_id: int, *, context: str = "edit") -> dict[str, Any]:
        """The post as an editor sees it (any status, ``raw`` fields included)."""
        result: dict[str, Any] = self._call(
            "GET", f"/wp/v2/posts/{post_id}", params={"context": context}
        )
        return result

    def delete_post(self, post_id: int, force: bool = False) -> dict[str, Any]:
        """Trash a post, or delete it for good with ``force``."""
        result: dict[str, Any] = self._call(
            "DELETE", f"/wp/v2/posts/{post_id}", params={"force": "true" if force else "false"}
        )
        return result

    # ------------------------------------------------------------------ terms, media

    def term_id(self, taxonomy: str, name: str) -> int:
        """The id of a tag (``tags``) or category (``categories``), created if missing."""
        key = (taxonomy, name)
        if key in self._term_ids:
            return self._term_ids[key]
        response = self._request("POST", f"/wp/v2/{taxonomy}", json={"name": name})
        body = _json_or_none(response)
        if response.status_code in (200, 201) and isinstance(body, dict):
            term = int(body["id"])
        elif isinstance(body, dict) and body.get("code") == "term_exists":
            term = int(body["data"]["term_id"])
        else:
            raise AdminError(f"creating {taxonomy} {name!r}: HTTP {response.status_code} {body}")
        self._term_ids[key] = term
        return term

    def upload_png(
        self, width: int, height: int, *, alt_text: str = "", filename: str | None = None
    ) -> int:
        """Upload a generated PNG to the media library and return its id."""
        name = filename or f"crosspost-test-{uuid.uuid4().hex[:12]}.png"
        media = self._call(
            "POST",
            "/wp/v2/media",
            content=make_png(width, height),
            headers={
                "Content-Type": "image/png",
                "Content-Disposition": f'attachment; filename="{name}"',
            },
        )
        media_id = int(media["id"])
        if alt_text:
            self._call("POST", f"/wp/v2/media/{media_id}", json={"alt_text": alt_text})
        return media_id

    # ------------------------------------------------------------------ cron

    def run_cron(self) -> None:
        """Run WordPress's due cron events now (this is what publishes scheduled posts).

        WordPress only runs WP-Cron when a request comes in after an event is due;
        calling ``wp-cron.php`` directly runs them in this request, unless a run
        spawned by an earlier request still holds the lock (then that one does it).
        """
        response = self._client.get(f"{self.url}/wp-cron.php", params={"doing_wp_cron": ""})
        if response.status_code >= 400:
            raise AdminError(f"wp-cron.php: HTTP {response.status_code}")

    def wait_for_status(self, post_id: int, status: str, *, timeout: float = 30.0) -> None:
        """Run cron until the post has ``status`` (e.g. a scheduled post goes live)."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.get_post(post_id).get("status")
            if current == status:
                return
            if time.monotonic() > deadline:
                raise AdminError(f"post {post_id} still {current!r} after {timeout}s")
            self.run_cron()
            time.sleep(0.3)

    # ------------------------------------------------------------------ HTTP

    def _request(
        self,
        method: str,
        route: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        query = {"rest_route": route, **(params or {})}
        return self._client.request(
            method,
            f"{self.url}/",
            params=query,
            json=json,
            content=content,
            headers=dict(headers or {}),
        )

    def _call(
        self,
        method: str,
        route: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        response = self._request(
            method, route, params=params, json=json, content=content, headers=headers
        )
        body = _json_or_none(response)
        if response.status_code not in (200, 201):
            raise AdminError(f"{method} {route}: HTTP {response.status_code}: {body!r:.500}")
        return body


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None

"""A fake Mastodon instance, answering as platforms.md §2 describes.

Routes: ``GET /api/v2/instance``, ``GET /api/v1/instance``,
``GET /api/v1/accounts/verify_credentials``, ``POST /api/v1/statuses`` (with
``media_ids`` / ``media_ids[]``), ``POST /api/v2/media`` (multipart ``file`` and
``description``), ``GET /api/v1/media/{id}``.

Switches beyond the base's faults:

- ``max_characters`` / ``url_weight``: the instance's limits (forks raise them);
- ``image_size_limit``: the largest upload taken (422 beyond), also announced in
  the instance's ``configuration.media_attachments``;
- ``media_async`` / ``media_processing_polls``: answer an upload 202 (still
  processing) instead of 200, and answer that many ``GET /api/v1/media/{id}``
  with 206 before 200.  A status naming media still processing is refused
  with 422, as Mastodon does; so is media unknown or already attached;
- ``instance_v2`` / ``instance_v1``: set False to answer 404 (older servers, or
  an instance that hides its metadata);
- ``token`` / ``scopes``: the one valid bearer token and what it may do;
- ``rate_limit(reset_at)``: answer 429 ``Too many requests`` with
  ``X-RateLimit-Reset`` (ISO 8601) and no ``Retry-After`` until ``clear_rate_limit``.

Counting is written here on its own (``regex``'s ``\\X``, URLs as 23) rather than
imported from the project, so that a counting bug in the project shows up as
a 422 from the fake instead of agreeing with itself.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import regex

from tests.fakes.server import FakeServer, Recorded, Reply

# Mastodon counts a mention as its local part only: "@alice@example.social" is "@alice".
_MENTION = regex.compile(r"(?<=^|[^\w/])@(\w+)@[\w.-]+\w", regex.UNICODE)
_URL = regex.compile(r"https?://\S+")
_GRAPHEME = regex.compile(r"\X")

IDEMPOTENCY_SECONDS = 3600


def mastodon_length(text: str, url_weight: int = 23) -> int:
    """The status length as Mastodon's StatusLengthValidator counts it."""
    text = _MENTION.sub(r"@\1", text)
    text = _URL.sub("x" * url_weight, text)
    return len(_GRAPHEME.findall(text))


def iso_reset(moment: datetime) -> str:
    """Mastodon's X-RateLimit-Reset form: ``2026-05-01T12:05:00.000000Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class _Remembered:
    expires: float
    status: dict[str, Any]


@dataclass
class Media:
    """One upload as the fake keeps it (``data`` is the file's exact bytes)."""

    id: str
    data: bytes
    content_type: str
    filename: str
    description: str
    polls_left: int  # GETs still answered 206
    status_id: str | None = None

    @property
    def processed(self) -> bool:
        return self.polls_left <= 0

    def entity(self, base: str) -> dict[str, Any]:
        url = f"{base}/system/media_attachments/{self.id}/original/{self.filename}"
        return {
            "id": self.id,
            "type": "image",
            "url": url if self.processed else None,
            "preview_url": url,
            "description": self.description or None,
            "blurhash": None,
            "meta": {},
        }


@dataclass
class _Part:
    name: str
    data: bytes
    filename: str | None = None
    content_type: str = "text/plain"
    headers: dict[str, str] = field(default_factory=dict)


class FakeMastodon(FakeServer):
    name = "fake-mastodon"

    def __init__(
        self,
        *,
        token: str = "masto-test-token-0123456789",
        username: str = "alice",
        max_characters: int = 500,
        url_weight: int = 23,
    ) -> None:
        super().__init__()
        self.token = token
        self.username = username
        self.max_characters = max_characters
        self.url_weight = url_weight
        self.scopes: set[str] = {"read", "write:statuses", "write:media"}
        self.instance_v2 = True
        self.instance_v1 = True
        self.image_size_limit = 16 * 1024 * 1024
        self.media_async = False
        self.media_processing_polls = 0
        self.statuses: list[dict[str, Any]] = []
        self.media: dict[str, Media] = {}
        self._rate_limited_until: datetime | None = None
        self._remembered: dict[tuple[str, str], _Remembered] = {}
        self._next_id = 110_000_000_000_000_000
        # One create at a time, so that an idempotent repeat arriving while the
        # first is still being processed cannot create a second status.
        self._create_lock = threading.Lock()

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ switches
    def rate_limit(self, reset_at: datetime) -> None:
        self._rate_limited_until = reset_at

    def clear_rate_limit(self) -> None:
        self._rate_limited_until = None

    def status_by_id(self, status_id: str) -> dict[str, Any] | None:
        return next((s for s in self.statuses if s["id"] == status_id), None)

    # ------------------------------------------------------------------ routes
    def route(self, request: Recorded) -> Reply:
        if request.method == "GET" and request.path == "/api/v2/instance":
            if not self.instance_v2:
                return _error(404, "Record not found")
            return Reply(200, self._instance_v2())
        if request.method == "GET" and request.path == "/api/v1/instance":
            if not self.instance_v1:
                return _error(404, "Record not found")
            return Reply(200, self._instance_v1())

        if self._rate_limited_until is not None and datetime.now(UTC) < self._rate_limited_until:
            return Reply(
                429,
                {"error": "Too many requests"},
                {
                    "X-RateLimit-Limit": "300",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": iso_reset(self._rate_limited_until),
                },
            )

        if request.method == "GET" and request.path == "/api/v1/accounts/verify_credentials":
            if not self._authorised(request):
                return _error(401, "The access token is invalid")
            return Reply(200, self._account())
        if request.method == "POST" and request.path == "/api/v1/statuses":
            return self._create_status(request)
        if request.method == "POST" and request.path == "/api/v2/media":
            return self._upload_media(request)
        if request.method == "GET" and request.path.startswith("/api/v1/media/"):
            return self._show_media(request, request.path.removeprefix("/api/v1/media/"))
        return _error(404, "Record not found")

    def _authorised(self, request: Recorded) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def _create_status(self, request: Recorded) -> Reply:
        if not self._authorised(request):
            return _error(401, "The access token is invalid")
        if "write:statuses" not in self.scopes and "write" not in self.scopes:
            return _error(403, "This action is outside the authorized scopes")
        params = _params(request)
        text = str(params.get("status") or "")
        visibility = str(params.get("visibility") or "public")
        media_ids = _media_ids(params)
        if visibility not in {"public", "unlisted", "private", "direct"}:
            return _error(422, "Validation failed: Visibility is not included in the list")
        if not text.strip() and not media_ids:
            return _error(422, "Validation failed: Text can't be blank")
        length = mastodon_length(text + str(params.get("spoiler_text") or ""), self.url_weight)
        if length > self.max_characters:
            return _error(
                422, f"Validation failed: Text character limit of {self.max_characters} exceeded"
            )

        key = request.headers.get("idempotency-key")
        with self._create_lock:
            now = time.monotonic()
            if key:
                # Before the media checks, as PostStatusService does: a repeat
                # returns the status even though its media is attached by now.
                remembered = self._remembered.get((self.token, key))
                if remembered is not None and remembered.expires > now:
                    return Reply(200, remembered.status, self._limit_headers())
            attached, refusal = self._media_for_status(media_ids)
            if refusal is not None:
                return refusal
            status = self._new_status(text, visibility, params.get("language"))
            for media in attached:
                media.status_id = status["id"]
                status["media_attachments"].append(media.entity(self.url))
            self.statuses.append(status)
            if key:
                self._remembered[(self.token, key)] = _Remembered(now + IDEMPOTENCY_SECONDS, status)
        return Reply(200, status, self._limit_headers())

    def _media_for_status(self, media_ids: list[str]) -> tuple[list[Media], Reply | None]:
        if len(media_ids) > 4:
            return [], _error(422, "Validation failed: You can only attach up to 4 images")
        found: list[Media] = []
        for media_id in media_ids:
            media = self.media.get(media_id)
            if media is None or media.status_id is not None:
                return [], _error(
                    422,
                    f"Validation failed: Media {media_id} not found or already attached",
                )
            if not media.processed:
                return [], _error(
                    422,
                    "Cannot attach files that have not finished processing. Try again in a moment!",
                )
            found.append(media)
        return found, None

    # ------------------------------------------------------------------ media
    def _upload_media(self, request: Recorded) -> Reply:
        if not self._authorised(request):
            return _error(401, "The access token is invalid")
        if "write:media" not in self.scopes and "write" not in self.scopes:
            return _error(403, "This action is outside the authorized scopes")
        parts = parse_multipart(request)
        if parts is None:
            return _error(422, "Validation failed: File can't be blank")
        upload = parts.get("file")
        if upload is None or upload.filename is None or not upload.data:
            return _error(422, "Validation failed: File can't be blank")
        if upload.content_type not in _IMAGE_TYPES:
            return _error(422, "Validation failed: File content type is invalid")
        if len(upload.data) > self.image_size_limit:
            megabytes = self.image_size_limit // (1024 * 1024)
            return _error(
                422, f"Validation failed: File file size must be less than {megabytes} MB"
            )
        described = parts.get("description")
        description = described.data.decode("utf-8") if described else ""
        if len(description) > 1500:
            return _error(
                422, "Validation failed: Description is too long (maximum is 1500 characters)"
            )
        with self._lock:
            self._next_id += 1
            media = Media(
                id=str(self._next_id),
                data=upload.data,
                content_type=upload.content_type,
                filename=upload.filename,
                description=description,
                polls_left=self.media_processing_polls if self.media_async else 0,
            )
            self.media[media.id] = media
        return Reply(202 if self.media_async else 200, media.entity(self.url))

    def _show_media(self, request: Recorded, media_id: str) -> Reply:
        if not self._authorised(request):
            return _error(401, "The access token is invalid")
        with self._lock:
            media = self.media.get(media_id)
            # Mastodon looks among the account's *unattached* media only.
            if media is None or media.status_id is not None:
                return _error(404, "Record not found")
            if media.polls_left > 0:
                media.polls_left -= 1
                return Reply(206, media.entity(self.url))
            return Reply(200, media.entity(self.url))

    def uploads(self) -> list[Media]:
        """Every upload, in order."""
        with self._lock:
            return sorted(self.media.values(), key=lambda m: int(m.id))

    def _new_status(self, text: str, visibility: str, language: Any) -> dict[str, Any]:
        self._next_id += 1
        status_id = str(self._next_id)
        base = self.url
        paragraphs = "".join(f"<p>{_escape(p)}</p>" for p in text.split("\n\n"))
        return {
            "id": status_id,
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "uri": f"{base}/users/{self.username}/statuses/{status_id}",
            "url": f"{base}/@{self.username}/{status_id}",
            "visibility": visibility,
            "language": language if isinstance(language, str) else None,
            "content": paragraphs,
            "text": text,  # only for tests; the real API omits it on create
            "card": None,
            "media_attachments": [],
            "account": self._account(),
        }

    def _limit_headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "299",
            "X-RateLimit-Reset": iso_reset(datetime.now(UTC).replace(microsecond=0)),
        }

    def _account(self) -> dict[str, Any]:
        return {
            "id": "1",
            "username": self.username,
            "acct": self.username,
            "display_name": self.username.title(),
            "url": f"{self.url}/@{self.username}",
        }

    def _statuses_configuration(self) -> dict[str, Any]:
        return {
            "max_characters": self.max_characters,
            "max_media_attachments": 4,
            "characters_reserved_per_url": self.url_weight,
        }

    def _instance_v2(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "title": "Fake Mastodon",
            "version": "4.3.0",
            "configuration": {
                "urls": {"streaming": f"ws://{self.domain}"},
                "statuses": self._statuses_configuration(),
                "media_attachments": self._media_configuration(),
            },
        }

    def _media_configuration(self) -> dict[str, Any]:
        return {
            "supported_mime_types": sorted(_IMAGE_TYPES),
            "image_size_limit": self.image_size_limit,
            "image_matrix_limit": 33_177_600,
            "video_size_limit": 103_809_024,
            "video_frame_rate_limit": 120,
            "video_matrix_limit": 8_294_400,
            "description_limit": 1500,
        }

    def _instance_v1(self) -> dict[str, Any]:
        return {
            "uri": self.domain,
            "title": "Fake Mastodon",
            "version": "4.3.0",
            "configuration": {
                "statuses": self._statuses_configuration(),
                "media_attachments": self._media_configuration(),
            },
        }


def _params(request: Recorded) -> dict[str, Any]:
    """Mastodon reads JSON, form data or the query string alike."""
    content_type = request.headers.get("content-type", "")
    if "application/json" in content_type:
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    source = request.body.decode("utf-8", "replace") if request.body else ""
    merged: dict[str, Any] = {}
    for values in (request.query, parse_qs(source)):
        # Rails collects "name[]" into a list; a plain name keeps its last value.
        merged.update({k: v if k.endswith("[]") else v[-1] for k, v in values.items()})
    return merged


def _media_ids(params: dict[str, Any]) -> list[str]:
    """``media_ids`` as a JSON list, or ``media_ids[]`` repeated in a form."""
    value = params.get("media_ids", params.get("media_ids[]"))
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    return [str(v) for v in values]


_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_DISPOSITION_PARAM = re.compile(r';\s*([\w-]+)="((?:[^"\\]|\\.)*)"')


def parse_multipart(request: Recorded) -> dict[str, _Part] | None:
    """A ``multipart/form-data`` body by name (RFC 7578), parsed here on its own
    so that an encoding mistake on the client shows up as a refused upload."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    found = _BOUNDARY.search(content_type)
    if found is None:
        return None
    delimiter = b"--" + found.group(1).encode("ascii")
    body = request.body
    if not body.startswith(delimiter) or delimiter + b"--" not in body:
        return None
    parts: dict[str, _Part] = {}
    # Each part sits between "--boundary\r\n" and "\r\n--boundary".
    for chunk in body.split(b"\r\n" + delimiter)[:-1]:
        chunk = chunk.removeprefix(delimiter).removeprefix(b"\r\n")
        head, separator, data = chunk.partition(b"\r\n\r\n")
        if not separator:
            return None
        headers: dict[str, str] = {}
        for line in head.decode("utf-8").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        params = dict(_DISPOSITION_PARAM.findall(disposition))
        if not disposition.startswith("form-data") or "name" not in params:
            return None
        parts[params["name"]] = _Part(
            name=params["name"],
            data=data,
            filename=params.get("filename"),
            content_type=headers.get("content-type", "text/plain").split(";")[0].strip(),
            headers=headers,
        )
    return parts


def _error(status: int, message: str) -> Reply:
    return Reply(status, {"error": message})


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

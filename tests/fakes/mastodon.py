"""A fake Mastodon instance, answering as platforms.md §2 describes.

Routes: ``GET /api/v2/instance``, ``GET /api/v1/instance``,
``GET /api/v1/accounts/verify_credentials``, ``POST /api/v1/statuses``.

Switches beyond the base's faults:

- ``max_characters`` / ``url_weight``: the instance's limits (forks raise them);
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
import threading
import time
from dataclasses import dataclass
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
        self.scopes: set[str] = {"read", "write:statuses"}
        self.instance_v2 = True
        self.instance_v1 = True
        self.statuses: list[dict[str, Any]] = []
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
        if visibility not in {"public", "unlisted", "private", "direct"}:
            return _error(422, "Validation failed: Visibility is not included in the list")
        if not text.strip():
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
                remembered = self._remembered.get((self.token, key))
                if remembered is not None and remembered.expires > now:
                    return Reply(200, remembered.status, self._limit_headers())
            status = self._new_status(text, visibility, params.get("language"))
            self.statuses.append(status)
            if key:
                self._remembered[(self.token, key)] = _Remembered(now + IDEMPOTENCY_SECONDS, status)
        return Reply(200, status, self._limit_headers())

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
                "media_attachments": {"image_size_limit": 16 * 1024 * 1024},
            },
        }

    def _instance_v1(self) -> dict[str, Any]:
        return {
            "uri": self.domain,
            "title": "Fake Mastodon",
            "version": "4.3.0",
            "configuration": {"statuses": self._statuses_configuration()},
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
    merged = {k: v[-1] for k, v in request.query.items()}
    merged.update({k: v[-1] for k, v in parse_qs(source).items()})
    return merged


def _error(status: int, message: str) -> Reply:
    return Reply(status, {"error": message})


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

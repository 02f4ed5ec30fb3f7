"""A fake Discord webhook endpoint, answering as platforms.md §10 (Discord's
API docs) describes.

Routes, with or without an API version (``/api/v10/webhooks/…``):
``POST /api/webhooks/{id}/{token}`` (execute; ``?wait=true`` → 200 with the
message, else 204) and ``GET /api/webhooks/{id}/{token}`` (the webhook object).

Switches beyond the base's faults:

- ``deleted``: 404 ``Unknown Webhook`` (code 10015); a wrong token gets 401
  ``Invalid Webhook Token`` (code 50027);
- ``content_limit`` / ``count_unit`` (``utf16`` or ``codepoint``: Discord does
  not say which it counts);
- ``rate_limit(retry_after, count=1, scope="user")``: 429 with ``retry_after``
  (float seconds) in the body, ``Retry-After`` (whole seconds) and the
  ``X-RateLimit-*`` headers;
- ``guild_id`` (``None`` for a webhook whose object has no guild).

Limits are written here on their own, not imported from the project, so a
counting bug shows up as a 400 from the fake.
"""

from __future__ import annotations

import math
import re
import threading
import time
from datetime import UTC, datetime
from typing import Any

from tests.fakes.server import FakeServer, Recorded, Reply

_PATH = re.compile(r"^/api(?:/v\d+)?/webhooks/(?P<id>\d+)/(?P<token>[^/]+)/?$")
EPOCH_MS = 1420070400000  # Discord's snowflake epoch


def _length(text: str, unit: str) -> int:
    return len(text.encode("utf-16-le")) // 2 if unit == "utf16" else len(text)


def snowflake(now: float | None = None, increment: int = 0) -> str:
    millis = int((now if now is not None else time.time()) * 1000)
    return str(((millis - EPOCH_MS) << 22) | (increment & 0xFFF))


class FakeDiscord(FakeServer):
    name = "fake-discord"

    def __init__(
        self,
        *,
        webhook_id: str = "1234567890123456789",
        token: str = "Xy9-SECRET-webhook-token_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH",
    ) -> None:
        super().__init__()
        self.webhook_id = webhook_id
        self.token = token
        self.webhook_name = "Crosspost"
        self.channel_id = "1100000000000000001"
        self.guild_id: str | None = "1000000000000000001"
        self.deleted = False
        self.content_limit = 2000
        self.count_unit = "utf16"
        self.messages: list[dict[str, Any]] = []
        self._limited: list[tuple[float, str]] = []
        self._counter = 0
        self._state_lock = threading.Lock()

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/api/webhooks/{self.webhook_id}/{self.token}"

    # ------------------------------------------------------------------ switches
    def rate_limit(self, retry_after: float, count: int = 1, scope: str = "user") -> None:
        with self._state_lock:
            self._limited.extend([(retry_after, scope)] * count)

    # ------------------------------------------------------------------ routes
    def route(self, request: Recorded) -> Reply:
        match = _PATH.match(request.path)
        if match is None:
            return _error(404, 0, "404: Not Found")
        if self.deleted or match["id"] != self.webhook_id:
            return _error(404, 10015, "Unknown Webhook")
        if match["token"] != self.token:
            return _error(401, 50027, "Invalid Webhook Token")
        with self._state_lock:
            limited = self._limited.pop(0) if self._limited else None
        if limited is not None:
            return self._rate_limited(*limited)
        if request.method == "GET":
            return Reply(200, self._webhook_object(), self._limit_headers())
        if request.method == "POST":
            return self._execute(request)
        return _error(405, 0, "405: Method Not Allowed")

    def _rate_limited(self, retry_after: float, scope: str) -> Reply:
        reset = time.time() + retry_after
        return Reply(
            429,
            {
                "message": "You are being rate limited.",
                "retry_after": retry_after,
                "global": scope == "global",
            },
            {
                "Retry-After": str(math.ceil(retry_after)),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{reset:.3f}",
                "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                "X-RateLimit-Bucket": "fakebucket0001",
                "X-RateLimit-Scope": scope,
            },
        )

    def _limit_headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "4",
            "X-RateLimit-Reset": f"{time.time() + 2:.3f}",
            "X-RateLimit-Reset-After": "2.000",
            "X-RateLimit-Bucket": "fakebucket0001",
        }

    def _webhook_object(self) -> dict[str, Any]:
        return {
            "type": 1,
            "id": self.webhook_id,
            "name": self.webhook_name,
            "avatar": None,
            "channel_id": self.channel_id,
            "guild_id": self.guild_id,
            "application_id": None,
            # The real object carries the token too: a client must not log it.
            "token": self.token,
        }

    def _execute(self, request: Recorded) -> Reply:
        try:
            body = request.json()
        except ValueError:
            return _error(400, 50109, "The request body contains invalid JSON.")
        if not isinstance(body, dict):
            return _error(400, 50109, "The request body contains invalid JSON.")
        content = body.get("content") or ""
        embeds = body.get("embeds") or []
        if not content and not embeds:
            return _error(400, 50006, "Cannot send an empty message")
        errors: dict[str, Any] = {}
        if _length(str(content), self.count_unit) > self.content_limit:
            errors["content"] = _field_error(
                "BASE_TYPE_MAX_LENGTH", f"Must be {self.content_limit} or fewer in length."
            )
        username = body.get("username")
        if isinstance(username, str) and any(w in username.lower() for w in ("discord", "clyde")):
            errors["username"] = _field_error(
                "USERNAME_INVALID_CONTAINS", 'Username cannot contain "discord"'
            )
        errors.update(_embed_errors(embeds))
        if errors:
            return _error(400, 50035, "Invalid Form Body", errors=errors)
        with self._state_lock:
            self._counter += 1
            message = {
                "id": snowflake(increment=self._counter),
                "type": 0,
                "channel_id": self.channel_id,
                "content": content,
                "embeds": [dict(e, type="rich") for e in embeds],
                "author": {
                    "id": self.webhook_id,
                    "username": username or self.webhook_name,
                    "bot": True,
                },
                "webhook_id": self.webhook_id,
                "timestamp": datetime.now(UTC).isoformat(),
                "mentions": [],
                "mention_everyone": False,
                "allowed_mentions": body.get("allowed_mentions"),
            }
            self.messages.append(message)
        if request.query.get("wait", ["false"])[-1].lower() == "true":
            return Reply(200, message, self._limit_headers())
        return Reply(204, b"", self._limit_headers())


def _embed_errors(embeds: Any) -> dict[str, Any]:
    if not isinstance(embeds, list) or len(embeds) > 10:
        return {"embeds": _field_error("BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")}
    errors: dict[str, Any] = {}
    total = 0
    for index, embed in enumerate(embeds):
        if not isinstance(embed, dict):
            continue
        fields: dict[str, Any] = {}
        title = str(embed.get("title") or "").strip()
        description = str(embed.get("description") or "").strip()
        total += len(title) + len(description)
        if len(title) > 256:
            fields["title"] = _field_error(
                "BASE_TYPE_MAX_LENGTH", "Must be 256 or fewer in length."
            )
        if len(description) > 4096:
            fields["description"] = _field_error(
                "BASE_TYPE_MAX_LENGTH", "Must be 4096 or fewer in length."
            )
        url = embed.get("url")
        if url is not None and not str(url).startswith(("http://", "https://")):
            fields["url"] = _field_error("URL_TYPE_INVALID_URL", "Not a well formed URL.")
        for key in ("image", "thumbnail"):
            media = embed.get(key)
            if media is not None and not str((media or {}).get("url", "")).startswith(
                ("http://", "https://", "attachment://")
            ):
                fields[key] = {
                    "url": _field_error("URL_TYPE_INVALID_URL", "Not a well formed URL.")
                }
        if fields:
            errors.setdefault("embeds", {})[str(index)] = fields
    if total > 6000:
        errors["embeds"] = _field_error(
            "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"
        )
    return errors


def _field_error(code: str, message: str) -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": message}]}


def _error(status: int, code: int, message: str, *, errors: dict[str, Any] | None = None) -> Reply:
    body: dict[str, Any] = {"message": message, "code": code}
    if errors:
        body["errors"] = errors
    return Reply(status, body)

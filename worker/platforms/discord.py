"""Discord: one message per delivery, through a channel's webhook.

Facts the code relies on (``docs/platforms.md`` section 10, from Discord's own
API docs unless ``docs/networks/discord.md`` says otherwise):

* The webhook URL ``…/api/webhooks/{id}/{token}`` *is* the credential: anyone
  holding it can post.  It is a secret setting, and the token part is redacted
  on its own too, since an error or a log line may show just the path.
* ``POST {url}?wait=true`` answers **200** with the message (without ``wait``
  Discord answers 204 and does not even report a message it failed to save).
* ``allowed_mentions: {"parse": []}`` so that an ``@everyone`` or a role
  mention in a post's title never pings anyone.
* A 429 carries ``retry_after`` (float seconds) in the body and ``Retry-After``
  in the headers; 404 code 10015 means the webhook was deleted and 401 code
  50027 that its token is wrong: both need a person, never a retry.
* No idempotency: a lost answer leaves the delivery ``unconfirmed`` (a webhook
  cannot list its channel's messages to look the post up).
* The message's link is ``https://discord.com/channels/{guild}/{channel}/{id}``;
  the guild comes from ``GET {url}`` (the webhook object), asked once.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Literal

import httpx
from pydantic import SecretStr, field_validator

from worker.accounts import AccountSettings
from worker.compose.fit import shorten
from worker.compose.length import DISCORD, LengthRule, utf16_length
from worker.errors import (
    AmbiguousError,
    AuthError,
    PublishError,
    RateLimitedError,
    RejectedError,
)
from worker.models import CheckResult, ComposedMessage, DeliveryRef, PublishResult, SourcePost
from worker.platforms.base import Adapter, PlatformFacts

log = logging.getLogger(__name__)

MESSAGE_URL = "https://discord.com/channels/{guild}/{channel}/{message}"
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
USERNAME_MAX = 80

# /api/webhooks/{id}/{token}, optionally with an API version (/api/v10/...).
_WEBHOOK_PATH = re.compile(
    r"^/api(?:/v\d+)?/webhooks/(?P<id>\d{5,25})/(?P<token>[A-Za-z0-9_.-]{20,200})/?$"
)
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
# Discord refuses webhook names containing these (case-insensitive).
_FORBIDDEN_NAMES = ("discord", "clyde")

UNKNOWN_WEBHOOK = 10015
INVALID_WEBHOOK_TOKEN = 50027

_SHAPE = "must be a Discord webhook URL: https://discord.com/api/webhooks/<id>/<token>"


def parse_webhook_url(value: str) -> tuple[str, str]:
    """The webhook's (id, token); ValueError (without the value) if it is not one."""
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, ValueError):
        raise ValueError(_SHAPE) from None
    match = _WEBHOOK_PATH.match(url.path)
    if not url.host or match is None:
        raise ValueError(_SHAPE)
    # The URL is a password: never send it in clear, except to this machine (tests).
    if url.scheme != "https" and not (url.scheme == "http" and url.host in _LOOPBACK):
        raise ValueError("must be an https:// URL (the webhook URL is a secret)")
    extra = set(url.params.keys()) - {"thread_id"}
    if extra:
        raise ValueError("may only carry a ?thread_id=… query; remove the rest")
    return match["id"], match["token"]


def _fit_utf16(text: str, limit: int) -> str:
    """``text`` cut between words to at most ``limit`` UTF-16 units (Discord's count)."""
    text = text.strip()
    if utf16_length(text) <= limit:
        return text
    budget = limit
    while budget > 0:
        cut = shorten(text, budget)
        excess = utf16_length(cut) - limit
        if excess <= 0:
            return cut
        # A cluster is at least one unit: dropping ``excess`` clusters is enough
        # unless the cut moves back to an earlier word boundary.
        budget -= excess
    return ""


class DiscordSettings(AccountSettings):
    network: Literal["discord"] = "discord"
    webhook_url: SecretStr
    username: str | None = None
    """Shown as the sender instead of the webhook's own name."""
    avatar_url: str | None = None
    embed: bool = True
    """Send our own embed (title, excerpt, image) for the link."""
    embed_image: Literal["image", "thumbnail", "none"] = "image"

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value().strip()
        parse_webhook_url(url)
        return SecretStr(url.rstrip("/") if "?" not in url else url)

    @field_validator("username")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if len(value) > USERNAME_MAX:
            raise ValueError(f"must be at most {USERNAME_MAX} characters")
        lowered = value.lower()
        for word in _FORBIDDEN_NAMES:
            if word in lowered:
                raise ValueError(f"must not contain {word!r}: Discord refuses such names")
        return value

    @field_validator("avatar_url")
    @classmethod
    def _avatar(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        url = httpx.URL(value.strip())
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("must be an http(s) URL of an image")
        return value.strip()


class DiscordAdapter(Adapter):
    facts: ClassVar[PlatformFacts] = PlatformFacts(
        network="discord",
        title="Discord",
        text_limit=DISCORD.limit,
        counting="2,000 UTF-16 units of content; embed title 256, description 4,096",
        link_card=True,  # our own embed: title, excerpt, featured image
        images=True,  # by URL in the embed; Discord fetches it
        idempotent=False,
    )
    settings_model: ClassVar[type[AccountSettings]] = DiscordSettings

    settings: DiscordSettings

    def setup(self) -> None:
        self._webhook_id, self._token = parse_webhook_url(self._secret_url)
        self._guild_id: str | None = None
        self._guild_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DiscordAdapter(name={self.name!r}, webhook={self._webhook_id})"

    # ------------------------------------------------------------------ helpers
    @property
    def _secret_url(self) -> str:
        return self.settings.webhook_url.get_secret_value()

    @property
    def _endpoint(self) -> str:
        """The webhook's own URL, without a ``thread_id`` query (for GET)."""
        return str(httpx.URL(self._secret_url).copy_with(query=None))

    @property
    def _where(self) -> str:
        # The id alone cannot post; it tells the operator which webhook.
        return f"Discord webhook {self._webhook_id}"

    def _setting(self, field: str) -> str:
        return f"ACCOUNTS__{self.name.upper()}__{field.upper()}"

    def secrets(self) -> list[str]:
        # The whole URL, and the token alone: a path, a proxy's error page or an
        # httpx log line may show one without the other.
        return [*super().secrets(), self._token]

    def length_rule(self, post: SourcePost | None = None) -> LengthRule:
        return DISCORD

    # ------------------------------------------------------------------ publish
    def body(self, message: ComposedMessage, delivery: DeliveryRef) -> dict[str, Any]:
        """The execute-webhook JSON for ``message``."""
        payload: dict[str, Any] = {
            "content": message.text,
            # Nothing in a post's text may ping @everyone, a role or a member.
            "allowed_mentions": {"parse": []},
        }
        if self.settings.username:
            payload["username"] = self.settings.username
        if self.settings.avatar_url:
            payload["avatar_url"] = self.settings.avatar_url
        if self.settings.embed:
            payload["embeds"] = [self._embed(message, delivery)]
        return payload

    def _embed(self, message: ComposedMessage, delivery: DeliveryRef) -> dict[str, Any]:
        card = message.card
        title = _fit_utf16((card.title if card else message.title) or message.link, EMBED_TITLE_MAX)
        embed: dict[str, Any] = {"title": title, "url": message.link}
        description = _fit_utf16(
            card.description if card else message.excerpt, EMBED_DESCRIPTION_MAX
        )
        if description:
            embed["description"] = description
        moment = delivery.post.date_gmt
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        embed["timestamp"] = moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
        image = card.image_url if card else None
        if image and self.settings.embed_image != "none":
            embed[self.settings.embed_image] = {"url": image}
        return embed

    def publish(self, message: ComposedMessage, delivery: DeliveryRef) -> PublishResult:
        url = httpx.URL(self._secret_url).copy_merge_params({"wait": "true"})
        response = self.request(
            "POST", str(url), json=self.body(message, delivery), follow_redirects=False
        )
        status = response.status_code
        if status == 200:
            data = _json_or_none(response)
            if not isinstance(data, dict) or not data.get("id"):
                raise AmbiguousError(f"{self._where} answered 200 without a message id")
            message_id = str(data["id"])
            channel = str(data.get("channel_id") or "")
            guild = self._guild()
            remote_url = (
                MESSAGE_URL.format(guild=guild, channel=channel, message=message_id)
                if guild and channel
                else None
            )
            return PublishResult(remote_id=message_id, remote_url=remote_url)
        if status == 204:
            # Sent without wait=true (a proxy dropped the query?): accepted, but
            # not confirmed saved and without an id.
            raise AmbiguousError(f"{self._where} answered 204 without the message")
        raise self._error(response)

    def _guild(self) -> str | None:
        """The webhook's server id, asked once; None if Discord will not say."""
        with self._guild_lock:
            if self._guild_id is None:
                webhook = self._read_webhook()
                if isinstance(webhook, dict) and webhook.get("guild_id"):
                    self._guild_id = str(webhook["guild_id"])
            return self._guild_id

    def _read_webhook(self) -> Any:
        try:
            response = self.request("GET", self._endpoint)
        except PublishError as exc:
            log.warning(
                "discord account %s: could not read the webhook: %s",
                self.name,
                self.redact(exc.message),
            )
            return None
        if response.status_code != 200:
            log.warning(
                "discord account %s: reading the webhook answered %d; the message link is unknown",
                self.name,
                response.status_code,
            )
            return None
        return _json_or_none(response)

    def _error(self, response: httpx.Response) -> PublishError:
        status = response.status_code
        answer = _Answer.read(response)
        reason = self.redact(answer.describe())
        if status == 429:
            retry_at = retry_at_from(response, answer.body, datetime.now(UTC))
            scope = response.headers.get("x-ratelimit-scope") or (
                "global" if answer.body.get("global") else ""
            )
            where = f" ({scope})" if scope else ""
            return RateLimitedError(f"{self._where} rate limited{where}: {reason}", retry_at)
        if status == 404 or answer.code == UNKNOWN_WEBHOOK:
            return AuthError(
                f"{self._where} no longer exists ({reason}); create a webhook in the channel's "
                f"Integrations settings and set {self._setting('webhook_url')}"
            )
        if status in (401, 403) or answer.code == INVALID_WEBHOOK_TOKEN:
            return AuthError(
                f"{self._where} refused the URL's token ({reason}); copy the webhook URL again "
                f"into {self._setting('webhook_url')}"
            )
        if status >= 500:
            return AmbiguousError(f"{self._where} failed after the message was sent ({reason})")
        return RejectedError(f"{self._where} refused the message ({reason})")

    # ------------------------------------------------------------------ check
    def check(self) -> CheckResult:
        try:
            response = self.request("GET", self._endpoint)
        except PublishError as exc:
            return CheckResult(ok=False, detail=self.redact(exc.message))
        if response.status_code == 200:
            data = _json_or_none(response)
            if not isinstance(data, dict) or not data.get("channel_id"):
                return CheckResult(ok=False, detail=f"{self._where} answered without a channel")
            if data.get("guild_id"):
                with self._guild_lock:
                    self._guild_id = str(data["guild_id"])
            name = self.redact(str(data.get("name") or "(no name)"))
            return CheckResult(
                ok=True, detail=f"webhook {name!r} posts to channel {data['channel_id']}"
            )
        return CheckResult(ok=False, detail=self._error(response).message)


def retry_at_from(response: httpx.Response, body: dict[str, Any], now: datetime) -> datetime | None:
    """When a 429 says we may go on: the body's ``retry_after`` (float seconds,
    the most precise), else ``Retry-After`` (seconds or a date), else
    ``X-RateLimit-Reset-After``; None when nothing says."""
    value = body.get("retry_after")
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return now + timedelta(seconds=max(float(value), 0.0))
    header = response.headers.get("retry-after", "").strip()
    if header:
        try:
            return now + timedelta(seconds=max(float(header), 0.0))
        except ValueError:
            pass
        try:
            moment = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            moment = None
        if moment is not None:
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    reset_after = response.headers.get("x-ratelimit-reset-after", "").strip()
    try:
        return now + timedelta(seconds=max(float(reset_after), 0.0)) if reset_after else None
    except ValueError:
        return None


class _Answer:
    """Discord's error envelope ``{"code", "message", "errors"?}``, read defensively."""

    def __init__(self, status: int, code: int | None, message: str, body: dict[str, Any]) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.body = body

    @classmethod
    def read(cls, response: httpx.Response) -> _Answer:
        data = _json_or_none(response)
        if not isinstance(data, dict):
            snippet = " ".join(response.text.split())[:200]
            return cls(response.status_code, None, snippet or response.reason_phrase, {})
        code = data.get("code")
        message = str(data.get("message") or "")
        details = _field_errors(data.get("errors"))
        if details:
            message = f"{message}: {'; '.join(details)}" if message else "; ".join(details)
        return cls(
            response.status_code,
            code if isinstance(code, int) and not isinstance(code, bool) else None,
            " ".join(message.split())[:500],
            data,
        )

    def describe(self) -> str:
        head = f"{self.status}" + (f" code {self.code}" if self.code is not None else "")
        return f"{head}: {self.message}" if self.message else head


def _field_errors(errors: Any, path: str = "") -> list[str]:
    """Discord's nested ``errors`` as "embeds.0.title: Must be 256 or fewer in length."."""
    if not isinstance(errors, dict):
        return []
    found: list[str] = []
    for key, value in errors.items():
        if key == "_errors" and isinstance(value, list):
            texts = [
                str(e.get("message")) for e in value if isinstance(e, dict) and e.get("message")
            ]
            found.extend(f"{path or 'body'}: {text}" for text in texts)
        elif isinstance(value, dict):
            found.extend(_field_errors(value, f"{path}.{key}" if path else str(key)))
    return found[:5]


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None

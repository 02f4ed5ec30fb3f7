"""A generic signed webhook, following the Standard Webhooks convention.

Each delivery is one ``post.published`` event POSTed to the account's URL with
``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` headers.  The
``webhook-id`` is the delivery's idempotency key, the same on every attempt;
the spec asks receivers to de-duplicate on it, which is what lets an unclear
outcome be resent.  The body is serialised once and those exact bytes are both
signed and sent: re-serialising JSON can change it and break the signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Literal

import httpx
from pydantic import ConfigDict, SecretStr, field_validator

from worker.accounts import AccountSettings
from worker.compose.length import LengthRule, Unlimited
from worker.errors import (
    AmbiguousError,
    AuthError,
    PublishError,
    RateLimitedError,
    RejectedError,
)
from worker.models import CheckResult, ComposedMessage, DeliveryRef, PublishResult, SourcePost
from worker.platforms.base import Adapter, PlatformFacts

SECRET_PREFIX = "whsec_"
# The spec's bounds for the decoded key.
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64


def decode_secret(secret: str) -> bytes:
    """The HMAC key inside a ``whsec_`` secret; ValueError saying what is wrong."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"must start with {SECRET_PREFIX!r} followed by base64")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"the part after {SECRET_PREFIX!r} is not valid base64") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValueError(
            f"decodes to {len(key)} bytes; it must be {MIN_SECRET_BYTES} to "
            f"{MAX_SECRET_BYTES} random bytes"
        )
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,`` + base64 HMAC-SHA256 of
    ``{id}.{timestamp}.{body}``, keyed with the secret's decoded bytes."""
    key = decode_secret(secret)
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


class WebhookSettings(AccountSettings):
    # Validation errors must not echo the secret back.
    model_config = ConfigDict(hide_input_in_errors=True)

    network: Literal["webhook"] = "webhook"
    url: str
    secret: SecretStr  # "whsec_" + base64 of 24-64 random bytes
    # Standard Webhooks asks receivers to de-duplicate on webhook-id, which makes
    # resending after a lost answer safe.  Set false for a receiver that does
    # not: a lost answer then leaves the delivery unconfirmed for a person.
    receiver_dedupes: bool = True
    # A receiver wants the post's own address, not a campaign-tagged one.
    utm: bool = False

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, value: str) -> str:
        value = value.strip()
        url = httpx.URL(value)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("secret")
    @classmethod
    def _secret_is_standard(cls, value: SecretStr) -> SecretStr:
        decode_secret(value.get_secret_value().strip())
        return SecretStr(value.get_secret_value().strip())


class WebhookAdapter(Adapter):
    facts: ClassVar[PlatformFacts] = PlatformFacts(
        network="webhook",
        title="Webhook",
        text_limit=Unlimited().limit,
        counting="no limit of its own; graphemes reported",
        link_card=False,
        images=False,
        idempotent=True,  # receivers de-duplicate on webhook-id
    )
    settings_model: ClassVar[type[AccountSettings]] = WebhookSettings

    settings: WebhookSettings

    @property
    def idempotent(self) -> bool:
        return self.settings.receiver_dedupes

    @classmethod
    def new_idempotency_key(cls) -> str:
        return "msg_" + uuid.uuid4().hex

    def length_rule(self, post: SourcePost | None = None) -> LengthRule:
        return Unlimited()

    # ------------------------------------------------------------------ sending
    def publish(self, message: ComposedMessage, delivery: DeliveryRef) -> PublishResult:
        post = delivery.post
        event = {
            "type": "post.published",
            # When the event happened, not when this attempt is made, so every
            # attempt carries the same body; the attempt time is in the header.
            "timestamp": _iso(delivery.created_at),
            "data": {
                "site": post.site,
                "post_id": post.post_id,
                "title": message.title,
                "excerpt": message.excerpt,
                "url": message.link,
                "text": message.text,
                "tags": list(post.tags),
                "categories": list(post.categories),
                "image_url": post.featured_image.url if post.featured_image else None,
                "date_gmt": _iso(post.date_gmt),
            },
        }
        response = self._send(delivery.idempotency_key, event)
        if 200 <= response.status_code < 300:
            return PublishResult(remote_id=delivery.idempotency_key, remote_url=None)
        raise self._error(response)

    def check(self) -> CheckResult:
        ping = {"type": "ping", "timestamp": _iso(datetime.now(UTC)), "data": {}}
        try:
            response = self._send(self.new_idempotency_key(), ping)
        except PublishError as exc:
            return CheckResult(ok=False, detail=self.redact(exc.message))
        if 200 <= response.status_code < 300:
            return CheckResult(ok=True, detail=f"{self._where} accepted a signed ping")
        return CheckResult(ok=False, detail=self._error(response).message)

    def _send(self, msg_id: str, event: dict[str, Any]) -> httpx.Response:
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        timestamp = int(time.time())
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(
                self.settings.secret.get_secret_value(), msg_id, timestamp, body
            ),
            "content-type": "application/json",
        }
        # The spec counts a redirect as a failure: following it would send the
        # signed event somewhere the operator did not configure.
        return self.request(
            "POST", self.settings.url, content=body, headers=headers, follow_redirects=False
        )

    @property
    def _where(self) -> str:
        return httpx.URL(self.settings.url).netloc.decode("ascii")

    def _error(self, response: httpx.Response) -> PublishError:
        status = response.status_code
        where = self._where
        if status == 410:
            return AuthError(f"{where} answered 410: endpoint gone: remove or fix the URL")
        if status in (429, 502, 504) and "Retry-After" in response.headers:
            retry_at = _parse_retry_after(response.headers["Retry-After"])
            return RateLimitedError(f"{where} asked to slow down ({status})", retry_at)
        if status >= 500:
            return AmbiguousError(f"{where} answered {status}; the receiver may have acted")
        if 300 <= status < 400:
            location = self.redact(response.headers.get("Location", "?"))
            return RejectedError(
                f"{where} answered {status} (redirect to {location}); redirects are not "
                "followed: configure the final URL"
            )
        if status == 429:
            # No Retry-After: nothing sent was kept; the delivery's backoff decides.
            return RateLimitedError(f"{where} asked to slow down (429)", None)
        return RejectedError(f"{where} refused the event ({status} {response.reason_phrase})")


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_retry_after(value: str) -> datetime | None:
    """Retry-After is either delay-seconds or an HTTP date."""
    value = value.strip()
    if value.isdigit():
        return datetime.fromtimestamp(time.time() + int(value), UTC)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

"""Mastodon: one status per delivery, through ``POST /api/v1/statuses``.

Mastodon remembers ``(account, Idempotency-Key)`` for an hour and answers a
repeat with the status it already created, so every attempt of a delivery
sends the delivery's fixed key and any unclear outcome (timeout, 5xx) can be
retried without risking a second copy.

The length limit is per instance (forks raise it), so it is read from the
instance once per adapter and cached.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

import httpx
from pydantic import ConfigDict, SecretStr, field_validator

from worker.accounts import AccountSettings
from worker.compose.length import MASTODON_DEFAULT, GraphemeRule, LengthRule
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


class MastodonSettings(AccountSettings):
    # Validation errors must not echo the token back.
    model_config = ConfigDict(hide_input_in_errors=True)

    network: Literal["mastodon"] = "mastodon"
    base_url: str  # the instance's origin, e.g. https://mastodon.social
    access_token: SecretStr
    visibility: Literal["public", "unlisted", "private", "direct"] = "public"
    language: str | None = None  # ISO 639-1; None lets the server guess

    @field_validator("base_url")
    @classmethod
    def _origin(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        url = httpx.URL(value)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(
                f"must be the instance origin, like https://example.social; got {value!r}"
            )
        if url.path not in ("", "/") or url.query:
            raise ValueError(f"must be the instance origin only, without a path; got {value!r}")
        return value

    @field_validator("access_token")
    @classmethod
    def _token_present(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("is empty")
        return value


class MastodonAdapter(Adapter):
    facts: ClassVar[PlatformFacts] = PlatformFacts(
        network="mastodon",
        title="Mastodon",
        text_limit=500,
        counting="graphemes per instance limit; every URL counts 23",
        link_card=False,  # the instance builds the card itself after posting
        images=False,
        idempotent=True,
    )
    settings_model: ClassVar[type[AccountSettings]] = MastodonSettings

    settings: MastodonSettings

    def setup(self) -> None:
        self._rule: GraphemeRule | None = None
        self._rule_lock = threading.Lock()

    # ------------------------------------------------------------------ helpers
    def _url(self, path: str) -> str:
        return f"{self.settings.base_url}{path}"

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.access_token.get_secret_value()}"}

    @property
    def _instance(self) -> str:
        return httpx.URL(self.settings.base_url).netloc.decode("ascii")

    # ------------------------------------------------------------------ length
    def length_rule(self, post: SourcePost | None = None) -> LengthRule:
        # Several publisher threads may share one adapter; the lock makes the
        # instance be asked once, not once per thread.
        with self._rule_lock:
            if self._rule is None:
                rule = self._read_instance_rule()
                if rule is None:
                    # Not cached: the next message asks the instance again.
                    log.warning(
                        "mastodon account %s: could not read the limits of %s; using %d",
                        self.name,
                        self._instance,
                        MASTODON_DEFAULT.limit,
                    )
                    return MASTODON_DEFAULT
                self._rule = rule
            return self._rule

    def _read_instance_rule(self) -> GraphemeRule | None:
        for path in ("/api/v2/instance", "/api/v1/instance"):
            try:
                response = self.request("GET", self._url(path), headers=self._auth())
            except PublishError:
                continue
            if response.status_code != 200:
                continue
            rule = _rule_from_instance(_json_or_none(response))
            if rule is not None:
                return rule
        return None

    # ------------------------------------------------------------------ publish
    def publish(self, message: ComposedMessage, delivery: DeliveryRef) -> PublishResult:
        body: dict[str, Any] = {"status": message.text, "visibility": self.settings.visibility}
        if self.settings.language:
            body["language"] = self.settings.language
        headers = {**self._auth(), "Idempotency-Key": delivery.idempotency_key}
        response = self.request(
            "POST",
            self._url("/api/v1/statuses"),
            json=body,
            headers=headers,
            follow_redirects=False,
        )
        status = response.status_code
        if status == 200:
            data = _json_or_none(response)
            if not isinstance(data, dict) or not data.get("id"):
                # Probably created, but we cannot tell which; the key makes a
                # resend return the same status.
                raise AmbiguousError(f"{self._instance} answered 200 without a status id")
            remote_url = data.get("url") or data.get("uri")
            return PublishResult(
                remote_id=str(data["id"]), remote_url=str(remote_url) if remote_url else None
            )
        raise self._error(response, action="post the status")

    def _error(self, response: httpx.Response, *, action: str) -> PublishError:
        status = response.status_code
        reason = self.redact(_error_text(response))
        where = f"{self._instance} could not {action} ({status}: {reason})"
        if status == 401:
            return AuthError(f"{self._instance} refused the access token ({status}: {reason})")
        if status == 403 and _is_account_problem(reason):
            return AuthError(f"{self._instance} refused the account ({status}: {reason})")
        if status == 429:
            retry_at = _parse_reset(response.headers.get("X-RateLimit-Reset"))
            return RateLimitedError(f"{self._instance} rate limit reached ({reason})", retry_at)
        if status >= 500:
            # The status may or may not exist; with the Idempotency-Key a
            # resend is safe, so let the delivery retry rather than fail.
            return AmbiguousError(where)
        return RejectedError(where)

    # ------------------------------------------------------------------ check
    def check(self) -> CheckResult:
        try:
            response = self.request(
                "GET", self._url("/api/v1/accounts/verify_credentials"), headers=self._auth()
            )
        except PublishError as exc:
            return CheckResult(ok=False, detail=self.redact(exc.message))
        if response.status_code == 200:
            data = _json_or_none(response)
            acct = data.get("acct") if isinstance(data, dict) else None
            if not acct:
                return CheckResult(ok=False, detail=f"{self._instance} answered without an account")
            return CheckResult(ok=True, detail=f"@{acct} on {self._instance}")
        if response.status_code == 401:
            return CheckResult(ok=False, detail="access token is invalid or revoked")
        error = self._error(response, action="verify the credentials")
        return CheckResult(ok=False, detail=error.message)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error_text(response: httpx.Response) -> str:
    """The server's ``error`` field, or a short, single-line piece of the body."""
    data = _json_or_none(response)
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        text: str = data["error"]
        description = data.get("error_description")
        if isinstance(description, str) and description:
            text = f"{text}: {description}"
        return text[:300]
    snippet = " ".join(response.text.split())[:200]
    return snippet or response.reason_phrase or "no details"


def _is_account_problem(reason: str) -> bool:
    # 403s that a person must fix on the account: missing scope, disabled or
    # unconfirmed login.  Others (e.g. replying to someone who blocked us) are
    # about the content.
    lowered = reason.lower()
    return any(word in lowered for word in ("scope", "login", "account", "suspended"))


def _parse_reset(value: str | None) -> datetime | None:
    """Mastodon's X-RateLimit-Reset is an ISO 8601 time, e.g. 2026-05-01T12:05:00.000Z."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value


def _rule_from_instance(data: Any) -> GraphemeRule | None:
    """Limits from an Instance entity (v2, or v1 with ``configuration``); some
    forks only give v1's ``max_toot_chars``."""
    if not isinstance(data, dict):
        return None
    configuration = data.get("configuration")
    statuses = configuration.get("statuses") if isinstance(configuration, dict) else None
    statuses = statuses if isinstance(statuses, dict) else {}
    limit = _positive_int(statuses.get("max_characters")) or _positive_int(
        data.get("max_toot_chars")
    )
    if limit is None:
        return None
    url_weight = _positive_int(statuses.get("characters_reserved_per_url"))
    return GraphemeRule(limit=limit, url_weight=url_weight or MASTODON_DEFAULT.url_weight)

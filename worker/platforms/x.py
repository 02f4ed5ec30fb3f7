"""X (API v2): one post per delivery through ``POST /2/tweets``.

Facts the code below relies on (``docs/platforms.md`` §4, ``docs/networks/x.md``):

* Two ways to act as the account.  OAuth 1.0a user context: four keys that do
  not expire, every request signed (``worker.platforms.oauth1``; the JSON body
  is not part of the signature).  OAuth 2.0 with a refresh token: access
  tokens live two hours, and **each refresh returns a new refresh token and
  retires the old one**.  The new one is stored (``self.tokens``) before the
  new access token is used, refreshes are serialised per adapter, and the
  stored token wins over the configured bootstrap value, unless the operator
  has since configured a different bootstrap value (a fresh authorisation).
* Success is 201 ``{"data": {"id", "text"}}``; ``https://x.com/i/web/status/<id>``
  opens the post without knowing the username.
* There is no idempotency key, and finding our own post again would need read
  access that the cheaper plans do not give, so ``idempotent`` is false: a lost
  answer leaves the delivery ``unconfirmed`` for a person.  If that person
  retries and the first attempt did post, X answers 403 "duplicate content",
  which counts as published (without an id: X does not say which post).
* Errors are problem JSON (``type``, ``title``, ``detail``), some still the
  legacy ``{"errors": [{"message"}]}``; 429 carries ``x-rate-limit-reset``
  (epoch seconds).  A ``usage-capped`` answer (a plan or credit cap, not a
  15-minute window) holds the account for ``usage_cap_wait_hours``.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

import httpx
from pydantic import Field, SecretStr, model_validator

from worker.accounts import AccountSettings
from worker.compose.length import LengthRule, X
from worker.errors import (
    AmbiguousError,
    AuthError,
    DuplicateError,
    PublishError,
    RateLimitedError,
    RejectedError,
    TransientError,
)
from worker.models import CheckResult, ComposedMessage, DeliveryRef, PublishResult, SourcePost
from worker.platforms import oauth1
from worker.platforms.base import Adapter, PlatformFacts

log = logging.getLogger(__name__)

POST_URL = "https://x.com/i/web/status/{id}"
DUPLICATE_DETAIL = "You are not allowed to create a Tweet with duplicate content."
# Refresh a little before X's stated expiry, so a token does not die in flight.
EXPIRY_MARGIN = timedelta(seconds=60)
# Names in the token store.
REFRESH_TOKEN = "refresh_token"
REFRESH_ORIGIN = "refresh_token_origin"

# Problem types that mean "this app or these keys may not do this": a person
# has to fix the app's settings; no post would get through until then.
_ACCOUNT_PROBLEMS = ("client-forbidden", "oauth1-permissions", "unsupported-authentication")

_OAUTH1_FIELDS = ("api_key", "api_secret", "access_token", "access_token_secret")
_OAUTH2_REQUIRED = ("client_id", "refresh_token")


class XSettings(AccountSettings):
    network: Literal["x"] = "x"
    api_url: str = "https://api.x.com"
    # OAuth 1.0a user context ("Keys and tokens" of the app, for the account).
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    access_token: SecretStr | None = None
    access_token_secret: SecretStr | None = None
    # OAuth 2.0: the client, and the refresh token of a first authorisation
    # (scopes tweet.read tweet.write users.read offline.access).  After the
    # first refresh the rotated token lives in the database.
    client_id: str | None = None
    client_secret: SecretStr | None = None  # absent for a public client
    refresh_token: SecretStr | None = None
    # How long to hold the account after a usage-cap answer (see module doc).
    usage_cap_wait_hours: float = Field(default=24.0, gt=0, le=31 * 24)

    @model_validator(mode="after")
    def _one_complete_auth(self) -> XSettings:
        one = [name for name in _OAUTH1_FIELDS if _given(getattr(self, name))]
        two = [name for name in (*_OAUTH2_REQUIRED, "client_secret") if _given(getattr(self, name))]
        oauth1_names = ", ".join(n.upper() for n in _OAUTH1_FIELDS)
        oauth2_names = "CLIENT_ID, REFRESH_TOKEN (and CLIENT_SECRET for a confidential client)"
        if one and two:
            raise ValueError(
                f"X: choose one way to sign in, not both: OAuth 1.0a ({oauth1_names}) "
                f"or OAuth 2.0 ({oauth2_names}); got {', '.join(n.upper() for n in one + two)}"
            )
        if one:
            missing = [n.upper() for n in _OAUTH1_FIELDS if n not in one]
            if missing:
                raise ValueError(f"X OAuth 1.0a needs all four keys; missing {', '.join(missing)}")
            return self
        if two:
            missing = [n.upper() for n in _OAUTH2_REQUIRED if n not in two]
            if missing:
                raise ValueError(f"X OAuth 2.0 is incomplete; missing {', '.join(missing)}")
            return self
        raise ValueError(
            f"X needs credentials: either OAuth 1.0a ({oauth1_names}) or OAuth 2.0 ({oauth2_names})"
        )

    @property
    def uses_oauth2(self) -> bool:
        return _given(self.refresh_token)


def _given(value: object) -> bool:
    if isinstance(value, SecretStr):
        return bool(value.get_secret_value().strip())
    return bool(value and str(value).strip())


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value().strip() if value is not None else ""


@dataclass(frozen=True)
class _AccessToken:
    value: str = field(repr=False)
    expires_at: datetime

    def fresh(self, now: datetime) -> bool:
        return now < self.expires_at - EXPIRY_MARGIN


@dataclass(frozen=True)
class _Problem:
    """An error answer, read without trusting the body to be JSON."""

    status: int
    type: str
    title: str
    detail: str

    @classmethod
    def read(cls, res: httpx.Response) -> _Problem:
        try:
            body = res.json()
        except ValueError:
            body = None
        type_ = title = detail = ""
        if isinstance(body, dict):
            type_ = str(body.get("type") or "")
            title = str(body.get("title") or "")
            detail = str(body.get("detail") or body.get("error_description") or "")
            if not title and isinstance(body.get("error"), str):
                title = body["error"]  # the OAuth 2.0 token endpoint's shape
            messages = [
                str(e["message"])
                for e in body.get("errors") or []
                if isinstance(e, dict) and e.get("message")
            ]
            # Legacy errors[] (and 400s that carry both) say what was wrong.
            extra = [m for m in messages if m not in detail]
            detail = "; ".join(part for part in (detail, *extra) if part)
        elif res.content:
            detail = " ".join(res.text[:200].split())
        return cls(res.status_code, type_, title, detail[:500])

    def describe(self) -> str:
        parts = [f"HTTP {self.status}"]
        if self.title:
            parts.append(self.title)
        if self.detail and self.detail != self.title:
            parts.append(self.detail)
        return ": ".join(parts)

    def has_type(self, name: str) -> bool:
        return self.type.rstrip("/").endswith(f"/problems/{name}")


def _epoch(value: str | None) -> datetime | None:
    if not value or not value.strip().isdigit():
        return None
    try:
        return datetime.fromtimestamp(int(value.strip()), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def rate_limit_reset(res: httpx.Response) -> datetime | None:
    """When a 429 says we may go on.

    ``x-rate-limit-reset`` is the endpoint's 15-minute window.  Posting also
    has 24-hour limits (``x-user-limit-24hour-*``, ``x-app-limit-24hour-*``);
    when one of those is the one used up, its reset is the real answer.
    """
    when = _epoch(res.headers.get("x-rate-limit-reset"))
    for prefix in ("x-user-limit-24hour", "x-app-limit-24hour"):
        if res.headers.get(f"{prefix}-remaining", "").strip() == "0":
            day = _epoch(res.headers.get(f"{prefix}-reset"))
            if day is not None and (when is None or day > when):
                when = day
    return when


class XAdapter(Adapter):
    facts: ClassVar[PlatformFacts] = PlatformFacts(
        network="x",
        title="X",
        text_limit=X.limit,
        counting="weighted (twitter-text v3): most Latin text 1, other scripts and emoji 2, "
        "every URL 23",
        link_card=False,  # X builds the card itself from the page's meta tags
        images=False,
        idempotent=False,  # no idempotency key, no affordable look-up
    )
    settings_model: ClassVar[type[AccountSettings]] = XSettings

    settings: XSettings

    def setup(self) -> None:
        self._access: _AccessToken | None = None
        # A rotated refresh token we hold but could not store yet.
        self._unsaved_refresh: str | None = None
        # The last refresh token seen, for redaction without a database read.
        self._known_refresh: str | None = None
        # Held while refreshing: X retires a refresh token on use, so two
        # threads refreshing with the same one would lock the account out.
        self._token_lock = threading.Lock()

    def __repr__(self) -> str:
        kind = "oauth2" if self.settings.uses_oauth2 else "oauth1"
        return f"XAdapter(name={self.name!r}, auth={kind})"

    def length_rule(self, post: SourcePost | None = None) -> LengthRule:
        return X

    def secrets(self) -> list[str]:
        found = super().secrets()
        access = self._access
        found += [s for s in (self._unsaved_refresh, self._known_refresh) if s]
        if access is not None:
            found.append(access.value)
        return found

    # ------------------------------------------------------------------ publish
    def publish(self, message: ComposedMessage, delivery: DeliveryRef) -> PublishResult:
        res = self._call("POST", "/2/tweets", json={"text": message.text})
        if res.status_code in (200, 201):
            data = _json_object(res).get("data")
            post_id = data.get("id") if isinstance(data, dict) else None
            if not post_id:
                # Something was accepted, but we cannot tell what.
                raise AmbiguousError(
                    f"X answered {res.status_code} without a post id; check the account's posts"
                )
            return PublishResult(remote_id=str(post_id), remote_url=POST_URL.format(id=post_id))
        raise self._error(res, write=True)

    # ------------------------------------------------------------------ check
    def check(self) -> CheckResult:
        try:
            res = self._call("GET", "/2/users/me")
        except PublishError as exc:
            return CheckResult(ok=False, detail=self.redact(exc.message))
        if res.status_code == 200:
            data = _json_object(res).get("data")
            username = data.get("username") if isinstance(data, dict) else None
            if not username:
                return CheckResult(ok=False, detail="X answered without a username")
            how = "OAuth 2.0" if self.settings.uses_oauth2 else "OAuth 1.0a"
            return CheckResult(ok=True, detail=f"@{username} ({how})")
        return CheckResult(ok=False, detail=self._error(res, write=False).message)

    # ------------------------------------------------------------------ calls
    def _url(self, path: str) -> str:
        return f"{self.settings.api_url.rstrip('/')}{path}"

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One API call as the account; with OAuth 2.0 a 401 gets one refresh
        and one retry (a 401 means nothing was done, so resending is safe)."""
        url = self._url(path)
        if not self.settings.uses_oauth2:
            return self._send(method, url, self._oauth1_header(method, url), **kwargs)
        token = self._access_token()
        res = self._send(method, url, f"Bearer {token}", **kwargs)
        if res.status_code != 401:
            return res
        log.info("X %s: access token refused; refreshing once", self.name)
        token = self._renew(stale=token)
        return self._send(method, url, f"Bearer {token}", **kwargs)

    def _send(self, method: str, url: str, authorization: str, **kwargs: Any) -> httpx.Response:
        headers = {**kwargs.pop("headers", {}), "Authorization": authorization}
        return self.request(method, url, headers=headers, follow_redirects=False, **kwargs)

    def _oauth1_header(self, method: str, url: str) -> str:
        s = self.settings
        return oauth1.authorization_header(
            method,
            url,
            consumer_key=_secret(s.api_key),
            consumer_secret=_secret(s.api_secret),
            token=_secret(s.access_token),
            token_secret=_secret(s.access_token_secret),
        )

    # ------------------------------------------------------------------ OAuth 2.0
    def _access_token(self) -> str:
        access = self._access
        if access is not None and access.fresh(datetime.now(UTC)):
            return access.value
        with self._token_lock:
            access = self._access
            if access is not None and access.fresh(datetime.now(UTC)):
                return access.value  # another thread refreshed meanwhile
            return self._refresh().value

    def _renew(self, stale: str) -> str:
        with self._token_lock:
            access = self._access
            if access is not None and access.value != stale and access.fresh(datetime.now(UTC)):
                return access.value
            self._access = None
            return self._refresh().value

    def _origin(self) -> str:
        """A short fingerprint of the configured bootstrap token: tells whether
        the stored chain of rotated tokens grew from the current configuration."""
        digest = hashlib.sha256(_secret(self.settings.refresh_token).encode()).hexdigest()
        return digest[:16]

    def _current_refresh_token(self) -> str:
        if self._unsaved_refresh:
            return self._unsaved_refresh
        stored = self.tokens.get(REFRESH_TOKEN)
        origin = self.tokens.get(REFRESH_ORIGIN)
        if stored and (origin is None or origin == self._origin()):
            return stored
        # Nothing stored yet, or the operator authorised again and configured
        # a new bootstrap token: the old chain is not ours any more.
        return _secret(self.settings.refresh_token)

    def _refresh(self) -> _AccessToken:
        """A new access token; the caller holds ``_token_lock``."""
        used = self._current_refresh_token()
        res = self._token_request(used)
        if res.status_code in (400, 401) and not self._unsaved_refresh:
            # Another process sharing the store may have rotated it just now.
            stored = self.tokens.get(REFRESH_TOKEN)
            if stored and stored != used and self.tokens.get(REFRESH_ORIGIN) == self._origin():
                used = stored
                res = self._token_request(used)
        if res.status_code != 200:
            problem = _Problem.read(res)
            if res.status_code in (400, 401):
                raise AuthError(
                    self.redact(
                        f"X refused the refresh token ({problem.describe()}); authorise the app "
                        "again and set a new REFRESH_TOKEN"
                    )
                )
            raise self._error(res, write=False)
        body = _json_object(res)
        access = body.get("access_token")
        if not isinstance(access, str) or not access:
            raise TransientError("X: token answer without an access token")
        new_refresh = body.get("refresh_token")
        if isinstance(new_refresh, str) and new_refresh and new_refresh != used:
            self._known_refresh = new_refresh
            self._unsaved_refresh = new_refresh
            try:
                # Before the access token is used: the old refresh token is
                # dead now, and this one is the account's only way back in.
                self.tokens.put(REFRESH_TOKEN, new_refresh)
                self.tokens.put(REFRESH_ORIGIN, self._origin())
            except Exception as exc:
                # Keep it in memory and try storing again on the next refresh.
                log.error("X %s: could not store the new refresh token: %s", self.name, exc)
                raise TransientError(
                    f"X: could not store the rotated refresh token ({type(exc).__name__})"
                ) from None
            self._unsaved_refresh = None
        expires_in = body.get("expires_in")
        seconds = expires_in if isinstance(expires_in, int | float) and expires_in > 0 else 7200
        token = _AccessToken(access, datetime.now(UTC) + timedelta(seconds=seconds))
        self._access = token
        return token

    def _token_request(self, refresh_token: str) -> httpx.Response:
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        headers: dict[str, str] = {}
        client_id = (self.settings.client_id or "").strip()
        client_secret = _secret(self.settings.client_secret)
        if client_secret:
            pair = f"{client_id}:{client_secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        else:
            data["client_id"] = client_id  # a public client names itself
        self._known_refresh = refresh_token
        try:
            return self.request("POST", self._url("/2/oauth2/token"), data=data, headers=headers)
        except AmbiguousError:
            # Nothing was posted, so for the delivery this is only "try again";
            # but X may have rotated the token without our hearing the new one.
            raise TransientError(
                "X: no answer to the token refresh; if this repeats as an auth error, "
                "authorise the app again and set a new REFRESH_TOKEN"
            ) from None

    # ------------------------------------------------------------------ errors
    def _error(self, res: httpx.Response, *, write: bool) -> PublishError:
        """The failure kind for an answer that is not a success.

        ``write`` says whether the request could have created a post: a 5xx
        then leaves us not knowing, while for a read it only means "later".
        """
        problem = _Problem.read(res)
        status = problem.status
        text = self.redact(f"X: {problem.describe()}")
        if problem.has_type("usage-capped") or status == 402:
            # A monthly or credit cap, not a 15-minute window: X's reset
            # header does not describe it, so wait a day and try once more.
            until = datetime.now(UTC) + timedelta(hours=self.settings.usage_cap_wait_hours)
            return RateLimitedError(f"{text} (usage cap; trying again later)", retry_at=until)
        if status == 429:
            return RateLimitedError(text, retry_at=rate_limit_reset(res))
        if status == 401:
            how = (
                "the refreshed access token"
                if self.settings.uses_oauth2
                else "the OAuth 1.0a keys (revoked or regenerated?)"
            )
            return AuthError(f"{text}; X refused {how}")
        if status == 403:
            if _is_duplicate(problem.detail):
                return DuplicateError(
                    f"{text} (X already has this text; perhaps from an earlier attempt)"
                )
            if any(problem.has_type(kind) for kind in _ACCOUNT_PROBLEMS):
                return AuthError(text)
            return RejectedError(text)
        if status >= 500:
            return AmbiguousError(text) if write else TransientError(text)
        if 400 <= status < 500:
            return RejectedError(text)
        # 1xx/3xx where JSON was expected: nothing to act on now.
        return AmbiguousError(text) if write else TransientError(text)


def _is_duplicate(detail: str) -> bool:
    # v2's wording, and v1.1's (code 187) in case a gateway still answers so.
    lowered = detail.lower()
    return DUPLICATE_DETAIL.lower() in lowered or "status is a duplicate" in lowered


def _json_object(res: httpx.Response) -> dict[str, Any]:
    try:
        body = res.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}

"""A fake X API v2, answering as platforms.md §4 describes.

Routes: ``POST /2/oauth2/token`` (refresh grant), ``POST /2/tweets``,
``GET /2/users/me``.

Both ways of signing in work at once:

- OAuth 1.0a: the ``Authorization: OAuth …`` header is verified with the same
  four secrets the adapter has (HMAC-SHA1 over method, URL, query and
  ``oauth_*`` parameters; a JSON body is not signed).  A repeated nonce, a stale
  timestamp or a wrong signature answers 401, as X does.
- OAuth 2.0: refresh tokens are single use; each refresh hands out a new one
  and retires the old.  Access tokens expire after ``access_token_ttl``.

Switches for what is unverified or differs per plan:

- ``duplicate_window``: seconds within which the same text is refused as a
  duplicate (403); ``None`` turns the rule off;
- ``max_weighted_length`` and ``too_long_status`` / ``too_long_message``: X's
  answer to an over-long post has been seen both as 400 and as 403;
- ``rate_limit(reset_epoch, …)``: 429 with ``x-rate-limit-*`` headers;
- ``usage_cap(status)``: the ``usage-capped`` problem;
- ``expire_access_tokens()``, ``revoke_refresh_tokens()``, ``revoke_oauth1()``.

Counting is written here on its own from twitter-text's v3 configuration
(code point ranges, emoji sequences, URLs as 23), rather than imported from
the project, so that a counting bug shows up as a refusal instead of agreeing
with itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

import regex

from tests.fakes.server import FakeServer, Recorded, Reply

# twitter-text config/v3.json
MAX_WEIGHTED_LENGTH = 280
SCALE = 100
DEFAULT_WEIGHT = 200
TRANSFORMED_URL_LENGTH = 23
LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))

# A URL with a scheme; trailing punctuation is not part of it (twitter-text
# leaves "." or ")" after a link in the text).
_URL = regex.compile(r"https?://[^\s]+?(?=[.,;:!?'\")\]]*(?:\s|$))")
# One emoji as twitter-text's emoji regex sees one: a pictograph (with an
# optional presentation selector and skin tone) joined by ZWJs, a flag pair,
# or a keycap.
_EMOJI = regex.compile(
    r"(?:\p{Regional_Indicator}{2}"
    r"|[0-9#*]\uFE0F?\u20E3"
    r"|\p{Extended_Pictographic}\uFE0F?[\U0001F3FB-\U0001F3FF]?"
    r"(?:\u200D\p{Extended_Pictographic}\uFE0F?[\U0001F3FB-\U0001F3FF]?)*)"
)

DUPLICATE_DETAIL = "You are not allowed to create a Tweet with duplicate content."
TOO_LONG_MESSAGE = (
    "Your Tweet text is too long. For more information on how X determines text length "
    "see https://github.com/twitter/twitter-text."
)
INVALID_REFRESH = "Value passed for the token was invalid."
OAUTH1_MAX_SKEW = 300  # seconds a timestamp may be off


def weighted_length(text: str) -> int:
    """The post length as twitter-text v3 counts it (``weightedLength``)."""
    text = unicodedata.normalize("NFC", text)
    weight = 0
    position = 0
    for match in _URL.finditer(text):
        weight += _plain_weight(text[position : match.start()])
        weight += TRANSFORMED_URL_LENGTH * SCALE
        position = match.end()
    weight += _plain_weight(text[position:])
    return weight // SCALE if weight % SCALE == 0 else weight // SCALE + 1


def _plain_weight(text: str) -> int:
    weight = 0
    index = 0
    while index < len(text):
        emoji = _EMOJI.match(text, index)
        if emoji is not None and emoji.end() > index:
            weight += DEFAULT_WEIGHT
            index = emoji.end()
            continue
        point = ord(text[index])
        light = any(low <= point <= high for low, high in LIGHT_RANGES)
        weight += SCALE if light else DEFAULT_WEIGHT
        index += 1
    return weight


def _encode(value: str) -> str:
    return quote(value, safe="-._~")


def problem(status: int, title: str, detail: str, type_: str = "about:blank") -> Reply:
    return Reply(status, {"title": title, "detail": detail, "type": type_, "status": status})


@dataclass
class Tweet:
    id: str
    text: str  # as sent
    created: float
    author: str


@dataclass
class _OAuth2State:
    refresh_tokens: set[str] = field(default_factory=set)
    access_tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (monotonic)
    retired: set[str] = field(default_factory=set)


class FakeX(FakeServer):
    name = "fake-x"

    def __init__(
        self,
        *,
        username: str = "crosspost_news",
        user_id: str = "1460000000000000001",
        consumer_key: str = "xvz1evFS4wEEPTGEFPHBog-fake",
        consumer_secret: str = "kAcSOqF21Fu85e7zjz7ZN2U4ZRhf-consumer-SECRET",
        access_token: str = "370773112-GmHxMAgYyLbNEtIKZeRNFsMK-fake",
        access_token_secret: str = "LswwdoUaIvS8ltyTt5jkRh4J5-token-SECRET",
        client_id: str = "M1M5R3BMVy13QmpScXkzTUt5OE46MTpjaQ",
        client_secret: str | None = "cl-SECRET-3vjJxSeGsdmGtXEbP",
        refresh_token: str = "rt-bootstrap-SECRET-0001",
        access_token_ttl: float = 7200.0,
    ) -> None:
        super().__init__()
        self.username = username
        self.user_id = user_id
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.access_token = access_token
        self.access_token_secret = access_token_secret
        self.client_id = client_id
        self.client_secret = client_secret
        self.bootstrap_refresh_token = refresh_token
        self.access_token_ttl = access_token_ttl
        self.max_weighted_length = MAX_WEIGHTED_LENGTH
        self.too_long_status = 400
        self.too_long_message = TOO_LONG_MESSAGE
        self.duplicate_window: float | None = 24 * 3600.0
        self.oauth1_enabled = True
        self.tweets: list[Tweet] = []
        self.refreshes: list[str] = []  # refresh tokens used, in order
        self._oauth2 = _OAuth2State(refresh_tokens={refresh_token})
        self._nonces: set[tuple[str, str]] = set()
        self._rate_limited: tuple[int, dict[str, str]] | None = None
        self._usage_capped: int | None = None
        self._next_id = 1_790_000_000_000_000_000
        self._counter = 0
        # Creating and duplicate-checking happen as one step.
        self._write_lock = threading.Lock()

    # ------------------------------------------------------------------ switches
    def rate_limit(self, reset_epoch: int, extra_headers: dict[str, str] | None = None) -> None:
        """Answer 429 (``Too Many Requests``) until ``clear_rate_limit``."""
        headers = {
            "x-rate-limit-limit": "100",
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(reset_epoch),
            **(extra_headers or {}),
        }
        self._rate_limited = (reset_epoch, headers)

    def clear_rate_limit(self) -> None:
        self._rate_limited = None

    def usage_cap(self, status: int = 429) -> None:
        self._usage_capped = status

    def expire_access_tokens(self) -> None:
        """Every access token handed out so far stops working (as after 2 h)."""
        with self._lock:
            self._oauth2.access_tokens.clear()

    def revoke_refresh_tokens(self) -> None:
        """The user disconnected the app: no refresh token works any more."""
        with self._lock:
            self._oauth2.retired |= self._oauth2.refresh_tokens
            self._oauth2.refresh_tokens.clear()
            self._oauth2.access_tokens.clear()

    def authorise_again(self, refresh_token: str) -> None:
        """The user authorised the app anew: ``refresh_token`` is the new first token."""
        with self._lock:
            self._oauth2.refresh_tokens.add(refresh_token)

    def revoke_oauth1(self) -> None:
        self.oauth1_enabled = False

    @property
    def live_refresh_tokens(self) -> set[str]:
        with self._lock:
            return set(self._oauth2.refresh_tokens)

    @property
    def live_access_tokens(self) -> set[str]:
        with self._lock:
            return set(self._oauth2.access_tokens)

    # ------------------------------------------------------------------ routes
    def route(self, request: Recorded) -> Reply:
        if request.method == "POST" and request.path == "/2/oauth2/token":
            return self._token(request)
        if not self._authorised(request):
            return problem(401, "Unauthorized", "Unauthorized")
        if self._usage_capped is not None:
            return Reply(
                self._usage_capped,
                {
                    "account_id": 1,
                    "product_name": "standard-basic",
                    "title": "UsageCapExceeded",
                    "period": "Monthly",
                    "scope": "Product",
                    "detail": "Usage cap exceeded: Monthly product cap",
                    "type": "https://api.x.com/2/problems/usage-capped",
                },
            )
        if self._rate_limited is not None:
            reset, headers = self._rate_limited
            if time.time() < reset:
                reply = problem(429, "Too Many Requests", "Too Many Requests")
                reply.headers.update(headers)
                return reply
        if request.method == "GET" and request.path == "/2/users/me":
            data = {"id": self.user_id, "name": "Crosspost News", "username": self.username}
            return Reply(200, {"data": data}, self._limit_headers(75))
        if request.method == "POST" and request.path == "/2/tweets":
            return self._create(request)
        return problem(404, "Not Found Error", f"Could not find {request.path}")

    # ------------------------------------------------------------------ posting
    def _create(self, request: Recorded) -> Reply:
        if "application/json" not in request.headers.get("content-type", ""):
            return problem(
                400,
                "Invalid Request",
                "One or more parameters to your request was invalid.",
                "https://api.x.com/2/problems/invalid-request",
            )
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return problem(400, "Invalid Request", "Request body is not valid JSON.")
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            return problem(
                400,
                "Invalid Request",
                "One or more parameters to your request was invalid.",
                "https://api.x.com/2/problems/invalid-request",
            )
        if weighted_length(text) > self.max_weighted_length:
            if self.too_long_status == 400:
                return Reply(
                    400,
                    {
                        "errors": [{"message": self.too_long_message}],
                        "title": "Invalid Request",
                        "detail": "One or more parameters to your request was invalid.",
                        "type": "https://api.x.com/2/problems/invalid-request",
                    },
                )
            return problem(self.too_long_status, "Forbidden", self.too_long_message)
        with self._write_lock:
            now = time.monotonic()
            if self.duplicate_window is not None and any(
                t.text == text and now - t.created <= self.duplicate_window for t in self.tweets
            ):
                return problem(403, "Forbidden", DUPLICATE_DETAIL)
            self._next_id += 1
            tweet = Tweet(str(self._next_id), text, now, self.username)
            self.tweets.append(tweet)
        shown = _URL.sub(lambda _m: "https://t.co/" + secrets.token_urlsafe(7)[:10], text)
        return Reply(
            201,
            {"data": {"id": tweet.id, "text": shown, "edit_history_tweet_ids": [tweet.id]}},
            self._limit_headers(100),
        )

    def tweet_by_id(self, tweet_id: str) -> Tweet | None:
        return next((t for t in self.tweets if t.id == tweet_id), None)

    def _limit_headers(self, limit: int) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(limit - 1),
            "x-rate-limit-reset": str(int(time.time()) + 900),
        }

    # ------------------------------------------------------------------ auth
    def _authorised(self, request: Recorded) -> bool:
        header = request.headers.get("authorization", "")
        if header.startswith("Bearer "):
            token = header.removeprefix("Bearer ")
            with self._lock:
                expiry = self._oauth2.access_tokens.get(token)
            return expiry is not None and time.monotonic() < expiry
        if header.startswith("OAuth "):
            return self.oauth1_enabled and self._verify_oauth1(request, header)
        return False

    def _verify_oauth1(self, request: Recorded, header: str) -> bool:
        params: dict[str, str] = {}
        for item in header.removeprefix("OAuth ").split(","):
            name, _, quoted = item.strip().partition("=")
            params[unquote(name)] = unquote(quoted.strip('"'))
        signature = params.pop("oauth_signature", "")
        params.pop("realm", None)
        if (
            params.get("oauth_consumer_key") != self.consumer_key
            or params.get("oauth_token") != self.access_token
            or params.get("oauth_signature_method") != "HMAC-SHA1"
        ):
            return False
        try:
            stamp = int(params.get("oauth_timestamp", ""))
        except ValueError:
            return False
        if abs(time.time() - stamp) > OAUTH1_MAX_SKEW:
            return False
        pairs = list(params.items())
        pairs += [(k, v) for k, values in request.query.items() for v in values]
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            pairs += parse_qsl(request.body.decode(), keep_blank_values=True)
        normalized = "&".join(
            f"{k}={v}" for k, v in sorted((_encode(k), _encode(v)) for k, v in pairs)
        )
        # The URL the client asked for, as this server was reached.
        uri = f"http://{request.headers.get('host', '').lower()}{request.path}"
        base = f"{request.method}&{_encode(uri)}&{_encode(normalized)}"
        key = f"{_encode(self.consumer_secret)}&{_encode(self.access_token_secret)}"
        expected = base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest())
        if not hmac.compare_digest(expected.decode(), signature):
            return False
        nonce = (params.get("oauth_nonce", ""), params["oauth_timestamp"])
        with self._lock:
            if nonce in self._nonces:
                return False  # a replayed request
            self._nonces.add(nonce)
        return True

    def _token(self, request: Recorded) -> Reply:
        form = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
        if self.client_secret is not None:
            expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode())
            if request.headers.get("authorization") != f"Basic {expected.decode()}":
                return Reply(
                    401,
                    {
                        "error": "unauthorized_client",
                        "error_description": "Missing valid authorization header",
                    },
                )
        elif form.get("client_id") != self.client_id:
            return Reply(
                400, {"error": "invalid_request", "error_description": "Missing client_id"}
            )
        if form.get("grant_type") != "refresh_token":
            return Reply(
                400,
                {"error": "invalid_request", "error_description": "Unsupported grant_type"},
            )
        used = form.get("refresh_token", "")
        with self._lock:
            self.refreshes.append(used)
            if used not in self._oauth2.refresh_tokens:
                return Reply(
                    400, {"error": "invalid_request", "error_description": INVALID_REFRESH}
                )
            # Single use: the old one is retired the moment it is used.
            self._oauth2.refresh_tokens.discard(used)
            self._oauth2.retired.add(used)
            self._counter += 1
            access = f"at-{self._counter}-SECRET-{secrets.token_hex(8)}"
            fresh = f"rt-{self._counter}-SECRET-{secrets.token_hex(8)}"
            self._oauth2.refresh_tokens.add(fresh)
            self._oauth2.access_tokens[access] = time.monotonic() + self.access_token_ttl
        return Reply(
            200,
            {
                "token_type": "bearer",
                "expires_in": int(self.access_token_ttl),
                "access_token": access,
                "scope": "tweet.write users.read tweet.read offline.access",
                "refresh_token": fresh,
            },
        )

    def oauth2_settings(self, **overrides: Any) -> dict[str, Any]:
        """Account settings fields for OAuth 2.0 against this fake."""
        values: dict[str, Any] = {
            "api_url": self.url,
            "client_id": self.client_id,
            "refresh_token": self.bootstrap_refresh_token,
        }
        if self.client_secret is not None:
            values["client_secret"] = self.client_secret
        values.update(overrides)
        return values

    def oauth1_settings(self, **overrides: Any) -> dict[str, Any]:
        """Account settings fields for OAuth 1.0a against this fake."""
        values: dict[str, Any] = {
            "api_url": self.url,
            "api_key": self.consumer_key,
            "api_secret": self.consumer_secret,
            "access_token": self.access_token,
            "access_token_secret": self.access_token_secret,
        }
        values.update(overrides)
        return values

"""LinkedIn: one post per delivery, through the versioned Posts API ``POST /rest/posts``.

Facts the code relies on (``docs/platforms.md`` section 8; ``docs/networks/linkedin.md``
says which were checked where):

* Every call carries ``LinkedIn-Version: YYYYMM`` and ``X-Restli-Protocol-Version:
  2.0.0``.  LinkedIn keeps a version for about a year, then answers **426**
  ``NONEXISTENT_VERSION`` to every request: that is a setting to change, so the
  message names it.
* A created post answers **201** with an empty body and the post's URN in the
  ``x-restli-id`` header; its public page is ``/feed/update/{urn}/``.
* ``commentary`` is "little text": ``\\ | { } @ [ ] ( ) < > # * _ ~`` are syntax
  and an unescaped one makes LinkedIn cut the post there without an error, so
  every one is escaped.  The hashtags the composer added from the post's tags
  are sent as ``{hashtag|\\#|word}`` templates so they stay clickable; any
  other ``#`` (in a title, in a URL) is plain text.
* LinkedIn has no idempotency key, but it refuses the same content from the same
  author with **422** ``Content is a duplicate of urn:li:share:…``.  After an
  unclear outcome the delivery is ``unconfirmed``; when a person sends it again,
  that 422 names the post the first attempt made, and it becomes a duplicate
  (published, with that URN), not a second post.
* The link card is ``content.article`` with the title and excerpt we give:
  LinkedIn does not scrape the page.  No thumbnail: that needs an image upload
  (``/rest/images``), which is not done here.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar, Literal

import httpx
import regex
from pydantic import SecretStr, field_validator

from worker.accounts import AccountSettings
from worker.compose.length import LengthRule, utf16_length
from worker.errors import (
    AmbiguousError,
    AuthError,
    DuplicateError,
    PublishError,
    RateLimitedError,
    RejectedError,
)
from worker.models import (
    CheckResult,
    ComposedMessage,
    DeliveryRef,
    Facet,
    PublishResult,
    SourcePost,
)
from worker.platforms.base import Adapter, PlatformFacts

# A version LinkedIn serves as of late 2026; each is kept about a year.  Pinned
# rather than computed from the clock so that the request format never changes
# under a running deployment without someone choosing it.
DEFAULT_VERSION = "202610"
RESTLI_PROTOCOL = "2.0.0"
COMMENTARY_LIMIT = 3000
FEED_URL = "https://www.linkedin.com/feed/update/{urn}/"

# How long to hold the account after a 429 that gives no wait.  LinkedIn's
# quotas are daily and reset at midnight UTC, but a 429 may also be short-lived
# infrastructure protection; waiting at most an hour costs a few refused calls
# in the first case and saves a day's posting in the second.
RATE_LIMIT_HOLD = timedelta(hours=1)

# Little text syntax characters (Microsoft's "little text format" page).
LITTLE_TEXT_RESERVED = frozenset("\\|{}@[]()<>#*_~")

_VERSION = re.compile(r"^(?P<year>20\d\d)(?P<month>\d\d)(?:\.\d\d)?$")
_PERSON = re.compile(r"^urn:li:person:[A-Za-z0-9_-]+$")
_ORGANIZATION = re.compile(r"^urn:li:organization:(?P<id>\d+)$")
_DUPLICATE = re.compile(r"duplicate of (?P<urn>urn:li:[A-Za-z]+:[0-9A-Za-z_-]+)")
# What the length rule takes for a hashtag (a superset of what the composer
# tags): "#" + word characters, not inside a word, a URL fragment or an entity.
_HASHTAG_LIKE = regex.compile(r"(?<![\p{L}\p{M}\p{N}_#&/])#[\p{L}\p{M}\p{N}_]+")


def escape_little_text(text: str) -> str:
    """Plain text as little text: every syntax character behind a backslash."""
    return "".join("\\" + char if char in LITTLE_TEXT_RESERVED else char for char in text)


def hashtag_template(word: str) -> str:
    """A clickable hashtag in little text: ``{hashtag|\\#|word}``."""
    return "{hashtag|\\#|" + escape_little_text(word) + "}"


def commentary(text: str, tag_spans: list[tuple[int, int]]) -> str:
    """``text`` as little text; the ``[start, end)`` string ranges (each "#word")
    become hashtag templates, everything else is escaped."""
    parts: list[str] = []
    position = 0
    for start, end in sorted(tag_spans):
        if start < position:
            continue  # overlapping spans: keep the first
        parts.append(escape_little_text(text[position:start]))
        parts.append(hashtag_template(text[start + 1 : end]))
        position = end
    parts.append(escape_little_text(text[position:]))
    return "".join(parts)


def tag_spans_from_facets(text: str, facets: tuple[Facet, ...]) -> list[tuple[int, int]]:
    """String ranges of the composer's tag facets (which are in UTF-8 bytes)."""
    index_of_byte: dict[int, int] = {}
    offset = 0
    for index, char in enumerate(text):
        index_of_byte[offset] = index
        offset += len(char.encode("utf-8"))
    index_of_byte[offset] = len(text)
    spans: list[tuple[int, int]] = []
    for facet in facets:
        if facet.kind != "tag":
            continue
        start = index_of_byte.get(facet.byte_start)
        end = index_of_byte.get(facet.byte_end)
        if start is not None and end is not None and text[start : start + 1] == "#":
            spans.append((start, end))
    return spans


class LittleTextRule:
    """LinkedIn's commentary limit, counted on what is actually sent.

    Whether LinkedIn counts the escaped little text or the text it shows is not
    documented, nor whether it counts code points or UTF-16 units (it is a Java
    service).  This counts the stricter of each: UTF-16 units of the escaped
    commentary, with every "#word" as a hashtag template.  A message that fits
    here fits LinkedIn whichever way it counts, at the cost of a few characters.
    """

    def __init__(self, limit: int = COMMENTARY_LIMIT) -> None:
        self._limit = limit

    @property
    def limit(self) -> int:
        return self._limit

    def length(self, text: str) -> int:
        spans = [(m.start(), m.end()) for m in _HASHTAG_LIKE.finditer(text)]
        return utf16_length(commentary(text, spans))

    def fits(self, text: str) -> bool:
        return self.length(text) <= self._limit

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LittleTextRule) and other._limit == self._limit

    def __hash__(self) -> int:
        return hash(("LittleTextRule", self._limit))


LINKEDIN_LITTLE_TEXT = LittleTextRule()


def next_utc_midnight(now: datetime) -> datetime:
    day = now.astimezone(UTC).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def retry_at_after_429(response: httpx.Response, now: datetime) -> datetime:
    """When to try again after a 429.

    LinkedIn documents no reset header; a ``Retry-After`` in seconds is honoured
    if one ever comes.  Otherwise the earlier of the next UTC midnight (when the
    daily quotas reset) and one hour from now.
    """
    retry_after = response.headers.get("retry-after", "").strip()
    if retry_after.isdigit():
        return now + timedelta(seconds=int(retry_after))
    return min(next_utc_midnight(now), now + RATE_LIMIT_HOLD)


class LinkedInSettings(AccountSettings):
    network: Literal["linkedin"] = "linkedin"
    access_token: SecretStr
    author_urn: str
    """``urn:li:person:<id>`` (the member) or ``urn:li:organization:<id>`` (a Page)."""
    version: str = DEFAULT_VERSION
    """The ``LinkedIn-Version`` header: ``YYYYMM`` (or ``YYYYMM.RR``)."""
    api_url: str = "https://api.linkedin.com"
    visibility: Literal["PUBLIC", "CONNECTIONS", "LOGGED_IN"] = "PUBLIC"
    token_expires: date | None = None
    """When the access token runs out (LinkedIn shows it when the token is made:
    60 days).  Optional; ``crosspost check`` reports it."""

    @field_validator("access_token")
    @classmethod
    def _token_present(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value().strip()
        if not token:
            raise ValueError("is empty")
        if any(char.isspace() for char in token):
            raise ValueError("contains whitespace; paste the token alone, without 'Bearer'")
        return SecretStr(token)

    @field_validator("author_urn")
    @classmethod
    def _author(cls, value: str) -> str:
        value = value.strip()
        if not (_PERSON.match(value) or _ORGANIZATION.match(value)):
            raise ValueError(
                "must be urn:li:person:<id> (post as yourself; the id is the 'sub' of "
                "/v2/userinfo) or urn:li:organization:<number> (post as a Page)"
            )
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        value = value.strip()
        match = _VERSION.match(value)
        if match is None or not 1 <= int(match["month"]) <= 12:
            raise ValueError(f"must be a LinkedIn API version YYYYMM, like {DEFAULT_VERSION}")
        return value

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        url = httpx.URL(value)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("must be an http(s) origin, like https://api.linkedin.com")
        return value

    @property
    def organization_id(self) -> str | None:
        match = _ORGANIZATION.match(self.author_urn)
        return match["id"] if match else None


class LinkedInAdapter(Adapter):
    facts: ClassVar[PlatformFacts] = PlatformFacts(
        network="linkedin",
        title="LinkedIn",
        text_limit=COMMENTARY_LIMIT,
        counting="3,000 UTF-16 units of the escaped little-text commentary",
        link_card=True,  # content.article with our title and excerpt; no thumbnail
        images=False,
        idempotent=False,  # a resend after a lost answer gets 422 naming the first post
        facets=True,  # used to know which "#word"s are the composer's hashtags
    )
    settings_model: ClassVar[type[AccountSettings]] = LinkedInSettings

    settings: LinkedInSettings

    # ------------------------------------------------------------------ helpers
    def length_rule(self, post: SourcePost | None = None) -> LengthRule:
        return LINKEDIN_LITTLE_TEXT

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.settings.access_token.get_secret_value()}",
            "LinkedIn-Version": self.settings.version,
            "X-Restli-Protocol-Version": RESTLI_PROTOCOL,
        }

    def _url(self, path: str) -> str:
        return f"{self.settings.api_url}{path}"

    def _setting(self, field: str) -> str:
        return f"ACCOUNTS__{self.name.upper()}__{field.upper()}"

    @property
    def _is_organization(self) -> bool:
        return self.settings.organization_id is not None

    # ------------------------------------------------------------------ publish
    def body(self, message: ComposedMessage) -> dict[str, Any]:
        """The ``/rest/posts`` request body for ``message``."""
        text = commentary(message.text, tag_spans_from_facets(message.text, message.facets))
        card = message.card
        article: dict[str, str] = {
            "source": message.link,
            # LinkedIn needs a title for an article; the link stands in for none.
            "title": (card.title if card else message.title) or message.link,
        }
        description = card.description if card else message.excerpt
        if description:
            article["description"] = description
        return {
            "author": self.settings.author_urn,
            "commentary": text,
            "visibility": self.settings.visibility,
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "content": {"article": article},
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }

    def publish(self, message: ComposedMessage, delivery: DeliveryRef) -> PublishResult:
        response = self.request(
            "POST",
            self._url("/rest/posts"),
            json=self.body(message),
            headers=self._headers(),
            follow_redirects=False,
        )
        if response.status_code in (200, 201):
            urn = response.headers.get("x-restli-id", "").strip()
            if not urn:
                # Created, but we cannot say which post: a person decides, and a
                # resend will be refused as a duplicate naming it.
                raise AmbiguousError(
                    f"LinkedIn answered {response.status_code} without the post's id (x-restli-id)"
                )
            return PublishResult(remote_id=urn, remote_url=FEED_URL.format(urn=urn))
        raise self._error(response)

    def _error(self, response: httpx.Response) -> PublishError:
        status = response.status_code
        answer = _Answer.read(response)
        reason = self.redact(answer.describe())
        if status == 401:
            return AuthError(
                f"LinkedIn refused the access token ({reason}). Access tokens last 60 days: "
                f"authorise the app again and set {self._setting('access_token')}"
            )
        if status == 403:
            return AuthError(f"LinkedIn refused the post: {self._permission_hint()} ({reason})")
        if status == 422:
            found = _DUPLICATE.search(answer.message)
            if found:
                urn = found["urn"]
                return DuplicateError(
                    f"LinkedIn already has this post: {urn}",
                    remote_id=urn,
                    remote_url=FEED_URL.format(urn=urn),
                )
        if status == 426:
            # A setting to fix, not a bad post: hold the account's deliveries
            # ("needs attention") so they all go once VERSION is updated.
            return AuthError(
                f"LinkedIn no longer serves API version {self.settings.version} ({reason}); "
                f"set {self._setting('version')} to a recent month (YYYYMM)"
            )
        if status == 429:
            retry_at = retry_at_after_429(response, datetime.now(UTC))
            return RateLimitedError(f"LinkedIn rate limit reached ({reason})", retry_at)
        if status >= 500:
            # The post may or may not exist; LinkedIn has no key to resend with.
            return AmbiguousError(f"LinkedIn could not answer the post ({reason})")
        return RejectedError(f"LinkedIn refused the post ({reason})")

    def _permission_hint(self) -> str:
        if self._is_organization:
            return (
                f"to post as {self.settings.author_urn} the token needs the "
                "w_organization_social permission and its member must be an ADMINISTRATOR, "
                "CONTENT_ADMIN or DIRECT_SPONSORED_CONTENT_POSTER of that Page"
            )
        return (
            f"to post as {self.settings.author_urn} the token needs the w_member_social "
            "permission and must belong to that member"
        )

    # ------------------------------------------------------------------ check
    def check(self) -> CheckResult:
        expires = self._expires_at()
        if expires is not None and expires <= datetime.now(UTC):
            return CheckResult(
                ok=False,
                detail=f"the access token expired on {expires.date().isoformat()} "
                f"({self._setting('token_expires')}); authorise again",
                expires_at=expires,
            )
        org = self.settings.organization_id
        try:
            if org is not None:
                response = self.request(
                    "GET", self._url(f"/rest/organizations/{org}"), headers=self._headers()
                )
            else:
                # OpenID userinfo is not versioned; it needs the openid+profile scopes.
                response = self.request(
                    "GET",
                    self._url("/v2/userinfo"),
                    headers={"Authorization": self._headers()["Authorization"]},
                )
        except PublishError as exc:
            return CheckResult(ok=False, detail=self.redact(exc.message), expires_at=expires)
        result = self._read_check(response, org)
        return CheckResult(ok=result.ok, detail=result.detail, expires_at=expires)

    def _read_check(self, response: httpx.Response, org: str | None) -> CheckResult:
        status = response.status_code
        lifetime = (
            "token expiry is not known: set "
            f"{self._setting('token_expires')} (LinkedIn tokens last 60 days)"
            if self.settings.token_expires is None
            else f"token valid until {self.settings.token_expires.isoformat()}"
        )
        if status == 200:
            data = _json_or_none(response)
            data = data if isinstance(data, dict) else {}
            if org is not None:
                name = data.get("localizedName") or data.get("vanityName") or org
                return CheckResult(
                    ok=True, detail=f"Page {name!r} ({self.settings.author_urn}); {lifetime}"
                )
            sub = str(data.get("sub") or "")
            if not sub:
                return CheckResult(ok=False, detail="LinkedIn answered userinfo without 'sub'")
            member = f"urn:li:person:{sub}"
            if member != self.settings.author_urn:
                return CheckResult(
                    ok=False,
                    detail=f"the token belongs to {member}, but {self._setting('author_urn')} "
                    f"is {self.settings.author_urn}",
                )
            name = data.get("name") or member
            return CheckResult(ok=True, detail=f"{name} ({member}); {lifetime}")
        if status == 403 and org is None:
            # The token authenticated (a bad one is 401); it just cannot read the
            # profile.  Posting only needs w_member_social.
            return CheckResult(
                ok=True,
                detail="token accepted, but it lacks the openid and profile scopes, so the "
                f"author could not be confirmed; {lifetime}",
            )
        error = self._error(response)
        if status == 403:
            return CheckResult(
                ok=False,
                detail=f"the token cannot read organization {org}: it needs the "
                "r_organization_admin or rw_organization_admin permission and an admin role "
                f"on that Page ({self.redact(_Answer.read(response).describe())})",
            )
        return CheckResult(ok=False, detail=error.message)

    def _expires_at(self) -> datetime | None:
        day = self.settings.token_expires
        if day is None:
            return None
        return datetime(day.year, day.month, day.day, tzinfo=UTC)


class _Answer:
    """LinkedIn's error envelope: ``{"status", "serviceErrorCode", "code", "message"}``."""

    def __init__(self, status: int, code: str, service_code: int | None, message: str) -> None:
        self.status = status
        self.code = code
        self.service_code = service_code
        self.message = message

    @classmethod
    def read(cls, response: httpx.Response) -> _Answer:
        data = _json_or_none(response)
        if isinstance(data, dict):
            service = data.get("serviceErrorCode")
            return cls(
                response.status_code,
                str(data.get("code") or ""),
                service if isinstance(service, int) and not isinstance(service, bool) else None,
                " ".join(str(data.get("message") or "").split())[:400],
            )
        snippet = " ".join(response.text.split())[:200]
        return cls(response.status_code, "", None, snippet or response.reason_phrase)

    def describe(self) -> str:
        parts = [str(self.status)]
        if self.service_code is not None:
            parts.append(str(self.service_code))
        if self.code:
            parts.append(self.code)
        head = " ".join(parts)
        return f"{head}: {self.message}" if self.message else head


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None

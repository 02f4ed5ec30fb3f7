"""What Facebook Pages, Instagram and Threads share: Meta's Graph API.

All three answer failures with one envelope::

    {"error": {"message", "type", "code", "error_subcode", "fbtrace_id",
               "is_transient", "error_user_title", "error_user_msg"}}

and the ``code`` (not the HTTP status, which is 400 for most of them) says
what kind of failure it is (platforms.md §5.4 and §12):

==============================  =============================================
code                            kind
==============================  =============================================
4, 17, 32, 613, 80000–80014     rate limited; the wait comes from the usage
                                headers (``estimated_time_to_regain_access``,
                                in minutes)
190, 102                        auth (190/463: the token expired)
368, 506                        duplicate
1, 2, ``is_transient``, 5xx     transient, but on a *create* call code 2 has
                                been seen to create the post anyway, so there
                                the caller gets an ``AmbiguousError``
100, 10, 200–299, other 4xx     rejected
==============================  =============================================

The access token travels as the documented ``access_token`` parameter: in the
form body of a POST, in the query string of a GET.  ``Authorization: Bearer``
is not documented for these hosts (platforms.md §5.2 marks it unverified), and
a header that a host ignores would fail every call.  A token in a GET's URL is
kept out of the logs by ``worker.logs`` (httpx's request lines are silenced
and every configured secret is masked) and no error message here carries a
URL.

Instagram and Threads publish in two steps through a *container*; the shared
flow is ``ContainerAdapter`` below.
"""

from __future__ import annotations

import json
import logging
import time
from abc import abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

import httpx
from pydantic import Field, SecretStr, field_validator

from worker.accounts import AccountSettings
from worker.clock import utcnow
from worker.errors import (
    AmbiguousError,
    AuthError,
    DuplicateError,
    PublishError,
    RateLimitedError,
    RejectedError,
    SkipPost,
    TransientError,
)
from worker.models import ComposedMessage, DeliveryRef, PublishResult, SourcePost
from worker.platforms.base import Adapter

log = logging.getLogger(__name__)

RATE_LIMIT_CODES = frozenset({4, 17, 32, 613})
# Business Use Case limits: 80001 Pages, 80002 Instagram, … (platforms.md §5.4 [2nd]).
BUSINESS_USE_CASE_CODES = range(80000, 80015)
AUTH_CODES = frozenset({190, 102})
DUPLICATE_CODES = frozenset({368, 506})
TRANSIENT_CODES = frozenset({1, 2})
PERMISSION_CODES = range(200, 300)
EXPIRED_TOKEN_SUBCODE = 463

# When X-App-Usage says a limit is used up but gives no time: Meta counts app
# usage over a rolling hour [unverified], so an hour is the longest wait.
APP_USAGE_FULL_WAIT = timedelta(hours=1)

USAGE_HEADERS = ("X-Business-Use-Case-Usage", "X-App-Usage", "X-Page-Usage")


# ---------------------------------------------------------------------- settings


def api_root(value: str) -> str:
    """Validate an API root like ``https://graph.facebook.com`` (a path is allowed,
    for Threads' ``/v1.0``); trailing slashes are dropped."""
    value = value.strip().rstrip("/")
    url = httpx.URL(value)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"must be an http(s) URL like https://graph.facebook.com; got {value!r}")
    if url.query or url.fragment:
        raise ValueError(f"must not have a query or fragment; got {value!r}")
    return value


def token_present(value: SecretStr) -> SecretStr:
    if not value.get_secret_value().strip():
        raise ValueError("is empty")
    return value


class ContainerSettings(AccountSettings):
    """Settings of the two-step (container) networks: how long one attempt
    waits for Meta to process a container before leaving it for a later
    attempt.  Meta suggests polling once a minute for up to five minutes;
    an attempt holds a publisher thread, so it waits briefly and lets the
    delivery's retry do the long wait."""

    access_token: SecretStr
    container_wait_seconds: float = Field(default=20.0, ge=0, le=300)
    container_poll_seconds: float = Field(default=2.0, gt=0, le=60)

    @field_validator("access_token")
    @classmethod
    def _token_present(cls, value: SecretStr) -> SecretStr:
        return token_present(value)


# ---------------------------------------------------------------------- errors


class ExpiredTokenError(AuthError):
    """Code 190 with subcode 463: the token has expired (not revoked or wrong)."""


class GraphDuplicateError(DuplicateError):
    """A duplicate refusal, with its Graph code: 368 also means "temporarily
    blocked", so a caller that can look the post up may want to know which."""

    def __init__(self, message: str, code: int | None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class GraphError:
    """The ``error`` object of a Graph answer, or what stands in for it."""

    status: int
    message: str
    type: str = ""
    code: int | None = None
    subcode: int | None = None
    fbtrace_id: str = ""
    is_transient: bool = False
    user_message: str = ""

    @classmethod
    def read(cls, response: httpx.Response) -> GraphError:
        data = json_or_none(response)
        error = data.get("error") if isinstance(data, dict) else None
        if not isinstance(error, dict):
            snippet = " ".join(response.text.split())[:200]
            return cls(status=response.status_code, message=snippet or response.reason_phrase)
        return cls(
            status=response.status_code,
            message=str(error.get("message") or "no message")[:500],
            type=str(error.get("type") or ""),
            code=_int_or_none(error.get("code")),
            subcode=_int_or_none(error.get("error_subcode")),
            fbtrace_id=str(error.get("fbtrace_id") or ""),
            is_transient=error.get("is_transient") is True,
            user_message=str(error.get("error_user_msg") or "")[:300],
        )

    def describe(self) -> str:
        """``HTTP 400, code 190/463: message (fbtrace_id …)`` for the history."""
        parts = [f"HTTP {self.status}"]
        if self.code is not None:
            code = f"code {self.code}"
            if self.subcode is not None:
                code += f"/{self.subcode}"
            parts.append(code)
        text = ", ".join(parts) + f": {self.message}"
        if self.user_message and self.user_message not in self.message:
            text += f" ({self.user_message})"
        if self.fbtrace_id:
            text += f" [fbtrace_id {self.fbtrace_id}]"
        return text

    @property
    def rate_limited(self) -> bool:
        return self.code in RATE_LIMIT_CODES or self.code in BUSINESS_USE_CASE_CODES

    @property
    def auth(self) -> bool:
        return self.code in AUTH_CODES or (self.code is None and self.status == 401)

    @property
    def duplicate(self) -> bool:
        return self.code in DUPLICATE_CODES

    @property
    def transient(self) -> bool:
        return self.code in TRANSIENT_CODES or self.is_transient or self.status >= 500


def classify(
    error: GraphError,
    response: httpx.Response,
    *,
    where: str,
    action: str,
    create: bool,
    now: datetime | None = None,
) -> PublishError:
    """The failure kind of a Graph error answer.

    ``create`` says the call may have made something (a post, a publish): a
    server error there is ambiguous, not transient.  Callers redact the text.
    """
    text = f"{where} could not {action} ({error.describe()})"
    if error.rate_limited:
        return RateLimitedError(
            f"{where} rate limit reached ({error.describe()})",
            retry_at_from_usage(response.headers, now),
        )
    if error.auth:
        if error.subcode == EXPIRED_TOKEN_SUBCODE:
            return ExpiredTokenError(f"{where}: the access token has expired ({error.describe()})")
        return AuthError(f"{where} refused the access token ({error.describe()})")
    if error.duplicate:
        return GraphDuplicateError(
            f"{where} says this was already posted ({error.describe()})", error.code
        )
    if error.transient:
        if create:
            return AmbiguousError(f"{text}; it may have been posted anyway")
        return TransientError(text)
    return RejectedError(text)


def retry_at_from_usage(headers: httpx.Headers, now: datetime | None = None) -> datetime | None:
    """When the usage headers say we may call again, or None if they do not say.

    ``X-Business-Use-Case-Usage`` is ``{"<id>": [{"type", "call_count",
    "total_cputime", "total_time", "estimated_time_to_regain_access"}]}`` with
    the last in minutes; the longest wait of all entries wins.
    ``X-App-Usage``/``X-Page-Usage`` are ``{"call_count", "total_cputime",
    "total_time"}`` in percent: at 100 the app waits out the rolling window.
    """
    now = now or utcnow()
    minutes: list[float] = []
    full = False
    for name in USAGE_HEADERS:
        data = _json_header(headers.get(name))
        for entry in _usage_entries(data):
            wait = _number(entry.get("estimated_time_to_regain_access"))
            if wait is not None and wait > 0:
                minutes.append(wait)
            percents = [
                _number(entry.get(key)) for key in ("call_count", "total_cputime", "total_time")
            ]
            if any(p is not None and p >= 100 for p in percents):
                full = True
    if minutes:
        return now + timedelta(minutes=max(minutes))
    if full:
        return now + APP_USAGE_FULL_WAIT
    return None


def _usage_entries(data: Any) -> list[dict[str, Any]]:
    """The flat list of usage objects in any of the three headers' shapes."""
    if not isinstance(data, dict):
        return []
    if any(key in data for key in ("call_count", "total_time", "estimated_time_to_regain_access")):
        return [data]
    entries: list[dict[str, Any]] = []
    for value in data.values():
        items = value if isinstance(value, list) else [value]
        entries.extend(item for item in items if isinstance(item, dict))
    return entries


def _json_header(value: str | None) -> Any:
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def featured_image_url(post: SourcePost) -> str | None:
    image = post.featured_image
    return image.url if image is not None and image.url else None


# ---------------------------------------------------------------------- the adapter base


class GraphAdapter(Adapter):
    """An adapter that talks to a Graph API host with one access token."""

    @abstractmethod
    def _root(self) -> str:
        """The versioned API root, e.g. ``https://graph.facebook.com/v21.0``."""

    @abstractmethod
    def _token(self) -> str:
        """The access token, sent as the ``access_token`` parameter."""

    @property
    def _where(self) -> str:
        return self.facts.title

    def graph(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        action: str,
        create: bool = False,
    ) -> dict[str, Any]:
        """One Graph call; the answer's JSON object, or a classified PublishError.

        ``params`` go in the form body of a POST and the query of a GET, with
        the access token added.  ``create`` marks a call that may make a post,
        so that a server error there is reported as ambiguous.
        """
        values = {k: v for k, v in (params or {}).items() if v is not None}
        values["access_token"] = self._token()
        url = f"{self._root()}/{path.lstrip('/')}"
        if method == "GET":
            response = self.request(method, url, params=values)
        else:
            response = self.request(method, url, data=values)
        if response.status_code == 200:
            data = json_or_none(response)
            if isinstance(data, dict) and "error" not in data:
                return data
        error = GraphError.read(response)
        if response.status_code == 200:
            # 200 with a body we cannot read: the call probably worked.
            problem = AmbiguousError if create else TransientError
            raise problem(f"{self._where} answered 200 without a usable body to {action}")
        failure = classify(error, response, where=self._where, action=action, create=create)
        failure.message = self.redact(failure.message)
        raise failure


# ---------------------------------------------------------------------- two-step publishing

# Container statuses (Instagram's ``status_code``, Threads' ``status``).
IN_PROGRESS = "IN_PROGRESS"
FINISHED = "FINISHED"
PUBLISHED = "PUBLISHED"
ERROR = "ERROR"
EXPIRED = "EXPIRED"

CONTAINER_KEY = "container_id"
MEDIA_KEY = "media_id"


@dataclass(frozen=True)
class ContainerStatus:
    code: str
    detail: str = ""


class ContainerAdapter(GraphAdapter):
    """Instagram and Threads: make a container, wait until Meta has processed
    it, publish it, read the permalink.

    Why this is idempotent (``facts.idempotent`` is true): a container is
    published at most once, and its id is remembered (durably, before
    anything else is sent) as soon as the network gives it.  A later attempt
    of the same delivery asks that container's status first: ``PUBLISHED``
    means an earlier attempt got through, so nothing is sent again;
    ``FINISHED`` means it is ready and only the publish step is repeated;
    ``EXPIRED``/``ERROR`` (or a container the network no longer knows) mean
    nothing was posted, so a new container is made.  A container whose
    creation answer was lost is never published by anyone and expires after
    24 hours.
    """

    # Declared by each network.
    create_edge: ClassVar[str]
    publish_edge: ClassVar[str]
    status_field: ClassVar[str]
    status_detail_field: ClassVar[str]

    settings: ContainerSettings

    @abstractmethod
    def _user(self) -> str:
        """The id the container edges hang off (``{ig-user-id}``, ``me``)."""

    @abstractmethod
    def container_params(self, message: ComposedMessage, post: SourcePost) -> dict[str, Any]:
        """The parameters of ``POST /{user}/{create_edge}`` (without the token)."""

    # ------------------------------------------------------------------ publish
    def publish(self, message: ComposedMessage, delivery: DeliveryRef) -> PublishResult:
        params = self.container_params(message, delivery.post)
        container = delivery.state.get(CONTAINER_KEY)
        if isinstance(container, str) and container:
            status = self._earlier_container(container)
            if status is not None and status.code == PUBLISHED:
                return self._already_published(container, delivery)
            if status is not None and status.code in (FINISHED, IN_PROGRESS):
                return self._finish(container, delivery, status=status, fresh=False)
            log.info(
                "%s account %s: container %s of delivery %s is %s; making a new one",
                self.facts.network,
                self.name,
                container,
                delivery.delivery_id,
                status.code if status else "unknown",
            )
        container = self._create_container(params)
        delivery.remember(CONTAINER_KEY, container)
        return self._finish(container, delivery, status=None, fresh=True)

    def _create_container(self, params: dict[str, Any]) -> str:
        try:
            data = self.graph(
                "POST",
                f"{self._user()}/{self.create_edge}",
                params=params,
                action="create the media container",
            )
        except AmbiguousError as error:
            # A container is not a post: one whose id we never heard of is
            # never published and expires unseen, so trying again is safe.
            raise TransientError(
                f"{error.message} (no post was made: an unpublished container expires in 24 h)"
            ) from None
        container = data.get("id")
        if not container:
            raise TransientError(f"{self._where} answered without a container id")
        return str(container)

    def _earlier_container(self, container: str) -> ContainerStatus | None:
        """The status of a remembered container; None if the network no longer knows it."""
        try:
            return self._status(container)
        except RejectedError:
            # "Object does not exist" (code 100) and the like: nothing was posted from it.
            return None

    def _finish(
        self,
        container: str,
        delivery: DeliveryRef,
        *,
        status: ContainerStatus | None,
        fresh: bool,
    ) -> PublishResult:
        status = self._wait(container, status)
        if status.code == PUBLISHED:
            return self._already_published(container, delivery)
        if status.code == IN_PROGRESS:
            raise TransientError(
                f"{self._where} is still processing container {container} after "
                f"{self.settings.container_wait_seconds:g} s; a later attempt publishes it"
            )
        if status.code != FINISHED:
            detail = f": {status.detail}" if status.detail else ""
            text = f"{self._where} could not process the media (container {status.code}{detail})"
            if fresh and status.code == ERROR:
                raise RejectedError(self.redact(text))
            # An expired container, or an error on one made earlier: the next
            # attempt makes a new container.
            raise TransientError(self.redact(text))
        data = self.graph(
            "POST",
            f"{self._user()}/{self.publish_edge}",
            params={"creation_id": container},
            action="publish the container",
            create=True,
        )
        media = data.get("id")
        if not media:
            raise AmbiguousError(f"{self._where} answered the publish without a media id")
        media_id = str(media)
        delivery.remember(MEDIA_KEY, media_id)
        return PublishResult(remote_id=media_id, remote_url=self._permalink(media_id))

    def _wait(self, container: str, status: ContainerStatus | None) -> ContainerStatus:
        """Poll the container while Meta processes it, up to the configured wait
        (``status`` is one just read, so it is not asked again at once)."""
        deadline = time.monotonic() + self.settings.container_wait_seconds
        if status is None:
            status = self._status(container)
        while status.code == IN_PROGRESS:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(self.settings.container_poll_seconds, left))
            status = self._status(container)
        return status

    def _status(self, container: str) -> ContainerStatus:
        data = self.graph(
            "GET",
            container,
            params={"fields": f"{self.status_field},{self.status_detail_field}"},
            action="read the container status",
        )
        code = str(data.get(self.status_field) or "").upper()
        return ContainerStatus(code=code, detail=str(data.get(self.status_detail_field) or ""))

    def _already_published(self, container: str, delivery: DeliveryRef) -> PublishResult:
        """An earlier attempt published this container.  Its media id is known
        when that attempt heard the answer; otherwise the container id stands
        in for it and there is no URL."""
        media = delivery.state.get(MEDIA_KEY)
        if isinstance(media, str) and media:
            return PublishResult(remote_id=media, remote_url=self._permalink(media))
        return PublishResult(remote_id=container, remote_url=None)

    def _permalink(self, media_id: str) -> str | None:
        """The post's public URL; None if the network does not give it (the
        post exists either way, so a failure here is no failure of the send)."""
        try:
            data = self.graph(
                "GET", media_id, params={"fields": "permalink"}, action="read the permalink"
            )
        except PublishError as error:
            log.warning("%s: no permalink for %s: %s", self.name, media_id, error.message)
            return None
        link = data.get("permalink")
        return str(link) if link else None


def require_image(post: SourcePost, network: str) -> str:
    url = featured_image_url(post)
    if url is None:
        raise SkipPost(f"{network} needs an image; this post has no featured image")
    return url

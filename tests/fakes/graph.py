"""A fake Meta Graph API: Facebook Pages, Instagram or Threads, one host each.

One class, ``FakeGraph``, configured by ``flavor`` (``facebook``,
``instagram``, ``threads``), answers as platforms.md §5–7 describe:

- Facebook: ``POST /{ver}/{page}/feed`` (``message``, ``link``) → ``{"id":
  "<page>_<n>"}``; ``POST /{ver}/{page}/photos`` (``url``, ``message``) →
  ``{"id", "post_id"}``; ``GET /{ver}/{page}/feed?fields=…&limit=…``;
  ``GET /{ver}/{page}?fields=id,name``; ``GET /{ver}/{post}?fields=permalink_url``.
- Instagram: ``POST /{ver}/{ig-user}/media`` (``image_url``, ``caption``) →
  container; ``GET /{ver}/{container}?fields=status_code,status``;
  ``POST /{ver}/{ig-user}/media_publish`` (``creation_id``) → media;
  ``GET /{ver}/{media}?fields=permalink``; ``GET /{ver}/{ig-user}?fields=id,username``.
- Threads: ``POST /v1.0/{user|me}/threads`` (``media_type``, ``text``,
  ``image_url``, ``link_attachment``) → container;
  ``GET /v1.0/{container}?fields=status,error_message``;
  ``POST /v1.0/{user|me}/threads_publish`` → media; ``GET /v1.0/{media}?fields=permalink``;
  ``GET /v1.0/me?fields=id,username``.

Every error is the Graph envelope ``{"error": {"message", "type", "code",
"error_subcode"?, "is_transient"?, "fbtrace_id"}}``; every answer carries
``X-App-Usage`` (and Facebook's ``X-Business-Use-Case-Usage``).  The token is
read from the ``access_token`` parameter (query or form) or a Bearer header.

Switches, beyond the base's faults (``fail_next`` and friends):

- ``container_statuses``: the status sequence each new container goes
  through, one step per status read, the last one repeating (default
  ``["FINISHED"]``; e.g. ``["IN_PROGRESS", "IN_PROGRESS", "FINISHED"]``), and
  ``container_delay``: seconds a new container stays ``IN_PROGRESS`` first;
  ``set_container_status(id, status)`` changes one container (``EXPIRED`` …);
- ``rate_limit(code, minutes, header)`` until ``clear_rate_limit()``: every
  call answers that code with the usage header (``business``: with
  ``estimated_time_to_regain_access`` minutes; ``app``: ``X-App-Usage`` at 100%);
- ``expire_token(subcode=463)``: the token is refused with code 190 and that
  subcode (HTTP ``auth_status``: 400 on graph.facebook.com, 401 on Threads
  [unverified]);
- ``duplicate_code`` (368 or 506): a create whose text equals an existing
  post's is refused with that code and creates nothing;
- ``server_error(count, after_processing=…)``: code 2, ``is_transient``, HTTP 500;
  ``fail_with(code, …)``: any other Graph error;
- ``text_limit`` and, for Threads, ``emoji_counting`` (``utf8_bytes``, the
  documented rule, or ``one``): counted here independently of the project;

``posts`` records every post made (Page posts and photos, Instagram media,
Threads posts), so a test counts copies; ``containers`` every container.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qs

import regex

from tests.fakes.server import FakeServer, Recorded, Reply
from worker.models import DeliveryRef, FeaturedImage, SourcePost

Flavor = Literal["facebook", "instagram", "threads"]

FACEBOOK_TOKEN = "EAAfbPageToken-SECRET-0123456789"
INSTAGRAM_TOKEN = "IGQWig-user-token-SECRET-0123456789"
THREADS_TOKEN = "THQWthreads-token-SECRET-0123456789"

POST_URL = "https://news.example/?p=15004"
IMAGE_URL = "https://news.example/wp-content/uploads/2026/04/geneva.jpg"
CREATED_AT = datetime(2026, 4, 19, 7, 31, tzinfo=UTC)

_GRAPHEME = regex.compile(r"\X")
_EMOJI = regex.compile(r"\p{Extended_Pictographic}|\p{Regional_Indicator}")

RATE_LIMIT_MESSAGES = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    32: "(#32) Page request limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
    80001: "(#80001) There have been too many calls to this Page account. "
    "Wait a bit and try again.",
    80002: "(#80002) There have been too many calls to this Instagram account. "
    "Wait a bit and try again.",
}
DUPLICATE_MESSAGES = {
    506: "(#506) Duplicate status message",
    368: "It looks like you've already posted this. Try posting something different.",
}
UNKNOWN_OBJECT = (
    "Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due "
    "to missing permissions, or does not support this operation."
)


def threads_length(text: str, emoji_counting: str = "utf8_bytes") -> int:
    """Threads' count: characters, an emoji costing its UTF-8 bytes (or one)."""
    total = 0
    for cluster in _GRAPHEME.findall(text):
        if _EMOJI.search(cluster) and emoji_counting == "utf8_bytes":
            total += len(cluster.encode("utf-8"))
        else:
            total += len(cluster)
    return total


def error_body(
    code: int,
    message: str,
    *,
    subcode: int | None = None,
    type: str = "OAuthException",
    is_transient: bool | None = None,
) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": type, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if is_transient is not None:
        error["is_transient"] = is_transient
    error["fbtrace_id"] = "AbCdEfGhIjK" + str(code)
    return {"error": error}


def graph_time(moment: datetime) -> str:
    """Graph's ``created_time`` form: ``2026-04-19T07:31:00+0000``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


@dataclass
class Container:
    id: str
    params: dict[str, str]
    statuses: list[str]
    ready_at: float
    media_id: str | None = None
    error_message: str = ""

    @property
    def status(self) -> str:
        if self.media_id is not None:
            return "PUBLISHED"
        if time.monotonic() < self.ready_at:
            return "IN_PROGRESS"
        return self.statuses[0]

    def read_status(self) -> str:
        """The status a read sees; each read moves the sequence one step on."""
        current = self.status
        if current == self.statuses[0] and len(self.statuses) > 1:
            self.statuses.pop(0)
        return current


@dataclass
class _RateLimit:
    code: int
    minutes: float
    header: str


class FakeGraph(FakeServer):
    def __init__(
        self,
        flavor: Flavor = "facebook",
        *,
        token: str | None = None,
        username: str = "news.example",
        text_limit: int | None = None,
    ) -> None:
        super().__init__()
        self.flavor: Flavor = flavor
        self.name = f"fake-{flavor}"
        default_token, self.version, default_limit, self.auth_status = {
            "facebook": (FACEBOOK_TOKEN, "v21.0", 63206, 400),
            "instagram": (INSTAGRAM_TOKEN, "v21.0", 2200, 400),
            "threads": (THREADS_TOKEN, "v1.0", 500, 401),
        }[flavor]
        self.token = token or default_token
        self.text_limit = text_limit or default_limit
        self.username = username
        self.page_id = "1234567890"
        self.page_name = "News Example"
        self.ig_user_id = "17841400000000001"
        self.threads_user_id = "2600000000000001"
        self.emoji_counting = "utf8_bytes"
        self.container_statuses: list[str] = ["FINISHED"]
        self.container_delay = 0.0
        self.duplicate_code: int | None = None
        self.posts: list[dict[str, Any]] = []
        self.containers: dict[str, Container] = {}
        self._expired_subcode: int | None = None
        self._rate_limit: _RateLimit | None = None
        self._ids = itertools.count(1)
        # One create at a time, like one database row per post.
        self._create_lock = threading.Lock()

    # ------------------------------------------------------------------ addresses
    @property
    def api_url(self) -> str:
        """What an account's ``api_url`` setting is (Threads' includes the version)."""
        return f"{self.url}/{self.version}" if self.flavor == "threads" else self.url

    @property
    def user_id(self) -> str:
        return {
            "facebook": self.page_id,
            "instagram": self.ig_user_id,
            "threads": self.threads_user_id,
        }[self.flavor]

    def path(self, *parts: str) -> str:
        """A request path as recorded, e.g. ``path(page_id, "feed")``."""
        return "/" + "/".join((self.version, *parts))

    # ------------------------------------------------------------------ switches
    def rate_limit(
        self, code: int = 4, minutes: float = 5, header: Literal["business", "app"] = "business"
    ) -> None:
        self._rate_limit = _RateLimit(code, minutes, header)

    def clear_rate_limit(self) -> None:
        self._rate_limit = None

    def expire_token(self, subcode: int = 463) -> None:
        self._expired_subcode = subcode

    def renew_token(self) -> None:
        self._expired_subcode = None

    def set_container_status(self, container_id: str, status: str, message: str = "") -> None:
        with self._lock:
            container = self.containers[container_id]
            container.statuses = [status]
            container.ready_at = 0.0
            container.error_message = message

    def fail_with(
        self,
        code: int,
        *,
        count: int = 1,
        status: int = 400,
        message: str | None = None,
        subcode: int | None = None,
        is_transient: bool | None = None,
        headers: dict[str, str] | None = None,
        path: str | None = None,
        method: str | None = None,
        after_processing: bool = False,
    ) -> None:
        body = error_body(
            code,
            message or f"(#{code}) fake error",
            subcode=subcode,
            is_transient=is_transient,
        )
        self.fail_next(
            count,
            status,
            body,
            headers,
            path=path,
            method=method,
            after_processing=after_processing,
        )

    def server_error(
        self,
        count: int = 1,
        *,
        path: str | None = None,
        method: str | None = "POST",
        after_processing: bool = False,
    ) -> None:
        """Code 2 with ``is_transient``, HTTP 500 (after publishing, if asked)."""
        self.fail_with(
            2,
            count=count,
            status=500,
            message="An unexpected error has occurred. Please retry your request later.",
            is_transient=True,
            path=path,
            method=method,
            after_processing=after_processing,
        )

    # ------------------------------------------------------------------ queries
    def creates(self) -> list[Recorded]:
        """Every request that asked to create a post or container."""
        edges = {"feed", "photos", "media", "threads"}
        return [
            r for r in self.requests if r.method == "POST" and r.path.rsplit("/", 1)[-1] in edges
        ]

    def publishes(self) -> list[Recorded]:
        edges = {"media_publish", "threads_publish"}
        return [
            r for r in self.requests if r.method == "POST" and r.path.rsplit("/", 1)[-1] in edges
        ]

    # ------------------------------------------------------------------ routing
    def route(self, request: Recorded) -> Reply:
        params = _params(request)
        prefix = f"/{self.version}/"
        if not request.path.startswith(prefix):
            return self._error(400, 2500, "Unknown path components: " + request.path)
        parts = [p for p in request.path[len(prefix) :].split("/") if p]
        refused = self._refuse(request, params)
        if refused is not None:
            return refused
        if request.method == "POST" and len(parts) == 2:
            return self._post_edge(parts[0], parts[1], params)
        if request.method == "GET" and len(parts) == 2:
            return self._get_edge(parts[0], parts[1], params)
        if request.method == "GET" and len(parts) == 1:
            return self._get_object(parts[0], params)
        return self._error(400, 100, "Unsupported request: " + request.path, subcode=33)

    def _refuse(self, request: Recorded, params: dict[str, str]) -> Reply | None:
        token = params.get("access_token")
        bearer = request.headers.get("authorization", "")
        if token is None and bearer.startswith("Bearer "):
            token = bearer[len("Bearer ") :]
        if not token:
            return self._error(
                400, 2500, "An active access token must be used to query information."
            )
        if token != self.token:
            return self._error(
                self.auth_status, 190, "Invalid OAuth access token - Cannot parse access token"
            )
        if self._expired_subcode is not None:
            return self._error(
                self.auth_status,
                190,
                "Error validating access token: Session has expired on Sunday, 19-Apr-26 "
                "07:00:00 PDT. The current time is Sunday, 19-Apr-26 08:00:00 PDT.",
                subcode=self._expired_subcode,
            )
        limit = self._rate_limit
        if limit is not None:
            message = RATE_LIMIT_MESSAGES.get(limit.code, f"(#{limit.code}) Rate limit reached")
            return Reply(400, error_body(limit.code, message), self._usage_headers(limit))
        return None

    def _post_edge(self, owner: str, edge: str, params: dict[str, str]) -> Reply:
        if self.flavor == "facebook" and owner == self.page_id and edge in ("feed", "photos"):
            return self._create_page_post(edge, params)
        if self.flavor != "facebook" and self._is_user(owner):
            if edge in ("media", "threads"):
                return self._create_container(params)
            if edge in ("media_publish", "threads_publish"):
                return self._publish(params)
        return self._error(400, 100, UNKNOWN_OBJECT.format(id=owner), subcode=33)

    def _get_edge(self, owner: str, edge: str, params: dict[str, str]) -> Reply:
        if self.flavor == "facebook" and owner == self.page_id and edge in ("feed", "posts"):
            limit = int(params.get("limit") or 25)
            fields = _fields(params, "id,message,created_time")
            with self._lock:
                newest = list(reversed(self.posts))[:limit]
            data = [{k: post[k] for k in fields if k in post} for post in newest]
            return self._ok({"data": data, "paging": {"cursors": {"before": "b", "after": "a"}}})
        return self._error(400, 100, UNKNOWN_OBJECT.format(id=owner), subcode=33)

    def _get_object(self, object_id: str, params: dict[str, str]) -> Reply:
        fields = _fields(params, "id")
        if self._is_user(object_id):
            profile = {"id": self.user_id, "name": self.page_name, "username": self.username}
            return self._ok({k: profile[k] for k in fields if k in profile})
        with self._lock:
            container = self.containers.get(object_id)
            if container is not None:
                status = container.read_status()
                answer: dict[str, Any] = {"id": container.id}
                if self.flavor == "instagram":
                    answer["status_code"] = status
                    if status == "ERROR":
                        answer["status"] = f"Error: {container.error_message or 'media error'}"
                    else:
                        answer["status"] = status.title().replace("_", " ")
                else:
                    answer["status"] = status
                    if status == "ERROR":
                        answer["error_message"] = container.error_message or "FAILED_DOWNLOADING"
                return self._ok({k: v for k, v in answer.items() if k in fields or k == "id"})
            post = next((p for p in self.posts if p["id"] == object_id), None)
        if post is not None:
            return self._ok({k: post[k] for k in fields if k in post})
        return self._error(400, 100, UNKNOWN_OBJECT.format(id=object_id), subcode=33)

    def _is_user(self, object_id: str) -> bool:
        if self.flavor == "threads" and object_id == "me":
            return True
        return object_id == self.user_id

    # ------------------------------------------------------------------ creating
    def _create_page_post(self, edge: str, params: dict[str, str]) -> Reply:
        text = params.get("message", "")
        if edge == "photos" and not params.get("url"):
            return self._error(400, 324, "(#324) Requires upload file")
        if edge == "feed" and not (text or params.get("link")):
            return self._error(400, 100, "(#100) Missing message or attachment")
        if len(text) > self.text_limit:
            return self._error(400, 100, "(#100) The message is too long")
        with self._create_lock:
            duplicate = self._duplicate(text)
            if duplicate is not None:
                return duplicate
            number = next(self._ids)
            post_id = f"{self.page_id}_{100000000 + number}"
            post: dict[str, Any] = {
                "id": post_id,
                "kind": edge,
                "message": text,
                "created_time": graph_time(datetime.now(UTC)),
                "permalink_url": f"https://www.facebook.com/{self.page_id}/posts/"
                f"{100000000 + number}",
            }
            if edge == "feed":
                post["link"] = params.get("link")
                answer = {"id": post_id}
            else:
                photo_id = str(500000000 + number)
                post["image_url"] = params["url"]
                post["link"] = f"https://www.facebook.com/photo.php?fbid={photo_id}"
                answer = {"id": photo_id, "post_id": post_id}
            with self._lock:
                self.posts.append(post)
        return self._ok(answer)

    def _create_container(self, params: dict[str, str]) -> Reply:
        if self.flavor == "instagram":
            text = params.get("caption", "")
            if not params.get("image_url"):
                return self._error(400, 100, "The parameter image_url is required.")
            length = len(text)
        else:
            text = params.get("text", "")
            media_type = params.get("media_type", "")
            if media_type not in ("TEXT", "IMAGE", "VIDEO", "CAROUSEL"):
                return self._error(400, 100, "Param media_type must be one of {TEXT, IMAGE, …}")
            if media_type == "TEXT" and not text:
                return self._error(400, 100, "Param text is required for TEXT posts")
            if media_type == "IMAGE" and not params.get("image_url"):
                return self._error(400, 100, "Param image_url is required for IMAGE posts")
            if media_type != "TEXT" and params.get("link_attachment"):
                return self._error(400, 100, "link_attachment is only allowed on TEXT posts")
            length = threads_length(text, self.emoji_counting)
        if length > self.text_limit:
            return self._error(
                400, 100, f"(#100) The text is too long ({length} > {self.text_limit})"
            )
        with self._create_lock:
            duplicate = self._duplicate(text)
            if duplicate is not None:
                return duplicate
            container = Container(
                id=str(17900000000000000 + next(self._ids)),
                params=dict(params),
                statuses=list(self.container_statuses) or ["FINISHED"],
                ready_at=time.monotonic() + self.container_delay,
            )
            with self._lock:
                self.containers[container.id] = container
        return self._ok({"id": container.id})

    def _publish(self, params: dict[str, str]) -> Reply:
        creation_id = params.get("creation_id", "")
        with self._create_lock:
            container = self.containers.get(creation_id)
            if container is None:
                return self._error(400, 100, UNKNOWN_OBJECT.format(id=creation_id), subcode=33)
            status = container.status
            if status == "PUBLISHED":
                return self._error(400, 100, "(#100) The media has already been published")
            if status == "EXPIRED":
                return self._error(400, 100, "(#100) The media container has expired")
            if status != "FINISHED":
                return self._error(400, 9007, "Media ID is not available", subcode=2207027)
            number = next(self._ids)
            media_id = str(18000000000000000 + number)
            shortcode = f"C{number:09d}"
            text_key = "caption" if self.flavor == "instagram" else "text"
            if self.flavor == "instagram":
                permalink = f"https://www.instagram.com/p/{shortcode}/"
            else:
                permalink = f"https://www.threads.net/@{self.username}/post/{shortcode}"
            with self._lock:
                container.media_id = media_id
                self.posts.append(
                    {
                        "id": media_id,
                        "container_id": container.id,
                        "text": container.params.get(text_key, ""),
                        "params": container.params,
                        "permalink": permalink,
                        "timestamp": graph_time(datetime.now(UTC)),
                    }
                )
        return self._ok({"id": media_id})

    def _duplicate(self, text: str) -> Reply | None:
        if self.duplicate_code is None or not text:
            return None
        with self._lock:
            earlier = [p for p in self.posts if p.get("message", p.get("text")) == text]
            pending = [
                c
                for c in self.containers.values()
                if c.params.get("caption", c.params.get("text")) == text
            ]
        if not earlier and not pending:
            return None
        code = self.duplicate_code
        return self._error(400, code, DUPLICATE_MESSAGES.get(code, f"(#{code}) Duplicate"))

    # ------------------------------------------------------------------ answers
    def _ok(self, body: dict[str, Any]) -> Reply:
        return Reply(200, body, self._usage_headers(None))

    def _error(self, status: int, code: int, message: str, *, subcode: int | None = None) -> Reply:
        return Reply(status, error_body(code, message, subcode=subcode), self._usage_headers(None))

    def _usage_headers(self, limit: _RateLimit | None) -> dict[str, str]:
        full = limit is not None
        app = {"call_count": 100 if full else 2, "total_cputime": 1, "total_time": 1}
        headers = {"X-App-Usage": json.dumps(app)}
        if limit is not None and limit.header == "app":
            return headers
        kind = {"facebook": "pages", "instagram": "instagram", "threads": "threads"}[self.flavor]
        entry = {
            "type": kind,
            "call_count": 100 if full else 2,
            "total_cputime": 1,
            "total_time": 1,
            "estimated_time_to_regain_access": limit.minutes if limit is not None else 0,
        }
        if self.flavor == "facebook" or full:
            headers["X-Business-Use-Case-Usage"] = json.dumps({self.user_id: [entry]})
        return headers


def _params(request: Recorded) -> dict[str, str]:
    """Graph reads the query string and a form body alike (the body wins)."""
    merged = {k: v[-1] for k, v in request.query.items()}
    if request.body and "json" not in request.headers.get("content-type", ""):
        body = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
        merged.update({k: v[-1] for k, v in body.items()})
    return merged


def _fields(params: dict[str, str], default: str) -> list[str]:
    return [f.strip() for f in (params.get("fields") or default).split(",") if f.strip()]


# ---------------------------------------------------------------------- test data


def source_post(*, image: bool = True, link: str = POST_URL) -> SourcePost:
    when = datetime(2026, 4, 19, 7, 30, tzinfo=UTC)
    return SourcePost(
        site="news",
        post_id=15004,
        link=link,
        title_html="Iran&#8217;s talks resume",
        excerpt_html="<p>Talks resume in Geneva [&hellip;]</p>",
        content_html="<p>Talks resume in Geneva.</p>",
        date_gmt=when,
        modified_gmt=when,
        tags=("geneva",),
        categories=("world",),
        featured_image=FeaturedImage(url=IMAGE_URL, alt="Geneva") if image else None,
    )


class Attempts:
    """The attempts of one delivery, with the state they remember.

    It plays the delivery store's part between attempts: what an adapter
    ``remember``s on one attempt is in ``state`` on the next, exactly as
    ``worker.delivery`` hands it over.
    """

    def __init__(self, post: SourcePost | None = None, delivery_id: int = 42) -> None:
        self.post = post or source_post()
        self.delivery_id = delivery_id
        self.state: dict[str, Any] = {}
        self.count = 0

    def next(self) -> DeliveryRef:
        self.count += 1
        return DeliveryRef(
            delivery_id=self.delivery_id,
            account="acct",
            attempt=self.count,
            idempotency_key=f"delivery-{self.delivery_id}-key",
            created_at=CREATED_AT,
            post=self.post,
            state=dict(self.state),
            remember=self.state.__setitem__,
        )

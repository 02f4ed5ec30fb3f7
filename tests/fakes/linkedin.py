"""A fake LinkedIn API, answering as platforms.md §8 and the public answers
quoted in docs/networks/linkedin.md describe.

Routes: ``POST /rest/posts``, ``GET /v2/userinfo``, ``GET /rest/organizations/{id}``.

Switches beyond the base's faults (several are unverified facts, hence switches):

- ``token`` / ``token_state`` (``valid``, ``invalid``, ``revoked``, ``expired``):
  401 with ``serviceErrorCode`` 65600 / 65601 / 65602;
- ``scopes``: ``w_member_social``, ``w_organization_social``, ``openid``,
  ``profile``, ``r_organization_admin``; ``member_id``; ``org_roles`` (org id → role);
- ``active_versions``: the ``LinkedIn-Version`` values served; others get 426;
- ``commentary_limit`` / ``count_unit`` (``utf16`` or ``codepoint``) /
  ``count_escaped`` (count the little text as sent, or the text shown);
- ``detect_duplicates``: the same (author, commentary) again is a 422 naming
  the first post, as LinkedIn does;
- ``rate_limit(count, retry_after=None)``: the next ``count`` requests get 429
  ``Resource level throttle …``, with ``Retry-After`` only if given
  (LinkedIn documents none).

Little text is parsed here on its own, not with the project's code: an
unescaped syntax character cuts the post there, as LinkedIn silently does, so
a post's ``shown`` text tells whether escaping worked.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.server import FakeServer, Recorded, Reply

RESERVED = set("\\|{}@[]()<>#*_~")
HASHTAG_OPEN = "{hashtag|\\#|"


@dataclass
class ShownText:
    """What LinkedIn would show for a commentary: text and clickable hashtags."""

    text: str
    hashtags: list[str] = field(default_factory=list)
    cut: bool = False  # an unescaped syntax character ended the text early


def parse_little_text(source: str) -> ShownText:
    out: list[str] = []
    tags: list[str] = []
    i = 0
    while i < len(source):
        if source.startswith(HASHTAG_OPEN, i):
            end = i + len(HASHTAG_OPEN)
            word: list[str] = []
            while end < len(source) and source[end] != "}":
                if source[end] == "\\" and end + 1 < len(source):
                    end += 1
                word.append(source[end])
                end += 1
            if end >= len(source):
                return ShownText("".join(out), tags, cut=True)
            tags.append("".join(word))
            out.append("#" + "".join(word))
            i = end + 1
            continue
        char = source[i]
        if char == "\\" and i + 1 < len(source) and source[i + 1] in RESERVED:
            out.append(source[i + 1])
            i += 2
            continue
        if char in RESERVED:
            return ShownText("".join(out), tags, cut=True)
        out.append(char)
        i += 1
    return ShownText("".join(out), tags)


def _length(text: str, unit: str) -> int:
    return len(text.encode("utf-16-le")) // 2 if unit == "utf16" else len(text)


_TOKEN_ERRORS = {
    "invalid": (65600, "INVALID_ACCESS_TOKEN", "Invalid access token"),
    "revoked": (
        65601,
        "REVOKED_ACCESS_TOKEN",
        "The token used in the request has been revoked by the user",
    ),
    "expired": (65602, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired"),
}


class FakeLinkedIn(FakeServer):
    name = "fake-linkedin"

    def __init__(
        self,
        *,
        token: str = "AQX-linkedin-test-token-0123456789abcdef",
        member_id: str = "aB3dE5fG7h",
    ) -> None:
        super().__init__()
        self.token = token
        self.token_state = "valid"
        self.member_id = member_id
        self.member_name = "Alice Example"
        self.scopes: set[str] = {"w_member_social", "openid", "profile"}
        self.org_roles: dict[str, str] = {}
        self.org_names: dict[str, str] = {}
        self.active_versions: set[str] = {f"2025{m:02d}" for m in range(12, 13)} | {
            f"2026{m:02d}" for m in range(1, 12)
        }
        self.commentary_limit = 3000
        self.count_unit = "utf16"
        self.count_escaped = True
        self.detect_duplicates = True
        self.posts: list[dict[str, Any]] = []
        self._by_content: dict[tuple[str, str], str] = {}
        self._next_id = 7_300_000_000_000_000_000
        self._rate_limited = 0
        self._retry_after: int | None = None
        self._state_lock = threading.Lock()

    # ------------------------------------------------------------------ switches
    def rate_limit(self, count: int = 1, retry_after: int | None = None) -> None:
        self._rate_limited = count
        self._retry_after = retry_after

    def post_by_urn(self, urn: str) -> dict[str, Any] | None:
        return next((p for p in self.posts if p["urn"] == urn), None)

    # ------------------------------------------------------------------ routes
    def route(self, request: Recorded) -> Reply:
        with self._state_lock:
            if self._rate_limited > 0:
                self._rate_limited -= 1
                headers = {"Retry-After": str(self._retry_after)} if self._retry_after else {}
                return Reply(
                    429,
                    {
                        "serviceErrorCode": 101,
                        "message": "Resource level throttle limit for calls to this resource "
                        "is reached.",
                        "status": 429,
                    },
                    headers,
                )
        if request.method == "GET" and request.path == "/v2/userinfo":
            return self._userinfo(request)
        if request.method == "GET" and request.path.startswith("/rest/organizations/"):
            return self._organization(request, request.path.rsplit("/", 1)[-1])
        if request.method == "POST" and request.path == "/rest/posts":
            return self._create(request)
        return _error(404, "RESOURCE_NOT_FOUND", f"No virtual resource found: {request.path}")

    def _auth_error(self, request: Recorded) -> Reply | None:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            code, name, message = _TOKEN_ERRORS["invalid"]
            return _error(401, name, message, service=code)
        if self.token_state != "valid":
            code, name, message = _TOKEN_ERRORS[self.token_state]
            return _error(401, name, message, service=code)
        return None

    def _version_error(self, request: Recorded) -> Reply | None:
        version = request.headers.get("linkedin-version")
        if not version:
            return _error(
                400,
                "VERSION_MISSING",
                "A version must be present. Please specify a version by adding the "
                "LinkedIn-Version header.",
            )
        if version.split(".")[0] not in self.active_versions:
            return _error(
                426, "NONEXISTENT_VERSION", f"Requested version {version}01 is not active"
            )
        if request.headers.get("x-restli-protocol-version") != "2.0.0":
            return _error(400, "ILLEGAL_ARGUMENT", "X-Restli-Protocol-Version 2.0.0 is required")
        return None

    def _userinfo(self, request: Recorded) -> Reply:
        failed = self._auth_error(request)
        if failed:
            return failed
        if not {"openid", "profile"} <= self.scopes:
            return _error(
                403,
                "ACCESS_DENIED",
                "Not enough permissions to access: userinfo.GET.NO_VERSION",
                service=100,
            )
        given, _, family = self.member_name.partition(" ")
        return Reply(
            200,
            {
                "sub": self.member_id,
                "name": self.member_name,
                "given_name": given,
                "family_name": family,
                "locale": {"country": "US", "language": "en"},
            },
        )

    def _organization(self, request: Recorded, org: str) -> Reply:
        failed = self._auth_error(request) or self._version_error(request)
        if failed:
            return failed
        if org not in self.org_names:
            return _error(404, "RESOURCE_NOT_FOUND", f"Organization {org} not found")
        if not ({"r_organization_admin", "rw_organization_admin"} & self.scopes) or (
            org not in self.org_roles
        ):
            return _error(
                403,
                "ACCESS_DENIED",
                "Not enough permissions to access: organizations.GET.20261001",
                service=100,
            )
        return Reply(
            200,
            {
                "id": int(org),
                "localizedName": self.org_names[org],
                "vanityName": self.org_names[org].lower().replace(" ", "-"),
            },
        )

    def _create(self, request: Recorded) -> Reply:
        failed = self._auth_error(request) or self._version_error(request)
        if failed:
            return failed
        try:
            body = request.json()
        except ValueError:
            return _error(400, "ILLEGAL_ARGUMENT", "Request body is not valid JSON")
        if not isinstance(body, dict):
            return _error(400, "ILLEGAL_ARGUMENT", "Request body must be an object")
        author = str(body.get("author") or "")
        denied = self._author_denied(author)
        if denied:
            return denied
        problem = _shape_problem(body)
        if problem:
            return _unprocessable(problem)
        text = str(body.get("commentary") or "")
        shown = parse_little_text(text)
        counted = text if self.count_escaped else shown.text
        length = _length(counted, self.count_unit)
        if length > self.commentary_limit:
            return _unprocessable(
                f"/commentary :: length {length} exceeds the maximum of {self.commentary_limit}"
            )
        with self._state_lock:
            key = (author, text)
            existing = self._by_content.get(key)
            if self.detect_duplicates and existing is not None:
                # The real answer, as LinkedIn gives it (see the linkedin docs page).
                return Reply(
                    422,
                    {
                        "errorDetailType": "com.linkedin.common.error.BadRequest",
                        "message": "com.linkedin.content.common.exception."
                        f"BadRequestResponseException: Content is a duplicate of {existing}",
                        "errorDetails": {
                            "inputErrors": [
                                {
                                    "description": "Duplicate post is detected",
                                    "input": {},
                                    "code": "DUPLICATE_POST",
                                }
                            ]
                        },
                        "status": 422,
                    },
                )
            self._next_id += 1
            urn = f"urn:li:share:{self._next_id}"
            self._by_content[key] = urn
            self.posts.append(
                {
                    "urn": urn,
                    "author": author,
                    "commentary": text,
                    "shown": shown.text,
                    "cut": shown.cut,
                    "hashtags": shown.hashtags,
                    "body": body,
                    "version": request.headers.get("linkedin-version"),
                }
            )
        return Reply(201, b"", {"x-restli-id": urn, "x-linkedin-id": urn})

    def _author_denied(self, author: str) -> Reply | None:
        denied = _error(
            403,
            "ACCESS_DENIED",
            "Not enough permissions to access: partnerApiPostsExternal.CREATE.20261001",
            service=100,
        )
        if author.startswith("urn:li:person:"):
            if "w_member_social" not in self.scopes or author != f"urn:li:person:{self.member_id}":
                return denied
            return None
        if author.startswith("urn:li:organization:"):
            org = author.rsplit(":", 1)[-1]
            role = self.org_roles.get(org)
            if "w_organization_social" not in self.scopes or role not in {
                "ADMINISTRATOR",
                "CONTENT_ADMIN",
                "DIRECT_SPONSORED_CONTENT_POSTER",
            }:
                return denied
            return None
        return _unprocessable(f"/author :: {author!r} is not a valid author URN")


def _shape_problem(body: dict[str, Any]) -> str | None:
    if not isinstance(body.get("commentary"), str):
        return "/commentary :: field is required"
    if body.get("visibility") not in {"PUBLIC", "CONNECTIONS", "LOGGED_IN", "CONTAINER"}:
        return "/visibility :: invalid value"
    distribution = body.get("distribution")
    if not isinstance(distribution, dict) or distribution.get("feedDistribution") not in {
        "MAIN_FEED",
        "NONE",
    }:
        return "/distribution/feedDistribution :: field is required"
    if body.get("lifecycleState") != "PUBLISHED":
        return "/lifecycleState :: must be PUBLISHED"
    content = body.get("content")
    if content is not None:
        article = content.get("article") if isinstance(content, dict) else None
        if not isinstance(article, dict):
            return "/content :: unsupported content"
        if not str(article.get("source") or "").startswith(("http://", "https://")):
            return "/content/article/source :: must be a URL"
        if not article.get("title"):
            return "/content/article/title :: field is required"
    return None


def _error(status: int, code: str, message: str, *, service: int | None = None) -> Reply:
    body: dict[str, Any] = {"status": status, "code": code, "message": message}
    if service is not None:
        body["serviceErrorCode"] = service
    return Reply(status, body)


def _unprocessable(message: str) -> Reply:
    return Reply(
        422,
        {
            "errorDetailType": "com.linkedin.common.error.BadRequest",
            "message": f"ERROR :: {message}",
            "status": 422,
        },
    )

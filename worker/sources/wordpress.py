"""Read posts from a WordPress site through its REST API.

Three calls make a poll cheap: ``list_since`` and ``newest`` ask only for ids and
dates, and ``fetch`` then reads the few posts that are new, with their terms,
author and featured image embedded.  Nothing here composes text: HTML fields keep
WordPress's rendering, entities included.

Every failure is a ``SourceError`` whose message names the site, the URL (never
credentials) and what went wrong, so an operator can act on it without a log dive.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import httpx

from worker.errors import SourceError
from worker.models import FeaturedImage, SourcePost
from worker.settings import SiteSettings

logger = logging.getLogger(__name__)

API_REL = "https://api.w.org/"
# WordPress refuses per_page above 100 (400 rest_invalid_param).
MAX_PER_PAGE = 100
# What fetch() embeds: only what a SourcePost carries, to keep the answer small.
EMBED = "author,wp:featuredmedia,wp:term"
# A safety net against a server that keeps announcing more pages.
MAX_PAGES = 1000

_JSON_TYPE = re.compile(r"^application/([\w.+-]+\+)?json$")
_LINK_PART = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")
_REL_PARAM = re.compile(r"""rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))""", re.IGNORECASE)


@dataclass(frozen=True)
class PostStub:
    """What a cheap listing gives: enough to decide whether to fetch the post."""

    post_id: int
    date_gmt: datetime  # aware, UTC


class _Answer:
    """A response we have read, with the URL to name in messages."""

    def __init__(self, response: httpx.Response, shown_url: str) -> None:
        self.response = response
        self.shown_url = shown_url

    @property
    def media_type(self) -> str:
        content_type = str(self.response.headers.get("content-type", ""))
        return content_type.split(";")[0].strip().lower()

    @property
    def is_json(self) -> bool:
        return bool(_JSON_TYPE.match(self.media_type))

    def wp_error(self) -> tuple[str, str] | None:
        """WordPress's ``code`` and ``message`` when the body is its error JSON."""
        if not self.is_json:
            return None
        try:
            body = json.loads(self.response.content)
        except ValueError:
            return None
        if isinstance(body, dict) and isinstance(body.get("code"), str):
            return body["code"], str(body.get("message", ""))
        return None


class WordPressSource:
    """One WordPress site, read through the REST API.

    ``root`` arguments are what ``discover_root`` returned (callers store it per
    site): either ``http://host/wp-json/`` or a ``…?rest_route=/`` URL for sites
    on plain permalinks, where ``/wp-json/`` is not routed.
    """

    def __init__(
        self,
        name: str,
        settings: SiteSettings,
        http: httpx.Client,
        *,
        timeout: httpx.Timeout | float | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self._http = http
        # Explicit on every request so that a client built without one (httpx's
        # default is 5 s, but a caller may pass timeout=None) cannot hang a poll.
        self._timeout = httpx.Timeout(timeout) if timeout is not None else http.timeout
        if self._timeout.read is None or self._timeout.connect is None:
            self._timeout = httpx.Timeout(20.0)
        self._auth: httpx.BasicAuth | None = None
        self._secret = ""
        if settings.username and settings.app_password is not None:
            self._secret = settings.app_password.get_secret_value()
            self._auth = httpx.BasicAuth(settings.username, self._secret)

    # ------------------------------------------------------------------ discovery

    def discover_root(self) -> str:
        """Find the REST API root, in the form this site actually answers."""
        site = self.settings.url
        home = self._get(site, {})
        candidates: list[str] = []
        advertised = _api_link_from_headers(home.response.headers.get_list("link"))
        if advertised is None and "html" in home.media_type:
            advertised = _api_link_from_html(home.response.text)
        if advertised:
            # A relative href is legal in a Link header; resolve it as a browser would.
            candidates.append(urljoin(str(home.response.url), advertised))
        base = site.split("?", 1)[0].split("#", 1)[0].rstrip("/")
        for fallback in (f"{base}/wp-json/", f"{base}/?rest_route=/"):
            if fallback not in candidates:
                candidates.append(fallback)

        rejected: list[str] = []
        for root in candidates:
            # Ask only for the namespaces: the full index lists every route and
            # is hundreds of kilobytes; versions that ignore _fields send it all.
            answer = self._get(self._route_url(root, "/", {"_fields": "name,namespaces"}), {})
            reason = self._index_problem(answer)
            if reason is None:
                logger.debug("%s: REST API root is %s", self.name, root)
                return root
            rejected.append(f"{_safe_url(root)} {reason}")
        raise self._error(
            site,
            "not a WordPress REST API (no api.w.org link; " + "; ".join(rejected) + ")",
        )

    def _index_problem(self, answer: _Answer) -> str | None:
        """Why this answer is not the REST index, or None when it is."""
        status = answer.response.status_code
        if status != 200:
            error = answer.wp_error()
            return f"answered HTTP {status}" + (f" {error[0]}" if error else "")
        if not answer.is_json:
            return f"answered {answer.media_type or 'no content type'}, not JSON"
        try:
            body = json.loads(answer.response.content)
        except ValueError:
            return "answered invalid JSON"
        if not isinstance(body, dict) or not ("routes" in body or "namespaces" in body):
            return "answered JSON that is not the REST index"
        return None

    # ------------------------------------------------------------------ listings

    def list_since(self, root: str, after: datetime, per_page: int = 100) -> list[PostStub]:
        """Every published post dated after ``after``, oldest first.

        WordPress compares ``after`` strictly and to the second, on the post's
        publish date; a scheduled post keeps its scheduled date when it goes live,
        so callers should look back with an overlap and de-duplicate on the id.
        """
        per_page = _clamp_per_page(per_page)
        params = {
            "status": "publish",
            "after": _rfc3339_utc(after),
            "orderby": "date",
            "order": "asc",
            "per_page": str(per_page),
            "_fields": "id,date_gmt,status",
        }
        stubs = self._stubs(self._pages(root, params))
        return sorted(stubs, key=lambda s: (s.date_gmt, s.post_id))

    def newest(self, root: str, count: int) -> list[PostStub]:
        """The newest ``count`` published posts, oldest first (as ``list_since``)."""
        if count <= 0:
            return []
        params = {
            "status": "publish",
            "orderby": "date",
            "order": "desc",
            "per_page": str(min(count, MAX_PER_PAGE)),
            "_fields": "id,date_gmt,status",
        }
        stubs: list[PostStub] = []
        for stub in self._stubs(self._pages(root, params)):
            stubs.append(stub)
            if len(stubs) == count:
                break
        return sorted(stubs, key=lambda s: (s.date_gmt, s.post_id))

    def _stubs(self, items: Iterator[Any]) -> Iterator[PostStub]:
        seen: set[int] = set()
        for item in items:
            try:
                post_id = int(item["id"])
                status = item.get("status", "publish")
                date_gmt = _parse_gmt(item["date_gmt"])
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                logger.warning(
                    "%s: skipping a listed post of unexpected shape (%s)", self.name, exc
                )
                continue
            # Posts can shift between pages while we read; one stub per id.
            if status != "publish" or post_id in seen:
                continue
            seen.add(post_id)
            yield PostStub(post_id=post_id, date_gmt=date_gmt)

    def _pages(self, root: str, params: Mapping[str, str]) -> Iterator[Any]:
        """The items of every page of /wp/v2/posts for these parameters."""
        per_page = int(params.get("per_page", "10"))
        page = 1
        while page <= MAX_PAGES:
            url = self._route_url(root, "/wp/v2/posts", {**params, "page": str(page)})
            answer = self._get(url, {})
            error = answer.wp_error()
            if (
                page > 1
                and answer.response.status_code == 400
                and error is not None
                and error[0] == "rest_post_invalid_page_number"
            ):
                # Posts were deleted (or unpublished) while we paged: we are past the end.
                return
            body = self._json(answer)
            if not isinstance(body, list):
                raise self._error(answer.shown_url, "expected a list of posts, got other JSON")
            yield from body
            total_pages = _int_header(answer.response, "x-wp-totalpages")
            if total_pages is not None:
                if page >= total_pages:
                    return
            elif len(body) < per_page:
                # No paging headers (a proxy dropped them): a short page is the last.
                return
            if not body:
                return
            page += 1

    # ------------------------------------------------------------------ full posts

    def fetch(self, root: str, post_ids: Sequence[int]) -> list[SourcePost]:
        """The published posts among ``post_ids``, in the order asked for.

        Posts that are not (or no longer) published, are password-protected or
        have an unexpected shape are left out and logged.
        """
        wanted = list(dict.fromkeys(int(i) for i in post_ids))
        found: dict[int, SourcePost] = {}
        for start in range(0, len(wanted), MAX_PER_PAGE):
            chunk = wanted[start : start + MAX_PER_PAGE]
            params = {
                "include": ",".join(str(i) for i in chunk),
                "per_page": str(len(chunk)),
                "status": "publish",
                "_embed": EMBED,
            }
            for item in self._pages(root, params):
                post = self._normalise(item)
                if post is not None and post.post_id in chunk:
                    found[post.post_id] = post
        missing = [i for i in wanted if i not in found]
        if missing:
            logger.info(
                "%s: posts not returned as published (draft, scheduled, trashed, deleted "
                "or skipped): %s",
                self.name,
                missing,
            )
        return [found[i] for i in wanted if i in found]

    def find_by_slug(self, root: str, slug: str) -> SourcePost | None:
        """The published post with this slug (the last part of a pretty permalink)."""
        params = {"slug": slug, "status": "publish", "per_page": "1", "_embed": EMBED}
        for item in self._pages(root, params):
            post = self._normalise(item)
            if post is not None:
                return post
        return None

    def _normalise(self, item: Any) -> SourcePost | None:
        post_id = item.get("id") if isinstance(item, dict) else None
        try:
            if not isinstance(item, dict):
                raise TypeError("not an object")
            status = item.get("status")
            if status != "publish":
                logger.info("%s: skipping post %s: status %r", self.name, post_id, status)
                return None
            content = _obj(item, "content")
            if content.get("protected") is True:
                logger.info("%s: skipping post %s: password-protected", self.name, post_id)
                return None
            embedded = item.get("_embedded")
            embedded = embedded if isinstance(embedded, dict) else {}
            tags, categories = _term_names(embedded.get("wp:term"))
            meta = item.get("meta")
            return SourcePost(
                site=self.name,
                post_id=int(item["id"]),
                link=_str(item, "link"),
                title_html=_str(_obj(item, "title"), "rendered"),
                excerpt_html=_str(_obj(item, "excerpt"), "rendered"),
                content_html=_str(content, "rendered"),
                date_gmt=_parse_gmt(item["date_gmt"]),
                modified_gmt=_parse_gmt(item.get("modified_gmt") or item["date_gmt"]),
                tags=tags,
                categories=categories,
                author=_author_name(embedded.get("author")),
                featured_image=_featured_image(embedded.get("wp:featuredmedia")),
                # Stock WordPress answers [] when no meta is registered.
                meta=dict(meta) if isinstance(meta, dict) else {},
            )
        except (KeyError, TypeError, ValueError) as exc:
            logger.warning(
                "%s: skipping post %s: unexpected shape (%s: %s)",
                self.name,
                post_id,
                type(exc).__name__,
                exc,
            )
            return None

    # ------------------------------------------------------------------ HTTP

    def _route_url(self, root: str, route: str, params: Mapping[str, str]) -> str:
        """The URL of ``route`` under ``root``, in whichever form the root uses."""
        url = httpx.URL(root)
        if "rest_route" in url.params:
            # Normally "/", but keep any prefix the root carries, as /wp-json/ would.
            base = url.params["rest_route"].rstrip("/")
            url = url.copy_set_param("rest_route", base + "/" + route.lstrip("/"))
        else:
            path = url.path if url.path.endswith("/") else url.path + "/"
            url = url.copy_with(path=path + route.lstrip("/"))
        return str(url.copy_merge_params(dict(params)))

    def _get(self, url: str, params: Mapping[str, str]) -> _Answer:
        shown = _safe_url(url)
        try:
            response = self._http.get(
                url,
                params=dict(params) or None,
                auth=self._auth if self._auth is not None else httpx.USE_CLIENT_DEFAULT,
                timeout=self._timeout,
                headers={"Accept": "application/json, text/html;q=0.5"},
                follow_redirects=True,
            )
        except httpx.TimeoutException as exc:
            raise self._error(shown, f"timed out ({type(exc).__name__})") from None
        except httpx.ConnectError as exc:
            raise self._error(shown, f"cannot connect ({exc})") from None
        except httpx.TooManyRedirects:
            raise self._error(shown, "too many redirects") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self._error(shown, f"request failed ({type(exc).__name__}: {exc})") from None
        return _Answer(response, _safe_url(str(response.url)))

    def _json(self, answer: _Answer) -> Any:
        """The JSON body of a successful answer, or a SourceError saying why not."""
        status = answer.response.status_code
        if status >= 400:
            error = answer.wp_error()
            detail = f"HTTP {status}"
            if error is not None:
                detail += f": {error[0]}: {error[1]}"
            elif not answer.is_json:
                detail += f" ({answer.media_type or 'no content type'})"
            raise self._error(answer.shown_url, detail)
        if not answer.is_json:
            raise self._error(
                answer.shown_url,
                f"not a WordPress REST API (answered {answer.media_type or 'no content type'} "
                "where JSON was expected)",
            )
        try:
            return json.loads(answer.response.content)
        except ValueError as exc:
            raise self._error(answer.shown_url, f"invalid JSON ({exc})") from None

    def _error(self, url: str, problem: str) -> SourceError:
        message = f"site {self.name!r}: {problem} [{_safe_url(url)}]"
        # Belt and braces: nothing we format should hold the secret, but an
        # exception text from below could echo a header back.
        if self._secret:
            message = message.replace(self._secret, "***")
        return SourceError(message)


# ---------------------------------------------------------------------- helpers


def _safe_url(url: str) -> str:
    """The URL without any user:password part."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "<invalid URL>"
    if parsed.userinfo:
        parsed = parsed.copy_with(username=None, password=None)
    return str(parsed)


def _rfc3339_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        # A naive value would be read as site-local time by WordPress: refuse it
        # rather than silently shift the window by the site's offset.
        raise ValueError("after must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_gmt(value: Any) -> datetime:
    """WordPress's ``*_gmt`` fields are UTC without an offset: attach UTC."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"no GMT date ({value!r})")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _clamp_per_page(per_page: int) -> int:
    return max(1, min(int(per_page), MAX_PER_PAGE))


def _int_header(response: httpx.Response, name: str) -> int | None:
    try:
        return int(response.headers[name])
    except (KeyError, ValueError):
        return None


def _obj(item: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = item.get(key)
    if not isinstance(value, dict):
        raise TypeError(f"{key} is not an object")
    return value


def _str(item: Mapping[str, Any], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise TypeError(f"{key} is not a string")
    return value


def _is_error(value: Any) -> bool:
    """An embedded item WordPress could not give (e.g. a private image) is an error object."""
    return isinstance(value, dict) and "code" in value and "data" in value


def _term_names(groups: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Tag and category names; groups come one per taxonomy, so pick by ``taxonomy``."""
    tags: list[str] = []
    categories: list[str] = []
    for group in groups if isinstance(groups, list) else []:
        for term in group if isinstance(group, list) else []:
            if not isinstance(term, dict) or _is_error(term):
                continue
            name = term.get("name")
            if not isinstance(name, str):
                continue
            # Names are stored HTML-escaped (a tag "Q&A" reads "Q&amp;A"); they are
            # plain labels, not HTML, so hand them on as text.
            text = html.unescape(name)
            if term.get("taxonomy") == "post_tag":
                tags.append(text)
            elif term.get("taxonomy") == "category":
                categories.append(text)
    return tuple(tags), tuple(categories)


def _author_name(authors: Any) -> str:
    if isinstance(authors, list) and authors:
        first = authors[0]
        if isinstance(first, dict) and not _is_error(first) and isinstance(first.get("name"), str):
            return html.unescape(first["name"])
    return ""


def _featured_image(media: Any) -> FeaturedImage | None:
    if not isinstance(media, list) or not media:
        return None
    first = media[0]
    if not isinstance(first, dict) or _is_error(first):
        return None
    url = first.get("source_url")
    if not isinstance(url, str) or not url:
        return None
    alt = first.get("alt_text")
    mime = first.get("mime_type")
    return FeaturedImage(
        url=url,
        alt=alt if isinstance(alt, str) else "",
        mime_type=mime if isinstance(mime, str) else "",
    )


def _api_link_from_headers(values: Sequence[str]) -> str | None:
    """The target of ``Link: <…>; rel="https://api.w.org/"``, if any."""
    for value in values:
        for target, attributes in _LINK_PART.findall(value):
            for quoted, bare in _REL_PARAM.findall(attributes):
                if API_REL in (quoted or bare).split():
                    return str(target).strip()
    return None


class _ApiLinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "link" or self.href is not None:
            return
        values = dict(attrs)
        if API_REL in (values.get("rel") or "").split() and values.get("href"):
            self.href = values["href"]


def _api_link_from_html(text: str) -> str | None:
    parser = _ApiLinkParser()
    try:
        parser.feed(text)
        parser.close()
    except Exception:  # a broken page is simply one without the link
        return parser.href
    return parser.href

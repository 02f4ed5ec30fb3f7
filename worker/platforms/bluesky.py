"""Bluesky (AT Protocol): posts written straight into the account's repository.

Facts the code below relies on, checked against the real reference PDS
(``tests/harness/bluesky``; see ``docs/platforms.md`` section 3):

* Login is ``createSession`` with an app password, rate limited (30 per
  5 minutes per account): the session is cached here and shared by every
  publisher thread.  An expired access token answers **400** ``ExpiredToken``;
  ``refreshSession`` with the refresh token gives a new pair (rotation).
* A post is written with ``putRecord`` under a record key we chose (a TID
  fixed when the delivery was created) and ``swapRecord: null``, which means
  "create only if absent".  An identical repeat answers 200 with the same CID,
  so resending after an ambiguous outcome cannot make a second post; different
  content on our key answers 400 ``InvalidSwap``: a previous attempt already
  posted there, so that is a duplicate, not a failure.
* ``createdAt`` is part of the record: it comes from the delivery, never from
  the clock, or a repeat would differ and be refused as ``InvalidSwap``.
* Facet offsets are UTF-8 byte offsets; the composer computes them.
* The server does not build link cards: we fetch the image (``images.py``) and
  upload it as the card's thumb (at most 1,000,000 bytes, ``image/*``).
"""

from __future__ import annotations

import email.utils
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

import httpx
from pydantic import SecretStr

from worker.accounts import AccountSettings
from worker.compose.length import BLUESKY, LengthRule
from worker.errors import (
    AmbiguousError,
    AuthError,
    DuplicateError,
    PublishError,
    RateLimitedError,
    RejectedError,
    TransientError,
)
from worker.models import (
    Card,
    CheckResult,
    ComposedMessage,
    DeliveryRef,
    Facet,
    PublishResult,
    SourcePost,
)
from worker.platforms.base import Adapter, PlatformFacts
from worker.platforms.images import ImageUnavailable, fetch_image
from worker.platforms.tid import is_tid, next_tid

log = logging.getLogger(__name__)

POST_COLLECTION = "app.bsky.feed.post"
# Lexicon app.bsky.embed.external#external.thumb; the download stops right
# past it, since a bigger image could not be used anyway.
THUMB_MAX_BYTES = 1_000_000
THUMB_DOWNLOAD_TIMEOUT = 10.0  # seconds for the whole download

# Answers that mean "this access token is no good, but the account may be".
_TOKEN_ERRORS = frozenset({"ExpiredToken", "InvalidToken"})
# Answers that mean a person has to do something about the account.
_ACCOUNT_ERRORS = frozenset(
    {"AuthenticationRequired", "AuthMissing", "AccountTakedown", "AccountDeactivated"}
)


class BlueskySettings(AccountSettings):
    network: Literal["bluesky"] = "bluesky"
    identifier: str
    """Handle (``alice.bsky.social``) or DID."""
    app_password: SecretStr
    pds_url: str = "https://bsky.social"
    link_card: bool = True


@dataclass(frozen=True)
class _Session:
    """A logged-in session; the tokens are kept out of ``repr`` on purpose."""

    did: str
    handle: str
    access_jwt: str = field(repr=False)
    refresh_jwt: str = field(repr=False)

    @classmethod
    def from_answer(cls, body: Any) -> _Session:
        if not isinstance(body, dict):
            raise TransientError("Bluesky: session answer is not a JSON object")
        try:
            return cls(
                did=str(body["did"]),
                handle=str(body.get("handle") or ""),
                access_jwt=str(body["accessJwt"]),
                refresh_jwt=str(body["refreshJwt"]),
            )
        except KeyError as exc:
            raise TransientError(f"Bluesky: session answer lacks {exc.args[0]!r}") from None


@dataclass(frozen=True)
class _Answer:
    """An XRPC error answer, read without trusting the body to be JSON."""

    status: int
    error: str
    message: str

    @classmethod
    def read(cls, res: httpx.Response) -> _Answer:
        error = message = ""
        try:
            body = res.json()
        except ValueError:  # a proxy's HTML page, an empty body, …
            body = None
        if isinstance(body, dict):
            error = str(body.get("error") or "")
            message = str(body.get("message") or "")
        elif res.content:
            # Keep a short, single-line taste of whatever came back.
            message = " ".join(res.text[:200].split())
        return cls(res.status_code, error, message)

    def describe(self) -> str:
        parts = [f"HTTP {self.status}"]
        if self.error:
            parts.append(self.error)
        if self.message:
            parts.append(self.message)
        return ": ".join(parts)


def format_created_at(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds and ``Z``: ``2025-01-01T12:00:00.000Z``.

    A naive datetime is taken as UTC (the store keeps UTC).  The output depends
    only on ``moment``, so every attempt of a delivery writes the same record.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def facet_json(facet: Facet) -> dict[str, Any] | None:
    """One ``app.bsky.richtext.facet``; ``None`` for a kind Bluesky cannot show."""
    feature: dict[str, str]
    if facet.kind == "link":
        feature = {"$type": "app.bsky.richtext.facet#link", "uri": facet.value}
    elif facet.kind == "tag":
        feature = {"$type": "app.bsky.richtext.facet#tag", "tag": facet.value.lstrip("#")}
    else:
        return None
    return {
        "index": {"byteStart": facet.byte_start, "byteEnd": facet.byte_end},
        "features": [feature],
    }


def retry_at_from(res: httpx.Response, now: datetime | None = None) -> datetime | None:
    """When a 429 says we may go on: ``Retry-After`` (seconds or a date), else
    ``RateLimit-Reset`` (epoch seconds), else unknown."""
    now = now or datetime.now(UTC)
    retry_after = res.headers.get("retry-after", "").strip()
    if retry_after:
        if retry_after.isdigit():
            return now + timedelta(seconds=int(retry_after))
        try:
            when = email.utils.parsedate_to_datetime(retry_after)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return when if when.tzinfo else when.replace(tzinfo=UTC)
    reset = res.headers.get("ratelimit-reset", "").strip()
    if reset:
        try:
            return datetime.fromtimestamp(float(reset), UTC)
        except (ValueError, OverflowError, OSError):
            return None
    return None


class BlueskyAdapter(Adapter):
    facts: ClassVar[PlatformFacts] = PlatformFacts(
        network="bluesky",
        title="Bluesky",
        text_limit=300,
        counting="300 graphemes and 3000 UTF-8 bytes; links count in full",
        link_card=True,
        images=True,
        idempotent=True,
        facets=True,
    )
    settings_model: ClassVar[type[AccountSettings]] = BlueskySettings

    settings: BlueskySettings

    def setup(self) -> None:
        self._session: _Session | None = None
        # Held while logging in or refreshing, so that threads which all meet an
        # expired token at once cause one refresh, not one each.
        self._session_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"BlueskyAdapter(name={self.name!r}, identifier={self.settings.identifier!r})"

    # ------------------------------------------------------------------ identity
    @classmethod
    def new_idempotency_key(cls) -> str:
        """A TID: the post's record key, fixed before the first attempt."""
        return next_tid()

    def length_rule(self, post: SourcePost | None = None) -> LengthRule:
        return BLUESKY

    def secrets(self) -> list[str]:
        found = super().secrets()
        session = self._session
        if session is not None:
            found += [session.access_jwt, session.refresh_jwt]
        return found

    # ------------------------------------------------------------------ publishing
    def publish(self, message: ComposedMessage, delivery: DeliveryRef) -> PublishResult:
        rkey = delivery.idempotency_key
        if not is_tid(rkey):
            # Without a TID key the write is neither accepted nor idempotent.
            raise RejectedError(f"Bluesky: delivery key {rkey!r} is not a TID record key")

        record: dict[str, Any] = {
            "$type": POST_COLLECTION,
            "text": message.text,
            "createdAt": format_created_at(delivery.created_at),
        }
        facets = [f for f in (facet_json(facet) for facet in message.facets) if f is not None]
        if facets:
            record["facets"] = facets
        if message.card is not None and self.settings.link_card:
            record["embed"] = self._card_embed(message.card)

        def write(session: _Session) -> httpx.Response:
            body = {
                "repo": session.did,
                "collection": POST_COLLECTION,
                "rkey": rkey,
                "record": record,
                "swapRecord": None,  # create only if absent: see the module docstring
            }
            return self._send(session, "POST", "com.atproto.repo.putRecord", json=body)

        res, session = self._authed(write)
        uri = f"at://{session.did}/{POST_COLLECTION}/{rkey}"
        url = self._post_url(session, rkey)
        if res.status_code == 200:
            answered = self._json_object(res).get("uri")
            return PublishResult(remote_id=str(answered or uri), remote_url=url)
        answer = _Answer.read(res)
        if answer.status == 400 and answer.error == "InvalidSwap":
            # Something already sits at a key only this delivery uses: an
            # earlier attempt got through (perhaps with a thumb this one lacks).
            raise DuplicateError(
                self.redact(f"Bluesky already has this post ({answer.describe()})"),
                remote_id=uri,
                remote_url=url,
            )
        raise self._error(answer, res, write=True)

    def _card_embed(self, card: Card) -> dict[str, Any]:
        external: dict[str, Any] = {
            "uri": card.url,
            "title": card.title,
            "description": card.description,
        }
        if card.image_url:
            thumb = self._thumb(card.image_url)
            if thumb is not None:
                external["thumb"] = thumb
        return {"$type": "app.bsky.embed.external", "external": external}

    def _thumb(self, image_url: str) -> dict[str, Any] | None:
        """The uploaded blob for a card image, or ``None`` (logged) when it cannot be had.

        A missing thumb never stops the post: the card still links the article.
        """
        try:
            image = fetch_image(
                self.http, image_url, max_bytes=THUMB_MAX_BYTES, timeout=THUMB_DOWNLOAD_TIMEOUT
            )
        except ImageUnavailable as exc:
            log.info("Bluesky card image %s not used: %s", image_url, exc.reason)
            return None

        def upload(session: _Session) -> httpx.Response:
            return self._send(
                session,
                "POST",
                "com.atproto.repo.uploadBlob",
                content=image.data,
                headers={"Content-Type": image.mime_type},
            )

        try:
            res, _ = self._authed(upload)
        except (TransientError, AmbiguousError) as exc:
            log.warning("Bluesky card thumb for %s not uploaded: %s", image_url, exc)
            return None
        if res.status_code != 200:
            error = self._error(_Answer.read(res), res, write=False)
            if isinstance(error, (AuthError, RateLimitedError)):
                raise error  # the post itself would meet the same answer
            log.warning("Bluesky card thumb for %s not uploaded: %s", image_url, error)
            return None
        blob = self._json_object(res).get("blob")
        if not isinstance(blob, dict):
            log.warning("Bluesky card thumb for %s: upload answer has no blob", image_url)
            return None
        return blob  # as-is: the record must carry exactly what the PDS gave

    # ------------------------------------------------------------------ checking
    def check(self) -> CheckResult:
        pds = self.settings.pds_url

        def get_session(session: _Session) -> httpx.Response:
            return self._send(session, "GET", "com.atproto.server.getSession")

        try:
            res, session = self._authed(get_session)
            if res.status_code != 200:
                raise self._error(_Answer.read(res), res, write=False)
        except PublishError as exc:
            return CheckResult(ok=False, detail=self.redact(f"{exc.message} (on {pds})"))
        body = self._json_object(res)
        handle = str(body.get("handle") or session.handle)
        did = str(body.get("did") or session.did)
        return CheckResult(ok=True, detail=f"logged in as {handle} ({did}) on {pds}")

    # ------------------------------------------------------------------ session
    def _authed(
        self, call: Callable[[_Session], httpx.Response]
    ) -> tuple[httpx.Response, _Session]:
        """Run ``call(session)``; on a rejected token renew the session and run it once more.

        Safe for writes: ``ExpiredToken``/``InvalidToken`` come from the auth
        check, before the PDS touches the repository.
        """
        session = self._current_session()
        res = call(session)
        if not self._token_refused(res):
            return res, session
        session = self._renew(session)
        res = call(session)
        if self._token_refused(res):
            answer = _Answer.read(res)
            raise AuthError(
                self.redact(f"Bluesky refused a fresh session token ({answer.describe()})")
            )
        return res, session

    @staticmethod
    def _token_refused(res: httpx.Response) -> bool:
        return res.status_code in (400, 401) and _Answer.read(res).error in _TOKEN_ERRORS

    def _current_session(self) -> _Session:
        session = self._session
        if session is not None:
            return session
        with self._session_lock:
            if self._session is None:  # another thread may have logged in meanwhile
                self._session = self._login()
            return self._session

    def _renew(self, stale: _Session) -> _Session:
        """A session newer than ``stale``: refreshed, or logged in again if refresh fails."""
        with self._session_lock:
            current = self._session
            if current is not None and current is not stale:
                return current  # another thread already renewed it
            try:
                session = self._refresh(stale)
            except AuthError as exc:
                log.info("Bluesky %s: refresh refused (%s); logging in again", self.name, exc)
                session = self._login()
            self._session = session
            return session

    def _login(self) -> _Session:
        res = self.request(
            "POST",
            self._xrpc("com.atproto.server.createSession"),
            json={
                "identifier": self.settings.identifier,
                "password": self.settings.app_password.get_secret_value(),
            },
        )
        if res.status_code != 200:
            answer = _Answer.read(res)
            error = self._error(answer, res, write=False)
            if isinstance(error, AuthError):
                raise AuthError(
                    self.redact(
                        f"Bluesky login as {self.settings.identifier} failed ({answer.describe()})"
                    )
                )
            raise error
        session = _Session.from_answer(self._json_object(res))
        log.info("Bluesky %s: logged in as %s (%s)", self.name, session.handle, session.did)
        return session

    def _refresh(self, stale: _Session) -> _Session:
        res = self.request(
            "POST",
            self._xrpc("com.atproto.server.refreshSession"),
            headers={"Authorization": f"Bearer {stale.refresh_jwt}"},
        )
        if res.status_code != 200:
            answer = _Answer.read(res)
            if answer.error in _TOKEN_ERRORS or answer.status == 401:
                raise AuthError(self.redact(f"Bluesky refresh refused ({answer.describe()})"))
            raise self._error(answer, res, write=False)
        body = self._json_object(res)
        # refreshSession may omit fields createSession gave; keep what we knew.
        body.setdefault("did", stale.did)
        body.setdefault("handle", stale.handle)
        return _Session.from_answer(body)

    # ------------------------------------------------------------------ plumbing
    def _xrpc(self, nsid: str) -> str:
        return f"{self.settings.pds_url.rstrip('/')}/xrpc/{nsid}"

    def _send(self, session: _Session, method: str, nsid: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        headers["Authorization"] = f"Bearer {session.access_jwt}"
        return self.request(method, self._xrpc(nsid), headers=headers, **kwargs)

    @staticmethod
    def _post_url(session: _Session, rkey: str) -> str:
        # "handle.invalid" is what the network says when a handle fails verification.
        who = (
            session.handle if session.handle and session.handle != "handle.invalid" else session.did
        )
        return f"https://bsky.app/profile/{who}/post/{rkey}"

    @staticmethod
    def _json_object(res: httpx.Response) -> dict[str, Any]:
        try:
            body = res.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def _error(self, answer: _Answer, res: httpx.Response, *, write: bool) -> PublishError:
        """The failure kind for an answer that is not a success.

        ``write`` says whether the request could have changed the repository:
        a 5xx then leaves us not knowing (ambiguous; resending our put is safe),
        while for a read or a login it only means "try again later".
        """
        text = self.redact(f"Bluesky: {answer.describe()}")
        status = answer.status
        if status == 429:
            return RateLimitedError(text, retry_at=retry_at_from(res))
        if answer.error in _TOKEN_ERRORS or answer.error in _ACCOUNT_ERRORS:
            return AuthError(text)
        if status in (401, 403):
            return AuthError(text)
        if status == 408:
            return TransientError(text)
        if status == 501:
            return RejectedError(text)  # the server does not do this at all
        if status >= 500:
            return AmbiguousError(text) if write else TransientError(text)
        if 400 <= status < 500:
            return RejectedError(text)
        # 1xx/3xx where a JSON answer was expected: nothing we can act on now.
        return AmbiguousError(text) if write else TransientError(text)

"""Mastodon: one status per delivery, through ``POST /api/v1/statuses``.

Mastodon remembers ``(account, Idempotency-Key)`` for an hour and answers a
repeat with the status it already created, so every attempt of a delivery
sends the delivery's fixed key and any unclear outcome (timeout, 5xx) can be
retried without risking a second copy.

The length limit is per instance (forks raise it), so it is read from the
instance once per adapter and cached, with the instance's image size limit.

With ``attach_image`` on, the post's featured image goes along: it is fetched
(``images.py``), uploaded with ``POST /api/v2/media`` (the alt text as its
description), waited for while the instance processes it, and its id sent in
``media_ids``.  The media id is remembered for the delivery as soon as the
instance gives it, so a later attempt attaches the same upload instead of
uploading again (Mastodon keeps unattached media for about a day); together
with the Idempotency-Key that makes one status with one image.  An image that
cannot be had, or that the instance refuses, never stops the post: it goes
out without it and the reason is logged.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

import httpx
import regex
from pydantic import ConfigDict, SecretStr, field_validator

from worker.accounts import AccountSettings
from worker.compose.length import MASTODON_DEFAULT, GraphemeRule, LengthRule
from worker.compose.text import html_to_text
from worker.errors import (
    AmbiguousError,
    AuthError,
    PublishError,
    RateLimitedError,
    RejectedError,
    TransientError,
)
from worker.models import (
    CheckResult,
    ComposedMessage,
    DeliveryRef,
    FeaturedImage,
    PublishResult,
    SourcePost,
)
from worker.platforms.base import Adapter, PlatformFacts
from worker.platforms.images import FetchedImage, ImageUnavailable, fetch_image

log = logging.getLogger(__name__)

MEDIA_KEY = "media_id"  # in the delivery's state: the uploaded image, once known
IMAGE_SIZE_LIMIT = 16 * 1024 * 1024  # the documented default, when the instance does not say
IMAGE_FETCH_TIMEOUT = 30.0  # seconds for the whole download from the site
DESCRIPTION_LIMIT = 1500  # MediaAttachment::MAX_DESCRIPTION_LENGTH
# Attempts that wait for an image the instance is still processing; later
# ones post without it, so a stuck processing queue cannot hold the post back.
MEDIA_PATIENT_ATTEMPTS = 3
_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
}

MediaState = Literal["ready", "processing", "gone", "failed"]
_GRAPHEME = regex.compile(r"\X")


class MastodonSettings(AccountSettings):
    # Validation errors must not echo the token back.
    model_config = ConfigDict(hide_input_in_errors=True)

    network: Literal["mastodon"] = "mastodon"
    base_url: str  # the instance's origin, e.g. https://mastodon.social
    access_token: SecretStr
    visibility: Literal["public", "unlisted", "private", "direct"] = "public"
    language: str | None = None  # ISO 639-1; None lets the server guess
    # Upload the post's featured image with the status (needs write:media).
    attach_image: bool = False

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
        images=True,  # the featured image, with ``attach_image``
        idempotent=True,
    )
    settings_model: ClassVar[type[AccountSettings]] = MastodonSettings

    settings: MastodonSettings

    # How long one attempt waits for the instance to process an uploaded image,
    # and how often it asks; short, since the delivery's lease is running.
    media_wait_seconds: float = 15.0
    media_poll_seconds: float = 1.0

    def setup(self) -> None:
        self._rule: GraphemeRule | None = None
        self._image_size_limit: int | None = None
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
                found = self._read_instance()
                if found is None:
                    # Not cached: the next message asks the instance again.
                    log.warning(
                        "mastodon account %s: could not read the limits of %s; using %d",
                        self.name,
                        self._instance,
                        MASTODON_DEFAULT.limit,
                    )
                    return MASTODON_DEFAULT
                self._rule, self._image_size_limit = found
            return self._rule

    def image_size_limit(self) -> int:
        """The largest image the instance takes, in bytes."""
        self.length_rule()  # reads the instance once, its media limits included
        return self._image_size_limit or IMAGE_SIZE_LIMIT

    def _read_instance(self) -> tuple[GraphemeRule, int | None] | None:
        for path in ("/api/v2/instance", "/api/v1/instance"):
            try:
                response = self.request("GET", self._url(path), headers=self._auth())
            except PublishError:
                continue
            if response.status_code != 200:
                continue
            data = _json_or_none(response)
            rule = _rule_from_instance(data)
            if rule is not None:
                return rule, _image_size_limit_from_instance(data)
        return None

    # ------------------------------------------------------------------ publish
    def publish(self, message: ComposedMessage, delivery: DeliveryRef) -> PublishResult:
        media_ids = self._attachments(message, delivery)
        body: dict[str, Any] = {"status": message.text, "visibility": self.settings.visibility}
        if self.settings.language:
            body["language"] = self.settings.language
        if media_ids:
            body["media_ids"] = media_ids
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

    # ------------------------------------------------------------------ image
    def _attachments(self, message: ComposedMessage, delivery: DeliveryRef) -> list[str]:
        """The media ids to send with the status: the featured image, or none."""
        image = delivery.post.featured_image
        if not self.settings.attach_image or image is None or not image.url:
            return []
        remembered = delivery.state.get(MEDIA_KEY)
        if isinstance(remembered, str) and remembered:
            return self._earlier_upload(remembered, delivery)
        uploaded = self._upload(image, self._description(image, message, delivery.post))
        if uploaded is None:
            return []
        media_id, ready = uploaded
        # Durably, before anything else is sent: a later attempt reuses it.
        delivery.remember(MEDIA_KEY, media_id)
        if ready:
            return [media_id]
        return self._when_processed(media_id, delivery, self._wait_for(media_id))

    def _earlier_upload(self, media_id: str, delivery: DeliveryRef) -> list[str]:
        state = self._media_state(media_id)
        if state == "gone":
            # Only unattached media can be read, so an earlier attempt most
            # likely made the status with it and lost the answer.  Sending the
            # id again with the same Idempotency-Key returns that status (the
            # key is checked before the media).  After the key's hour, recent
            # versions refuse an attached id; older ones ignored unknown ids.
            log.info(
                "mastodon account %s: media %s of delivery %s is no longer unattached; "
                "relying on the Idempotency-Key",
                self.name,
                media_id,
                delivery.delivery_id,
            )
            return [media_id]
        if state == "processing":
            state = self._wait_for(media_id)
        return self._when_processed(media_id, delivery, state)

    def _when_processed(self, media_id: str, delivery: DeliveryRef, state: MediaState) -> list[str]:
        if state == "ready":
            return [media_id]
        if state == "processing":
            if delivery.attempt < MEDIA_PATIENT_ATTEMPTS:
                raise TransientError(
                    f"{self._instance} is still processing the image (media {media_id}) after "
                    f"{self.media_wait_seconds:g} s; a later attempt attaches it"
                )
            reason = f"still processing after {delivery.attempt} attempts"
        elif state == "failed":
            reason = "the instance could not process it"
        else:
            reason = "the instance no longer has it"
        log.warning(
            "mastodon account %s: posting delivery %s without its image (media %s): %s",
            self.name,
            delivery.delivery_id,
            media_id,
            reason,
        )
        return []

    def _upload(self, image: FeaturedImage, description: str) -> tuple[str, bool] | None:
        """Fetch and upload the image: ``(media id, processed)``, or ``None``
        (logged) when there is no usable image; raises for an account problem."""
        try:
            fetched = fetch_image(
                self.http,
                image.url,
                max_bytes=self.image_size_limit(),
                timeout=IMAGE_FETCH_TIMEOUT,
            )
        except ImageUnavailable as exc:
            log.warning(
                "mastodon account %s: image %s not attached: %s", self.name, image.url, exc.reason
            )
            return None
        try:
            response = self.request(
                "POST",
                self._url("/api/v2/media"),
                headers=self._auth(),
                files={"file": (_filename(fetched), fetched.data, fetched.mime_type)},
                data={"description": description},
                follow_redirects=False,
            )
        except AmbiguousError as exc:
            # No status was made; an upload we never heard of stays unattached
            # and the instance deletes it.
            raise TransientError(f"{exc.message} (uploading the image)") from None
        if response.status_code in (200, 202):
            data = _json_or_none(response)
            media_id = data.get("id") if isinstance(data, dict) else None
            if not media_id:
                raise TransientError(f"{self._instance} answered the upload without a media id")
            # 202: accepted, still processing (``url`` is null until it is done).
            return str(media_id), response.status_code == 200
        refused = self._media_error(response, action="upload the image")
        log.warning("mastodon account %s: image %s not attached: %s", self.name, image.url, refused)
        return None

    def _wait_for(self, media_id: str) -> MediaState:
        """Ask about the media until it is no longer processing or the wait is over."""
        deadline = time.monotonic() + self.media_wait_seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "processing"
            time.sleep(min(self.media_poll_seconds, left))
            state = self._media_state(media_id)
            if state != "processing":
                return state

    def _media_state(self, media_id: str) -> MediaState:
        try:
            response = self.request(
                "GET", self._url(f"/api/v1/media/{media_id}"), headers=self._auth()
            )
        except AmbiguousError as exc:
            raise TransientError(exc.message) from None  # a read: nothing was changed
        status = response.status_code
        if status == 200:
            return "ready"
        if status == 206:
            return "processing"
        if status == 404:
            return "gone"
        reason = self._media_error(response, action="read the image's processing state")
        log.info("mastodon account %s: media %s: %s", self.name, media_id, reason)
        return "failed"

    def _media_error(self, response: httpx.Response, *, action: str) -> str:
        """Raise for answers that would stop the status too (token, scope, rate
        limit, a server in trouble); anything else is about this image, and
        its description is returned so that the post goes without it."""
        error = self._error(response, action=action)
        if isinstance(error, AuthError) and response.status_code == 403:
            raise AuthError(f"{error.message}; attaching images needs the write:media scope")
        if isinstance(error, (AuthError, RateLimitedError)):
            raise error
        if response.status_code >= 500:
            # Transient, not ambiguous: the status has not been sent yet.
            raise TransientError(error.message)
        return error.message

    @staticmethod
    def _description(image: FeaturedImage, message: ComposedMessage, post: SourcePost) -> str:
        """The alt text; the post's title when the image has none."""
        text = " ".join(image.alt.split()) or message.title
        text = text or html_to_text(post.title_html, paragraphs=False)
        return _graphemes_prefix(text, DESCRIPTION_LIMIT)

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


def _filename(image: FetchedImage) -> str:
    # The instance keeps the name; the URL's own may be long or odd.
    return "image" + _EXTENSIONS.get(image.mime_type, "")


def _graphemes_prefix(text: str, limit: int) -> str:
    """At most ``limit`` code points (Ruby's ``length``), never ending inside
    a grapheme cluster."""
    if len(text) <= limit:
        return text
    kept = 0
    for cluster in _GRAPHEME.findall(text):
        if kept + len(cluster) > limit:
            break
        kept += len(cluster)
    return text[:kept].rstrip()


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


def _image_size_limit_from_instance(data: Any) -> int | None:
    """``configuration.media_attachments.image_size_limit`` (v2, and v1 since 3.4)."""
    configuration = data.get("configuration") if isinstance(data, dict) else None
    media = configuration.get("media_attachments") if isinstance(configuration, dict) else None
    return _positive_int(media.get("image_size_limit")) if isinstance(media, dict) else None

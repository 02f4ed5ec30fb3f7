"""Facebook Pages: one Page post per delivery, through the Graph API.

A link post is ``POST /{ver}/{page-id}/feed`` with ``message`` and ``link``
(Facebook builds the card itself from the link's Open Graph tags).  With
``share_image`` and a featured image it is a photo post instead,
``POST /{ver}/{page-id}/photos`` with ``url`` and the text, which carries the
link, in ``message`` (a photo post has no link card).

The Graph API has no idempotency key, so Facebook is not idempotent: when an
attempt's outcome is unknown (no answer, or a server error, which has been
seen to create the post anyway), the Page's recent posts are read and one
carrying this post's link, made since the delivery was created, is taken as
ours.  Only when none is found does the delivery become ``unconfirmed``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, SecretStr, field_validator

from worker.accounts import AccountSettings
from worker.compose.length import FACEBOOK, LengthRule
from worker.errors import AmbiguousError, DuplicateError, PublishError, RejectedError
from worker.models import CheckResult, ComposedMessage, DeliveryRef, PublishResult, SourcePost
from worker.platforms.base import PlatformFacts
from worker.platforms.graph import (
    ExpiredTokenError,
    GraphAdapter,
    GraphDuplicateError,
    api_root,
    featured_image_url,
    token_present,
)

log = logging.getLogger(__name__)

DEFAULT_GRAPH_VERSION = "v21.0"
# How many of the Page's newest posts an ambiguous attempt looks through.
LOOKUP_LIMIT = 25
# A post found by the look-up must be newer than the delivery, less this much
# clock difference between us and Facebook.
LOOKUP_CLOCK_SLACK = timedelta(minutes=10)


class FacebookSettings(AccountSettings):
    model_config = ConfigDict(hide_input_in_errors=True)

    network: Literal["facebook"] = "facebook"
    page_id: str = Field(pattern=r"^\d+$")
    page_access_token: SecretStr
    graph_version: str = Field(default=DEFAULT_GRAPH_VERSION, pattern=r"^v\d+\.\d+$")
    api_url: str = "https://graph.facebook.com"
    share_image: bool = False

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return api_root(value)

    @field_validator("page_access_token")
    @classmethod
    def _token_present(cls, value: SecretStr) -> SecretStr:
        return token_present(value)


class FacebookAdapter(GraphAdapter):
    facts: ClassVar[PlatformFacts] = PlatformFacts(
        network="facebook",
        title="Facebook",
        text_limit=FACEBOOK.limit,
        counting="characters (code points); the ~63,206 limit is unverified",
        link_card=False,  # Facebook scrapes the link's Open Graph tags itself
        images=True,
        idempotent=False,
    )
    settings_model: ClassVar[type[AccountSettings]] = FacebookSettings

    settings: FacebookSettings

    # ------------------------------------------------------------------ plumbing
    def _root(self) -> str:
        return f"{self.settings.api_url}/{self.settings.graph_version}"

    def _token(self) -> str:
        return self.settings.page_access_token.get_secret_value()

    @property
    def _where(self) -> str:
        return f"Facebook Page {self.settings.page_id}"

    def length_rule(self, post: SourcePost | None = None) -> LengthRule:
        return FACEBOOK

    # ------------------------------------------------------------------ publish
    def publish(self, message: ComposedMessage, delivery: DeliveryRef) -> PublishResult:
        image = featured_image_url(delivery.post) if self.settings.share_image else None
        page = self.settings.page_id
        try:
            if image is not None:
                data = self.graph(
                    "POST",
                    f"{page}/photos",
                    params={"url": image, "message": message.text},
                    action="post the photo",
                    create=True,
                )
                # The photo's id is not the post's; the Page post is ``post_id``.
                post_id = data.get("post_id") or data.get("id")
            else:
                data = self.graph(
                    "POST",
                    f"{page}/feed",
                    params={"message": message.text, "link": message.link},
                    action="post to the Page",
                    create=True,
                )
                post_id = data.get("id")
            if not post_id:
                raise AmbiguousError(f"{self._where} answered without a post id")
        except AmbiguousError as unknown:
            found = self._find(message, delivery)
            if found is not None:
                log.info("%s: an unclear attempt did post: %s", self.name, found.remote_id)
                return found
            raise AmbiguousError(
                f"{unknown.message}; no post with this link is on the Page yet"
            ) from None
        except DuplicateError as duplicate:
            # Facebook refuses a repeat (506, or 368 "already posted").  Point
            # the delivery at the existing post when it can be found; 368 also
            # means "blocked", so without a post it is a refusal, not a success.
            found = self._find(message, delivery)
            if found is not None:
                raise DuplicateError(duplicate.message, found.remote_id, found.remote_url) from None
            if isinstance(duplicate, GraphDuplicateError) and duplicate.code == 368:
                raise RejectedError(duplicate.message) from None
            raise
        return PublishResult(remote_id=str(post_id), remote_url=self._permalink(str(post_id)))

    def _permalink(self, post_id: str) -> str:
        try:
            data = self.graph(
                "GET", post_id, params={"fields": "permalink_url"}, action="read the permalink"
            )
        except PublishError as error:
            log.warning("%s: no permalink for %s: %s", self.name, post_id, error.message)
            data = {}
        link = data.get("permalink_url")
        return str(link) if link else f"https://www.facebook.com/{post_id}"

    def _find(self, message: ComposedMessage, delivery: DeliveryRef) -> PublishResult | None:
        """The Page post an unclear attempt made, if the Page's feed shows one.

        A match carries this post's link (as the link of a link post, or in
        the text of a photo post) and is newer than the delivery, so a share
        of the same article made by hand last week is not taken for ours.
        """
        try:
            data = self.graph(
                "GET",
                f"{self.settings.page_id}/feed",
                params={
                    "fields": "id,message,link,permalink_url,created_time",
                    "limit": LOOKUP_LIMIT,
                },
                action="list the Page's recent posts",
            )
        except PublishError as error:
            log.warning("%s: could not look for the unclear post: %s", self.name, error.message)
            return None
        since = delivery.created_at - LOOKUP_CLOCK_SLACK
        # The link as sent, or as the site gives it (Facebook may drop the UTM tags).
        links = {message.link, delivery.post.link}
        items = data.get("data")
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict) or not item.get("id"):
                continue
            created = _graph_time(item.get("created_time"))
            if created is not None and created < since:
                continue
            text = item.get("message")
            text = text if isinstance(text, str) else ""
            if item.get("link") in links or any(_mentions(text, link) for link in links):
                post_id = str(item["id"])
                url = item.get("permalink_url")
                return PublishResult(
                    remote_id=post_id,
                    remote_url=str(url) if url else f"https://www.facebook.com/{post_id}",
                )
        return None

    # ------------------------------------------------------------------ check
    def check(self) -> CheckResult:
        """Read the Page with the token.  The token's expiry needs
        ``debug_token`` and an app token, which we do not have: an expiry is
        reported only when the API says the token has expired."""
        try:
            data = self.graph(
                "GET",
                self.settings.page_id,
                params={"fields": "id,name"},
                action="read the Page",
            )
        except ExpiredTokenError as error:
            detail = f"the Page access token has expired; get a new one ({error.message})"
            return CheckResult(ok=False, detail=detail)
        except PublishError as error:
            return CheckResult(ok=False, detail=error.message)
        name = data.get("name") or "(no name)"
        page = data.get("id") or self.settings.page_id
        return CheckResult(ok=True, detail=f"Page {name!s} ({page})")


def _mentions(text: str, link: str) -> bool:
    """Whether ``text`` holds ``link`` whole (``?p=15004`` is not in ``?p=150041``)."""
    start = text.find(link)
    while start != -1:
        end = start + len(link)
        if end == len(text) or not text[end].isalnum():
            return True
        start = text.find(link, start + 1)
    return False


def _graph_time(value: Any) -> datetime | None:
    """Graph's ``2026-04-19T07:31:00+0000``."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None

"""Threads: a text post with the link as its preview, or an image post.

Publishing takes two steps (platforms.md §7.2): ``POST /{user}/threads``
makes a container (``media_type=TEXT`` with ``text`` and ``link_attachment``,
or ``IMAGE`` with ``image_url`` when the account sets ``share_image`` and the
post has a featured image), ``POST /{user}/threads_publish`` with
``creation_id`` publishes it, ``GET /{media-id}?fields=permalink`` gives the
URL.  The shared flow, and why it is safe to retry, is ``ContainerAdapter``.

Text is at most 500 characters, an emoji counting its UTF-8 bytes (the
``THREADS`` rule; the emoji rule is from Meta's docs but unverified here).

Long-lived tokens last 60 days and can be refreshed (``refresh_access_token``)
once they are a day old; no Threads endpoint that tells a token's expiry is
documented in what we have, so ``check`` says so instead of guessing a date.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, field_validator

from worker.accounts import AccountSettings
from worker.compose.length import THREADS, LengthRule
from worker.errors import PublishError
from worker.models import CheckResult, ComposedMessage, SourcePost
from worker.platforms.base import PlatformFacts
from worker.platforms.graph import (
    ContainerAdapter,
    ContainerSettings,
    ExpiredTokenError,
    api_root,
    featured_image_url,
)

TOKEN_ADVICE = "long-lived tokens must be refreshed within 60 days of being issued"


class ThreadsSettings(ContainerSettings):
    model_config = ConfigDict(hide_input_in_errors=True)

    network: Literal["threads"] = "threads"
    user_id: str = "me"
    api_url: str = "https://graph.threads.net/v1.0"
    share_image: bool = False

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return api_root(value)

    @field_validator("user_id")
    @classmethod
    def _user_id(cls, value: str) -> str:
        value = value.strip()
        if value != "me" and not value.isdigit():
            raise ValueError(f"must be 'me' or the numeric Threads user id; got {value!r}")
        return value


class ThreadsAdapter(ContainerAdapter):
    facts: ClassVar[PlatformFacts] = PlatformFacts(
        network="threads",
        title="Threads",
        text_limit=THREADS.limit,
        counting="characters; an emoji counts its UTF-8 bytes",
        # Threads builds the preview from ``link_attachment``; no card of ours.
        link_card=False,
        images=True,
        # The remembered container is checked before anything is sent again
        # (see ContainerAdapter): a retry cannot publish a second copy.
        idempotent=True,
    )
    settings_model: ClassVar[type[AccountSettings]] = ThreadsSettings

    create_edge: ClassVar[str] = "threads"
    publish_edge: ClassVar[str] = "threads_publish"
    status_field: ClassVar[str] = "status"
    status_detail_field: ClassVar[str] = "error_message"

    settings: ThreadsSettings

    def _root(self) -> str:
        return self.settings.api_url

    def _token(self) -> str:
        return self.settings.access_token.get_secret_value()

    def _user(self) -> str:
        return self.settings.user_id

    @property
    def _where(self) -> str:
        return "Threads"

    def length_rule(self, post: SourcePost | None = None) -> LengthRule:
        return THREADS

    def container_params(self, message: ComposedMessage, post: SourcePost) -> dict[str, Any]:
        image = featured_image_url(post) if self.settings.share_image else None
        if image is not None:
            return {"media_type": "IMAGE", "image_url": image, "text": message.text}
        return {"media_type": "TEXT", "text": message.text, "link_attachment": message.link}

    def check(self) -> CheckResult:
        try:
            data = self.graph(
                "GET", "me", params={"fields": "id,username"}, action="read the account"
            )
        except ExpiredTokenError as error:
            return CheckResult(
                ok=False,
                detail=f"the access token has expired; get a new one ({error.message})",
            )
        except PublishError as error:
            return CheckResult(ok=False, detail=error.message)
        username = data.get("username")
        who = f"@{username}" if username else f"user {data.get('id', '?')}"
        if self.settings.user_id != "me" and str(data.get("id")) != self.settings.user_id:
            return CheckResult(
                ok=False,
                detail=f"the token is for {who} ({data.get('id')}), "
                f"not user {self.settings.user_id}",
            )
        return CheckResult(ok=True, detail=f"{who} on Threads; {TOKEN_ADVICE}")

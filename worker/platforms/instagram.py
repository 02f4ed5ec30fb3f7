"""Instagram (professional accounts): an image post with the text as caption.

Publishing takes two steps (platforms.md §6): ``POST /{ig-user-id}/media``
with ``image_url`` and ``caption`` makes a container, Meta fetches and
processes the image, and ``POST /{ig-user-id}/media_publish`` with
``creation_id`` publishes it; ``GET /{media-id}?fields=permalink`` gives the
URL.  The shared flow, and why it is safe to retry, is ``ContainerAdapter``.

Instagram posts need an image: a post without a featured image is skipped.
Links in captions are not clickable [unverified], but the link stays in the
text (the template requires ``{url}``): readers can still copy it.

The default host is ``graph.facebook.com`` with a Graph version, for an
Instagram account linked to a Facebook Page and a token from Facebook Login.
An account set up with Instagram Login uses ``api_url=https://graph.instagram.com``;
the calls are the same.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, field_validator

from worker.accounts import AccountSettings
from worker.compose.length import INSTAGRAM, LengthRule
from worker.errors import PublishError
from worker.models import CheckResult, ComposedMessage, SourcePost
from worker.platforms.base import PlatformFacts
from worker.platforms.graph import (
    ContainerAdapter,
    ContainerSettings,
    ExpiredTokenError,
    api_root,
    require_image,
)

DEFAULT_GRAPH_VERSION = "v21.0"


class InstagramSettings(ContainerSettings):
    model_config = ConfigDict(hide_input_in_errors=True)

    network: Literal["instagram"] = "instagram"
    ig_user_id: str = Field(pattern=r"^\d+$")
    api_url: str = "https://graph.facebook.com"
    graph_version: str = Field(default=DEFAULT_GRAPH_VERSION, pattern=r"^v\d+\.\d+$")

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return api_root(value)


class InstagramAdapter(ContainerAdapter):
    facts: ClassVar[PlatformFacts] = PlatformFacts(
        network="instagram",
        title="Instagram",
        text_limit=INSTAGRAM.limit,
        counting="characters (code points); links in captions are not clickable",
        link_card=False,
        images=True,
        # The remembered container is checked before anything is sent again
        # (see ContainerAdapter): a retry cannot publish a second copy.
        idempotent=True,
    )
    settings_model: ClassVar[type[AccountSettings]] = InstagramSettings

    create_edge: ClassVar[str] = "media"
    publish_edge: ClassVar[str] = "media_publish"
    status_field: ClassVar[str] = "status_code"
    status_detail_field: ClassVar[str] = "status"

    settings: InstagramSettings

    def _root(self) -> str:
        return f"{self.settings.api_url}/{self.settings.graph_version}"

    def _token(self) -> str:
        return self.settings.access_token.get_secret_value()

    def _user(self) -> str:
        return self.settings.ig_user_id

    @property
    def _where(self) -> str:
        return f"Instagram account {self.settings.ig_user_id}"

    def length_rule(self, post: SourcePost | None = None) -> LengthRule:
        return INSTAGRAM

    def compose(self, post: SourcePost) -> ComposedMessage:
        # Before composing: a post Instagram cannot take is skipped at once.
        require_image(post, "Instagram")
        return super().compose(post)

    def container_params(self, message: ComposedMessage, post: SourcePost) -> dict[str, Any]:
        # The form body is percent-encoded by httpx, so a "#" in the caption
        # arrives whole (platforms.md §6 warns about raw query strings).
        return {"image_url": require_image(post, "Instagram"), "caption": message.text}

    def check(self) -> CheckResult:
        try:
            data = self.graph(
                "GET",
                self.settings.ig_user_id,
                params={"fields": "id,username"},
                action="read the account",
            )
        except ExpiredTokenError as error:
            return CheckResult(
                ok=False,
                detail=f"the access token has expired; get a new one ({error.message})",
            )
        except PublishError as error:
            return CheckResult(ok=False, detail=error.message)
        username = data.get("username")
        who = f"@{username}" if username else f"account {data.get('id', self.settings.ig_user_id)}"
        return CheckResult(
            ok=True,
            detail=f"{who} on Instagram; long-lived tokens last about 60 days: renew it in time",
        )

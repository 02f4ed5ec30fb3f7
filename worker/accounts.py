"""What every account's settings have, whatever its network.

Each platform module subclasses ``AccountSettings`` with its own credential
fields (secrets as ``SecretStr``) and a ``network`` literal; the settings
loader picks the subclass by ``network``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from worker.compose.links import load_shortener
from worker.compose.template import TemplateError, placeholders_in

DEFAULT_TEMPLATE = "{title}\n\n{excerpt}\n\n{url}\n{hashtags}"


class AccountSettings(BaseModel):
    """Settings common to every account.

    ``sites`` limits the account to some sites (comma-separated names); empty
    means every site.
    """

    # Validation errors must never echo a value back: it may be a secret.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    network: str
    enabled: bool = True
    template: str = DEFAULT_TEMPLATE
    sites: tuple[str, ...] = ()
    hashtags: bool = True
    hashtags_from: Literal["tags", "categories", "both"] = "tags"
    max_hashtags: int = Field(default=3, ge=0, le=30)
    # UTM tags on the shared link: source is the network, medium "social".
    utm: bool = True
    utm_campaign: str = Field(default="crosspost", max_length=100)
    # A link shortener of the operator's own: ``module.path:function`` taking
    # the (UTM-tagged) link and returning a shorter http(s) URL.  None by
    # default; Crosspost ships none, so no link leaves for a third party
    # unless someone chose one.
    shortener: str | None = None

    @field_validator("template")
    @classmethod
    def _template_is_known(cls, value: str) -> str:
        try:
            placeholders_in(value)
        except TemplateError as exc:
            raise ValueError(str(exc)) from None
        if "{url}" not in value:
            raise ValueError("template must contain {url}: every message carries the link")
        return value

    @field_validator("shortener")
    @classmethod
    def _shortener_is_callable(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        load_shortener(value)  # its ValueError names the problem
        return value.strip()

    @field_validator("sites", mode="before")
    @classmethod
    def _split_sites(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(s.strip().lower() for s in value.split(",") if s.strip())
        return value

    def applies_to(self, site: str) -> bool:
        return not self.sites or site in self.sites

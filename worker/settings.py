"""Configuration, read from the environment and an ``.env`` file.

Sites and accounts are named groups of variables::

    SITES__NEWS__URL=https://news.example
    ACCOUNTS__MASTO__NETWORK=mastodon
    ACCOUNTS__MASTO__ACCESS_TOKEN=...

Names are case-insensitive and kept lower-case.  Everything is validated at
start; a problem stops the service with the variable's name and what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from worker.accounts import AccountSettings
from worker.errors import ConfigError


class SiteSettings(BaseModel):
    """One WordPress site to watch."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    enabled: bool = True
    # How many of the site's newest posts to share on first contact (0: none).
    backfill: int = Field(default=0, ge=0, le=100)
    # How far behind the cursor each poll reads again: a scheduled post goes
    # live with its scheduled date, which may be older than the last poll.
    overlap_hours: float = Field(default=48.0, gt=0, le=24 * 30)
    # Optional application password, for sites that hide their REST API.
    username: str | None = None
    app_password: SecretStr | None = None
    name: str = ""  # display name; defaults to the key

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, got {value!r}")
        return value


class _EnvSettings(BaseSettings):
    """The raw shape read from the environment; accounts stay untyped here so
    that each is validated by its own network's model (see ``load_settings``)."""

    model_config = SettingsConfigDict(
        env_nested_delimiter="__",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    database_url: str = "sqlite:///crosspost.db"
    redis_url: str | None = None
    celery_queue: str = "crosspost"

    poll_interval_seconds: float = Field(default=60.0, gt=0)
    sweep_interval_seconds: float = Field(default=15.0, gt=0)
    publisher_threads: int = Field(default=4, ge=1, le=64)
    http_timeout_seconds: float = Field(default=20.0, gt=0)
    # A claim on a delivery lasts this long; a worker that dies mid-send loses
    # it when it runs out.  Must exceed the longest publish call.
    lease_seconds: float = Field(default=120.0, gt=0)
    max_attempts: int = Field(default=8, ge=1)
    retry_base_seconds: float = Field(default=30.0, gt=0)
    retry_max_seconds: float = Field(default=6 * 3600.0, gt=0)
    # A queued delivery nobody took within this time is enqueued again (the
    # queue may have lost it: the database is the truth).
    requeue_after_seconds: float = Field(default=300.0, gt=0)
    log_level: str = "INFO"
    user_agent: str = "Crosspost/0.1"

    # The dashboard (``crosspost dashboard``, and inside ``crosspost run``).
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = Field(default=8080, ge=0, le=65535)
    dashboard_password: SecretStr | None = None
    dashboard_token: SecretStr | None = None
    dashboard_allow_no_auth: bool = False
    dashboard_secret_key: SecretStr | None = None

    sites: dict[str, SiteSettings] = Field(default_factory=dict)
    accounts: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("dashboard_password", "dashboard_token", "dashboard_secret_key")
    @classmethod
    def _empty_secret_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        # ``DASHBOARD_PASSWORD=`` in an .env file means "not set", not "the
        # empty password", which anyone could type.
        if value is not None and not value.get_secret_value().strip():
            return None
        return value


@dataclass(frozen=True)
class Settings:
    """The validated configuration: typed sites and accounts."""

    database_url: str
    redis_url: str | None
    celery_queue: str
    poll_interval_seconds: float
    sweep_interval_seconds: float
    publisher_threads: int
    http_timeout_seconds: float
    lease_seconds: float
    max_attempts: int
    retry_base_seconds: float
    retry_max_seconds: float
    requeue_after_seconds: float
    log_level: str
    user_agent: str
    sites: dict[str, SiteSettings]
    accounts: dict[str, AccountSettings]
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = 8080
    dashboard_password: SecretStr | None = None
    dashboard_token: SecretStr | None = None
    dashboard_allow_no_auth: bool = False
    dashboard_secret_key: SecretStr | None = None

    @property
    def distributed(self) -> bool:
        return bool(self.redis_url)

    @property
    def dashboard_configured(self) -> bool:
        """Whether the dashboard may start: some way to log in, or loopback by choice."""
        return bool(self.dashboard_password or self.dashboard_token or self.dashboard_allow_no_auth)

    def redacted(self) -> dict[str, Any]:
        """A summary safe to print: secrets and URL passwords masked."""
        return {
            "database_url": _mask_url_password(self.database_url),
            "redis_url": _mask_url_password(self.redis_url) if self.redis_url else None,
            "sites": {k: v.model_dump(mode="json") for k, v in self.sites.items()},
            "accounts": {k: v.model_dump(mode="json") for k, v in self.accounts.items()},
        }


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    import ipaddress

    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _mask_url_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def _env_name(*parts: object) -> str:
    return "__".join(str(p).upper() for p in parts)


def _describe(errors: ValidationError, prefix: tuple[str, ...]) -> list[str]:
    lines = []
    for error in errors.errors(include_url=False, include_input=False):
        where = _env_name(*prefix, *error["loc"]) if error["loc"] else _env_name(*prefix)
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "not a setting of this kind (misspelt?)"
        lines.append(f"{where}: {message}")
    return lines


def load_settings(env_file: str | Path | None = ".env") -> Settings:
    """Read and validate everything; raise ``ConfigError`` naming each problem."""
    from worker.platforms.registry import ADAPTERS

    env_files = (str(env_file),) if env_file and Path(env_file).exists() else ()
    if env_file and not env_files and str(env_file) != ".env":
        raise ConfigError(f"--env-file {env_file}: no such file")
    try:
        raw = _EnvSettings(_env_file=env_files or None)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise ConfigError("invalid settings:\n  " + "\n  ".join(_describe(exc, ()))) from None

    problems: list[str] = []
    accounts: dict[str, AccountSettings] = {}
    for name, fields in sorted(raw.accounts.items()):
        network = str(fields.get("network", "")).strip().lower()
        if not network:
            problems.append(
                f"{_env_name('accounts', name, 'network')}: missing; "
                f"one of {', '.join(sorted(ADAPTERS))}"
            )
            continue
        adapter = ADAPTERS.get(network)
        if adapter is None:
            problems.append(
                f"{_env_name('accounts', name, 'network')}: unknown network {network!r}; "
                f"one of {', '.join(sorted(ADAPTERS))}"
            )
            continue
        try:
            accounts[name] = adapter.settings_model.model_validate({**fields, "network": network})
        except ValidationError as exc:
            problems.extend(_describe(exc, ("accounts", name)))

    for name, account in accounts.items():
        for site in account.sites:
            if site not in raw.sites:
                problems.append(
                    f"{_env_name('accounts', name, 'sites')}: no site named {site!r} "
                    f"(configured: {', '.join(sorted(raw.sites)) or 'none'})"
                )
    if raw.dashboard_allow_no_auth and not is_loopback(raw.dashboard_host):
        problems.append(
            f"DASHBOARD_ALLOW_NO_AUTH: only allowed with a loopback DASHBOARD_HOST "
            f"(127.0.0.1, ::1 or localhost), not {raw.dashboard_host!r}; "
            f"set DASHBOARD_PASSWORD or DASHBOARD_TOKEN instead"
        )
    if problems:
        raise ConfigError("invalid settings:\n  " + "\n  ".join(problems))

    values = raw.model_dump(exclude={"sites", "accounts"})
    return Settings(**values, sites=dict(raw.sites), accounts=accounts)

"""The adapter interface every network implements, and the steps they share.

An adapter declares its facts at the top (``facts``, ``settings_model``), builds
the network's request, sends it and reads the answer into a ``PublishResult``
or a ``PublishError`` of the right kind.  The base class owns what is common:
the HTTP call with its timeouts and the line between "not sent" (transient)
and "sent, no answer" (ambiguous), composing with the network's length rule,
and keeping secrets out of every message.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
from pydantic import SecretStr
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from worker.accounts import AccountSettings
from worker.compose.length import LengthRule
from worker.compose.message import compose_message
from worker.errors import AmbiguousError, TransientError
from worker.models import CheckResult, ComposedMessage, DeliveryRef, PublishResult, SourcePost
from worker.store.tokens import MemoryTokens, TokenStore

REDACTED = "[redacted]"


@dataclass(frozen=True)
class PlatformFacts:
    """What a network is and supports, declared once at the top of its adapter.

    ``idempotent`` is true when resending after an ambiguous outcome cannot
    create a second post (Mastodon's Idempotency-Key, Bluesky's fixed record
    key, a webhook's id that receivers de-duplicate on).
    """

    network: str
    title: str
    text_limit: int
    counting: str
    link_card: bool
    images: bool
    idempotent: bool
    facets: bool = False


class Adapter(ABC):
    facts: ClassVar[PlatformFacts]
    settings_model: ClassVar[type[AccountSettings]]

    def __init__(
        self,
        name: str,
        settings: AccountSettings,
        http: httpx.Client,
        tokens: TokenStore | None = None,
    ) -> None:
        if not isinstance(settings, self.settings_model):
            raise TypeError(
                f"{type(self).__name__} needs {self.settings_model.__name__}, "
                f"got {type(settings).__name__}"
            )
        self.name = name
        self.settings = settings
        self.http = http
        # Where rotated credentials live (see worker.store.tokens).
        self.tokens: TokenStore = tokens if tokens is not None else MemoryTokens()
        self.setup()

    def setup(self) -> None:
        """Make the adapter's own state (a session cache, a lock); called once
        at the end of ``__init__``, so adapters need no constructor of their own.
        Most adapters need none: the default does nothing."""
        return None

    # ------------------------------------------------------------------ identity
    @classmethod
    def new_idempotency_key(cls) -> str:
        """A key fixed when the delivery is created and reused on every attempt."""
        return uuid.uuid4().hex

    @property
    def idempotent(self) -> bool:
        """Whether resending after an ambiguous outcome is safe for this account.

        Usually the network's fact; an account may know better (a webhook
        receiver that does not de-duplicate on ``webhook-id``).
        """
        return self.facts.idempotent

    # ------------------------------------------------------------------ composing
    @abstractmethod
    def length_rule(self, post: SourcePost | None = None) -> LengthRule:
        """How this account's network counts; may ask the network (instance limits).

        ``post`` is given when the rule depends on it (Telegram: a caption is
        shorter than a message); without it, the rule for a typical post.
        """

    def compose(self, post: SourcePost) -> ComposedMessage:
        return compose_message(
            post,
            self.settings,
            self.length_rule(post),
            facets=self.facts.facets,
            card=self.facts.link_card,
            account=self.name,
        )

    # ------------------------------------------------------------------ sending
    @abstractmethod
    def publish(self, message: ComposedMessage, delivery: DeliveryRef) -> PublishResult:
        """Send one message; return the remote id and URL or raise a PublishError."""

    @abstractmethod
    def check(self) -> CheckResult:
        """Try the credentials against the network without posting anything."""

    # ------------------------------------------------------------------ shared steps
    def secrets(self) -> list[str]:
        """Every secret value of this account, for redaction."""
        found: list[str] = []
        for value in self.settings.__dict__.values():
            if isinstance(value, SecretStr) and value.get_secret_value():
                found.append(value.get_secret_value())
        return found

    def redact(self, text: str) -> str:
        for secret in self.secrets():
            text = text.replace(secret, REDACTED)
        return text

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One HTTP call, classified: TransientError if it surely did not reach
        the network, AmbiguousError if it may have.

        A connect failure is retried a few times within seconds, since nothing
        was sent; anything later is the delivery's business (``retry_at``).
        """
        retrying = Retrying(
            retry=retry_if_exception_type(httpx.ConnectError),
            stop=stop_after_attempt(3),
            wait=wait_exponential(multiplier=0.2, max=2),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self.http.request(method, url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransientError(
                self.redact(f"could not connect to {self._host(url)}: {type(exc).__name__}")
            ) from None
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            # The request (or part of it) left: the network may have acted on it.
            raise AmbiguousError(
                self.redact(f"no answer from {self._host(url)} after sending: {type(exc).__name__}")
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _host(url: str) -> str:
        return httpx.URL(url).host or url

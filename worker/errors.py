"""Every error Crosspost raises on purpose, in one tree.

Publishing failures carry a ``FailureKind``; the kind alone decides what the
delivery does next (see ``worker.delivery``):

======================  ===================================================
kind                    what happens
======================  ===================================================
``transient``           retry with exponential backoff and jitter
``rate_limited``        retry at the time the network gave; hold the account
``auth``                account needs attention; its deliveries wait
``rejected``            failed at once with the network's message
``duplicate``           the network already has it: counts as published
``ambiguous``           the request left and no answer came back: resend only
                        where the network is idempotent, else ``unconfirmed``
======================  ===================================================

Adapters raise these; they never return ``False``.  Messages must never hold a
secret: adapters build them from the network's answer, and ``redact`` is
applied again before anything is stored.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class CrosspostError(Exception):
    """Base of every error Crosspost raises on purpose."""


class ConfigError(CrosspostError):
    """The configuration is wrong; the message names the setting and the problem."""


class SourceError(CrosspostError):
    """A site could not be read (down, not WordPress, bad answer)."""


class SkipPost(CrosspostError):
    """This post is not for this account (e.g. Instagram and a post without an
    image); the delivery is recorded as skipped with the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FailureKind(StrEnum):
    TRANSIENT = "transient"
    RATE_LIMITED = "rate_limited"
    AUTH = "auth"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    AMBIGUOUS = "ambiguous"


class PublishError(CrosspostError):
    """A publish attempt did not (certainly) succeed.  Subclasses fix the kind."""

    kind: FailureKind = FailureKind.TRANSIENT

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.message}"


class TransientError(PublishError):
    """Nothing was created and trying again later may work (5xx, connect error)."""

    kind = FailureKind.TRANSIENT


class RateLimitedError(PublishError):
    """The network asked us to wait; ``retry_at`` is when it said we may go on."""

    kind = FailureKind.RATE_LIMITED

    def __init__(self, message: str, retry_at: datetime | None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class AuthError(PublishError):
    """Credentials are missing, wrong, expired or revoked: a person must act."""

    kind = FailureKind.AUTH


class RejectedError(PublishError):
    """The network refused this content for good (too long, invalid, forbidden)."""

    kind = FailureKind.REJECTED


class DuplicateError(PublishError):
    """The network says it already has this post; where it tells, which one."""

    kind = FailureKind.DUPLICATE

    def __init__(
        self, message: str, remote_id: str | None = None, remote_url: str | None = None
    ) -> None:
        super().__init__(message)
        self.remote_id = remote_id
        self.remote_url = remote_url


class AmbiguousError(PublishError):
    """The request was sent but its outcome is unknown (timeout or reset after sending)."""

    kind = FailureKind.AMBIGUOUS

"""The plain values that flow between sources, composing, platforms and the store."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class DeliveryStatus(StrEnum):
    """The one status of a delivery (one post to one account).

    ``queued`` and ``retry_wait`` are waiting for a worker; ``sending`` is held by
    one worker under a lease; the last four are final until a person acts.
    """

    QUEUED = "queued"
    SENDING = "sending"
    RETRY_WAIT = "retry_wait"
    PUBLISHED = "published"
    FAILED = "failed"
    UNCONFIRMED = "unconfirmed"
    SKIPPED = "skipped"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset(
    {
        DeliveryStatus.PUBLISHED,
        DeliveryStatus.FAILED,
        DeliveryStatus.UNCONFIRMED,
        DeliveryStatus.SKIPPED,
    }
)


class HistoryStatus(StrEnum):
    """Status of one history entry: Revive Old Posts' values plus our own three."""

    QUEUED = "queued"
    SUCCESS = "success"
    ERROR = "error"
    RETRYING = "retrying"
    UNCONFIRMED = "unconfirmed"
    SKIPPED = "skipped"


class PublishStatus(StrEnum):
    """A post's summary, as ROP's ``rop_publish_now_status``."""

    PENDING = "pending"
    QUEUED = "queued"
    DONE = "done"


@dataclass(frozen=True)
class FeaturedImage:
    url: str
    alt: str = ""
    mime_type: str = ""


@dataclass(frozen=True)
class SourcePost:
    """A published post as a source gives it, normalised but not yet composed.

    HTML fields keep WordPress's rendering (entities and all); turning them into
    text for a network is the composer's job, because networks differ.
    """

    site: str
    post_id: int
    link: str
    title_html: str
    excerpt_html: str
    content_html: str
    date_gmt: datetime
    modified_gmt: datetime
    tags: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    author: str = ""
    featured_image: FeaturedImage | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["date_gmt"] = self.date_gmt.isoformat()
        data["modified_gmt"] = self.modified_gmt.isoformat()
        data["tags"] = list(self.tags)
        data["categories"] = list(self.categories)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SourcePost:
        image = data.get("featured_image")
        return cls(
            site=data["site"],
            post_id=int(data["post_id"]),
            link=data["link"],
            title_html=data["title_html"],
            excerpt_html=data["excerpt_html"],
            content_html=data["content_html"],
            date_gmt=datetime.fromisoformat(data["date_gmt"]),
            modified_gmt=datetime.fromisoformat(data["modified_gmt"]),
            tags=tuple(data.get("tags", ())),
            categories=tuple(data.get("categories", ())),
            author=data.get("author", ""),
            featured_image=FeaturedImage(**image) if image else None,
            meta=dict(data.get("meta") or {}),
        )


@dataclass(frozen=True)
class Card:
    """A link card: what a network shows under the text for the post's link."""

    url: str
    title: str
    description: str
    image_url: str | None = None
    image_alt: str = ""


@dataclass(frozen=True)
class Facet:
    """A rich-text range, in UTF-8 byte offsets (Bluesky's unit).

    ``kind`` is ``link`` (value: the URI) or ``tag`` (value: the tag without ``#``).
    """

    byte_start: int
    byte_end: int
    kind: str
    value: str


@dataclass(frozen=True)
class ComposedMessage:
    """What will be sent to one account, fixed before the first attempt.

    It is stored with the delivery so that every retry sends exactly the same
    thing: an idempotent network then recognises the repeat.
    """

    text: str
    link: str
    length: int
    card: Card | None = None
    facets: tuple[Facet, ...] = ()
    title: str = ""
    excerpt: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ComposedMessage:
        card = data.get("card")
        return cls(
            text=data["text"],
            link=data["link"],
            length=int(data["length"]),
            card=Card(**card) if card else None,
            facets=tuple(Facet(**f) for f in data.get("facets", ())),
            title=data.get("title", ""),
            excerpt=data.get("excerpt", ""),
        )


def _forget(_key: str, _value: Any) -> None:
    """``remember`` for a delivery with no store behind it (a preview, a probe)."""


@dataclass(frozen=True)
class DeliveryRef:
    """What an adapter may know about the delivery it is sending.

    ``idempotency_key`` is fixed when the delivery is created and is the same on
    every attempt (Mastodon's Idempotency-Key, Bluesky's record key, the
    webhook-id).  ``created_at`` is the delivery's creation time, for networks
    whose record carries a timestamp that must not change between attempts.

    ``state`` holds what earlier attempts of this delivery remembered, and
    ``remember(key, value)`` stores a value durably at once, before the
    adapter goes on: a two-step network remembers its container id so that a
    later attempt checks that container instead of making a second post.
    """

    delivery_id: int
    account: str
    attempt: int
    idempotency_key: str
    created_at: datetime
    post: SourcePost
    state: Mapping[str, Any] = field(default_factory=dict)
    remember: Callable[[str, Any], None] = field(default=_forget, repr=False)


@dataclass(frozen=True)
class PublishResult:
    remote_id: str
    remote_url: str | None


@dataclass(frozen=True)
class CheckResult:
    """The outcome of a credentials probe; ``detail`` must hold no secret."""

    ok: bool
    detail: str
    expires_at: datetime | None = None

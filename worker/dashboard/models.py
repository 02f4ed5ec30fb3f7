"""The shapes the pages and the JSON API share (and that the OpenAPI document describes).

Nothing here may carry a secret: these are built from the store's tables,
never from account settings.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

# What the overview counts, in the order it shows them.
STATES = ("published", "retry_wait", "failed", "unconfirmed", "skipped", "queued", "sending")
STATE_LABELS = {
    "published": "published",
    "retry_wait": "waiting to retry",
    "failed": "failed",
    "unconfirmed": "unconfirmed",
    "skipped": "skipped",
    "queued": "queued",
    "sending": "sending",
}

Health = Literal["ok", "paused", "rate_limited", "needs_attention"]


class StateCounts(BaseModel):
    since: datetime
    counts: dict[str, int]
    total: int


class ChartDay(BaseModel):
    day: date
    counts: dict[str, int]


class SiteRow(BaseModel):
    name: str
    configured: bool
    enabled: bool
    last_poll_at: datetime | None
    last_poll_ok: bool | None
    last_error: str | None
    failures: int
    next_poll_at: datetime | None


class AccountRow(BaseModel):
    name: str
    network: str
    configured: bool
    enabled: bool
    paused: bool
    health: Health
    hold_until: datetime | None
    last_error: str | None
    checked_at: datetime | None
    counts: dict[str, int]


class HeartbeatRow(BaseModel):
    name: str
    mode: str
    last_seen: datetime
    age_seconds: float


class WorkerState(BaseModel):
    mode: Literal["embedded", "distributed"]
    queue: str | None
    queue_depth: int | None
    queue_error: str | None
    heartbeats: list[HeartbeatRow]


class Overview(BaseModel):
    now: datetime
    day: StateCounts
    week: StateCounts
    chart: list[ChartDay]
    sites: list[SiteRow]
    accounts: list[AccountRow]
    worker: WorkerState


class Chip(BaseModel):
    delivery_id: int
    account: str
    status: str


class PostRow(BaseModel):
    id: int
    site: str
    post_id: int
    title: str
    link: str
    date_gmt: datetime
    detected_at: datetime
    publish_status: str
    deliveries: list[Chip]


class PostPage(BaseModel):
    items: list[PostRow]
    page: int
    per_page: int
    has_next: bool


class HistoryEntry(BaseModel):
    id: int
    timestamp: datetime
    attempt: int
    status: str
    error_kind: str | None
    error: str | None
    remote_url: str | None
    duration_ms: int | None


class DeliveryDetail(BaseModel):
    id: int
    account: str
    network: str
    status: str
    attempts: int
    created_at: datetime
    updated_at: datetime
    retry_at: datetime | None
    remote_url: str | None
    last_error_kind: str | None
    last_error: str | None
    message: str | None
    message_length: int | None
    history: list[HistoryEntry]


class PostDetail(BaseModel):
    id: int
    site: str
    post_id: int
    title: str
    link: str
    date_gmt: datetime
    detected_at: datetime
    publish_status: str
    deliveries: list[DeliveryDetail]


class DeliveryRow(BaseModel):
    """One delivery in the failures or waiting list: exactly what was stored."""

    id: int
    post_ref: int
    site: str
    post_id: int
    title: str
    account: str
    network: str
    status: str
    attempts: int
    error_kind: str | None
    error: str | None
    last_attempt_at: datetime
    retry_at: datetime | None


class DeliveryPage(BaseModel):
    items: list[DeliveryRow]
    page: int
    per_page: int
    has_next: bool
    total: int
    by_account: dict[str, int]


# ----------------------------------------------------------------- API inputs/outputs
class RetryRequest(BaseModel):
    """Which deliveries to send again: ids, or every one (of an account)."""

    ids: list[int] = Field(default_factory=list, max_length=1000)
    all: bool = False
    account: str | None = Field(default=None, max_length=100)


class RetryResult(BaseModel):
    retried: list[int]
    count: int


class RetryCount(BaseModel):
    account: str | None
    count: int


class ConfirmRequest(BaseModel):
    remote_url: str | None = Field(default=None, max_length=2000)


class ActionResult(BaseModel):
    ok: bool
    message: str


class CheckOutcome(BaseModel):
    account: str
    ok: bool
    detail: str

"""The database tables (SQLAlchemy Core).  Changes go through a migration.

Every timestamp is stored as naive UTC and read back as aware UTC
(``UTCDateTime``), so SQLite and PostgreSQL behave the same.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# One row per configured site: where its API is and how far polling got.
sites = Table(
    "sites",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("api_root", Text, nullable=True),
    # Newest date_gmt seen; each poll reads again from cursor - overlap.
    Column("cursor", UTCDateTime, nullable=True),
    Column("baseline_done", Boolean, nullable=False, default=False),
    Column("last_poll_at", UTCDateTime, nullable=True),
    Column("last_poll_ok", Boolean, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("failures", Integer, nullable=False, default=0),
    Column("next_poll_at", UTCDateTime, nullable=True),
)

# Every post a site has shown us.  Baseline posts (there before first contact)
# are kept so that the overlap window never mistakes them for new ones.
posts = Table(
    "posts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site", String(100), nullable=False),
    Column("post_id", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("link", Text, nullable=False),
    Column("date_gmt", UTCDateTime, nullable=False),
    Column("detected_at", UTCDateTime, nullable=False),
    Column("shared", Boolean, nullable=False),
    Column("source", JSON, nullable=True),
    UniqueConstraint("site", "post_id"),
)
Index("ix_posts_detected_at", posts.c.detected_at)

# Per-account operating state: paused by a person, held by the network.
accounts = Table(
    "accounts",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("network", String(40), nullable=False),
    Column("paused", Boolean, nullable=False, default=False),
    Column("needs_attention", Boolean, nullable=False, default=False),
    Column("hold_until", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("checked_at", UTCDateTime, nullable=True),
)

# One row per (post, account): the unit of work and its current state.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("post_ref", Integer, ForeignKey("posts.id", ondelete="CASCADE"), nullable=False),
    Column("account", String(100), nullable=False),
    Column("network", String(40), nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    # Fixed at creation, reused on every attempt (Idempotency-Key, record key).
    Column("idempotency_key", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("enqueued_at", UTCDateTime, nullable=True),
    Column("claim_token", String(40), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("retry_at", UTCDateTime, nullable=True),
    Column("message", JSON, nullable=True),
    Column("remote_id", Text, nullable=True),
    Column("remote_url", Text, nullable=True),
    Column("last_error_kind", String(20), nullable=True),
    Column("last_error", Text, nullable=True),
    # What an adapter remembered between attempts (a container id, …).
    Column("platform_state", JSON, nullable=True),
    UniqueConstraint("post_ref", "account"),
)
Index("ix_deliveries_status_retry_at", deliveries.c.status, deliveries.c.retry_at)
Index("ix_deliveries_account_status", deliveries.c.account, deliveries.c.status)
# The dashboard: counts and the chart read deliveries by creation time and
# state (the index covers both, so counting never touches the table); the
# failures list reads one state newest change first.
Index("ix_deliveries_created_at_status", deliveries.c.created_at, deliveries.c.status)
Index("ix_deliveries_status_updated_at", deliveries.c.status, deliveries.c.updated_at)

# Every attempt and every change a person made: the history ROP keeps in
# rop_publish_now_history, with the error and the remote link added.
history = Table(
    "history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "delivery_id",
        Integer,
        ForeignKey("deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("timestamp", UTCDateTime, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("error_kind", String(20), nullable=True),
    Column("error", Text, nullable=True),
    Column("remote_id", Text, nullable=True),
    Column("remote_url", Text, nullable=True),
    Column("duration_ms", Integer, nullable=True),
)
Index("ix_history_delivery_id", history.c.delivery_id)

# Credentials a network rotates (refresh tokens), stored before they are used.
account_tokens = Table(
    "account_tokens",
    metadata,
    Column("account", String(100), primary_key=True),
    Column("name", String(60), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Each running part says it is alive: the embedded runner's loop, every Celery
# worker, the beat-driven sweep.  The dashboard shows when each was last seen.
heartbeats = Table(
    "heartbeats",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("mode", String(20), nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
)

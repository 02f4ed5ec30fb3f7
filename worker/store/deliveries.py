"""Queries on deliveries: create, claim, record attempts, and find what is due.

Every state change is a compare-and-set (an UPDATE whose WHERE names the state
it expects), so two workers, two sweepers or a redelivered task message can
never both act on one delivery.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select, update

from worker.models import DeliveryStatus, HistoryStatus
from worker.store.history import append_history
from worker.store.schema import accounts, deliveries, posts
from worker.store.upsert import insert_ignore

WAITING = (DeliveryStatus.QUEUED.value, DeliveryStatus.RETRY_WAIT.value)


@dataclass(frozen=True)
class Claim:
    """Proof that this worker holds the delivery for this attempt."""

    delivery_id: int
    token: str
    attempt: int


@dataclass(frozen=True)
class DeliveryWork:
    """What a worker needs to send one delivery."""

    delivery_id: int
    account: str
    network: str
    idempotency_key: str
    created_at: datetime
    message: dict[str, Any] | None
    platform_state: dict[str, Any]
    source: dict[str, Any]
    site: str
    post_id: int


def create_delivery(
    conn: Connection,
    *,
    post_ref: int,
    account: str,
    network: str,
    idempotency_key: str,
    now: datetime,
    status: DeliveryStatus = DeliveryStatus.QUEUED,
    reason: str | None = None,
) -> int | None:
    """Create the one delivery of (post, account); None if it already exists."""
    delivery_id = insert_ignore(
        conn,
        deliveries,
        {
            "post_ref": post_ref,
            "account": account,
            "network": network,
            "status": status.value,
            "attempts": 0,
            "idempotency_key": idempotency_key,
            "created_at": now,
            "updated_at": now,
            "enqueued_at": now if status is DeliveryStatus.QUEUED else None,
            "last_error": reason,
        },
    )
    if delivery_id is not None:
        first = HistoryStatus.QUEUED if status is DeliveryStatus.QUEUED else HistoryStatus.SKIPPED
        append_history(conn, delivery_id, now=now, attempt=0, status=first, error=reason)
    return delivery_id


def claim(
    conn: Connection, delivery_id: int, *, now: datetime, lease_seconds: float
) -> Claim | None:
    """Take a due delivery for one attempt, or return None if it is not ours to take."""
    token = secrets.token_hex(16)
    result = conn.execute(
        update(deliveries)
        .where(
            deliveries.c.id == delivery_id,
            deliveries.c.status.in_(WAITING),
            or_(deliveries.c.retry_at.is_(None), deliveries.c.retry_at <= now),
        )
        .values(
            status=DeliveryStatus.SENDING.value,
            attempts=deliveries.c.attempts + 1,
            claim_token=token,
            lease_until=now + timedelta(seconds=lease_seconds),
            updated_at=now,
        )
    )
    if result.rowcount != 1:
        return None
    attempt = conn.execute(
        select(deliveries.c.attempts).where(deliveries.c.id == delivery_id)
    ).scalar_one()
    return Claim(delivery_id=delivery_id, token=token, attempt=int(attempt))


def load_work(conn: Connection, delivery_id: int) -> DeliveryWork | None:
    row = conn.execute(
        select(
            deliveries.c.id,
            deliveries.c.account,
            deliveries.c.network,
            deliveries.c.idempotency_key,
            deliveries.c.created_at,
            deliveries.c.message,
            deliveries.c.platform_state,
            posts.c.source,
            posts.c.site,
            posts.c.post_id,
        )
        .join(posts, posts.c.id == deliveries.c.post_ref)
        .where(deliveries.c.id == delivery_id)
    ).first()
    if row is None:
        return None
    return DeliveryWork(
        delivery_id=row.id,
        account=row.account,
        network=row.network,
        idempotency_key=row.idempotency_key,
        created_at=row.created_at,
        message=row.message,
        platform_state=dict(row.platform_state or {}),
        source=row.source or {},
        site=row.site,
        post_id=row.post_id,
    )


def save_message(conn: Connection, claim: Claim, message: dict[str, Any]) -> bool:
    """Fix the composed message; later attempts send exactly this."""
    result = conn.execute(
        update(deliveries)
        .where(deliveries.c.id == claim.delivery_id, deliveries.c.claim_token == claim.token)
        .values(message=message)
    )
    return result.rowcount == 1


def remember(conn: Connection, claim: Claim, key: str, value: Any) -> bool:
    """Add one value to the adapter's state of this delivery, if we hold it."""
    current = conn.execute(
        select(deliveries.c.platform_state).where(
            deliveries.c.id == claim.delivery_id, deliveries.c.claim_token == claim.token
        )
    ).first()
    if current is None:
        return False
    state = {**(current[0] or {}), key: value}
    result = conn.execute(
        update(deliveries)
        .where(deliveries.c.id == claim.delivery_id, deliveries.c.claim_token == claim.token)
        .values(platform_state=state)
    )
    return result.rowcount == 1


def record_attempt(
    conn: Connection,
    claim: Claim,
    *,
    status: DeliveryStatus,
    history: HistoryStatus,
    now: datetime,
    retry_at: datetime | None = None,
    remote_id: str | None = None,
    remote_url: str | None = None,
    error_kind: str | None = None,
    error: str | None = None,
    duration_ms: int | None = None,
) -> bool:
    """Record an attempt's outcome and its history entry, if this worker still
    holds the claim (a stale or used-up claim records nothing)."""
    result = conn.execute(
        update(deliveries)
        .where(
            deliveries.c.id == claim.delivery_id,
            deliveries.c.claim_token == claim.token,
            deliveries.c.status == DeliveryStatus.SENDING.value,
        )
        .values(
            status=status.value,
            retry_at=retry_at,
            remote_id=remote_id,
            remote_url=remote_url,
            last_error_kind=error_kind,
            last_error=error,
            claim_token=None,
            lease_until=None,
            updated_at=now,
            enqueued_at=None,
        )
    )
    if result.rowcount != 1:
        return False
    append_history(
        conn,
        claim.delivery_id,
        now=now,
        attempt=claim.attempt,
        status=history,
        error_kind=error_kind,
        error=error,
        remote_id=remote_id,
        remote_url=remote_url,
        duration_ms=duration_ms,
    )
    return True


def postpone(conn: Connection, delivery_id: int, *, until: datetime, now: datetime) -> None:
    """Move a waiting delivery to wait until ``until`` (its account is held)."""
    conn.execute(
        update(deliveries)
        .where(deliveries.c.id == delivery_id, deliveries.c.status.in_(WAITING))
        .values(status=DeliveryStatus.RETRY_WAIT.value, retry_at=until, updated_at=now)
    )


def expired_claims(conn: Connection, *, now: datetime) -> list[tuple[int, str, int]]:
    """(id, account, attempt) of deliveries whose worker lost its lease."""
    rows = conn.execute(
        select(deliveries.c.id, deliveries.c.account, deliveries.c.attempts).where(
            deliveries.c.status == DeliveryStatus.SENDING.value,
            deliveries.c.lease_until < now,
        )
    ).all()
    return [(row.id, row.account, row.attempts) for row in rows]


def release_expired(
    conn: Connection,
    delivery_id: int,
    *,
    now: datetime,
    to: DeliveryStatus,
    error: str,
) -> bool:
    """Take back a lost claim, if it is still the expired one we saw."""
    result = conn.execute(
        update(deliveries)
        .where(
            deliveries.c.id == delivery_id,
            deliveries.c.status == DeliveryStatus.SENDING.value,
            deliveries.c.lease_until < now,
        )
        .values(
            status=to.value,
            claim_token=None,
            lease_until=None,
            retry_at=None,
            last_error_kind="ambiguous",
            last_error=error,
            updated_at=now,
            enqueued_at=None,
        )
    )
    return result.rowcount == 1


def _active_accounts(now: datetime) -> Any:
    """Accounts that may send now: not paused, not held by the network."""
    return select(accounts.c.name).where(
        accounts.c.paused.is_(False),
        or_(accounts.c.hold_until.is_(None), accounts.c.hold_until <= now),
    )


def take_due(conn: Connection, *, now: datetime, requeue_after: float) -> list[int]:
    """Mark and return the deliveries that should be (re-)enqueued now.

    Due retries become ``queued``; queued deliveries nobody took for
    ``requeue_after`` seconds are sent again (the queue may have lost them).
    Deliveries of paused or held accounts stay where they are.
    """
    stale = now - timedelta(seconds=requeue_after)
    condition = and_(
        deliveries.c.account.in_(_active_accounts(now)),
        or_(
            and_(
                deliveries.c.status == DeliveryStatus.RETRY_WAIT.value,
                or_(deliveries.c.retry_at.is_(None), deliveries.c.retry_at <= now),
            ),
            and_(
                deliveries.c.status == DeliveryStatus.QUEUED.value,
                or_(deliveries.c.enqueued_at.is_(None), deliveries.c.enqueued_at <= stale),
            ),
        ),
    )
    ids = [row[0] for row in conn.execute(select(deliveries.c.id).where(condition)).all()]
    if ids:
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(ids), condition)
            .values(status=DeliveryStatus.QUEUED.value, retry_at=None, enqueued_at=now)
        )
    return ids


def requeue(
    conn: Connection,
    *,
    now: datetime,
    ids: Sequence[int] = (),
    account: str | None = None,
    statuses: Iterable[DeliveryStatus] = (
        DeliveryStatus.FAILED,
        DeliveryStatus.UNCONFIRMED,
        DeliveryStatus.RETRY_WAIT,
    ),
) -> list[int]:
    """Put failed (or waiting) deliveries back in the queue, as a person asked."""
    condition: ColumnElement[bool] = deliveries.c.status.in_([s.value for s in statuses])
    if ids:
        condition = and_(condition, deliveries.c.id.in_(list(ids)))
    if account:
        condition = and_(condition, deliveries.c.account == account)
    rows = conn.execute(select(deliveries.c.id, deliveries.c.attempts).where(condition)).all()
    if not rows:
        return []
    found = [row.id for row in rows]
    conn.execute(
        update(deliveries)
        .where(deliveries.c.id.in_(found), condition)
        .values(
            status=DeliveryStatus.QUEUED.value,
            retry_at=None,
            # Not enqueued yet: the next sweep (in whichever process) sends it
            # out at once, rather than after requeue_after.
            enqueued_at=None,
            updated_at=now,
        )
    )
    for row in rows:
        append_history(
            conn,
            row.id,
            now=now,
            attempt=row.attempts,
            status=HistoryStatus.QUEUED,
            error="retry requested",
        )
    return found


def count_unsettled(conn: Connection, *, now: datetime) -> int:
    """Deliveries that a cycle still has to work on: queued, sending or due."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(deliveries)
            .where(
                deliveries.c.account.in_(_active_accounts(now)),
                or_(
                    deliveries.c.status.in_(
                        [DeliveryStatus.QUEUED.value, DeliveryStatus.SENDING.value]
                    ),
                    and_(
                        deliveries.c.status == DeliveryStatus.RETRY_WAIT.value,
                        or_(deliveries.c.retry_at.is_(None), deliveries.c.retry_at <= now),
                    ),
                ),
            )
        ).scalar_one()
    )


def accounts_of(conn: Connection, delivery_ids: Sequence[int]) -> set[str]:
    if not delivery_ids:
        return set()
    rows = conn.execute(
        select(deliveries.c.account).where(deliveries.c.id.in_(list(delivery_ids))).distinct()
    ).all()
    return {row[0] for row in rows}


def confirm_published(
    conn: Connection,
    delivery_id: int,
    *,
    now: datetime,
    remote_url: str | None = None,
) -> bool:
    """A person looked: an ``unconfirmed`` delivery did reach the network.

    Only an unconfirmed delivery can be confirmed this way (compare-and-set on
    the status), so a double click or a retry racing it changes nothing twice.
    """
    row = conn.execute(
        select(deliveries.c.attempts).where(
            deliveries.c.id == delivery_id,
            deliveries.c.status == DeliveryStatus.UNCONFIRMED.value,
        )
    ).first()
    if row is None:
        return False
    result = conn.execute(
        update(deliveries)
        .where(
            deliveries.c.id == delivery_id,
            deliveries.c.status == DeliveryStatus.UNCONFIRMED.value,
        )
        .values(
            status=DeliveryStatus.PUBLISHED.value,
            remote_url=remote_url or None,
            retry_at=None,
            last_error_kind=None,
            last_error=None,
            updated_at=now,
        )
    )
    if result.rowcount != 1:
        return False
    append_history(
        conn,
        delivery_id,
        now=now,
        attempt=row.attempts,
        status=HistoryStatus.SUCCESS,
        error="marked published by a person",
        remote_url=remote_url or None,
    )
    return True


def wake_account(conn: Connection, account: str) -> int:
    """Make the queued deliveries of a resumed account due at the next sweep.

    While an account is paused its deliveries stay ``queued`` with the time
    they were last enqueued; without this they would wait for
    ``REQUEUE_AFTER_SECONDS`` before anyone sent them.
    """
    result = conn.execute(
        update(deliveries)
        .where(
            deliveries.c.account == account,
            deliveries.c.status == DeliveryStatus.QUEUED.value,
        )
        .values(enqueued_at=None)
    )
    return int(result.rowcount)

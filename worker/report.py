"""Posts with their deliveries and history, shaped like ROP's post meta.

``publish_status`` follows ``rop_publish_now_status``: ``pending`` until the
post has deliveries to work on, ``queued`` while any is still waiting or being
sent, ``done`` when every one has reached a final state.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from worker.models import FINAL_STATUSES, DeliveryStatus, PublishStatus
from worker.store.schema import deliveries, history, posts


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def publish_status(statuses: list[DeliveryStatus]) -> PublishStatus:
    if not statuses:
        return PublishStatus.PENDING
    if all(s in FINAL_STATUSES for s in statuses):
        return PublishStatus.DONE
    return PublishStatus.QUEUED


def post_summaries(
    conn: Connection,
    *,
    limit: int = 20,
    site: str | None = None,
) -> list[dict[str, Any]]:
    """The newest shared posts, newest first, each with every account's delivery."""
    query = select(posts).where(posts.c.shared.is_(True))
    if site:
        query = query.where(posts.c.site == site)
    post_rows = conn.execute(
        query.order_by(posts.c.detected_at.desc(), posts.c.id.desc()).limit(limit)
    ).all()
    refs = [row.id for row in post_rows]
    if not refs:
        return []
    delivery_rows = conn.execute(
        select(deliveries).where(deliveries.c.post_ref.in_(refs)).order_by(deliveries.c.account)
    ).all()
    history_rows = conn.execute(
        select(history)
        .where(history.c.delivery_id.in_([d.id for d in delivery_rows]))
        .order_by(history.c.timestamp, history.c.id)
    ).all()

    entries: dict[int, list[dict[str, Any]]] = defaultdict(list)
    by_delivery = {d.id: d for d in delivery_rows}
    for h in history_rows:
        d = by_delivery[h.delivery_id]
        entry: dict[str, Any] = {
            "account": d.account,
            "service": d.network,
            "timestamp": int(h.timestamp.timestamp()),
            "time": _iso(h.timestamp),
            "status": h.status,
            "attempt": h.attempt,
        }
        if h.error_kind:
            entry["error_kind"] = h.error_kind
        if h.error:
            entry["error"] = h.error
        if h.remote_url:
            entry["remote_url"] = h.remote_url
        if h.duration_ms is not None:
            entry["duration_ms"] = h.duration_ms
        entries[h.delivery_id].append(entry)

    per_post: dict[int, dict[str, Any]] = defaultdict(dict)
    statuses: dict[int, list[DeliveryStatus]] = defaultdict(list)
    for d in delivery_rows:
        statuses[d.post_ref].append(DeliveryStatus(d.status))
        per_post[d.post_ref][d.account] = {
            "id": d.id,
            "service": d.network,
            "status": d.status,
            "attempts": d.attempts,
            "remote_id": d.remote_id,
            "remote_url": d.remote_url,
            "last_error_kind": d.last_error_kind,
            "last_error": d.last_error,
            "retry_at": _iso(d.retry_at),
            "message": (d.message or {}).get("text"),
            "history": entries[d.id],
        }

    return [
        {
            "site": row.site,
            "post_id": row.post_id,
            "title": row.title,
            "link": row.link,
            "date_gmt": _iso(row.date_gmt),
            "detected_at": _iso(row.detected_at),
            "publish_status": publish_status(statuses[row.id]).value,
            "deliveries": per_post[row.id],
        }
        for row in post_rows
    ]

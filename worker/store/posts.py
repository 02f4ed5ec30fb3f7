"""Queries on posts: which ones a site has already shown us, and recording new ones."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, select

from worker.models import SourcePost
from worker.store.schema import posts
from worker.store.upsert import insert_ignore


def known_post_ids(conn: Connection, site: str, post_ids: Sequence[int]) -> set[int]:
    known: set[int] = set()
    ids = list(post_ids)
    for start in range(0, len(ids), 500):  # keep the IN list within every driver's limit
        chunk = ids[start : start + 500]
        rows = conn.execute(
            select(posts.c.post_id).where(posts.c.site == site, posts.c.post_id.in_(chunk))
        ).all()
        known.update(row[0] for row in rows)
    return known


def record_baseline(
    conn: Connection, site: str, post_id: int, date_gmt: datetime, *, now: datetime
) -> None:
    """Remember a post that was there before first contact; it is never shared."""
    insert_ignore(
        conn,
        posts,
        {
            "site": site,
            "post_id": post_id,
            "title": "",
            "link": "",
            "date_gmt": date_gmt,
            "detected_at": now,
            "shared": False,
            "source": None,
        },
    )


def record_new(conn: Connection, post: SourcePost, title: str, *, now: datetime) -> int | None:
    """Store a post to share; None if another poller stored it first."""
    return insert_ignore(
        conn,
        posts,
        {
            "site": post.site,
            "post_id": post.post_id,
            "title": title,
            "link": post.link,
            "date_gmt": post.date_gmt,
            "detected_at": now,
            "shared": True,
            "source": post.to_json(),
        },
    )

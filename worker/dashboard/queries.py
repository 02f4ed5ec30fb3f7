"""The reads behind every page and API endpoint (SQLAlchemy Core).

Each list is one indexed, paginated query plus at most one query for the
rows it needs around it; nothing here reads a whole table into Python, so the
pages stay fast with 100,000 deliveries (``benchmarks/dashboard.py``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from worker.dashboard.models import (
    STATES,
    AccountRow,
    ChartDay,
    Chip,
    DeliveryDetail,
    DeliveryPage,
    DeliveryRow,
    Health,
    HeartbeatRow,
    HistoryEntry,
    Overview,
    PostDetail,
    PostPage,
    PostRow,
    SiteRow,
    StateCounts,
    WorkerState,
)
from worker.models import DeliveryStatus
from worker.report import publish_status
from worker.settings import Settings
from worker.store.accounts import AccountState, all_states
from worker.store.schema import deliveries, history, posts
from worker.store.sites import all_sites

FAILED_STATES = (DeliveryStatus.FAILED.value, DeliveryStatus.UNCONFIRMED.value)
WAITING_STATES = (DeliveryStatus.RETRY_WAIT.value,)


def state_counts(conn: Connection, *, since: datetime) -> StateCounts:
    """Deliveries created since ``since``, by their current state."""
    # Grouping by lower(status), not status: given the plain column, SQLite
    # (without ANALYZE statistics) walks the whole status index to get rows
    # already grouped, instead of the far smaller created_at range.
    status = func.lower(deliveries.c.status)
    rows = conn.execute(
        select(status, func.count()).where(deliveries.c.created_at >= since).group_by(status)
    ).all()
    counts = dict.fromkeys(STATES, 0)
    counts.update({row[0]: int(row[1]) for row in rows})
    return StateCounts(since=since, counts=counts, total=sum(counts.values()))


def chart_days(conn: Connection, *, now: datetime, days: int = 14) -> list[ChartDay]:
    """Deliveries per day (UTC) by current state, oldest day first, gaps filled."""
    first = (now - timedelta(days=days - 1)).date()
    start = datetime.combine(first, datetime.min.time(), tzinfo=now.tzinfo)
    day = func.date(deliveries.c.created_at)
    rows = conn.execute(
        select(day, deliveries.c.status, func.count())
        .where(deliveries.c.created_at >= start)
        .group_by(day, deliveries.c.status)
    ).all()
    per_day: dict[date, dict[str, int]] = {
        first + timedelta(days=i): dict.fromkeys(STATES, 0) for i in range(days)
    }
    for value, status, count in rows:
        # SQLite's date() gives text, PostgreSQL's a date.
        key = value if isinstance(value, date) else date.fromisoformat(str(value))
        if key in per_day:
            per_day[key][status] = per_day[key].get(status, 0) + int(count)
    return [ChartDay(day=d, counts=c) for d, c in sorted(per_day.items())]


def site_rows(conn: Connection, settings: Settings) -> list[SiteRow]:
    stored = {s.name: s for s in all_sites(conn)}
    rows = []
    for name in sorted(set(stored) | set(settings.sites)):
        state = stored.get(name)
        configured = settings.sites.get(name)
        rows.append(
            SiteRow(
                name=name,
                configured=configured is not None,
                enabled=configured is not None and configured.enabled,
                last_poll_at=state.last_poll_at if state else None,
                last_poll_ok=state.last_poll_ok if state else None,
                last_error=state.last_error if state else None,
                failures=state.failures if state else 0,
                next_poll_at=state.next_poll_at if state else None,
            )
        )
    return rows


def health(state: AccountState, now: datetime) -> Health:
    if state.needs_attention:
        return "needs_attention"
    if state.blocked_until(now) is not None:
        return "rate_limited"
    if state.paused:
        return "paused"
    return "ok"


def account_rows(conn: Connection, settings: Settings, *, now: datetime) -> list[AccountRow]:
    """Every account the store knows, with its health and deliveries by state."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATES, 0))
    for account, status, count in conn.execute(
        select(deliveries.c.account, deliveries.c.status, func.count()).group_by(
            deliveries.c.account, deliveries.c.status
        )
    ).all():
        counts[account][status] = int(count)
    checked = _checked_at(conn)
    rows = []
    for state in all_states(conn):
        configured = settings.accounts.get(state.name)
        rows.append(
            AccountRow(
                name=state.name,
                network=state.network,
                configured=configured is not None,
                enabled=configured is not None and configured.enabled,
                paused=state.paused,
                health=health(state, now),
                hold_until=state.blocked_until(now),
                last_error=state.last_error,
                checked_at=checked.get(state.name),
                counts=counts[state.name],
            )
        )
    return rows


def _checked_at(conn: Connection) -> dict[str, datetime | None]:
    from worker.store.schema import accounts

    return {
        row.name: row.checked_at
        for row in conn.execute(select(accounts.c.name, accounts.c.checked_at)).all()
    }


# ----------------------------------------------------------------------- posts
def _post_filters(
    *, site: str | None, account: str | None, state: str | None, q: str | None
) -> list[Any]:
    where: list[Any] = [posts.c.shared.is_(True)]
    if site:
        where.append(posts.c.site == site)
    if account or state:
        inner: list[Any] = []
        if account:
            inner.append(deliveries.c.account == account)
        if state:
            inner.append(deliveries.c.status == state)
        # IN (a set built once from an index on deliveries), not a correlated
        # EXISTS: SQLite probes a rare state's index once per post otherwise.
        where.append(posts.c.id.in_(select(deliveries.c.post_ref).where(*inner)))
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(posts.c.title.ilike(f"%{escaped}%", escape="\\"))
    return where


def post_page(
    conn: Connection,
    *,
    page: int = 1,
    per_page: int = 50,
    site: str | None = None,
    account: str | None = None,
    state: str | None = None,
    q: str | None = None,
) -> PostPage:
    """Shared posts, newest first, each with one chip per account."""
    where = _post_filters(site=site, account=account, state=state, q=q)
    rows = conn.execute(
        select(
            posts.c.id,
            posts.c.site,
            posts.c.post_id,
            posts.c.title,
            posts.c.link,
            posts.c.date_gmt,
            posts.c.detected_at,
        )
        .where(*where)
        .order_by(posts.c.detected_at.desc(), posts.c.id.desc())
        .limit(per_page + 1)
        .offset((page - 1) * per_page)
    ).all()
    has_next = len(rows) > per_page
    rows = rows[:per_page]
    chips: dict[int, list[Chip]] = defaultdict(list)
    if rows:
        for d in conn.execute(
            select(
                deliveries.c.id, deliveries.c.post_ref, deliveries.c.account, deliveries.c.status
            )
            .where(deliveries.c.post_ref.in_([r.id for r in rows]))
            .order_by(deliveries.c.account)
        ).all():
            chips[d.post_ref].append(Chip(delivery_id=d.id, account=d.account, status=d.status))
    items = [
        PostRow(
            id=r.id,
            site=r.site,
            post_id=r.post_id,
            title=r.title,
            link=r.link,
            date_gmt=r.date_gmt,
            detected_at=r.detected_at,
            publish_status=publish_status([DeliveryStatus(c.status) for c in chips[r.id]]).value,
            deliveries=chips[r.id],
        )
        for r in rows
    ]
    return PostPage(items=items, page=page, per_page=per_page, has_next=has_next)


def post_detail(conn: Connection, post_ref: int) -> PostDetail | None:
    """One post: each account's composed message and its full history."""
    post = conn.execute(
        select(posts).where(posts.c.id == post_ref, posts.c.shared.is_(True))
    ).first()
    if post is None:
        return None
    delivery_rows = conn.execute(
        select(deliveries).where(deliveries.c.post_ref == post_ref).order_by(deliveries.c.account)
    ).all()
    entries: dict[int, list[HistoryEntry]] = defaultdict(list)
    if delivery_rows:
        for h in conn.execute(
            select(history)
            .where(history.c.delivery_id.in_([d.id for d in delivery_rows]))
            .order_by(history.c.timestamp, history.c.id)
        ).all():
            entries[h.delivery_id].append(
                HistoryEntry(
                    id=h.id,
                    timestamp=h.timestamp,
                    attempt=h.attempt,
                    status=h.status,
                    error_kind=h.error_kind,
                    error=h.error,
                    remote_url=h.remote_url,
                    duration_ms=h.duration_ms,
                )
            )
    details = []
    for d in delivery_rows:
        message = d.message or {}
        details.append(
            DeliveryDetail(
                id=d.id,
                account=d.account,
                network=d.network,
                status=d.status,
                attempts=d.attempts,
                created_at=d.created_at,
                updated_at=d.updated_at,
                retry_at=d.retry_at,
                remote_url=d.remote_url,
                last_error_kind=d.last_error_kind,
                last_error=d.last_error,
                message=message.get("text"),
                message_length=message.get("length"),
                history=entries[d.id],
            )
        )
    return PostDetail(
        id=post.id,
        site=post.site,
        post_id=post.post_id,
        title=post.title,
        link=post.link,
        date_gmt=post.date_gmt,
        detected_at=post.detected_at,
        publish_status=publish_status([DeliveryStatus(d.status) for d in delivery_rows]).value,
        deliveries=details,
    )


# --------------------------------------------------------- failures and waiting
def delivery_page(
    conn: Connection,
    *,
    statuses: tuple[str, ...],
    page: int = 1,
    per_page: int = 50,
    account: str | None = None,
    oldest_first: bool = False,
) -> DeliveryPage:
    """Deliveries in ``statuses``, last changed first (waiting: next retry first)."""
    where: list[Any] = [deliveries.c.status.in_(statuses)]
    if account:
        where.append(deliveries.c.account == account)
    order = (
        (deliveries.c.retry_at.asc(), deliveries.c.id.asc())
        if oldest_first
        else (deliveries.c.updated_at.desc(), deliveries.c.id.desc())
    )
    rows = conn.execute(
        select(
            deliveries.c.id,
            deliveries.c.post_ref,
            deliveries.c.account,
            deliveries.c.network,
            deliveries.c.status,
            deliveries.c.attempts,
            deliveries.c.last_error_kind,
            deliveries.c.last_error,
            deliveries.c.updated_at,
            deliveries.c.retry_at,
            posts.c.site,
            posts.c.post_id,
            posts.c.title,
        )
        .join(posts, posts.c.id == deliveries.c.post_ref)
        .where(*where)
        .order_by(*order)
        .limit(per_page + 1)
        .offset((page - 1) * per_page)
    ).all()
    by_account = {
        row[0]: int(row[1])
        for row in conn.execute(
            select(deliveries.c.account, func.count())
            .where(deliveries.c.status.in_(statuses))
            .group_by(deliveries.c.account)
            .order_by(deliveries.c.account)
        ).all()
    }
    total = by_account.get(account, 0) if account else sum(by_account.values())
    items = [
        DeliveryRow(
            id=r.id,
            post_ref=r.post_ref,
            site=r.site,
            post_id=r.post_id,
            title=r.title,
            account=r.account,
            network=r.network,
            status=r.status,
            attempts=r.attempts,
            error_kind=r.last_error_kind,
            error=r.last_error,
            last_attempt_at=r.updated_at,
            retry_at=r.retry_at,
        )
        for r in rows[:per_page]
    ]
    return DeliveryPage(
        items=items,
        page=page,
        per_page=per_page,
        has_next=len(rows) > per_page,
        total=total,
        by_account=by_account,
    )


def retryable_count(
    conn: Connection, *, statuses: tuple[str, ...], account: str | None = None
) -> int:
    """How many deliveries a bulk retry would send again (shown before confirming)."""
    where: list[Any] = [deliveries.c.status.in_(statuses)]
    if account:
        where.append(deliveries.c.account == account)
    return int(
        conn.execute(select(func.count()).select_from(deliveries).where(*where)).scalar_one()
    )


def filter_choices(conn: Connection) -> tuple[list[str], list[str]]:
    """Site and account names for the posts page's filters."""
    from worker.store.schema import accounts, sites

    site_names = [r[0] for r in conn.execute(select(sites.c.name).order_by(sites.c.name)).all()]
    account_names = [
        r[0] for r in conn.execute(select(accounts.c.name).order_by(accounts.c.name)).all()
    ]
    return site_names, account_names


# ---------------------------------------------------------------- worker state
# kombu's Redis transport keeps a queue as a list named after it, plus one list
# per priority step named ``<queue>\x06\x16<priority>`` (kombu.transport.redis,
# ``Channel._q_for_pri``; its own ``_size`` sums the same lists).
_KOMBU_PRIORITY_SEPARATOR = "\x06\x16"
_KOMBU_PRIORITY_STEPS = (0, 3, 6, 9)


def queue_depth(redis_url: str, queue: str) -> int:
    """Messages waiting in the Celery queue, read straight from Redis."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1)
    try:
        with client.pipeline() as pipe:
            for step in _KOMBU_PRIORITY_STEPS:
                pipe.llen(f"{queue}{_KOMBU_PRIORITY_SEPARATOR}{step}" if step else queue)
            return sum(int(size) for size in pipe.execute())
    finally:
        client.close()


def worker_state(conn: Connection, settings: Settings, *, now: datetime) -> WorkerState:
    from worker.store.heartbeats import all_heartbeats

    beats = [
        HeartbeatRow(
            name=b.name,
            mode=b.mode,
            last_seen=b.last_seen,
            age_seconds=max(0.0, (now - b.last_seen).total_seconds()),
        )
        for b in all_heartbeats(conn)
    ]
    depth: int | None = None
    problem: str | None = None
    if settings.redis_url:
        try:
            depth = queue_depth(settings.redis_url, settings.celery_queue)
        except Exception as exc:  # the page must render while Redis is down
            problem = f"Redis unreachable: {type(exc).__name__}"
    return WorkerState(
        mode="distributed" if settings.distributed else "embedded",
        queue=settings.celery_queue if settings.distributed else None,
        queue_depth=depth,
        queue_error=problem,
        heartbeats=beats,
    )


def overview(conn: Connection, settings: Settings, *, now: datetime) -> Overview:
    return Overview(
        now=now,
        day=state_counts(conn, since=now - timedelta(days=1)),
        week=state_counts(conn, since=now - timedelta(days=7)),
        chart=chart_days(conn, now=now),
        sites=site_rows(conn, settings),
        accounts=account_rows(conn, settings, now=now),
        worker=worker_state(conn, settings, now=now),
    )

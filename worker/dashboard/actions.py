"""The state changes a person can make, through the same store functions the CLI uses.

Each action is one transaction and returns what it did, so the page can say
it in a flash message and the API can return it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import httpx
from sqlalchemy import Engine

from worker.dashboard.models import CheckOutcome
from worker.models import DeliveryStatus
from worker.platforms.configured import ConfiguredAdapters
from worker.settings import Settings
from worker.store.accounts import clear_hold, get_state, set_paused
from worker.store.deliveries import accounts_of, confirm_published, requeue, wake_account

RETRYABLE = (DeliveryStatus.FAILED, DeliveryStatus.UNCONFIRMED, DeliveryStatus.RETRY_WAIT)


def retry(
    engine: Engine,
    *,
    now: datetime,
    ids: Sequence[int] = (),
    account: str | None = None,
    statuses: Sequence[DeliveryStatus] = RETRYABLE,
) -> list[int]:
    """Send deliveries again, as ``crosspost retry`` does: re-queue, lift the wait.

    The next sweep (in ``crosspost run`` or beat) sends them; nothing is sent
    from the web process itself.
    """
    with engine.begin() as conn:
        found = requeue(conn, now=now, ids=ids, account=account, statuses=statuses)
        for name in accounts_of(conn, found) | ({account} if account else set()):
            clear_hold(conn, name, now=now)
    return found


def send_again(engine: Engine, delivery_id: int, *, now: datetime) -> bool:
    """An unconfirmed delivery did not reach the network: send it again."""
    return bool(retry(engine, now=now, ids=[delivery_id], statuses=[DeliveryStatus.UNCONFIRMED]))


def mark_published(
    engine: Engine, delivery_id: int, *, now: datetime, remote_url: str | None
) -> bool:
    """An unconfirmed delivery did reach the network (a person looked)."""
    url = (remote_url or "").strip() or None
    with engine.begin() as conn:
        return confirm_published(conn, delivery_id, now=now, remote_url=url)


def pause(engine: Engine, account: str, *, paused: bool) -> bool:
    """Pause or resume an account; a resumed one's held deliveries go at the next sweep."""
    with engine.begin() as conn:
        found = set_paused(conn, account, paused)
        if found and not paused:
            wake_account(conn, account)
        return found


def check_account(
    engine: Engine,
    load_settings: Callable[[], Settings],
    account: str,
    *,
    now: datetime,
) -> CheckOutcome:
    """Run the account's credentials probe with the settings as they are now.

    The settings are read again (the operator has just fixed ``.env``), and the
    probe gets its own adapter and client, so it tries the new credentials.
    A success lifts the account's "needs attention" hold, as ``crosspost
    check`` does.
    """
    settings = load_settings()
    with engine.connect() as conn:
        known = get_state(conn, account) is not None
    configured = settings.accounts.get(account)
    if configured is None or not known:
        return CheckOutcome(account=account, ok=False, detail="no such account in the settings")
    with httpx.Client(
        timeout=httpx.Timeout(settings.http_timeout_seconds, connect=10.0),
        headers={"User-Agent": settings.user_agent},
        follow_redirects=False,
    ) as http:
        adapter = ConfiguredAdapters({account: configured}, http, engine).get(account)
        assert adapter is not None
        try:
            result = adapter.check()
            ok, detail = result.ok, adapter.redact(result.detail)
        except Exception as exc:  # a probe must report, not crash the page
            ok, detail = False, adapter.redact(f"{type(exc).__name__}: {exc}")
    if ok:
        with engine.begin() as conn:
            clear_hold(conn, account, now=now)
    return CheckOutcome(account=account, ok=ok, detail=detail)

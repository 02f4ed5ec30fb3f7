"""The JSON API: every read and action of the pages, under ``/api``.

Authenticated by ``Authorization: Bearer <DASHBOARD_TOKEN>``, or by a logged-in
session cookie; a POST with the cookie also needs the ``X-CSRF-Token`` header,
because a browser sends cookies on cross-site requests and a bearer header it
never adds by itself.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel

from worker.dashboard import actions, queries
from worker.dashboard.auth import CSRF_HEADER
from worker.dashboard.context import dashboard
from worker.dashboard.models import (
    AccountRow,
    ActionResult,
    CheckOutcome,
    ConfirmRequest,
    DeliveryPage,
    Overview,
    PostDetail,
    PostPage,
    RetryCount,
    RetryRequest,
    RetryResult,
)


class ErrorBody(BaseModel):
    detail: str


def _read(request: Request) -> None:
    dashboard(request).auth.require_api(request)


def _write(request: Request) -> None:
    auth = dashboard(request).auth
    auth.require_api(request)
    if not auth.bearer_ok(request):
        auth.check_csrf(request, request.headers.get(CSRF_HEADER))


_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "no valid bearer token or session"},
}
_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **_AUTH_ERRORS,
    403: {"model": ErrorBody, "description": "session without the X-CSRF-Token header"},
}
# A body that is not JSON at all gets FastAPI's 400 (a JSON body of the wrong
# shape gets 422).
_BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    **_WRITE_ERRORS,
    400: {"model": ErrorBody, "description": "the body is not JSON"},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}}

router = APIRouter(prefix="/api", tags=["dashboard"], responses=_AUTH_ERRORS)

Page = Annotated[int, Query(ge=1, le=10_000)]
PerPage = Annotated[int, Query(ge=1, le=200)]
Name = Annotated[str, Path(min_length=1, max_length=100)]
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
OptionalName = Annotated[str | None, Query(max_length=100)]
State = Literal["queued", "sending", "retry_wait", "published", "failed", "unconfirmed", "skipped"]
ListName = Literal["failures", "waiting"]
LISTS = {"failures": queries.FAILED_STATES, "waiting": queries.WAITING_STATES}


@router.get("/overview", response_model=Overview, dependencies=[Depends(_read)])
def get_overview(request: Request) -> Overview:
    """Counts by state (last day and week), the chart's data, sites, accounts, workers."""
    dash = dashboard(request)
    with dash.engine.connect() as conn:
        return queries.overview(conn, dash.settings, now=dash.clock())


@router.get("/posts", response_model=PostPage, dependencies=[Depends(_read)])
def list_posts(
    request: Request,
    page: Page = 1,
    per_page: PerPage = 50,
    site: OptionalName = None,
    account: OptionalName = None,
    state: State | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> PostPage:
    """Shared posts, newest first, with each account's delivery state."""
    dash = dashboard(request)
    with dash.engine.connect() as conn:
        return queries.post_page(
            conn, page=page, per_page=per_page, site=site, account=account, state=state, q=q
        )


@router.get(
    "/posts/{post_ref}",
    response_model=PostDetail,
    responses=_NOT_FOUND,
    dependencies=[Depends(_read)],
)
def get_post(request: Request, post_ref: Id) -> PostDetail:
    """One post: each account's composed message and its history."""
    dash = dashboard(request)
    with dash.engine.connect() as conn:
        post = queries.post_detail(conn, post_ref)
    if post is None:
        raise HTTPException(404, f"no shared post {post_ref}")
    return post


@router.get("/failures", response_model=DeliveryPage, dependencies=[Depends(_read)])
def list_failures(
    request: Request, page: Page = 1, per_page: PerPage = 50, account: OptionalName = None
) -> DeliveryPage:
    """Failed and unconfirmed deliveries, last changed first."""
    dash = dashboard(request)
    with dash.engine.connect() as conn:
        return queries.delivery_page(
            conn, statuses=queries.FAILED_STATES, page=page, per_page=per_page, account=account
        )


@router.get("/waiting", response_model=DeliveryPage, dependencies=[Depends(_read)])
def list_waiting(
    request: Request, page: Page = 1, per_page: PerPage = 50, account: OptionalName = None
) -> DeliveryPage:
    """Deliveries waiting to retry, soonest retry first."""
    dash = dashboard(request)
    with dash.engine.connect() as conn:
        return queries.delivery_page(
            conn,
            statuses=queries.WAITING_STATES,
            page=page,
            per_page=per_page,
            account=account,
            oldest_first=True,
        )


@router.get("/retry-count", response_model=RetryCount, dependencies=[Depends(_read)])
def retry_count(
    request: Request, list: ListName = "failures", account: OptionalName = None
) -> RetryCount:
    """How many deliveries a bulk retry of this list (and account) would send again."""
    dash = dashboard(request)
    with dash.engine.connect() as conn:
        count = queries.retryable_count(conn, statuses=LISTS[list], account=account)
    return RetryCount(account=account, count=count)


@router.get("/accounts", response_model=list[AccountRow], dependencies=[Depends(_read)])
def list_accounts(request: Request) -> list[AccountRow]:
    """Each account's health, pause state and deliveries by state."""
    dash = dashboard(request)
    with dash.engine.connect() as conn:
        return queries.account_rows(conn, dash.settings, now=dash.clock())


# --------------------------------------------------------------------- actions
@router.post(
    "/deliveries/retry",
    response_model=RetryResult,
    responses=_BODY_ERRORS,
    dependencies=[Depends(_write)],
)
def retry(request: Request, body: RetryRequest) -> RetryResult:
    """Send deliveries again: the given ids, or with ``all`` every failed,
    unconfirmed or waiting one (of ``account`` if given)."""
    dash = dashboard(request)
    if not body.ids and not body.all:
        return RetryResult(retried=[], count=0)
    ids = [i for i in body.ids if 1 <= i < 2**31]
    done = actions.retry(
        dash.engine, now=dash.clock(), ids=ids if not body.all else (), account=body.account
    )
    return RetryResult(retried=done, count=len(done))


@router.post(
    "/deliveries/{delivery_id}/published",
    response_model=ActionResult,
    responses=_BODY_ERRORS,
    dependencies=[Depends(_write)],
)
def mark_published(request: Request, delivery_id: Id, body: ConfirmRequest) -> ActionResult:
    """An unconfirmed delivery did reach the network; optionally give its URL."""
    dash = dashboard(request)
    ok = actions.mark_published(
        dash.engine, delivery_id, now=dash.clock(), remote_url=body.remote_url
    )
    return ActionResult(
        ok=ok, message="marked published" if ok else "not unconfirmed; nothing changed"
    )


@router.post(
    "/deliveries/{delivery_id}/send-again",
    response_model=ActionResult,
    responses=_WRITE_ERRORS,
    dependencies=[Depends(_write)],
)
def send_again(request: Request, delivery_id: Id) -> ActionResult:
    """An unconfirmed delivery did not reach the network: send it again."""
    dash = dashboard(request)
    ok = actions.send_again(dash.engine, delivery_id, now=dash.clock())
    return ActionResult(ok=ok, message="queued" if ok else "not unconfirmed; nothing changed")


def _pause(request: Request, name: str, paused: bool) -> ActionResult:
    dash = dashboard(request)
    if not actions.pause(dash.engine, name, paused=paused):
        raise HTTPException(404, f"no account {name}")
    return ActionResult(ok=True, message="paused" if paused else "resumed")


@router.post(
    "/accounts/{name}/pause",
    response_model=ActionResult,
    responses={**_WRITE_ERRORS, **_NOT_FOUND},
    dependencies=[Depends(_write)],
)
def pause_account(request: Request, name: Name) -> ActionResult:
    """Hold every delivery of the account until it is resumed."""
    return _pause(request, name, True)


@router.post(
    "/accounts/{name}/resume",
    response_model=ActionResult,
    responses={**_WRITE_ERRORS, **_NOT_FOUND},
    dependencies=[Depends(_write)],
)
def resume_account(request: Request, name: Name) -> ActionResult:
    return _pause(request, name, False)


@router.post(
    "/accounts/{name}/check",
    response_model=CheckOutcome,
    responses=_WRITE_ERRORS,
    dependencies=[Depends(_write)],
)
def check_account(request: Request, name: Name) -> CheckOutcome:
    """Run the credentials probe with ``.env`` as it is now; lifts the hold if it passes."""
    dash = dashboard(request)
    return actions.check_account(dash.engine, dash.reload_settings, name, now=dash.clock())

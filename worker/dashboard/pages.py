"""The HTML pages and their form actions.

GET pages only read.  Every action is a POST carrying the session's CSRF token
and answers 303 to a page, with a flash message saying what happened
(Sidekiq's habit: the page you come back to shows the result).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import Response

from worker.dashboard import actions, queries
from worker.dashboard.auth import FLASH_COOKIE, Session
from worker.dashboard.chart import COLOURS, svg_chart
from worker.dashboard.context import dashboard
from worker.models import DeliveryStatus

PER_PAGE = 50
LISTS: dict[str, tuple[str, ...]] = {
    "failures": queries.FAILED_STATES,
    "waiting": queries.WAITING_STATES,
}


def _user(request: Request) -> Session:
    return dashboard(request).auth.require_user(request)


# The login needs no session; everything else does.
router = APIRouter(include_in_schema=False)
pages = APIRouter(include_in_schema=False, dependencies=[Depends(_user)])


def _local(path: str | None, default: str = "/") -> str:
    """Only a path on this site may be a redirect target (no open redirect)."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return default


def _int(value: Any, default: int, *, low: int = 1, high: int = 100_000) -> int:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return default
    return min(max(number, low), high)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    dash = dashboard(request)
    session = dash.auth.session(request)
    html = dash.templates.get_template(template).render(
        request=request,
        csrf=session.csrf,
        logged_in=session.user and not dash.auth.open,
        flash=dash.auth.take_flash(request),
        path=request.url.path,
        now=dash.clock(),
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    if session.new:
        dash.auth.save(request, response, session)
    if request.cookies.get(FLASH_COOKIE):
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect(request: Request, to: str, message: str | None = None) -> Response:
    response = RedirectResponse(to, status_code=303)
    if message:
        dashboard(request).auth.flash(request, response, message)
    return response


async def _checked_form(request: Request) -> FormData:
    """The posted form, after its CSRF token was checked."""
    form = await request.form()
    token = form.get("csrf_token")
    dashboard(request).auth.check_csrf(request, token if isinstance(token, str) else None)
    return form


def _plural(count: int, noun: str) -> str:
    if count == 1:
        return f"1 {noun}"
    return f"{count} {noun[:-1] + 'ies' if noun.endswith('y') else noun + 's'}"


# ----------------------------------------------------------------------- login
@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    dash = dashboard(request)
    if dash.auth.session(request).user:
        return redirect(request, _local(next))
    return render(request, "login.html", next=_local(next), error=None)


@router.post("/login")
async def login(request: Request) -> Response:
    dash = dashboard(request)
    form = await _checked_form(request)
    target = _local(str(form.get("next") or "/"))
    session = dash.auth.login(request, str(form.get("password") or ""))
    if session is None:
        request.state.session = None
        return render(request, "login.html", 401, next=target, error="Wrong password.")
    response = redirect(request, target)
    dash.auth.save(request, response, session)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    dash = dashboard(request)
    await _checked_form(request)
    session = dash.auth.session(request)
    session.user = False
    response = redirect(request, "/login")
    dash.auth.save(request, response, session)
    return response


# ----------------------------------------------------------------------- pages
@pages.get("/")
def overview_page(request: Request) -> Response:
    dash = dashboard(request)
    with dash.engine.connect() as conn:
        data = queries.overview(conn, dash.settings, now=dash.clock())
    return render(request, "overview.html", data=data, chart=svg_chart(data.chart), colours=COLOURS)


@pages.get("/posts")
def posts_page(request: Request) -> Response:
    dash = dashboard(request)
    params = request.query_params
    state = params.get("state") or None
    if state not in {s.value for s in DeliveryStatus}:
        state = None
    filters = {
        "site": params.get("site") or None,
        "account": params.get("account") or None,
        "state": state,
        "q": (params.get("q") or "").strip()[:200] or None,
    }
    page = _int(params.get("page"), 1)
    with dash.engine.connect() as conn:
        data = queries.post_page(conn, page=page, per_page=PER_PAGE, **filters)
        sites, accounts = queries.filter_choices(conn)
    query = {k: v for k, v in filters.items() if v}
    return render(
        request,
        "posts.html",
        data=data,
        filters=filters,
        sites=sites,
        accounts=accounts,
        states=[s.value for s in DeliveryStatus],
        prev_url=f"/posts?{urlencode({**query, 'page': page - 1})}" if page > 1 else None,
        next_url=f"/posts?{urlencode({**query, 'page': page + 1})}" if data.has_next else None,
    )


@pages.get("/posts/{post_ref}")
def post_page(request: Request, post_ref: int) -> Response:
    dash = dashboard(request)
    with dash.engine.connect() as conn:
        post = queries.post_detail(conn, post_ref)
    if post is None:
        return render(request, "not_found.html", 404, what=f"post {post_ref}")
    return render(request, "post.html", post=post)


def _list_page(request: Request, which: str) -> Response:
    dash = dashboard(request)
    account = request.query_params.get("account") or None
    page = _int(request.query_params.get("page"), 1)
    with dash.engine.connect() as conn:
        data = queries.delivery_page(
            conn,
            statuses=LISTS[which],
            page=page,
            per_page=PER_PAGE,
            account=account,
            oldest_first=which == "waiting",
        )
    query = {"account": account} if account else {}
    base = f"/{which}"
    return render(
        request,
        f"{which}.html",
        data=data,
        account=account,
        back=base + (f"?{urlencode(query)}" if query else ""),
        prev_url=f"{base}?{urlencode({**query, 'page': page - 1})}" if page > 1 else None,
        next_url=f"{base}?{urlencode({**query, 'page': page + 1})}" if data.has_next else None,
    )


@pages.get("/failures")
def failures_page(request: Request) -> Response:
    return _list_page(request, "failures")


@pages.get("/waiting")
def waiting_page(request: Request) -> Response:
    return _list_page(request, "waiting")


@pages.get("/retry-all")
def retry_all_page(
    request: Request, list: str = "failures", account: str | None = None
) -> Response:
    """Ask before a bulk retry, showing how many deliveries it will send again."""
    which = list if list in LISTS else "failures"
    dash = dashboard(request)
    with dash.engine.connect() as conn:
        count = queries.retryable_count(conn, statuses=LISTS[which], account=account or None)
    return render(request, "retry_all.html", which=which, account=account or None, count=count)


@pages.get("/accounts")
def accounts_page(request: Request) -> Response:
    dash = dashboard(request)
    with dash.engine.connect() as conn:
        rows = queries.account_rows(conn, dash.settings, now=dash.clock())
    return render(request, "accounts.html", accounts=rows)


# --------------------------------------------------------------------- actions
@pages.post("/deliveries/retry")
async def retry_selected(request: Request) -> Response:
    """Retry one (the row's button) or the checked rows."""
    dash = dashboard(request)
    form = await _checked_form(request)
    back = _local(str(form.get("back") or "/failures"), "/failures")
    one = form.get("one")
    raw = [one] if one else form.getlist("ids")
    ids = sorted({_int(v, 0, low=0, high=2**31 - 1) for v in raw} - {0})
    if not ids:
        return redirect(request, back, "Nothing selected.")
    done = await run_in_threadpool(actions.retry, dash.engine, now=dash.clock(), ids=ids)
    return redirect(request, back, f"Queued {_plural(len(done), 'delivery')} to send again.")


@pages.post("/deliveries/retry-all")
async def retry_all(request: Request) -> Response:
    dash = dashboard(request)
    form = await _checked_form(request)
    which = str(form.get("list") or "failures")
    which = which if which in LISTS else "failures"
    account = str(form.get("account") or "") or None
    statuses = [DeliveryStatus(s) for s in LISTS[which]]
    done = await run_in_threadpool(
        actions.retry, dash.engine, now=dash.clock(), account=account, statuses=statuses
    )
    scope = f" of {account}" if account else ""
    return redirect(
        request, f"/{which}", f"Queued {_plural(len(done), 'delivery')}{scope} to send again."
    )


@pages.post("/deliveries/{delivery_id}/published")
async def mark_published(request: Request, delivery_id: int) -> Response:
    dash = dashboard(request)
    form = await _checked_form(request)
    back = _local(str(form.get("back") or "/failures"), "/failures")
    url = str(form.get(f"url_{delivery_id}") or form.get("url") or "").strip()
    if url and not url.startswith(("https://", "http://")):
        return redirect(request, back, "The link must start with https:// or http://.")
    ok = actions.mark_published(dash.engine, delivery_id, now=dash.clock(), remote_url=url)
    message = (
        f"Delivery {delivery_id} marked published."
        if ok
        else f"Delivery {delivery_id} is no longer unconfirmed; nothing changed."
    )
    return redirect(request, back, message)


@pages.post("/deliveries/{delivery_id}/send-again")
async def send_again(request: Request, delivery_id: int) -> Response:
    dash = dashboard(request)
    form = await _checked_form(request)
    back = _local(str(form.get("back") or "/failures"), "/failures")
    ok = actions.send_again(dash.engine, delivery_id, now=dash.clock())
    message = (
        f"Delivery {delivery_id} queued to send again."
        if ok
        else f"Delivery {delivery_id} is no longer unconfirmed; nothing changed."
    )
    return redirect(request, back, message)


@pages.post("/accounts/{name}/pause")
async def pause_account(request: Request, name: str) -> Response:
    dash = dashboard(request)
    await _checked_form(request)
    ok = actions.pause(dash.engine, name, paused=True)
    return redirect(
        request, "/accounts", f"Paused {name}: its deliveries wait." if ok else "No such account."
    )


@pages.post("/accounts/{name}/resume")
async def resume_account(request: Request, name: str) -> Response:
    dash = dashboard(request)
    await _checked_form(request)
    ok = actions.pause(dash.engine, name, paused=False)
    return redirect(request, "/accounts", f"Resumed {name}." if ok else "No such account.")


@pages.post("/accounts/{name}/check")
async def check_account(request: Request, name: str) -> Response:
    dash = dashboard(request)
    await _checked_form(request)
    outcome = await run_in_threadpool(
        actions.check_account, dash.engine, dash.reload_settings, name, now=dash.clock()
    )
    verdict = "credentials ok, hold lifted" if outcome.ok else "check FAILED"
    return redirect(request, "/accounts", f"{name}: {verdict}: {outcome.detail}")

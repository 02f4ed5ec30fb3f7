"""Who may use the dashboard: a password login with a signed session cookie,
a bearer token for the API, and a CSRF token on every state change.

The session lives entirely in a cookie signed with ``DASHBOARD_SECRET_KEY``
(or, when that is unset, a key derived from the password with HMAC, so that
sessions survive a restart without another setting to manage).  It holds the
CSRF token, whether the visitor logged in, and when.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.responses import Response

from worker.settings import Settings

SESSION_COOKIE = "crosspost_session"
FLASH_COOKIE = "crosspost_flash"
SESSION_SECONDS = 7 * 24 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class LoginRequired(Exception):
    """A page was asked for without a session; the app redirects to the login."""


class NotAuthenticated(Exception):
    """An API call came without a valid token or session (401)."""


class CsrfFailed(Exception):
    """A state change came without the session's CSRF token (403)."""


@dataclass
class Session:
    csrf: str
    user: bool
    new: bool = False


def secret_key(settings: Settings) -> bytes:
    """The key that signs cookies: set, derived from the password or token, or random.

    Derived keys go through HMAC with a fixed label, so the cookie signature
    reveals nothing usable about the password itself.
    """
    if settings.dashboard_secret_key is not None:
        return settings.dashboard_secret_key.get_secret_value().encode()
    source = settings.dashboard_password or settings.dashboard_token
    if source is not None:
        return hmac.new(
            b"crosspost-dashboard-session-key", source.get_secret_value().encode(), hashlib.sha256
        ).digest()
    # No auth at all (loopback, allowed): sessions only carry the CSRF token.
    return secrets.token_bytes(32)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


class Auth:
    def __init__(self, settings: Settings) -> None:
        self.password = settings.dashboard_password
        self.token = settings.dashboard_token
        self.open = settings.dashboard_allow_no_auth and not (self.password or self.token)
        key = secret_key(settings)
        self._sessions = URLSafeTimedSerializer(key, salt="crosspost-session")
        self._flashes = URLSafeTimedSerializer(key, salt="crosspost-flash")

    # ----------------------------------------------------------------- session
    def session(self, request: Request) -> Session:
        """The visitor's session, or a fresh anonymous one (set by ``save``)."""
        cached = getattr(request.state, "session", None)
        if isinstance(cached, Session):
            return cached
        session: Session | None = None
        raw = request.cookies.get(SESSION_COOKIE)
        if raw:
            try:
                data: Any = self._sessions.loads(raw, max_age=SESSION_SECONDS)
                if isinstance(data, dict) and isinstance(data.get("csrf"), str):
                    session = Session(csrf=data["csrf"], user=bool(data.get("user")))
            except BadSignature:
                session = None
        if session is None:
            session = Session(csrf=secrets.token_urlsafe(32), user=False, new=True)
        if self.open:
            session.user = True
        request.state.session = session
        return session

    def save(self, request: Request, response: Response, session: Session) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            self._sessions.dumps({"csrf": session.csrf, "user": session.user}),
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )

    def login(self, request: Request, given: str) -> Session | None:
        """A new session (new CSRF token: no fixation) if ``given`` is the password
        or the API token; None otherwise."""
        ok = False
        for secret in (self.password, self.token):
            if secret is not None and _same(given, secret.get_secret_value()):
                ok = True
        if not ok:
            return None
        session = Session(csrf=secrets.token_urlsafe(32), user=True, new=True)
        request.state.session = session
        return session

    # ------------------------------------------------------------------ checks
    def require_user(self, request: Request) -> Session:
        session = self.session(request)
        if not session.user:
            raise LoginRequired()
        return session

    def bearer_ok(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or self.token is None:
            return False
        return _same(value.strip(), self.token.get_secret_value())

    def require_api(self, request: Request) -> None:
        """The API: a valid bearer token, or a logged-in session."""
        if self.bearer_ok(request):
            return
        if self.session(request).user:
            return
        raise NotAuthenticated()

    def check_csrf(self, request: Request, given: str | None) -> None:
        session = self.session(request)
        if session.new or not given or not _same(given, session.csrf):
            raise CsrfFailed()

    # ------------------------------------------------------------------- flash
    def flash(self, request: Request, response: Response, message: str) -> None:
        response.set_cookie(
            FLASH_COOKIE,
            self._flashes.dumps(message),
            max_age=60,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )

    def take_flash(self, request: Request) -> str | None:
        raw = request.cookies.get(FLASH_COOKIE)
        if not raw:
            return None
        try:
            message = self._flashes.loads(raw, max_age=60)
        except BadSignature:
            return None
        return message if isinstance(message, str) else None

"""Signed session cookies and the CSRF token every form carries.

Sessions are Starlette's signed cookies (`SessionMiddleware`, itsdangerous):
the cookie holds the user's id, the user's session version (see
`accounts.Accounts.session_account`: signing out everywhere ends it), the
session's own random id (logging out ends that session alone:
`accounts.Accounts.end_session`) and the session's CSRF token; a cookie whose
signature does not match is ignored (the visitor is signed out). Every form
carries the CSRF token and every POST checks it. Served over HTTPS (`https_only`), the cookie is `Secure`.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.applications import Starlette
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request

CSRF_FAILED = "the form's CSRF token is missing or wrong: reload the page and try again"
SESSION_DAYS = 14


def add_sessions(app: Starlette, secret: str | None, cookie: str, *, https_only: bool = False) -> None:
    """Signed session cookies named `cookie` (key: `secret`, default a random one per process);
    with `https_only` the cookie is `Secure` (browsers send it over HTTPS only)."""
    app.add_middleware(SessionMiddleware, secret_key=secret or secrets.token_urlsafe(32),
                       session_cookie=cookie, same_site="lax", max_age=SESSION_DAYS * 86400,
                       https_only=https_only)


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use)."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return token


def csrf_ok(expected: object, given: object) -> bool:
    return isinstance(expected, str) and isinstance(given, str) and bool(expected) \
        and hmac.compare_digest(expected, given)


def sign_in(request: Request, user_id: int, session_version: int = 0) -> None:
    """A new session (and CSRF token) for `user_id` at the user's `session_version`:
    nothing of the old one survives."""
    request.session.clear()
    request.session["uid"] = user_id
    request.session["sv"] = session_version
    request.session["sid"] = secrets.token_urlsafe(24)
    request.session["csrf"] = secrets.token_urlsafe(24)


def session_user(request: Request) -> tuple[object, object, object]:
    """The (user id, session version, session id) the session claims: check them with
    `Accounts.session_account`. A session from before versions counts as version 0, one from
    before session ids has none (None)."""
    return request.session.get("uid"), request.session.get("sv", 0), request.session.get("sid")

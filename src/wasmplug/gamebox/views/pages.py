"""What every page shares: the app's state, rendering a template, the member, checked forms.

`create_app` keeps everything a view needs on `app.state`: `engine` (this
process's `ArenaEngine`), `backend` (where arenas live), `templates`,
`library` (the `DatabaseCatalogue`, or None when the site has no accounts)
and the rate limiters. The accessors here give them their types.
"""

from __future__ import annotations

from typing import Any, cast

import jinja2
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from wasmplug.web.accounts import Account
from wasmplug.web.body_limits import FORM_LIMITS
from wasmplug.web.rate_limits import RateLimiter
from wasmplug.web.sessions import CSRF_FAILED, csrf_ok, csrf_token, session_user

from ..arenas.base import ArenaBackend
from ..arenas.state import CODE_LENGTH, NAME_MAX
from ..catalogue.database import DatabaseCatalogue


def backend(connection: HTTPConnection) -> ArenaBackend:
    """Where this server's arenas live."""
    return cast(ArenaBackend, connection.app.state.backend)


def site_library(connection: HTTPConnection) -> DatabaseCatalogue | None:
    """The catalogue of uploaded games and accounts, or None (no accounts on this server)."""
    return cast(DatabaseCatalogue | None, connection.app.state.library)


def library(request: Request) -> DatabaseCatalogue:
    """The catalogue of uploaded games (only the site's routes, mounted with it, ask)."""
    found = site_library(request)
    assert found is not None, "the site's pages are mounted only with a DatabaseCatalogue"
    return found


def limiter(request: Request, name: str) -> RateLimiter:
    """The rate limiter `name` (signups, uploads, arena_misses)."""
    return cast(RateLimiter, getattr(request.app.state, f"{name}_limit"))


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """`template` rendered with `context` and what every page knows."""
    templates = cast(jinja2.Environment, request.app.state.templates)
    html = templates.get_template(template).render(**context, code_length=CODE_LENGTH, name_max=NAME_MAX,
                                                   site=site_library(request) is not None,
                                                   base_url=str(request.base_url))
    return HTMLResponse(html, status_code=status)


def current_user(request: Request) -> Account | None:
    """The signed-in member (None: signed out, the session ended, or no accounts on this server)."""
    found = site_library(request)
    return None if found is None else found.session_account(*session_user(request))


def site_page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    """A page of the site: it knows the signed-in member and its forms carry the CSRF token."""
    return render(request, template, status=status, me=current_user(request),
                  csrf=csrf_token(request), **context)


async def not_found(request: Request, exc: Exception) -> Response:
    """The styled page for an unknown URL (the app's 404 handler; the security headers apply)."""
    path = request.url.path[:200]
    if site_library(request) is not None and "session" in request.scope:
        return site_page(request, "404.html", status=404, path=path)
    return render(request, "404.html", status=404, path=path)


def refuse(request: Request, message: str, status: int = 403) -> Response:
    return site_page(request, "message.html", status=status, message=message)


async def checked_form(request: Request, *, files: bool = False) -> Any:
    """The posted form, or None when its CSRF token is missing or wrong.

    Without `files` a file part is refused (400) and fields are small (`FORM_LIMITS`)."""
    if files:
        form = await request.form(max_part_size=library(request).policy.max_bytes + 1024)
    else:
        form = await request.form(**FORM_LIMITS)
    if not csrf_ok(request.session.get("csrf"), form.get("csrf")):
        return None
    return form


def signed_in(request: Request) -> Account | Response:
    """The signed-in member, or the response sending a visitor to sign in (or refusing a ban)."""
    me = current_user(request)
    if me is None:
        return RedirectResponse("/login", status_code=303)
    if me.banned:
        return refuse(request, "your account is banned")
    return me


async def member_form(request: Request) -> tuple[Account, Any] | Response:
    """The signed-in member and their form (CSRF checked), or the response refusing it."""
    me = signed_in(request)
    if not isinstance(me, Account):
        return me
    form = await checked_form(request)
    if form is None:
        return refuse(request, CSRF_FAILED)
    return me, form

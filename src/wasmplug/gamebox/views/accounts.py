"""Accounts: sign up, sign in (rate-limited per username and per address), sign out.

    GET|POST /signup, /login      the forms; success starts a new session -> /my
    POST     /logout              -> /games
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from wasmplug.web.accounts import Account
from wasmplug.web.sessions import CSRF_FAILED, sign_in

from ..errors import GameBoxError
from .pages import checked_form, library, limiter, refuse, site_page


def _enter(request: Request, me: Account) -> Response:
    sign_in(request, me.id)  # a new session (and CSRF token) on every sign-in
    return RedirectResponse("/my", status_code=303)


async def signup(request: Request) -> Response:
    if request.method == "GET":
        return site_page(request, "signup.html", error="", username="")
    form = await checked_form(request)
    if form is None:
        return refuse(request, CSRF_FAILED)
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    try:
        me = await asyncio.to_thread(library(request).add_user, username, password)
    except GameBoxError as exc:
        return site_page(request, "signup.html", status=400, error=str(exc), username=username)
    return _enter(request, me)


async def login(request: Request) -> Response:
    if request.method == "GET":
        return site_page(request, "login.html", error="", username="")
    form = await checked_form(request)
    if form is None:
        return refuse(request, CSRF_FAILED)
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    address = request.client.host if request.client else "?"
    logins, addresses = limiter(request, "logins"), limiter(request, "login_addresses")
    wait = max(logins.blocked(username.lower()), addresses.blocked(address))
    if wait:
        return site_page(request, "login.html", status=429, username=username,
                         error=f"too many failed sign-ins: try again in {int(wait) + 1} s")
    me = await asyncio.to_thread(library(request).authenticate, username, password)
    if me is None:
        logins.hit(username.lower())
        addresses.hit(address)
        return site_page(request, "login.html", status=400, username=username,
                         error="wrong username or password")
    return _enter(request, me)


async def logout(request: Request) -> Response:
    form = await checked_form(request)
    if form is None:
        return refuse(request, CSRF_FAILED)
    request.session.clear()
    return RedirectResponse("/games", status_code=303)

"""Accounts: sign up, sign in, sign out (everywhere), change the password.

    GET|POST /signup, /login      the forms; success starts a new session -> /my
    POST     /logout              ends this browser's session (a copy of its cookie too) -> /games
    POST     /my/sessions/end     signs the member out everywhere (every session ends) -> /login
    POST     /my/password         current and new password; ends every other session -> /my

Over-long usernames and passwords are refused before anything is counted or
hashed. Sign-ups are limited per address; sign-ins go through the app's
`SignInGuard` (tries counted per username and address before the password is
checked, delays per address). What the address alone refuses (too many sign-ups,
too many sign-ins waiting) is answered before the form is read or its CSRF token
checked. Passwords are hashed on the app's `HashingPool`:
when it is full the answer is 503 at once.
"""

from __future__ import annotations

import asyncio
from typing import cast

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from wasmplug.web.accounts import Account
from wasmplug.web.passwords import HashingBusy, HashingPool, too_long
from wasmplug.web.sessions import CSRF_FAILED, session_user, sign_in
from wasmplug.web.sign_in import SignInGuard, Throttled

from ..errors import GameBoxError
from .pages import checked_form, library, limiter, member_form, refuse, site_page


def _enter(request: Request, me: Account) -> Response:
    sign_in(request, me.id, me.session_version)  # a new session (and CSRF token) on every sign-in
    return RedirectResponse("/my", status_code=303)


def _hashing(request: Request) -> HashingPool:
    return cast(HashingPool, request.app.state.hashing)


def _address(request: Request) -> str:
    return request.client.host if request.client else "?"


def _busy(request: Request, template: str, username: str, exc: HashingBusy) -> Response:
    response = site_page(request, template, status=503, error=str(exc), username=username)
    response.headers["retry-after"] = "5"
    return response


def _too_many_signups(request: Request, wait: float, username: str = "") -> Response:
    return site_page(request, "signup.html", status=429, username=username,
                     error=f"too many new accounts from your address: try again in {int(wait) + 1} s")


def _throttled(request: Request, exc: Throttled, username: str = "") -> Response:
    response = site_page(request, "login.html", status=429, username=username, error=str(exc))
    response.headers["retry-after"] = str(int(exc.wait) + 1)
    return response


async def signup(request: Request) -> Response:
    if request.method == "GET":
        return site_page(request, "signup.html", error="", username="")
    signups = limiter(request, "signups")
    if wait := signups.blocked(_address(request)):  # refused before the form is read
        return _too_many_signups(request, wait)
    form = await checked_form(request)
    if form is None:
        return refuse(request, CSRF_FAILED)
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    if reason := too_long(username, password):
        return site_page(request, "signup.html", status=400, error=reason, username="")
    if wait := signups.attempt(_address(request)):
        return _too_many_signups(request, wait, username)
    try:
        me = await _hashing(request).run(library(request).add_user, username, password)
    except HashingBusy as exc:
        return _busy(request, "signup.html", username, exc)
    except GameBoxError as exc:
        return site_page(request, "signup.html", status=400, error=str(exc), username=username)
    return _enter(request, me)


async def login(request: Request) -> Response:
    if request.method == "GET":
        return site_page(request, "login.html", error="", username="")
    guard = cast(SignInGuard, request.app.state.sign_in_guard)
    try:  # what the address alone decides, before the form is read or its CSRF token checked
        await guard.admit(_address(request))
    except Throttled as exc:
        return _throttled(request, exc)
    form = await checked_form(request)
    if form is None:
        return refuse(request, CSRF_FAILED)
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    if reason := too_long(username, password):
        return site_page(request, "login.html", status=400, error=reason, username="")
    hashing, accounts = _hashing(request), library(request)
    try:
        me = await guard.check(username, _address(request),
                               lambda: hashing.run(accounts.authenticate, username, password))
    except Throttled as exc:
        return _throttled(request, exc, username)
    except HashingBusy as exc:
        return _busy(request, "login.html", username, exc)
    if me is None:
        return site_page(request, "login.html", status=400, username=username,
                         error="wrong username or password")
    return _enter(request, me)


async def logout(request: Request) -> Response:
    form = await checked_form(request)
    if form is None:
        return refuse(request, CSRF_FAILED)
    uid, version, session_id = session_user(request)
    me = library(request).session_account(uid, version, session_id)
    if me is not None:  # a copy of this cookie no longer signs anyone in; other browsers stay
        await asyncio.to_thread(library(request).end_session, me, session_id)
    request.session.clear()
    return RedirectResponse("/games", status_code=303)


async def sign_out_everywhere(request: Request) -> Response:
    checked = await member_form(request)
    if isinstance(checked, Response):
        return checked
    me, _ = checked
    await asyncio.to_thread(library(request).end_sessions, me)  # every session, this one too
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


async def change_password(request: Request) -> Response:
    guard = cast(SignInGuard, request.app.state.sign_in_guard)
    try:  # (a password check too): the address's turn, before the form is read
        await guard.admit(_address(request))
    except Throttled as exc:
        return refuse(request, str(exc), 429)
    checked = await member_form(request)
    if isinstance(checked, Response):
        return checked
    me, form = checked
    current, new = str(form.get("current", "")), str(form.get("password", ""))
    if reason := too_long("", current) or too_long("", new):
        return refuse(request, reason, 400)
    hashing, accounts = _hashing(request), library(request)
    try:
        changed = await guard.check(me.username, _address(request),
                                    lambda: hashing.run(accounts.change_password, me, current, new))
    except Throttled as exc:
        return refuse(request, str(exc), 429)
    except HashingBusy as exc:
        return refuse(request, str(exc), 503)
    except GameBoxError as exc:
        return refuse(request, str(exc), 400)
    if changed is None:
        return refuse(request, "the current password is wrong: nothing was changed", 400)
    sign_in(request, changed.id, changed.session_version)  # this browser stays signed in
    return RedirectResponse("/my", status_code=303)

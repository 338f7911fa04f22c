"""The pages and API of uploaded games: accounts, uploads, the catalogue, admin.

Mounted by `create_app` when its catalogue is a `Library`:

    GET  /games?q=&page=          the catalogue, with search
    GET  /games/{slug}            a game's page (artwork, description, versions, plays)
    GET  /games/{slug}/art.png    its artwork (thumb.png: the thumbnail), re-encoded
    GET|POST /signup, /login      accounts; POST /logout
    GET  /my                      my games (edit, new version, delete) and my API tokens
    POST /my/upload               upload a game or a new version (form)
    GET  /admin                   users (ban, unban) and every game (delete)
    POST /api/games               upload from the command line (Authorization: Bearer TOKEN)

Every form carries the session's CSRF token and every POST checks it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .accounts import RateLimiter, csrf_ok
from .errors import AccessDenied, GameBoxError, UnknownGame, UploadRejected
from .library import PAGE_SIZE, Account, Library
from .uploads import render_description

log = logging.getLogger("wasmplug.gamebox")
CSRF_FAILED = "the form's CSRF token is missing or wrong: reload the page and try again"


@dataclass(frozen=True)
class SiteSettings:
    """Rate limits: failed logins per username (and per client address), uploads per user."""

    login_attempts: int = 5
    login_window: float = 60.0
    uploads: int = 10
    upload_window: float = 60.0


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return token


def current_user(library: Library, request: Request) -> Account | None:
    return library.account(request.session.get("uid"))


def site_routes(library: Library, page: Callable[..., Response],
                settings: SiteSettings | None = None) -> list[Route]:
    settings = settings or SiteSettings()
    logins = RateLimiter(settings.login_attempts, settings.login_window)
    login_ips = RateLimiter(settings.login_attempts * 4, settings.login_window)
    uploads = RateLimiter(settings.uploads, settings.upload_window)

    def view(request: Request, template: str, status: int = 200, **context: Any) -> Response:
        return page(template, status=status, me=current_user(library, request),
                    csrf=csrf_token(request), **context)

    # The largest request an upload may be: the game, the artwork, the fields.
    max_request = library.policy.max_bytes + 3 * 1024 * 1024

    def too_big(request: Request) -> str:
        """Why the request is refused unread ("" if its declared size is fine)."""
        try:
            size = int(request.headers.get("content-length", "0"))
        except ValueError:
            return "the request's Content-Length is not a number"
        if size > max_request:
            return (f"the request is {size} bytes; an upload may be at most "
                    f"{library.policy.max_bytes} bytes of game and 2 MB of artwork")
        return ""

    async def checked_form(request: Request) -> Any:
        form = await request.form(max_part_size=library.policy.max_bytes + 1024)
        if not csrf_ok(request.session.get("csrf"), form.get("csrf")):
            return None
        return form

    def refuse(request: Request, message: str, status: int = 403) -> Response:
        return view(request, "message.html", status=status, message=message)

    def signed_in(request: Request) -> Account | Response:
        me = current_user(library, request)
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

    # -- catalogue ---------------------------------------------------------------
    async def catalogue(request: Request) -> Response:
        query = request.query_params.get("q", "")
        try:
            number = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            number = 1
        games, total = await asyncio.to_thread(library.search, query, page=number)
        return view(request, "catalogue.html", games=games, total=total, q=query, page=number,
                    pages=max(1, -(-total // PAGE_SIZE)))

    async def game_page(request: Request) -> Response:
        try:
            game, versions = library.listing(request.path_params["slug"])
        except UnknownGame as exc:
            return refuse(request, str(exc), 404)
        return view(request, "game.html", game=game, versions=versions,
                    description_html=render_description(game.description))

    def artwork(thumbnail: bool) -> Callable[[Request], Any]:
        async def serve(request: Request) -> Response:
            try:
                data = library.artwork(request.path_params["slug"], thumbnail)
            except UnknownGame:
                return Response("no artwork", status_code=404, media_type="text/plain")
            return Response(data, media_type="image/png",
                            headers={"cache-control": "public, max-age=300"})
        return serve

    # -- accounts ------------------------------------------------------------------
    async def signup(request: Request) -> Response:
        if request.method == "GET":
            return view(request, "signup.html", error="", username="")
        form = await checked_form(request)
        if form is None:
            return refuse(request, CSRF_FAILED)
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        try:
            me = await asyncio.to_thread(library.add_user, username, password)
        except GameBoxError as exc:
            return view(request, "signup.html", status=400, error=str(exc), username=username)
        return enter(request, me)

    def enter(request: Request, me: Account) -> Response:
        request.session.clear()  # a new session (and CSRF token) on every sign-in
        request.session["uid"] = me.id
        request.session["csrf"] = secrets.token_urlsafe(24)
        return RedirectResponse("/my", status_code=303)

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return view(request, "login.html", error="", username="")
        form = await checked_form(request)
        if form is None:
            return refuse(request, CSRF_FAILED)
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        address = request.client.host if request.client else "?"
        wait = max(logins.blocked(username.lower()), login_ips.blocked(address))
        if wait:
            return view(request, "login.html", status=429, username=username,
                        error=f"too many failed sign-ins: try again in {int(wait) + 1} s")
        me = await asyncio.to_thread(library.authenticate, username, password)
        if me is None:
            logins.hit(username.lower())
            login_ips.hit(address)
            return view(request, "login.html", status=400, username=username,
                        error="wrong username or password")
        return enter(request, me)

    async def logout(request: Request) -> Response:
        form = await checked_form(request)
        if form is None:
            return refuse(request, CSRF_FAILED)
        request.session.clear()
        return RedirectResponse("/games", status_code=303)

    # -- my games ------------------------------------------------------------------
    async def my_page(request: Request, status: int = 200, error: str = "", token: str = "") \
            -> Response:
        me = signed_in(request)
        if not isinstance(me, Account):
            return me
        games, _ = library.search(owner=me, page=1)
        return view(request, "my.html", status=status, games=games, tokens=library.tokens(me),
                    error=error, new_token=token, max_mb=library.policy.max_bytes // (1024 * 1024))

    async def do_upload(me: Account, form: Any) -> tuple[str, int]:
        wasm_file = form.get("wasm")
        art_file = form.get("artwork")
        if not isinstance(wasm_file, UploadFile):
            raise UploadRejected(["choose the game's .wasm file"])
        wasm = await wasm_file.read(library.policy.max_bytes + 1)
        art = await art_file.read(3 * 1024 * 1024) if isinstance(art_file, UploadFile) else None
        wait = uploads.blocked(str(me.id))
        if wait:
            raise RateLimited(f"too many uploads: try again in {int(wait) + 1} s")
        uploads.hit(str(me.id))
        slug = str(form.get("game") or "") or (wasm_file.filename or "")
        return await asyncio.to_thread(library.upload, me, wasm, slug=slug,
                                       title=str(form.get("title", "")),
                                       description=str(form.get("description", "")),
                                       artwork=art or None)

    async def upload(request: Request) -> Response:
        me = signed_in(request)
        if not isinstance(me, Account):
            return me
        if reason := too_big(request):
            return await my_page(request, 413, reason)
        form = await checked_form(request)
        if form is None:
            return refuse(request, CSRF_FAILED)
        try:
            slug, _ = await do_upload(me, form)
        except RateLimited as exc:
            return await my_page(request, 429, str(exc))
        except (UploadRejected, AccessDenied) as exc:
            return await my_page(request, 400, str(exc))
        return RedirectResponse(f"/games/{slug}", status_code=303)

    async def edit(request: Request) -> Response:
        checked = await member_form(request)
        if isinstance(checked, Response):
            return checked
        me, form = checked
        try:
            library.edit(me, request.path_params["slug"], title=str(form.get("title", "")),
                         description=str(form.get("description", "")))
        except (AccessDenied, UnknownGame) as exc:
            return refuse(request, str(exc))
        except UploadRejected as exc:
            return await my_page(request, 400, str(exc))
        return RedirectResponse("/my", status_code=303)

    async def delete(request: Request) -> Response:
        checked = await member_form(request)
        if isinstance(checked, Response):
            return checked
        me, form = checked
        try:
            library.delete(me, request.path_params["slug"])
        except (AccessDenied, UnknownGame) as exc:
            return refuse(request, str(exc))
        return RedirectResponse("/admin" if form.get("back") == "admin" else "/my", status_code=303)

    async def tokens(request: Request) -> Response:
        checked = await member_form(request)
        if isinstance(checked, Response):
            return checked
        me, form = checked
        if form.get("revoke"):
            try:
                library.revoke_token(me, int(str(form.get("revoke"))))
            except (AccessDenied, ValueError) as exc:
                return refuse(request, str(exc))
            return RedirectResponse("/my", status_code=303)
        return await my_page(request, token=library.new_token(me, str(form.get("label", ""))))

    # -- admin ---------------------------------------------------------------------
    async def admin(request: Request) -> Response:
        me = signed_in(request)
        if not isinstance(me, Account):
            return me
        if not me.is_admin:
            return refuse(request, "only an admin can see this page")
        if request.method == "POST":
            form = await checked_form(request)
            if form is None:
                return refuse(request, CSRF_FAILED)
            try:
                library.set_banned(me, str(form.get("user", "")), form.get("action") == "ban")
            except GameBoxError as exc:
                return refuse(request, str(exc), 400)
            return RedirectResponse("/admin", status_code=303)
        games, total = library.search(page=1)
        return view(request, "admin.html", users=library.users(), games=games, total=total)

    # -- API -----------------------------------------------------------------------
    async def api_upload(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        me = library.by_token(token) if token else None
        if me is None:
            return JSONResponse({"error": "a valid API token is needed (Authorization: Bearer "
                                          "TOKEN; create one on your 'My games' page)"}, 401)
        if me.banned:
            return JSONResponse({"error": "your account is banned: you cannot upload"}, 403)
        if reason := too_big(request):
            return JSONResponse({"error": reason}, 413)
        form = await request.form(max_part_size=library.policy.max_bytes + 1024)
        try:
            slug, number = await do_upload(me, form)
        except RateLimited as exc:
            return JSONResponse({"error": str(exc)}, 429)
        except UploadRejected as exc:
            return JSONResponse({"error": str(exc), "reasons": exc.reasons}, 400)
        except AccessDenied as exc:
            return JSONResponse({"error": str(exc)}, 403)
        return JSONResponse({"game": slug, "version": number,
                             "url": str(request.url_for("game_page", slug=slug))}, 201)

    return [
        Route("/games", catalogue),
        Route("/games/{slug}", game_page, name="game_page"),
        Route("/games/{slug}/art.png", artwork(False)),
        Route("/games/{slug}/thumb.png", artwork(True)),
        Route("/signup", signup, methods=["GET", "POST"]),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/my", my_page),
        Route("/my/upload", upload, methods=["POST"]),
        Route("/my/tokens", tokens, methods=["POST"]),
        Route("/my/games/{slug}/edit", edit, methods=["POST"]),
        Route("/my/games/{slug}/delete", delete, methods=["POST"]),
        Route("/admin", admin, methods=["GET", "POST"]),
        Route("/api/games", api_upload, methods=["POST"]),
    ]


class RateLimited(GameBoxError):
    """Too many tries: wait and try again."""

"""The GameBox web application (Starlette): pages, forms and the live socket.

    from wasmplug.gamebox import create_app
    app = create_app()          # the bundled games; serve it with uvicorn

Routes:
    GET  /                      home: create an arena, or join one (?arena=CODE)
    POST /arenas                create an arena (form: name) -> /arena/CODE
    POST /join                  join one (form: code, name) -> /arena/CODE
    GET  /arena/{code}          the arena page (members only; others go to /?arena=CODE)
    WS   /arena/{code}/ws       the viewer's live socket (protocol.py)
    GET  /static/...            our own script and style sheet

With a `Library` as the catalogue, also the accounts, uploads and catalogue
pages of `site.py` (/games, /signup, /login, /my, /admin, /api/games), signed
session cookies, and a CSRF token on every form (the arena forms too).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from .arenas import CODE_LENGTH, NAME_MAX, Arenas, normalise_code
from .catalogue import Catalogue, DirectoryCatalogue, bundled_games_dir
from .errors import ArenaError
from .library import Library
from .protocol import MAX_MESSAGE_BYTES
from .service import ArenaBackend, GameBox, LocalArenas

log = logging.getLogger("wasmplug.gamebox")
HERE = Path(__file__).parent

# Scripts only from our origin and never inline; no plug-in or frame; nothing
# loaded from anywhere else. Inline styles are allowed (games style their
# boards; the sanitiser has already removed anything in CSS that loads).
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'", "script-src 'self'", "style-src 'self' 'unsafe-inline'",
    "img-src 'self'", "font-src 'self'", "connect-src 'self'", "form-action 'self'",
    "base-uri 'none'", "frame-ancestors 'none'", "object-src 'none'", "frame-src 'none'",
])
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}


class SecurityHeaders:
    """Adds the CSP and friends to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def cookie_name(code: str) -> str:
    return f"gamebox_{normalise_code(code)}"


def create_app(catalogue: Catalogue | None = None, *, arenas: Arenas | None = None,
               sweep_every: float = 1.0, session_secret: str | None = None,
               site_settings: Any = None, backend: ArenaBackend | None = None) -> Starlette:
    """The GameBox ASGI app for `catalogue` (default: the bundled games).

    With a `Library` (uploaded games in a database) as the catalogue, the app
    also serves accounts, uploads and the catalogue pages (`site.py`), with
    sessions signed by `session_secret` (default: a random one per process,
    so give every server of a deployment the same secret).

    Arenas live in this process unless another `backend` is given (e.g.
    `ray_arenas.RayArenas`: arenas shared by every server of a Ray cluster).
    """
    catalogue = catalogue or DirectoryCatalogue(bundled_games_dir())
    templates = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                                   autoescape=True)
    box = GameBox(catalogue, templates, arenas=arenas)
    arena_backend: ArenaBackend = backend if backend is not None else LocalArenas(box)

    def page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = templates.get_template(template).render(**context, code_length=CODE_LENGTH,
                                                   name_max=NAME_MAX, site=site)
        return HTMLResponse(html, status_code=status)

    library = catalogue if isinstance(catalogue, Library) else None
    site = library is not None

    def token_of(request: Request | WebSocket, code: str) -> str | None:
        return request.cookies.get(cookie_name(code))

    def enter(code: str, token: str) -> Response:
        response = RedirectResponse(f"/arena/{code}", status_code=303)
        response.set_cookie(cookie_name(code), token, httponly=True,
                            samesite="strict", path="/")
        return response

    def home_page(request: Request, status: int = 200, **context: Any) -> Response:
        if library is not None:  # signed-in visitors see their name; the forms carry the CSRF token
            from .site import csrf_token, current_user

            context.update(csrf=csrf_token(request), me=current_user(library, request))
        return page("home.html", status=status, **context)

    async def arena_form(request: Request) -> Any:
        """The form, or None when the site's CSRF check fails."""
        form = await request.form()
        if site:
            from .accounts import csrf_ok

            if not csrf_ok(request.session.get("csrf"), form.get("csrf")):
                return None
        return form

    async def home(request: Request) -> Response:
        code = normalise_code(request.query_params.get("arena", ""))[:CODE_LENGTH]
        return home_page(request, code=code, error="", name="")

    def csrf_failed(request: Request) -> Response:
        from .site import CSRF_FAILED

        return home_page(request, status=403, code="", error=CSRF_FAILED, name="")

    async def create(request: Request) -> Response:
        form = await arena_form(request)
        if form is None:
            return csrf_failed(request)
        name = str(form.get("name", ""))
        try:
            code, token = await arena_backend.create(name)
        except ArenaError as exc:
            return home_page(request, status=400, code="", error=str(exc), name=name)
        return enter(code, token)

    async def join(request: Request) -> Response:
        form = await arena_form(request)
        if form is None:
            return csrf_failed(request)
        code, name = normalise_code(str(form.get("code", ""))), str(form.get("name", ""))
        try:
            code, token = await arena_backend.join(code, name)
        except ArenaError as exc:
            return home_page(request, status=400, code=code[:CODE_LENGTH], error=str(exc), name=name)
        return enter(code, token)

    async def arena_page(request: Request) -> Response:
        code = normalise_code(request.path_params["code"])
        found = await arena_backend.page(code, token_of(request, code))
        if found is None:
            return RedirectResponse(f"/?arena={code}", status_code=303)
        return page("arena.html", arena=found, arena_html=found.arena_html,
                    board_html=found.board_html)

    async def live(websocket: WebSocket) -> None:
        code = normalise_code(websocket.path_params["code"])
        await websocket.accept()
        origin = websocket.headers.get("origin")
        if origin is not None and urlsplit(origin).netloc != websocket.headers.get("host"):
            # Another site's page opening our socket with the visitor's cookie.
            await websocket.close(code=4403, reason="cross-site WebSocket refused")
            return
        connection = await arena_backend.connect(code, token_of(websocket, code),
                                                  websocket.send_text)
        if connection is None:
            await websocket.close(code=4404, reason="not a member of this arena")
            return
        try:
            while True:
                text = await websocket.receive_text()
                if len(text) > MAX_MESSAGE_BYTES:
                    await websocket.close(code=1009, reason="message too large")
                    break
                if not await connection.handle(text):
                    break  # left the arena (or was timed out)
        except WebSocketDisconnect:
            pass
        finally:
            await connection.close()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async def sweeper() -> None:
            while True:
                await asyncio.sleep(sweep_every)
                arena_backend.sweep()

        task = asyncio.create_task(sweeper())
        try:
            yield
        finally:
            task.cancel()
            await arena_backend.close()

    routes: list[Any] = []
    if isinstance(catalogue, Library):
        from .site import site_routes

        routes = site_routes(catalogue, page, site_settings)
    app = Starlette(routes=[
        *routes,
        Route("/", home),
        Route("/arenas", create, methods=["POST"]),
        Route("/join", join, methods=["POST"]),
        Route("/arena/{code}", arena_page),
        WebSocketRoute("/arena/{code}/ws", live),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ], lifespan=lifespan)
    if isinstance(catalogue, Library):
        from starlette.middleware.sessions import SessionMiddleware

        app.add_middleware(SessionMiddleware, secret_key=session_secret or secrets.token_urlsafe(32),
                           session_cookie="gamebox_session", same_site="lax", max_age=14 * 86400)
    app.add_middleware(SecurityHeaders)
    app.state.gamebox = box
    return app

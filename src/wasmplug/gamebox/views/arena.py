"""The arena pages: home (create or join), the arena page and its live socket.

    GET  /                  home: create an arena, or join one (?arena=CODE)
    POST /arenas            create an arena (form: name) -> /arena/CODE
    POST /join              join one (form: code, name) -> /arena/CODE
    GET  /arena/{code}      the arena page (members only; others go to /?arena=CODE)
    WS   /arena/{code}/ws   the viewer's live socket (protocol.py)

A member is known by a cookie per arena holding their secret token. The
forms carry the session's CSRF token (with accounts on the server or not).
Guessing codes is limited: an address that asks for too many arenas that do
not exist (`/join`, `/arena/CODE`) is refused for a while (429); one
address (or account) may have only a few arenas open (`Arenas.max_per_owner`), and
past that a new arena is refused before its form is read. A new arena starts no
game: its game is instantiated when the host picks one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from wasmplug.web.sessions import CSRF_FAILED, csrf_ok, csrf_token

from ..arenas.state import CODE_LENGTH, normalise_code
from ..errors import ArenaError, NoSuchArena
from ..protocol import MAX_MESSAGE_BYTES
from .pages import backend, current_user, limiter, render, site_library


def cookie_name(code: str) -> str:
    return f"gamebox_{normalise_code(code)}"


def _token(connection: HTTPConnection, code: str) -> str | None:
    return connection.cookies.get(cookie_name(code))


def _enter(code: str, token: str) -> Response:
    response = RedirectResponse(f"/arena/{code}", status_code=303)
    response.set_cookie(cookie_name(code), token, httponly=True, samesite="strict", path="/")
    return response


def _home_page(request: Request, status: int = 200, **context: Any) -> Response:
    context["csrf"] = csrf_token(request)  # the forms carry the CSRF token (with or without accounts)
    if site_library(request) is not None:  # signed-in visitors see their name
        context["me"] = current_user(request)
    return render(request, "home.html", status=status, **context)


async def _arena_form(request: Request) -> Any:
    """The form, or None when the CSRF check fails."""
    form = await request.form()
    if not csrf_ok(request.session.get("csrf"), form.get("csrf")):
        return None
    return form


def _csrf_failed(request: Request) -> Response:
    return _home_page(request, status=403, code="", error=CSRF_FAILED, name="")


async def home(request: Request) -> Response:
    code = normalise_code(request.query_params.get("arena", ""))[:CODE_LENGTH]
    return _home_page(request, code=code, error="", name="")


def _address(connection: HTTPConnection) -> str:
    return connection.client.host if connection.client is not None else "unknown"


def _owner(request: Request) -> str:
    """Whose arenas these are, for the per-owner cap: the signed-in account, else the address."""
    me = current_user(request) if site_library(request) is not None else None
    return f"user:{me.id}" if me is not None else f"address:{_address(request)}"


def _guessing(request: Request) -> Response | None:
    """A 429 page if this address has asked for too many arenas that do not exist lately."""
    wait = limiter(request, "arena_misses").blocked(_address(request))
    if not wait:
        return None
    return _home_page(request, status=429, code="", name="",
                      error=f"too many arena codes that do not exist: try again in {int(wait) + 1} s")


def _missed(request: Request) -> None:
    limiter(request, "arena_misses").hit(_address(request))


async def create_arena(request: Request) -> Response:
    owner = _owner(request)
    try:  # arena spam past the owner's cap: refused before the form is read
        await backend(request).check_owner(owner)
    except ArenaError as exc:
        return _home_page(request, status=400, code="", error=str(exc), name="")
    form = await _arena_form(request)
    if form is None:
        return _csrf_failed(request)
    name = str(form.get("name", ""))
    try:
        code, token = await backend(request).create(name, owner)
    except ArenaError as exc:
        return _home_page(request, status=400, code="", error=str(exc), name=name)
    return _enter(code, token)


async def join_arena(request: Request) -> Response:
    form = await _arena_form(request)
    if form is None:
        return _csrf_failed(request)
    if refused := _guessing(request):
        return refused
    code, name = normalise_code(str(form.get("code", ""))), str(form.get("name", ""))
    try:
        code, token = await backend(request).join(code, name)
    except NoSuchArena as exc:
        _missed(request)
        return _home_page(request, status=400, code=code[:CODE_LENGTH], error=str(exc), name=name)
    except ArenaError as exc:
        return _home_page(request, status=400, code=code[:CODE_LENGTH], error=str(exc), name=name)
    return _enter(code, token)


async def arena_page(request: Request) -> Response:
    code = normalise_code(request.path_params["code"])
    if refused := _guessing(request):
        return refused
    found = await backend(request).page(code, _token(request, code))
    if found is None:
        if not await backend(request).exists(code):  # say so, rather than offer to join it
            _missed(request)
            return _home_page(request, status=404, code="", name="",
                              error=f"there is no arena {code[:CODE_LENGTH]!r}: check the code, "
                                    "or create a new arena")
        return RedirectResponse(f"/?arena={code}", status_code=303)
    return render(request, "arena.html", arena=found, arena_html=found.arena_html,
                  board_html=found.board_html)


async def live(websocket: WebSocket) -> None:
    """The member's live socket: their messages in, the arena's updates out."""
    code = normalise_code(websocket.path_params["code"])
    await websocket.accept()
    origin = websocket.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != websocket.headers.get("host"):
        # Another site's page opening our socket with the visitor's cookie.
        await websocket.close(code=4403, reason="cross-site WebSocket refused")
        return
    connection = await backend(websocket).connect(code, _token(websocket, code), websocket.send_text)
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

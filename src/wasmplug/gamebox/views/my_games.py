"""A member's own page: their games (upload, new version, edit, delete) and API tokens.

    GET  /my                          my games and my API tokens
    POST /my/upload                   upload a game or a new version (form)
    POST /my/tokens                   create an API token (or revoke one)
    POST /my/games/{slug}/edit        change the title and description
    POST /my/games/{slug}/delete      delete a game (its author or an admin)
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from wasmplug.web.accounts import Account
from wasmplug.web.limits import parse_id
from wasmplug.web.sessions import CSRF_FAILED

from .. import descriptions
from ..errors import AccessDenied, UnknownGame, UploadRejected
from .pages import checked_form, library, member_form, refuse, signed_in, site_page
from .receive_upload import RateLimited, too_big, upload_game


async def my_page(request: Request, status: int = 200, error: str = "", token: str = "",
                  fields: dict[str, str] | None = None) -> Response:
    """The page; after a rejected upload, `fields` refills its form (files cannot be)."""
    me = signed_in(request)
    if not isinstance(me, Account):
        return me
    games_library = library(request)
    games, _ = games_library.search(owner=me, page=1)
    return site_page(request, "my.html", status=status, games=games, tokens=games_library.tokens(me),
                     error=error, new_token=token, fields=fields or {},
                     max_mb=games_library.policy.max_bytes // (1024 * 1024))


async def upload(request: Request) -> Response:
    me = signed_in(request)
    if not isinstance(me, Account):
        return me
    if reason := too_big(request):
        return await my_page(request, 413, reason)
    form = await checked_form(request, files=True)
    if form is None:
        return refuse(request, CSRF_FAILED)
    kept = {name: str(form.get(name, ""))[:20_000] for name in ("game", "title", "description")}
    kept["kept"] = "yes"
    try:
        slug, _ = await upload_game(request, me, form)
    except RateLimited as exc:
        return await my_page(request, 429, str(exc), fields=kept)
    except (UploadRejected, AccessDenied) as exc:
        return await my_page(request, 400, str(exc), fields=kept)
    await _render_description(request, slug)
    return RedirectResponse(f"/games/{slug}", status_code=303)


async def edit(request: Request) -> Response:
    checked = await member_form(request)
    if isinstance(checked, Response):
        return checked
    me, form = checked
    try:
        library(request).edit(me, request.path_params["slug"], title=str(form.get("title", "")),
                              description=str(form.get("description", "")))
    except (AccessDenied, UnknownGame) as exc:
        return refuse(request, str(exc))
    except UploadRejected as exc:
        return await my_page(request, 400, str(exc))
    await _render_description(request, request.path_params["slug"])
    return RedirectResponse("/my", status_code=303)


async def _render_description(request: Request, slug: str) -> None:
    """Render the game's (new) description now, once, so its page never has to."""
    def render() -> None:
        game, _ = library(request).listing(slug)
        descriptions.html(game.description)

    with contextlib.suppress(UnknownGame):  # gone meanwhile (deleted, or its author banned)
        await asyncio.to_thread(render)


async def delete(request: Request) -> Response:
    checked = await member_form(request)
    if isinstance(checked, Response):
        return checked
    me, form = checked
    try:
        library(request).delete(me, request.path_params["slug"])
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
            token_id = parse_id(str(form.get("revoke")))
            if token_id is None:
                raise ValueError("no such token")
            library(request).revoke_token(me, token_id)
        except (AccessDenied, ValueError) as exc:
            return refuse(request, str(exc))
        return RedirectResponse("/my", status_code=303)
    return await my_page(request, token=library(request).new_token(me, str(form.get("label", ""))))

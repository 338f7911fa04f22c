"""The admin page: every user (ban, unban) and every game (delete).

    GET|POST /admin               admins only; POST: form user, action=ban|unban
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from wasmplug.web.accounts import Account
from wasmplug.web.sessions import CSRF_FAILED

from ..errors import GameBoxError
from .pages import checked_form, library, refuse, signed_in, site_page


async def admin(request: Request) -> Response:
    me = signed_in(request)
    if not isinstance(me, Account):
        return me
    if not me.is_admin:
        return refuse(request, "only an admin can see this page")
    games_library = library(request)
    if request.method == "POST":
        form = await checked_form(request)
        if form is None:
            return refuse(request, CSRF_FAILED)
        try:
            games_library.set_banned(me, str(form.get("user", "")), form.get("action") == "ban")
        except GameBoxError as exc:
            return refuse(request, str(exc), 400)
        return RedirectResponse("/admin", status_code=303)
    games, total = games_library.search(page=1)
    return site_page(request, "admin.html", users=games_library.users(), games=games, total=total)

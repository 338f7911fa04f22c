"""The catalogue pages: every uploaded game (with search), a game's page, its artwork.

    GET /games?q=&page=           the catalogue, newest first
    GET /games/{slug}             a game's page (artwork, description, versions, plays)
    GET /games/{slug}/art.png     its artwork (thumb.png: the thumbnail), re-encoded
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from wasmplug.web.limits import bounded_int

from .. import descriptions
from ..catalogue.database import PAGE_SIZE
from ..errors import UnknownGame
from .pages import library, refuse, site_page

MAX_PAGE = 1_000_000  # past any catalogue; a bigger number would overflow the database's OFFSET


async def catalogue(request: Request) -> Response:
    query = request.query_params.get("q", "")
    number = bounded_int(request.query_params.get("page", "1"), default=1, low=1, high=MAX_PAGE)
    games, total = await asyncio.to_thread(library(request).search, query, page=number)
    return site_page(request, "catalogue.html", games=games, total=total, q=query, page=number,
                     pages=max(1, -(-total // PAGE_SIZE)))


async def game_page(request: Request) -> Response:
    try:
        game, versions = library(request).listing(request.path_params["slug"])
    except UnknownGame as exc:
        return refuse(request, str(exc), 404)
    # Rendered once per text (at upload or edit, or by the first visitor, off the event loop).
    description_html = descriptions.html(game.description) if descriptions.is_rendered(game.description) \
        else await asyncio.to_thread(descriptions.html, game.description)
    return site_page(request, "game.html", game=game, versions=versions, description_html=description_html)


def _image(request: Request, thumbnail: bool) -> Response:
    try:
        data = library(request).artwork(request.path_params["slug"], thumbnail)
    except UnknownGame:
        return Response("no artwork", status_code=404, media_type="text/plain")
    return Response(data, media_type="image/png", headers={"cache-control": "public, max-age=300"})


async def artwork(request: Request) -> Response:
    return _image(request, thumbnail=False)


async def thumbnail(request: Request) -> Response:
    return _image(request, thumbnail=True)

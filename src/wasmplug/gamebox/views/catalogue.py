"""The catalogue pages: every uploaded game (with search), a game's page, its artwork.

    GET /games?q=&page=           the catalogue, newest first
    GET /games/{slug}             a game's page (artwork, description, versions, plays)
    GET /games/{slug}/art.png     its artwork (thumb.png: the thumbnail), re-encoded

What anyone may ask for reads the database in a worker thread (or not at all: a
catalogue page searched a moment ago), never on the event loop the arenas share.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from wasmplug.web.limits import bounded_int

from .. import descriptions
from ..catalogue.base import GameInfo
from ..catalogue.database import PAGE_SIZE, DatabaseCatalogue
from ..errors import UnknownGame
from .pages import library, refuse, site_page

MAX_PAGE = 1_000_000  # past any catalogue; a bigger number would overflow the database's OFFSET


async def catalogue(request: Request) -> Response:
    query = request.query_params.get("q", "")
    number = bounded_int(request.query_params.get("page", "1"), default=1, low=1, high=MAX_PAGE)
    found = library(request).recent_search(query, page=number)  # asked a moment ago: no query
    if found is None:
        found = await asyncio.to_thread(library(request).search, query, page=number)
    games, uploaded = found
    bundled = _bundled(library(request), query)
    # Counted as the arena's picker offers them: the bundled games, then the uploaded ones.
    return site_page(request, "catalogue.html", games=games, total=len(bundled) + uploaded,
                     uploaded=uploaded, bundled=bundled if number == 1 else [],
                     bundled_count=len(bundled), q=query, page=number,
                     pages=max(1, -(-uploaded // PAGE_SIZE)))


def _bundled(games: DatabaseCatalogue, query: str) -> list[GameInfo]:
    """The games bundled with the server (every arena offers them) that match `query`."""
    found = games.bundled.games() if games.bundled is not None else []
    wanted = query.strip()[:100].casefold()
    return [game for game in found
            if not wanted or wanted in game.title.casefold() or wanted in game.description.casefold()]


async def game_page(request: Request) -> Response:
    try:  # (the database is read in a worker thread: anyone may ask, as often as the limits let)
        game, versions = await asyncio.to_thread(library(request).listing, request.path_params["slug"])
    except UnknownGame as exc:
        return refuse(request, str(exc), 404)
    # Rendered once per text (at upload or edit, or by the first visitor, off the event loop).
    description_html = descriptions.html(game.description) if descriptions.is_rendered(game.description) \
        else await asyncio.to_thread(descriptions.html, game.description)
    return site_page(request, "game.html", game=game, versions=versions, description_html=description_html)


async def _image(request: Request, thumbnail: bool) -> Response:
    try:  # up to 1 MB from the database: in a worker thread, not on the event loop
        data = await asyncio.to_thread(library(request).artwork, request.path_params["slug"], thumbnail)
    except UnknownGame:
        return Response("no artwork", status_code=404, media_type="text/plain")
    return Response(data, media_type="image/png", headers={"cache-control": "public, max-age=300"})


async def artwork(request: Request) -> Response:
    return await _image(request, thumbnail=False)


async def thumbnail(request: Request) -> Response:
    return await _image(request, thumbnail=True)

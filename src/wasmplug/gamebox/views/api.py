"""The API: uploading a game from the command line (`wasmplug gamebox upload`).

    POST /api/games               multipart (wasm, artwork, game, title, description),
                                  Authorization: Bearer TOKEN -> 201 {game, version, url}

Errors are JSON: {"error": message} (and "reasons" when the game is rejected).
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import AccessDenied, UploadRejected
from .pages import library
from .receive_upload import RateLimited, too_big, upload_game


async def upload_game_api(request: Request) -> Response:
    games_library = library(request)
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    me = await asyncio.to_thread(games_library.by_token, token) if token else None  # off the loop
    if me is None:
        return JSONResponse({"error": "a valid API token is needed (Authorization: Bearer "
                                      "TOKEN; create one on your 'My games' page)"}, 401)
    if me.banned:
        return JSONResponse({"error": "your account is banned: you cannot upload"}, 403)
    if reason := too_big(request):
        return JSONResponse({"error": reason}, 413)
    form = await request.form(max_part_size=games_library.policy.max_bytes + 1024)
    try:
        slug, number = await upload_game(request, me, form)
    except RateLimited as exc:
        return JSONResponse({"error": str(exc)}, 429)
    except UploadRejected as exc:
        return JSONResponse({"error": str(exc), "reasons": exc.reasons}, 400)
    except AccessDenied as exc:
        return JSONResponse({"error": str(exc)}, 403)
    return JSONResponse({"game": slug, "version": number,
                         "url": str(request.url_for("game_page", slug=slug))}, 201)

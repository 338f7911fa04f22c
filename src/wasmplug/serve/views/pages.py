"""The index page: the public functions (their exports and routes) and where the API, the playground
and the docs are. HTML for a browser (`Accept: text/html`), JSON for everyone else.

Only public functions are listed, and only their name, version, kind, exports and route: never their
config or settings, nor anything of a token-protected function. The listing is read from the database
at most once a `INDEX_TTL` seconds and holds at most `INDEX_LIMIT` functions, so a flood of page
views costs no more than one query a second."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from .playground import service

INDEX_LIMIT = 200
INDEX_TTL = 1.0

ENDPOINTS = {"service": "wasmplug serve", "api": "/api/functions", "invoke": "POST /f/{name}/{export}",
             "playground": "/playground", "metrics": "/metrics", "health": "/healthz", "ready": "/readyz"}


async def _listing(request: Request) -> tuple[list[dict[str, object]], int]:
    state = request.app.state
    cached: tuple[float, tuple[list[dict[str, object]], int]] | None = getattr(state, "index_cache", None)
    if cached is not None and time.monotonic() - cached[0] < INDEX_TTL:
        return cached[1]
    listing: tuple[list[dict[str, object]], int] = await asyncio.to_thread(state.store.public_functions,
                                                                           INDEX_LIMIT)
    state.index_cache = (time.monotonic(), listing)
    return listing


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


async def index(request: Request) -> Response:
    functions, count = await _listing(request)
    docs_url = request.app.state.settings.docs_url
    if not wants_html(request):
        body: dict[str, Any] = {**ENDPOINTS, "docs": docs_url, "functions": functions,
                                "public_functions": count}
        return JSONResponse(body)
    html = service(request).templates.get_template("index.html").render(
        functions=functions, count=count, docs_url=docs_url, base=str(request.base_url).rstrip("/"))
    return HTMLResponse(html, headers={"vary": "accept"})

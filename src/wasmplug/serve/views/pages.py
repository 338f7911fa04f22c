"""The index page: what this server is and where its API is (JSON; the playground has the HTML)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


async def index(request: Request) -> Response:
    return JSONResponse({"service": "wasmplug serve", "api": "/api/functions",
                         "invoke": "POST /f/{name}/{export}", "metrics": "/metrics",
                         "health": "/healthz", "ready": "/readyz"})

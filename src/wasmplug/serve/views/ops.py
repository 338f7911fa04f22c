"""Operations: `/metrics` (Prometheus), `/healthz` (the process answers), `/readyz` (functions loaded)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import JSONResponse, Response


async def metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    runtimes = request.app.state.runtimes
    if not runtimes.ready:
        return JSONResponse({"status": "loading", "functions": len(runtimes.active)}, 503,
                            headers={"retry-after": "1"})
    return JSONResponse({"status": "ready", "functions": len(runtimes.active)})

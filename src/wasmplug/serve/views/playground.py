"""The playground's page and JSON API: `GET /playground`, `POST /playground/exports`, `POST /playground/run`.

Both POST endpoints take JSON (`{"kind": "js", "source": "..."}` or
`{"kind": "wasm", "wasm_base64": "..."}`, plus `export`, `input`, `config`
for a run). Each request is refused as early as it can be: a declared body
over the cap unread (413), a body that streams past it (413), a client
address over its rate (429 + Retry-After), all run slots busy (429 +
Retry-After). Runs happen in a bounded thread pool, never on the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from wasmplug.web.limits import declared_size_refusal
from wasmplug.web.rate_limits import RateLimiter

from ..playground import Playground, PlaygroundLimits, Snippet, SnippetError

HERE = Path(__file__).resolve().parent.parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"


@dataclass(frozen=True)
class PlaygroundSettings:
    """The playground's limits, and how many requests one client address may make per `window` s."""

    limits: PlaygroundLimits = field(default_factory=PlaygroundLimits)
    requests_per_window: int = 60
    window: float = 60.0

    @property
    def max_body_bytes(self) -> int:
        """A request's body: the largest module (as base64) and input, with room for the rest."""
        lim = self.limits
        biggest = max(lim.max_wasm_bytes, lim.max_source_bytes * 6)  # JSON may escape a char as \uXXXX
        return math.ceil(biggest * 4 / 3) + lim.max_input_bytes * 6 + lim.max_config_bytes * 6 + 4096


class PlaygroundService:
    """What the playground's views share: the runner, its thread pool, the rate limiter, templates."""

    def __init__(self, settings: PlaygroundSettings) -> None:
        self.settings = settings
        self.playground = Playground(settings.limits)
        self.slots = settings.limits.max_concurrent_runs
        self.busy = 0  # slots taken by work in the pool (only touched on the event loop)
        self.pool = ThreadPoolExecutor(max_workers=self.slots, thread_name_prefix="playground")
        self.limiter = RateLimiter(settings.requests_per_window, settings.window)
        self.templates = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)

    def release(self, _done: object = None) -> None:
        """A run left its slot (called on the event loop when its work is done)."""
        self.busy -= 1

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def service(request: Request) -> PlaygroundService:
    return cast(PlaygroundService, request.app.state.playground)


def playground_routes() -> list[BaseRoute]:
    """The routes to mount (the app keeps a `PlaygroundService` on `app.state.playground`)."""
    return [
        Route("/playground", page),
        Route("/playground/exports", exports, methods=["POST"]),
        Route("/playground/run", run, methods=["POST"]),
        Mount("/playground/static", StaticFiles(directory=STATIC), name="playground_static"),
    ]


def problem(message: str, kind: str, status: int, retry_after: float | None = None) -> JSONResponse:
    """An error as the serve API gives them: `{"error": ..., "kind": ...}`."""
    headers = {"retry-after": str(max(1, math.ceil(retry_after)))} if retry_after is not None else None
    return JSONResponse({"error": message, "kind": kind}, status_code=status, headers=headers)


async def page(request: Request) -> Response:
    svc = service(request)
    lim = svc.settings.limits
    html = svc.templates.get_template("playground.html").render(limits=lim)
    return HTMLResponse(html)


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as more than `limit` bytes have streamed in."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _admit(request: Request) -> dict[str, Any] | JSONResponse:
    """The request's JSON object, or the response refusing it (size, rate, shape)."""
    svc = service(request)
    cap = svc.settings.max_body_bytes
    refused = declared_size_refusal(request, cap, f"{cap} bytes")
    if refused:
        return problem(refused, "too_large", 413)
    client = request.client.host if request.client else "unknown"
    wait = svc.limiter.blocked(client)
    if wait:
        return problem(f"too many playground requests from your address: try again in "
                       f"{math.ceil(wait)} s", "rate_limited", 429, wait)
    svc.limiter.hit(client)
    body = await _read_capped(request, cap)
    if body is None:
        return problem(f"the request's body is over {cap} bytes", "too_large", 413)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        return problem("the body must be JSON", "input", 400)
    if not isinstance(data, dict):
        return problem("the body must be a JSON object", "input", 400)
    return data


def _source(data: dict[str, Any]) -> tuple[str, bytes]:
    kind = data.get("kind")
    if kind == "js":
        text = data.get("source")
        if not isinstance(text, str):
            raise SnippetError("'source' must be the JavaScript as text")
        return kind, text.encode("utf-8", "surrogatepass")
    if kind == "wasm":
        encoded = data.get("wasm_base64")
        if not isinstance(encoded, str):
            raise SnippetError("'wasm_base64' must be the module in base64")
        try:
            return kind, base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise SnippetError("'wasm_base64' is not valid base64") from None
    raise SnippetError("'kind' must be \"js\" or \"wasm\"")


def _snippet(data: dict[str, Any]) -> Snippet:
    kind, source = _source(data)
    export, text, config = data.get("export"), data.get("input", ""), data.get("config") or {}
    if not isinstance(export, str):
        raise SnippetError("'export' must name the function to run")
    if not isinstance(text, str):
        raise SnippetError("'input' must be text")
    if not isinstance(config, dict):
        raise SnippetError("'config' must be an object of names to text values")
    return Snippet(kind, source, export, text.encode("utf-8", "surrogatepass"), config)


async def _in_pool(request: Request, work: Any, *args: Any) -> Any:
    """`work(*args)` on the playground's thread pool, or a 429 when every slot is busy."""
    svc = service(request)
    if svc.busy >= svc.slots:
        return problem(f"the playground is running {svc.slots} snippets already: try again in a "
                       "moment", "busy", 429, 1)
    svc.busy += 1
    future = asyncio.get_running_loop().run_in_executor(svc.pool, work, *args)
    future.add_done_callback(svc.release)  # when the work is done, not when its caller gives up
    # A request cancelled meanwhile (the client went away) leaves the work running in its
    # slot: the slot stays taken until it ends, so abandoned runs cannot pile up in the pool.
    return await asyncio.shield(future)


async def exports(request: Request) -> Response:
    """`{"exports": [...]}` of the posted source (a JS build is cached for the run that follows)."""
    data = await _admit(request)
    if isinstance(data, Response):
        return data
    try:
        kind, source = _source(data)
        found = await _in_pool(request, service(request).playground.exports, kind, source)
    except SnippetError as exc:
        return problem(str(exc), exc.kind, 422 if exc.kind == "build" else 400)
    if isinstance(found, Response):
        return found
    return JSONResponse({"exports": found})


async def run(request: Request) -> Response:
    """Run the posted snippet: the `RunResult` as JSON (200 even when the code failed)."""
    data = await _admit(request)
    if isinstance(data, Response):
        return data
    try:
        snippet = _snippet(data)
        result = await _in_pool(request, service(request).playground.run, snippet)
    except SnippetError as exc:
        return problem(str(exc), exc.kind, 422 if exc.kind == "build" else 400)
    if isinstance(result, Response):
        return result
    return JSONResponse(result.to_json())

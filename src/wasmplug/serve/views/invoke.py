"""Invoking functions: `POST /f/{name}/{export}` (body in, body out) and HTTP-handler routes.

A function deployed with `route` gets every request under that route: its
`route_export` receives the request as JSON
`{"method", "path", "query", "headers", "body" | "body_base64"}` and answers
`{"status", "headers", "body" | "body_base64"}` (see docs/serve.md).
Errors are JSON `{"error", "kind"}`: 404 unknown function or export, 401
a protected function without a token, 413 body too large, 429 the token's
rate limit, 502 the plug-in failed, 503 saturated (Retry-After), 504 timeout.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from ..errors import ServeError
from ..functions import EXPORT, NAME
from ..requests import FUNCTION_HEADERS, account, error_body, error_response, read_asgi_body
from ..runtime import FunctionRuntime, Runtimes

log = logging.getLogger("wasmplug.serve")

MAX_HEADERS = 100
# Headers a handler may not set: they frame the HTTP exchange, which the server owns.
FRAMING = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
                     "trailer", "te", "proxy-connection"})


async def _check_access(request: Request, runtime: FunctionRuntime) -> None:
    who = await account(request)
    assert who is not None
    limiter = request.app.state.invoke_limit
    key = f"u{who.id}"
    if wait := limiter.blocked(key):
        raise ServeError(f"this token's rate limit is reached: try again in {wait:.1f} s",
                         status=429, kind="rate_limited", retry_after=wait)
    limiter.hit(key)


MakeInput = Callable[[FunctionRuntime, bytes], bytes]


async def _invoke(state: State, scope: Scope, receive: Receive, name: str, export: str,
                  make_input: MakeInput) -> tuple[FunctionRuntime | None, bytes | ServeError]:
    runtime: FunctionRuntime | None = None
    try:
        if not NAME.fullmatch(name):
            raise ServeError(f"no function named {name[:64]!r}", status=404, kind="not_found")
        runtimes: Runtimes = state.runtimes
        runtime = runtimes.active.get(name) or await runtimes.get(name)
        while runtime.retired:  # replaced while it was being loaded: take the newer one
            runtime = await runtimes.get(name)
        runtime.admit()  # no await since `get`: a deploy cannot retire this version under the request
        try:
            if not runtime.version.settings.public:
                await _check_access(Request(scope, receive), runtime)
            runtime.check_export(export)
            data = make_input(runtime, await read_asgi_body(scope, receive, state.settings.max_body_bytes))
            return runtime, await runtime.run(export, data)
        finally:
            runtime.release()
    except ServeError as exc:
        return runtime, exc


def _observe(state: State, name: str, runtime: FunctionRuntime | None, export: str, status: int,
             kind: str, started: float) -> None:
    version = runtime.version.number if runtime is not None else 0
    state.metrics.observe(name if runtime is not None else "(unknown)", version, export,
                          status, kind, time.perf_counter() - started)


OCTET_STREAM = (b"content-type", b"application/octet-stream")
JSON = (b"content-type", b"application/json")


async def call_export_asgi(scope: Scope, receive: Receive, send: Send) -> None:
    """POST /f/NAME/EXPORT as raw ASGI (`path_call` tells such a path; `scope["app"]` is the app): the
    request body is the input, the output is the response body. The hot path: no Starlette request
    or response, no middleware; the security headers (CSP with `sandbox`) are added here. A bug of
    ours is logged with its traceback and answered 500 in JSON, as Starlette's error handler would."""
    started = time.perf_counter()
    state: State = scope["app"].state
    _, _, name, export = scope["path"].split("/")
    try:
        runtime: FunctionRuntime | None = None
        outcome: bytes | ServeError
        if not EXPORT.fullmatch(export):
            outcome = ServeError(f"{export[:64]!r} is not an export callers may use",
                                 status=404, kind="no_such_export")
        else:
            runtime, outcome = await _invoke(state, scope, receive, name, export, _as_is)
        if isinstance(outcome, ServeError):
            _observe(state, name, runtime, export, outcome.status, outcome.kind, started)
            body, extra = error_body(outcome)
            status, headers = outcome.status, [JSON, *extra]
        else:
            _observe(state, name, runtime, export, 200, "ok", started)
            body, status, headers = outcome, 200, [OCTET_STREAM]
    except Exception:
        log.error("internal error on POST %s", scope["path"][:200], exc_info=True)
        body, status, headers = b'{"error":"internal server error (logged)","kind":"internal"}', 500, [JSON]
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-length", str(len(body)).encode()), *headers, *FUNCTION_HEADERS]})
    await send({"type": "http.response.body", "body": body})


class CallExport:
    """`call_export_asgi` as the route's ASGI endpoint (the app answers POST /f/NAME/EXPORT before its
    router, and keeps the path in the route table)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await call_export_asgi(scope, receive, send)


call_export = CallExport()


def path_call(scope: Scope) -> bool:
    """Whether the request is POST /f/NAME/EXPORT (the route of `call_export`)."""
    path: str = scope["path"]
    if scope["method"] != "POST" or not path.startswith("/f/") or path.count("/") != 3:
        return False
    _, _, name, export = path.split("/")
    return bool(name and export)


def _as_is(_runtime: FunctionRuntime, body: bytes) -> bytes:
    return body


def _request_json(request: Request, runtime: FunctionRuntime, body: bytes) -> bytes:
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    if not runtime.version.settings.public:
        headers.pop("authorization", None)  # our token, not the function's business
    event: dict[str, Any] = {"method": request.method, "path": request.url.path,
                             "query": request.url.query, "headers": headers}
    try:
        event["body"] = body.decode("utf-8")
    except UnicodeDecodeError:
        event["body_base64"] = base64.b64encode(body).decode("ascii")
    return json.dumps(event).encode()


def _handler_response(output: bytes) -> Response:
    """The plug-in's JSON answer as a response (a malformed one is the plug-in's failure: 502)."""
    try:
        answer = json.loads(output)
    except ValueError:
        raise ServeError("the handler's output is not JSON: it must be {\"status\", \"headers\", "
                         "\"body\" | \"body_base64\"}", status=502, kind="bad_handler_response") from None
    if not isinstance(answer, dict):
        raise ServeError("the handler's output must be a JSON object", status=502,
                         kind="bad_handler_response")
    status = answer.get("status", 200)
    if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
        raise ServeError(f"the handler's status must be a number from 200 to 599, got "
                         f"{json.dumps(status)[:20]}", status=502, kind="bad_handler_response")
    headers = answer.get("headers", {})
    if not isinstance(headers, dict) or len(headers) > MAX_HEADERS or not all(
            isinstance(k, str) and isinstance(v, str) and k.isascii() and v.isascii() and k
            and "\r" not in k + v and "\n" not in k + v and ":" not in k for k, v in headers.items()):
        raise ServeError(f"the handler's headers must be an object of at most {MAX_HEADERS} ASCII "
                         "names and values without line breaks", status=502, kind="bad_handler_response")
    if "body_base64" in answer:
        try:
            body = base64.b64decode(answer["body_base64"], validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise ServeError("the handler's body_base64 is not base64", status=502,
                             kind="bad_handler_response") from None
    else:
        text = answer.get("body", "")
        if not isinstance(text, str):
            raise ServeError("the handler's body must be a string", status=502, kind="bad_handler_response")
        body = text.encode("utf-8")
    response = Response(body, status)
    for key, value in headers.items():
        if key.lower() not in FRAMING:
            response.headers[key] = value
    return response


async def handle_route(request: Request) -> Response:
    """Any request under a function's route, answered by its `route_export`."""
    started = time.perf_counter()
    runtimes: Runtimes = request.app.state.runtimes
    match = runtimes.match_route(request.url.path)
    if match is None:
        return JSONResponse({"error": f"nothing is served at {request.url.path[:200]}", "kind": "not_found"},
                            404)
    name, _route = match
    export = runtimes.active[name].version.settings.route_export

    state = request.app.state
    runtime, outcome = await _invoke(state, request.scope, request.receive, name, export,
                                     lambda runtime, body: _request_json(request, runtime, body))
    if isinstance(outcome, bytes):
        try:
            response = _handler_response(outcome)
        except ServeError as exc:
            outcome = exc
        else:
            _observe(state, name, runtime, export, response.status_code, "ok", started)
            return response
    _observe(state, name, runtime, export, outcome.status, outcome.kind, started)
    return error_response(outcome)

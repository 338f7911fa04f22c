"""Reading a request safely (a capped body, the bearer token) and answering with a JSON error.

A body is refused unread when its Content-Length is over the cap, and reading
stops at the cap when it is not declared (chunked): 413 either way, and never
more than the cap plus one chunk held in memory.
"""

from __future__ import annotations

import asyncio
import math

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Message

from wasmplug.web.accounts import Account

from .errors import ServeError


def too_large(cap: int) -> ServeError:
    return ServeError(f"the request body is over this endpoint's limit of {cap} bytes: send less",
                      status=413, kind="too_large")


async def read_body(request: Request, cap: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit() or len(declared) > 20:
            raise ServeError("the Content-Length header is not a number", kind="bad_request")
        if int(declared) > cap:
            raise too_large(cap)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            raise too_large(cap)
    return bytes(body)


def replay(request: Request, body: bytes) -> Request:
    """A copy of `request` whose body is `body` (already read within its cap)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # like a client that sends nothing more (never reached)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(request.scope, receive)


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else ""


async def account(request: Request, *, required: bool = True) -> Account | None:
    """Who the request's bearer token belongs to (401 if it is missing or unknown and `required`)."""
    token = bearer(request)
    store = request.app.state.store
    who: Account | None = await asyncio.to_thread(store.by_token, token) if token else None
    if who is not None and who.banned:
        raise ServeError("this token's user is banned", status=403, kind="forbidden")
    if who is None and required:
        raise ServeError("a valid API token is needed: send Authorization: Bearer TOKEN (make one with "
                         "`wasmplug serve token create NAME`)", status=401, kind="unauthorized")
    return who


def error_response(exc: ServeError) -> JSONResponse:
    headers = {}
    if exc.retry_after is not None:
        headers["retry-after"] = str(max(1, math.ceil(exc.retry_after)))
    return JSONResponse({"error": str(exc), "kind": exc.kind}, exc.status, headers=headers)

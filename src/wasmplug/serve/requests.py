"""Reading a request safely (a capped body, the bearer token) and answering with a JSON error.

A body is refused unread when its Content-Length is over the cap, and reading
stops at the cap when it is not declared (chunked): 413 either way, and never
more than the cap plus one chunk held in memory.
"""

from __future__ import annotations

import asyncio
import json
import math

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope

from wasmplug.web.accounts import Account
from wasmplug.web.security import SECURITY_HEADERS

from .errors import ServeError

# The security headers (`wasmplug.web.security`) as raw ASGI headers: on the server's own pages, and
# on functions' responses with `sandbox` in the CSP (a page a function serves runs as an opaque origin).
OWN_HEADERS = [(name.encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]
FUNCTION_HEADERS = [(name, value + b"; sandbox" if name == b"content-security-policy" else value)
                    for name, value in OWN_HEADERS]


def too_large(cap: int) -> ServeError:
    return ServeError(f"the request body is over this endpoint's limit of {cap} bytes: send less",
                      status=413, kind="too_large")


async def read_body(request: Request, cap: int) -> bytes:
    return await read_asgi_body(request.scope, request.receive, cap)


async def read_asgi_body(scope: Scope, receive: Receive, cap: int) -> bytes:
    """The request body of `scope`, read from `receive` within `cap` (see the module's docstring)."""
    for name, declared in scope["headers"]:
        if name == b"content-length":
            if not declared.isdigit() or len(declared) > 20:
                raise ServeError("the Content-Length header is not a number", kind="bad_request")
            if int(declared) > cap:
                raise too_large(cap)
            break
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):  # the whole body
        whole: bytes = message.get("body", b"")
        if len(whole) > cap:
            raise too_large(cap)
        return whole
    body = bytearray()
    while True:
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        body += message.get("body", b"")
        if len(body) > cap:
            raise too_large(cap)
        if not message.get("more_body", False):
            return bytes(body)
        message = await receive()


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


def error_body(exc: ServeError) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The JSON body of `exc`'s response and its headers (Retry-After, if any) as raw ASGI headers."""
    body = json.dumps({"error": str(exc), "kind": exc.kind}, ensure_ascii=False, separators=(",", ":"))
    headers = []
    if exc.retry_after is not None:
        headers.append((b"retry-after", str(max(1, math.ceil(exc.retry_after))).encode()))
    return body.encode(), headers


def error_response(exc: ServeError) -> JSONResponse:
    headers = {}
    if exc.retry_after is not None:
        headers["retry-after"] = str(max(1, math.ceil(exc.retry_after)))
    return JSONResponse({"error": str(exc), "kind": exc.kind}, exc.status, headers=headers)

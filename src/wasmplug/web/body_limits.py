"""Request bodies counted as they stream in: over its route's cap, a request gets 413.

    app.add_middleware(BodyLimits, default=64 * 1024, routes={"/upload": 20 * 1024 * 1024})

Content-Length is only a claim and chunked bodies make none, so the middleware
counts the bytes of every `http.request` message the application reads: a body
that streams past its cap stops the application's read (`BodyTooLarge`) and is
answered 413, so no more than the cap (plus one network chunk) is ever
buffered. On a route with the `default` cap, a declared size over it is
answered 413 before anything is read; a route given its own cap (an upload)
refuses a declared size itself, with its own message
(`limits.declared_size_refusal`). `small` maps paths to caps below the
default (a sign-in form's few fields), refused like the default: a declared
size at once, a chunked body at its first network chunk past the cap, before
the application parses any of it. Add it
with `add_middleware`, inside Starlette's error handler and outside the routes.

`FORM_LIMITS` are the python-multipart limits for a form that takes no file:
`await request.form(**FORM_LIMITS)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

FORM_LIMITS: dict[str, Any] = {"max_files": 0, "max_fields": 32, "max_part_size": 64 * 1024}


class BodyTooLarge(Exception):
    """The request body went past its cap while the application read it."""


class BodyLimits:
    """Caps on request bodies: `routes` maps an exact path to its own cap (it refuses a declared
    size itself), `small` to a cap refused like `default`; others get `default`."""

    def __init__(self, app: ASGIApp, *, default: int, routes: Mapping[str, int] | None = None,
                 small: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.default = default
        self.routes = dict(routes or {})
        self.small = dict(small or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        own_cap = self.routes.get(scope["path"])
        cap = self.small.get(scope["path"], self.default) if own_cap is None else own_cap
        declared = _declared_size(scope)
        if own_cap is None and declared is not None and declared > cap:
            await _refuse(send, cap)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise BodyTooLarge(f"the request body is over {cap} bytes")
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if not started:
                await _refuse(send, cap)
            # else the response is cut short: the server closes the connection


def _declared_size(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() and len(text) < 20 else 2**63
    return None


async def _refuse(send: Send, cap: int) -> None:
    body = (f"the request body is over {cap} bytes, the most this address takes: "
            "send less").encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})

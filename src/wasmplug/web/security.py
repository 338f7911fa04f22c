"""Security headers on every HTTP response: a strict Content-Security-Policy and friends.

`SecuredStarlette` adds them outside every other layer, Starlette's own error
handler included, so a 500 carries them too; with `hsts` (a site served over
HTTPS) it adds Strict-Transport-Security.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Scripts only from our origin and never inline; no plug-in or frame; nothing
# loaded from anywhere else. Inline styles are allowed (games style their
# boards; the sanitiser has already removed anything in CSS that loads).
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'", "script-src 'self'", "style-src 'self' 'unsafe-inline'",
    "img-src 'self'", "font-src 'self'", "connect-src 'self'", "form-action 'self'",
    "base-uri 'none'", "frame-ancestors 'none'", "object-src 'none'", "frame-src 'none'",
])
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"  # a year


class SecurityHeaders:
    """Adds the CSP and friends to every HTTP response (and HSTS with `hsts`)."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.headers = {**SECURITY_HEADERS, **({"strict-transport-security": HSTS} if hsts else {})}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SecuredStarlette(Starlette):
    """A Starlette app whose every response, a 500 from any layer included, carries the
    security headers (and HSTS when `hsts`): they are added outside the whole stack."""

    def __init__(self, *args: Any, hsts: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hsts = hsts

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack(), hsts=self.hsts)

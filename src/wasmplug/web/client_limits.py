"""Per client address: at most so many requests in flight and so many a second; past that, 429.

    app.add_middleware(ClientLimits, max_in_flight=16, rate=20.0, burst=100)

A flood from one address then costs the server a cheap refusal per extra
request (no session, no form, no template) instead of real work that everyone
else waits behind. The rate is a token bucket: `burst` requests at once, then
`rate` a second. The address is the one uvicorn gives the request (the proxy's,
unless the proxy is trusted with `forwarded_allow_ips`: behind an untrusted proxy
every visitor shares one address and one allowance). Only HTTP requests count (a
WebSocket is long-lived and limited by the application). Loopback addresses are
not limited: a client there is on this machine (a tool, a test, or a local proxy
that is not trusted, behind which every visitor would share one allowance).

Memory is bounded: the in-flight table holds only addresses with a request
running (so at most the server's connection limit), and the buckets at most
`max_keys` addresses (the least recently used is forgotten first).
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict

from starlette.types import ASGIApp, Receive, Scope, Send


class ClientLimits:
    """At most `max_in_flight` HTTP requests per client address at once, and `rate` a second
    after a `burst` (429 with Retry-After past either)."""

    def __init__(self, app: ASGIApp, *, max_in_flight: int = 16, rate: float = 20.0,
                 burst: int = 100, max_keys: int = 100_000) -> None:
        if max_in_flight < 1 or rate <= 0 or burst < 1 or max_keys < 1:
            raise ValueError("client limits need max_in_flight, rate, burst and max_keys above 0")
        self.app = app
        self.max_in_flight = max_in_flight
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self.in_flight: dict[str, int] = {}
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, when
        self.refused = 0

    def _take(self, address: str) -> bool:
        """Take a token of `address`'s bucket (False: it is empty)."""
        now = time.monotonic()
        tokens, then = self._buckets.pop(address, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        if tokens < 1:
            self._buckets[address] = (tokens, now)
            return False
        self._buckets[address] = (tokens - 1, now)
        while len(self._buckets) > self.max_keys:  # the least recently used goes
            self._buckets.popitem(last=False)
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = str(client[0]) if client else "?"
        if _loopback(address):
            await self.app(scope, receive, send)
            return
        count = self.in_flight.get(address, 0)
        if count >= self.max_in_flight:
            self.refused += 1
            await _too_many(send, f"more than {self.max_in_flight} requests from your address at once")
            return
        if not self._take(address):
            self.refused += 1
            await _too_many(send, f"more than {self.rate:g} requests a second from your address")
            return
        self.in_flight[address] = count + 1
        try:
            await self.app(scope, receive, send)
        finally:
            left = self.in_flight[address] - 1
            if left:
                self.in_flight[address] = left
            else:
                del self.in_flight[address]


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False  # not an IP address (a test client's name, a Unix socket)


async def _too_many(send: Send, what: str) -> None:
    body = f"{what}: slow down and try again in a second".encode()
    await send({"type": "http.response.start", "status": 429,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), (b"retry-after", b"1")]})
    await send({"type": "http.response.body", "body": body})

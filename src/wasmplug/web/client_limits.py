"""Per client address: at most so many requests in flight and so many a second; past that, 429.

    app.add_middleware(ClientLimits, max_in_flight=16, rate=20.0, burst=100, refusal_delay=1.0)

A flood from one address then costs the server a cheap refusal per extra
request (no session, no form, no template) instead of real work that everyone
else waits behind. A refusal is answered only after `refusal_delay` seconds
(a timer: no CPU meanwhile), so a flood over keep-alive connections, each
sending as soon as it is answered, gets at most one refusal per connection per
`refusal_delay` (wrk's 64 connections got 1,500 refusals a second, which
together took the server's core); past `max_held` refusals held for one address,
the next is answered at once and its connection closed.

The rate is a token bucket: `burst` requests at once, then `rate` a second. The
address is the one uvicorn gives the request (the proxy's,
unless the proxy is trusted with `forwarded_allow_ips`: behind an untrusted proxy
every visitor shares one address and one allowance). Only HTTP requests count (a
WebSocket is long-lived and limited by the application). Loopback addresses are
not limited: a client there is on this machine (a tool, a test, or a local proxy
that is not trusted, behind which every visitor would share one allowance).

Memory is bounded: the in-flight table holds only addresses with a request
running (so at most the server's connection limit), and the buckets at most
`max_keys` addresses (the least recently used is forgotten first), and the held
refusals at most `max_held` per address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections import OrderedDict

from starlette.types import ASGIApp, Receive, Scope, Send


class ClientLimits:
    """At most `max_in_flight` HTTP requests per client address at once, and `rate` a second
    after a `burst` (429 with Retry-After past either)."""

    def __init__(self, app: ASGIApp, *, max_in_flight: int = 16, rate: float = 20.0,
                 burst: int = 100, max_keys: int = 100_000, refusal_delay: float = 1.0,
                 max_held: int = 64) -> None:
        if max_in_flight < 1 or rate <= 0 or burst < 1 or max_keys < 1 or refusal_delay < 0 \
                or max_held < 0:
            raise ValueError("client limits need max_in_flight, rate, burst and max_keys above 0 "
                             "(refusal_delay and max_held at least 0)")
        self.app = app
        self.max_in_flight = max_in_flight
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self.in_flight: dict[str, int] = {}
        self.refusal_delay = refusal_delay
        self.max_held = max_held
        self.held: dict[str, int] = {}  # refusals waiting out their delay, per address
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
            await self._refuse(send, address, f"more than {self.max_in_flight} requests from your "
                                              "address at once")
            return
        if not self._take(address):
            await self._refuse(send, address, f"more than {self.rate:g} requests a second from "
                                              "your address")
            return
        self.in_flight[address] = count + 1
        try:
            await self.app(scope, receive, send)
        finally:
            _release(self.in_flight, address)


    async def _refuse(self, send: Send, address: str, what: str) -> None:
        """429 after `refusal_delay` (at once, closing the connection, past `max_held`)."""
        self.refused += 1
        held = self.held.get(address, 0)
        if held >= self.max_held or not self.refusal_delay:
            await _too_many(send, what, close=bool(self.refusal_delay))
            return
        self.held[address] = held + 1
        try:
            await asyncio.sleep(self.refusal_delay)
        finally:
            _release(self.held, address)
        await _too_many(send, what)


def _release(counts: dict[str, int], address: str) -> None:
    """One fewer for `address` (its key goes at 0, so the table holds only addresses in use)."""
    left = counts[address] - 1
    if left:
        counts[address] = left
    else:
        del counts[address]


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False  # not an IP address (a test client's name, a Unix socket)


async def _too_many(send: Send, what: str, close: bool = False) -> None:
    body = f"{what}: slow down and try again in a second".encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"),
               (b"content-length", str(len(body)).encode()), (b"retry-after", b"1")]
    await send({"type": "http.response.start", "status": 429,
                "headers": headers + ([(b"connection", b"close")] if close else [])})
    await send({"type": "http.response.body", "body": body})

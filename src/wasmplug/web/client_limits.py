"""Per client address: at most so many requests in flight and so many a second; past that, 429.

    app.add_middleware(ClientLimits, max_in_flight=16, rate=20.0, burst=100, refusal_delay=1.0,
                       refusal_jitter=0.5)

A flood from one address then costs the server a cheap refusal per extra
request (no session, no form, no template) instead of real work that everyone
else waits behind. A refusal is answered only after `refusal_delay` seconds
(a timer: no CPU meanwhile), so a flood over keep-alive connections, each
sending as soon as it is answered, gets at most one refusal per connection per
`refusal_delay` (wrk's 64 connections got 1,500 refusals a second, which
together took the server's core); past `max_held` refusals held for one address,
the next is answered at once and its connection closed.

Each refusal's delay is drawn at random from `refusal_delay * (1 ± refusal_jitter)`
(the mean stays `refusal_delay`). With one fixed delay the refusals of a flood
stay in step: wrk's 64 connections (and a race of 40 sign-ins) were refused at
once, answered together a second later, and sent their next requests together,
so every second the server parsed and refused a hundred requests in one burst
that the arena players' messages waited behind. Spread over a second, the same
refusals are a hundred short pauses that few players' messages meet.

The rate is a token bucket: `burst` requests at once, then `rate` a second. The
address is the one uvicorn gives the request (the proxy's,
unless the proxy is trusted with `forwarded_allow_ips`: behind an untrusted proxy
every visitor shares one address and one allowance). Only HTTP requests count (a
WebSocket is long-lived and limited by the application). Loopback addresses are
not limited: a client there is on this machine (a tool, a test, or a local proxy
that is not trusted, behind which every visitor would share one allowance).

Memory is bounded: the in-flight table holds only addresses with a request
running (so at most the server's connection limit), and the buckets (general and costly) at most
`max_keys` addresses each (the least recently used is forgotten first), and the held
refusals at most `max_held` per address.

Costly routes (`costly`: exact paths such as a sign-in, a search, a new arena)
have a second, smaller allowance per address on top: at most `costly_in_flight`
at once and `costly_rate` a second after a burst of `costly_burst`. A person
never reaches it (a sign-in, a search, a new arena now and then); a race of 150
concurrent sign-ins from one address gets `costly_in_flight` of them run, the
rest refused (slowly) before any form is read or password checked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import time
from collections import OrderedDict
from collections.abc import Collection

from starlette.types import ASGIApp, Receive, Scope, Send


class ClientLimits:
    """At most `max_in_flight` HTTP requests per client address at once, and `rate` a second
    after a `burst` (429 with Retry-After past either)."""

    def __init__(self, app: ASGIApp, *, max_in_flight: int = 16, rate: float = 20.0,
                 burst: int = 100, max_keys: int = 100_000, refusal_delay: float = 1.0,
                 refusal_jitter: float = 0.5, max_held: int = 256, costly: Collection[str] = (),
                 costly_in_flight: int = 2, costly_rate: float = 5.0, costly_burst: int = 10,
                 rng: random.Random | None = None) -> None:
        if min(max_in_flight, burst, max_keys, costly_in_flight, costly_burst) < 1 \
                or min(rate, costly_rate) <= 0 or refusal_delay < 0 or max_held < 0 \
                or not 0 <= refusal_jitter <= 1:
            raise ValueError("client limits need max_in_flight, rate, burst, max_keys and the costly "
                             "routes' in-flight, rate and burst above 0 (refusal_delay and max_held "
                             "at least 0, refusal_jitter from 0 to 1)")
        self.app = app
        self.max_in_flight = max_in_flight
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self.in_flight: dict[str, int] = {}
        self.refusal_delay = refusal_delay
        self.refusal_jitter = refusal_jitter
        self._random = rng or random.Random()
        self.max_held = max_held
        self.held: dict[str, int] = {}  # refusals waiting out their delay, per address
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, when
        self.costly = frozenset(costly)
        self.costly_in_flight = costly_in_flight
        self.costly_rate = costly_rate
        self.costly_burst = costly_burst
        self.costly_running: dict[str, int] = {}
        self._costly_buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self.refused = 0

    def _take(self, address: str, costly: bool = False) -> bool:
        """Take a token of `address`'s bucket, or of its costly routes' bucket (False: it is
        empty)."""
        buckets, rate, burst = ((self._costly_buckets, self.costly_rate, float(self.costly_burst))
                                if costly else (self._buckets, self.rate, float(self.burst)))
        now = time.monotonic()
        tokens, then = buckets.pop(address, (burst, now))
        tokens = min(burst, tokens + (now - then) * rate)
        if tokens < 1:
            buckets[address] = (tokens, now)
            return False
        buckets[address] = (tokens - 1, now)
        while len(buckets) > self.max_keys:  # the least recently used goes
            buckets.popitem(last=False)
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
        costly = scope["path"] in self.costly
        running = self.costly_running.get(address, 0) if costly else 0
        if running >= self.costly_in_flight:
            await self._refuse(send, address, f"more than {self.costly_in_flight} sign-ins, "
                                              "searches or new arenas from your address at once")
            return
        if not self._take(address):
            await self._refuse(send, address, f"more than {self.rate:g} requests a second from "
                                              "your address")
            return
        if costly:
            await self._costly(scope, receive, send, address, running)
            return
        self.in_flight[address] = count + 1
        try:
            await self.app(scope, receive, send)
        finally:
            _release(self.in_flight, address)

    async def _costly(self, scope: Scope, receive: Receive, send: Send, address: str,
                      running: int) -> None:
        """A request of a costly route: within the address's smaller allowance for them."""
        if not self._take(address, costly=True):
            await self._refuse(send, address, f"more than {self.costly_rate:g} sign-ins, searches "
                                              "or new arenas a second from your address")
            return
        self.costly_running[address] = running + 1
        self.in_flight[address] = self.in_flight.get(address, 0) + 1
        try:
            await self.app(scope, receive, send)
        finally:
            _release(self.in_flight, address)
            _release(self.costly_running, address)

    async def _refuse(self, send: Send, address: str, what: str) -> None:
        """429 after `refusal_delay` (at once, closing the connection, past `max_held`)."""
        self.refused += 1
        held = self.held.get(address, 0)
        if held >= self.max_held or not self.refusal_delay:
            await _too_many(send, what, close=bool(self.refusal_delay))
            return
        self.held[address] = held + 1
        try:
            await asyncio.sleep(self.refusal_wait())
        finally:
            _release(self.held, address)
        await _too_many(send, what)


    def refusal_wait(self) -> float:
        """How long the next held refusal waits: `refusal_delay` give or take `refusal_jitter`
        of it, at random (so a flood's refusals do not stay in step)."""
        spread = self.refusal_delay * self.refusal_jitter
        return self.refusal_delay + self._random.uniform(-spread, spread)


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

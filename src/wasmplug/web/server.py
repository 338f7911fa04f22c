"""Serving a web application with uvicorn, with every per-connection resource bounded.

    limits = ServerLimits(limit_concurrency=1000, header_timeout=10.0)
    server = uvicorn.Server(uvicorn_config(app, limits, proxy_headers=True, forwarded_allow_ips="10.0.0.2"))

- `limit_concurrency`: past that many open connections (or running requests) a
  new request is answered 503 at once.
- `header_timeout`: uvicorn times out an idle keep-alive connection but not one
  that sends its request headers slowly, or never (slowloris); the HTTP protocol
  here closes a connection whose request headers are not complete within
  `header_timeout` seconds of its first byte (or of its opening), less up to
  `header_jitter` of it at random: 300 slowloris connections opened together
  used to be closed together, ~20 ms of the event loop at once (and reopened
  together), a burst that every other client's message waited behind; their
  deadlines now fall over the last quarter of the timeout.
- `keep_alive`: an idle connection between requests is closed after so many seconds.
- `max_header_bytes`: the most a request head may take; past it the connection is
  closed (uvicorn caps it for h11 only; httptools would gather headers for the
  whole header timeout).
- `ws_max_size`: a WebSocket message (or frame) over this is refused from its
  header (close code 1009) without reading it.

`serve_in_thread(config)` runs a server on a free loopback port in a thread of
this process (tests, screenshot scripts, an app embedded in a notebook).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp


@dataclass(frozen=True)
class ServerLimits:
    """uvicorn's limits on connections (see the module's docstring)."""

    limit_concurrency: int = 1000
    header_timeout: float = 10.0
    header_jitter: float = 0.25  # each deadline is header_timeout less up to this much of it
    keep_alive: int = 5
    max_header_bytes: int = 16 * 1024
    ws_max_size: int = 64 * 1024


def uvicorn_config(app: ASGIApp, limits: ServerLimits | None = None, **options: Any) -> Any:
    """A `uvicorn.Config` for `app` under `limits`; `options` go to uvicorn as they are."""
    import uvicorn

    limits = limits or ServerLimits()
    return uvicorn.Config(app, http=header_deadline_protocol(limits.header_timeout,
                                                            limits.max_header_bytes,
                                                            jitter=limits.header_jitter),
                          limit_concurrency=limits.limit_concurrency,
                          timeout_keep_alive=limits.keep_alive,
                          h11_max_incomplete_event_size=limits.max_header_bytes,
                          ws_max_size=limits.ws_max_size, **options)


def header_deadline_protocol(timeout: float, max_head: int = 16 * 1024, *, jitter: float = 0.25,
                             rng: random.Random | None = None) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools when installed, else h11) closing a connection
    whose request head takes longer than `timeout` seconds (less up to `jitter` of it, at
    random: drawn from `rng`) or more than `max_head` bytes."""
    if not 0 <= jitter < 1:
        raise ValueError("the header deadline's jitter is a fraction of the timeout, from 0 to below 1")
    draw = rng or random.Random()
    base: type[Any]
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base
    except ImportError:
        from uvicorn.protocols.http.h11_impl import H11Protocol as base

    class HeaderDeadlineProtocol(base):  # type: ignore[misc]
        header_timeout = timeout

        def connection_made(self, transport: asyncio.Transport) -> None:
            self._deadline: asyncio.TimerHandle | None = None
            self._upgraded = False
            self._head_of: object = None  # the request cycle before the head being counted
            self._head_bytes = 0
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if not self._between_requests():
                super().data_received(data)
                return
            if self._deadline is None:
                self._arm()
            if self._head_of is not self.cycle:
                self._head_of, self._head_bytes = self.cycle, 0
            self._head_bytes += len(data)
            super().data_received(data)
            # Still no new request: all of it was head (a head that ended here began a cycle).
            if self.cycle is self._head_of and self._head_bytes > max_head \
                    and not self._upgraded and not self.transport.is_closing():
                self.transport.close()

        def _between_requests(self) -> bool:
            """Waiting for a request head (not a body still arriving after its response)."""
            cycle = self.cycle
            return not self._upgraded and (
                cycle is None or (cycle.response_complete and not cycle.more_body))

        def _arm(self) -> None:
            waiting_for = self.cycle

            def expire() -> None:
                self._deadline = None
                if self._upgraded or self.cycle is not waiting_for or self.transport.is_closing():
                    return  # a request began (or the socket became a WebSocket) in time
                self.transport.close()

            seconds = self.header_timeout * (1 - draw.uniform(0, jitter)) if jitter else self.header_timeout
            self._deadline = self.loop.call_later(seconds, expire)

        def handle_websocket_upgrade(self, *args: Any) -> None:
            self._upgraded = True
            self._disarm()
            super().handle_websocket_upgrade(*args)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderDeadlineProtocol


@contextlib.contextmanager
def serve_in_thread(config: Any, *, start_timeout: float = 20.0) -> Iterator[str]:
    """Serve the `uvicorn.Config` `config` on 127.0.0.1 (a free port: its host and port are not
    used) in a daemon thread; yields the server's URL, and stops it when the block ends."""
    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True,
                              name="uvicorn")
    thread.start()
    deadline = time.monotonic() + start_timeout
    try:
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError(f"the server did not start within {start_timeout:g} s")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()

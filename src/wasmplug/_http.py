"""Outgoing HTTP: plug-in requests (ABI.md 2.5) and wasm URL sources (6.3).

One `httpx.Client` per process serves both, so connections are reused.
Plug-in requests go only to hosts matching the manifest's `allowed_hosts`,
are cut off at `memory.max_http_response_bytes`, get the time left before the
call's `timeout_ms` as their timeout, and never follow redirects (a redirect
could lead to a host that is not allowed; the plug-in sees the 3xx response).

A manifest with `blocked_networks` (`_netguard`) gets a client of its own whose
connections resolve the host once, refuse it if any of its addresses is
blocked, and connect to one of the addresses checked: no second lookup. Those
clients never go through a proxy from the environment (the proxy would make its
own lookup), and never share a connection with requests checked otherwise.
"""

from __future__ import annotations

import fnmatch
import re
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from ._netguard import NetworkGuard

# httpx is imported on the first request, not with wasmplug: it is half of
# wasmplug's import time, and most plug-ins never make a request.
_client: httpx.Client | None = None
_client_lock = threading.Lock()


def client() -> httpx.Client:
    import httpx

    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                _client = httpx.Client(follow_redirects=False,
                                       limits=httpx.Limits(max_keepalive_connections=32))
    return _client


# One client per distinct guard (a serve process has one); past the bound, a client per request.
MAX_GUARDED_CLIENTS = 16
_guarded: dict[NetworkGuard, httpx.Client] = {}


def _guarded_client(guard: NetworkGuard) -> tuple[httpx.Client, bool]:
    """The client for requests checked by `guard`, and whether the caller must close it."""
    with _client_lock:
        found = _guarded.get(guard)
        if found is not None:
            return found, False
        made = _new_guarded_client(guard)
        if len(_guarded) < MAX_GUARDED_CLIENTS:
            _guarded[guard] = made
            return made, False
    return made, True


def _new_guarded_client(guard: NetworkGuard) -> httpx.Client:
    import httpcore
    import httpx

    class GuardedBackend(httpcore.SyncBackend):
        """Connects only to an address of the host that the guard was asked about."""

        def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                        local_address: str | None = None,
                        socket_options: Any = None) -> httpcore.NetworkStream:
            try:
                found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except (OSError, UnicodeError) as exc:
                raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
            addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
            for address in addresses:
                reason = guard.refusal(address)
                if reason is not None:
                    raise AddressBlocked(f"{address} is in {reason}" if host == address
                                         else f"{host} resolves to {address}, which is in {reason}")
            failure: Exception = httpcore.ConnectError(f"no address for {host}")
            for address in addresses:
                try:
                    return super().connect_tcp(address, port, timeout, local_address, socket_options)
                except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                    failure = exc
            raise failure

    transport = httpx.HTTPTransport()
    # httpx's transport takes no network backend: its connection pool is rebuilt with one, with
    # the same settings as httpx's own.
    transport._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(),
                                              max_keepalive_connections=32,
                                              network_backend=GuardedBackend())
    return httpx.Client(transport=transport, follow_redirects=False)


class HttpError(Exception):
    """A request failed or was refused; the message says why."""


class HttpTimeout(HttpError):
    """The call's time ran out during the request."""


class AddressBlocked(HttpError):
    """The host resolves to an address in the manifest's blocked_networks."""


class ResponseTooLarge(HttpError):
    """The response body is larger than allowed."""

    def __init__(self, limit: int) -> None:
        super().__init__("HTTP response exceeds the configured maximum number of bytes: "
                         f"{limit} (raise memory.max_http_response_bytes to allow more)")
        self.limit = limit


def host_allowed(host: str, patterns: tuple[str, ...] | None) -> bool:
    """ABI.md 6.5: whole-host glob match, case sensitive; invalid globs match exactly."""
    for pattern in patterns or ():
        if pattern == host:
            return True
        if pattern.count("[") != pattern.count("]"):
            continue  # not a valid glob: exact comparison only (done above)
        if re.fullmatch(fnmatch.translate(pattern), host):
            return True
    return False


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def request_host(url: str) -> str:
    """The host of `url` (lower-case, no port) or HttpError("Invalid URL: ...")."""
    import httpx

    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise HttpError(f"Invalid URL: {url} ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise HttpError(f"Invalid URL: {url} (expected an absolute http:// or https:// URL)")
    return parsed.host.lower()


def send(method: str, url: str, headers: Mapping[str, str], body: bytes | None,
         timeout: float | None, max_bytes: int, follow_redirects: bool = False,
         guard: NetworkGuard | None = None) -> Response:
    """Perform one request; read at most `max_bytes` of body (HttpError if larger).

    `timeout` bounds the whole request, not each read: a server that drips
    its answer a byte at a time is cut off when the time is up. With a `guard`,
    an address it refuses fails the request with AddressBlocked.
    """
    if guard is None:
        return _send(client(), method, url, headers, body, timeout, max_bytes, follow_redirects)
    guarded, one_off = _guarded_client(guard)
    try:
        return _send(guarded, method, url, headers, body, timeout, max_bytes, follow_redirects)
    finally:
        if one_off:
            guarded.close()


def _send(http: httpx.Client, method: str, url: str, headers: Mapping[str, str], body: bytes | None,
          timeout: float | None, max_bytes: int, follow_redirects: bool) -> Response:
    import httpx

    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        with http.stream(method, url, headers=dict(headers), content=body,
                             timeout=httpx.Timeout(timeout),
                             follow_redirects=follow_redirects) as response:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                if deadline is not None and time.monotonic() > deadline:
                    raise HttpTimeout("timeout")
                size += len(chunk)
                if size > max_bytes:
                    raise ResponseTooLarge(max_bytes)
                chunks.append(chunk)
            captured: dict[str, str] = {}
            for name, value in response.headers.multi_items():
                if value.isprintable():
                    captured[name.lower()] = value
            return Response(response.status_code, captured, b"".join(chunks))
    except AddressBlocked as exc:
        raise AddressBlocked(f"HTTP request to {url} is not allowed: {exc}; the manifest's "
                             "blocked_networks refuse that address (allowed_networks lists "
                             "exceptions)") from None
    except httpx.TimeoutException:
        raise HttpTimeout("timeout") from None
    except (httpx.InvalidURL, ValueError, TypeError) as exc:  # bad URL, header or method
        raise HttpError(f"invalid HTTP request to {url}: {exc}") from None
    except httpx.HTTPError as exc:
        raise HttpError(f"HTTP request to {url} failed: {exc or type(exc).__name__}") from None


def fetch_module(url: str, method: str | None, headers: Mapping[str, str],
                 timeout: float, max_bytes: int) -> bytes:
    """Download a wasm module; HttpError for a failed download or an error status,
    ResponseTooLarge past `max_bytes`, HttpTimeout past `timeout` seconds."""
    response = send(method or "GET", url, headers, None, timeout, max_bytes,
                    follow_redirects=True)
    if response.status >= 400:
        raise HttpError(f"downloading {url} failed with HTTP status {response.status}")
    return response.body

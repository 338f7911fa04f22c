"""Outgoing HTTP: plug-in requests (ABI.md 2.5) and wasm URL sources (6.3).

One `httpx.Client` per process serves both, so connections are reused.
Plug-in requests go only to hosts matching the manifest's `allowed_hosts`,
are cut off at `memory.max_http_response_bytes`, get the time left before the
call's `timeout_ms` as their timeout, and never follow redirects (a redirect
could lead to a host that is not allowed; the plug-in sees the 3xx response).
"""

from __future__ import annotations

import fnmatch
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

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


class HttpError(Exception):
    """A request failed or was refused; the message says why."""


class HttpTimeout(HttpError):
    """The call's time ran out during the request."""


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
         timeout: float | None, max_bytes: int, follow_redirects: bool = False) -> Response:
    """Perform one request; read at most `max_bytes` of body (HttpError if larger).

    `timeout` bounds the whole request, not each read: a server that drips
    its answer a byte at a time is cut off when the time is up.
    """
    import httpx

    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        with client().stream(method, url, headers=dict(headers), content=body,
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

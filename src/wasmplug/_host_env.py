"""The `extism:host/env` functions done in Python: config, vars, HTTP, logs.

The functions here are module-level and find the plug-in they serve through
`active()`, set by the plug-in for the duration of a call on the calling
thread. Being module-level, each is turned into a native callback once per
process, not once per plug-in.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from . import _http, _logs
from ._callpath import I32, I64
from ._manifest import HTTP_TOKEN

if TYPE_CHECKING:
    from ._plugin import Plugin


class HostError(Exception):
    """A host function refused the guest's request: the call fails with this text."""


class LimitError(HostError):
    """A host function stopped the call because of a limit (named, with its value)."""

    def __init__(self, message: str, limit: str, value: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.value = value


_active = threading.local()


def active() -> Plugin:
    plugin: Plugin | None = getattr(_active, "plugin", None)
    if plugin is None:
        raise HostError("host function called outside a plug-in call")
    return plugin


def enter(plugin: Plugin) -> Plugin | None:
    previous: Plugin | None = getattr(_active, "plugin", None)
    _active.plugin = plugin
    return previous


def leave(previous: Plugin | None) -> None:
    _active.plugin = previous


# ------------------------------------------------------------------ config, vars


def config_get(key: int) -> int:
    plugin = active()
    kernel = plugin._kernel
    name = kernel.take_bytes(key, "config key").decode("utf-8")
    value = plugin.config.get(name)
    return kernel.alloc_bytes(value.encode("utf-8")) if value else 0


def var_get(key: int) -> int:
    plugin = active()
    kernel = plugin._kernel
    name = kernel.take_bytes(key, "var key").decode("utf-8")
    value = plugin.vars.get(name)
    return kernel.alloc_bytes(value) if value else 0


VAR_ENTRY_OVERHEAD: Final = 48


def var_set(key: int, value: int) -> None:
    plugin = active()
    limit = plugin._compiled.manifest.memory.var_bytes_limit
    if limit == 0:
        raise HostError("Vars are disabled by this host")
    kernel = plugin._kernel
    name = kernel.take_bytes(key, "var key").decode("utf-8")
    store = plugin.vars
    if value == 0:
        old = store.pop(name, None)
        if old is not None:
            plugin._var_bytes -= VAR_ENTRY_OVERHEAD + len(name.encode()) + len(old)
        return
    data = kernel.take_bytes(value, "var value")
    entry = VAR_ENTRY_OVERHEAD + len(name.encode()) + len(data)
    # The reference counts an existing entry for the same key too (ABI.md 2.4).
    if entry + plugin._var_bytes > limit:
        raise LimitError(
            f"Variable store is full (limit memory.max_var_bytes = {limit} bytes)",
            "memory.max_var_bytes", limit)
    old = store.get(name)
    if old is not None:
        plugin._var_bytes -= VAR_ENTRY_OVERHEAD + len(name.encode()) + len(old)
    store[name] = data
    plugin._var_bytes += entry


# ------------------------------------------------------------------ HTTP

_REQUEST_KEYS = frozenset({"url", "headers", "method"})


def http_request(request: int, body: int) -> int:
    plugin = active()
    plugin.http_status = 0
    plugin.http_headers = None
    kernel = plugin._kernel
    raw = kernel.take_bytes(request, "http request")
    try:
        spec: Any = json.loads(raw)
    except ValueError as exc:
        raise HostError(f"invalid http request: not JSON ({exc})") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("url"), str):
        raise HostError('invalid http request: expected {"url": ..., "headers": ..., "method": ...}')
    unknown = set(spec) - _REQUEST_KEYS
    if unknown:
        raise HostError(f"invalid http request: unknown field(s) {', '.join(sorted(unknown))}")
    headers = spec.get("headers") or {}
    method = spec.get("method") or "GET"
    if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise HostError("invalid http request: 'headers' must map strings to strings")
    if not isinstance(method, str) or not HTTP_TOKEN.fullmatch(method):
        raise HostError(f"invalid http request: {method!r} is not an HTTP method")
    url = spec["url"]
    manifest = plugin._compiled.manifest
    try:
        host = _http.request_host(url)
        if not _http.host_allowed(host, manifest.allowed_hosts):
            raise HostError(
                f"HTTP request to {url} is not allowed: the host {host!r} does not match the "
                "manifest's allowed_hosts")
        payload = kernel.take_bytes(body, "http request body") if body else None
        response = _http.send(method.upper(), url, headers, payload, plugin._time_left(),
                             manifest.memory.http_response_limit)
    except _http.HttpTimeout:
        plugin._timed_out()
        raise HostError("timeout") from None
    except _http.ResponseTooLarge as exc:
        raise LimitError(str(exc), "memory.max_http_response_bytes", exc.limit) from None
    except _http.HttpError as exc:
        raise HostError(str(exc)) from None
    plugin.http_status = response.status
    plugin.http_headers = response.headers
    return kernel.alloc_bytes(response.body)


def http_status_code() -> int:
    return active().http_status


def http_headers() -> int:
    """The last response's headers as a JSON object (ABI.md 2.5); captured by default."""
    plugin = active()
    text = json.dumps(plugin.http_headers or {}, sort_keys=True, separators=(",", ":"))
    return plugin._kernel.alloc_bytes(text.encode("utf-8"))


# ------------------------------------------------------------------ logs


def _logger(level: int) -> Callable[[int], None]:
    def log(message: int) -> None:
        plugin = active()
        kernel = plugin._kernel
        if not _logs.plugin_logger.isEnabledFor(level) or _logs.abi_log_level() == _logs.LOG_OFF:
            kernel.take(message)
            return
        data = kernel.take_bytes(message, "log message")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            _logs.plugin_logger.error("plug-in log message is not valid UTF-8 (%s)", exc,
                                     extra={"plugin_id": str(plugin.id)})
            return
        _logs.plugin_logger.log(level, "%s", text, extra={"plugin_id": str(plugin.id)})
    log.__name__ = f"log_{logging.getLevelName(level).lower()}"
    return log


def get_log_level() -> int:
    return _logs.abi_log_level()


# name -> (params, results, implementation): the host half of ABI.md 2.1.
HOST_FUNCTIONS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...], Callable[..., Any]]]] = {
    "config_get": ((I64,), (I64,), config_get),
    "var_get": ((I64,), (I64,), var_get),
    "var_set": ((I64, I64), (), var_set),
    "http_request": ((I64, I64), (I64,), http_request),
    "http_status_code": ((), (I32,), http_status_code),
    "http_headers": ((), (I64,), http_headers),
    "log_trace": ((I64,), (), _logger(_logs.TRACE)),
    "log_debug": ((I64,), (), _logger(logging.DEBUG)),
    "log_info": ((I64,), (), _logger(logging.INFO)),
    "log_warn": ((I64,), (), _logger(logging.WARNING)),
    "log_error": ((I64,), (), _logger(logging.ERROR)),
    "get_log_level": ((), (I32,), get_log_level),
}

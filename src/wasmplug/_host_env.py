"""The `extism:host/env` functions done in Python: config, vars, HTTP, logs.

The functions here are module-level and find what they serve through
`active()`: the `HostState` of the plug-in whose call is running on this
thread, set by the plug-in for the duration of the call. Being module-level,
each is turned into a native callback once per process, not once per plug-in.
`HostState` is all the host side sees of a plug-in (no `Plugin` in here), so
this module sits below `_plugin` and host functions (`_host_functions`) too.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Final

from . import _logs
from ._callpath import I32, I64
from ._kernel import MASK64, Kernel, KernelMemoryError
from ._manifest import HTTP_TOKEN, Manifest


class HostError(Exception):
    """A host function refused the guest's request: the call fails with this text."""


class LimitError(HostError):
    """A host function stopped the call because of a limit (named, with its value)."""

    def __init__(self, message: str, limit: str, value: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.value = value


class HostState:
    """What the host side works with for one plug-in instance.

    The plug-in owns it and keeps it current: its kernel (replaced when the
    instance is rebuilt), config, vars, the running call's host context and
    deadline. Host functions read and write it during a call; `timed_out` is
    how they tell the plug-in that the call ran out of time in the host.
    """

    __slots__ = ("config", "deadline", "host_context", "http_headers", "http_status", "id",
                 "kernel", "manifest", "stop_requested", "timed_out", "var_bytes", "vars")

    def __init__(self, plugin_id: uuid.UUID, manifest: Manifest, config: dict[str, str]) -> None:
        self.id = plugin_id
        self.manifest = manifest
        self.config = config
        self.kernel: Kernel = None  # type: ignore[assignment]  # set when the store is built
        self.vars: dict[str, bytes] = {}
        self.var_bytes = 0
        self.host_context: Any = None
        self.http_status = 0
        self.http_headers: dict[str, str] | None = None
        self.deadline: float | None = None  # time.monotonic() when the call must end
        self.timed_out = False
        # True once the running call is to stop (cancelled, timed out, plug-in closing):
        # a host function that waits looks at it.
        self.stop_requested: Callable[[], bool] = _never

    def clear_vars(self) -> None:
        self.vars = {}
        self.var_bytes = 0
        self.http_status = 0
        self.http_headers = None

    def time_left(self) -> float | None:
        """Seconds before the running call's timeout (None: no timeout)."""
        deadline = self.deadline
        return None if deadline is None else max(0.0, deadline - time.monotonic())


def _never() -> bool:
    return False


_active = threading.local()


def active() -> HostState:
    state: HostState | None = getattr(_active, "state", None)
    if state is None:
        raise HostError("host function called outside a plug-in call")
    return state


def enter(state: HostState) -> HostState | None:
    previous: HostState | None = getattr(_active, "state", None)
    _active.state = state
    return previous


def leave(previous: HostState | None) -> None:
    _active.state = previous


# ------------------------------------------------------------------ config, vars


# The kernel takes the handles (kernel.wat, "host environment") and calls these
# with each handle's length; a length of 0 for a non-zero handle means the
# handle named no live block.


def _key(kernel: Kernel, offset: int, n: int, what: str) -> bytes:
    if n == 0 and offset:
        raise KernelMemoryError(f"invalid handle offset for {what}: {offset & MASK64}")
    return kernel.read(offset & MASK64, n)


def config_get(key: int, n: int) -> int:
    state = active()
    kernel = state.kernel
    name = _key(kernel, key, n, "config key").decode("utf-8")
    value = state.config.get(name)
    return kernel.alloc_bytes(value.encode("utf-8")) if value else 0


def var_get(key: int, n: int) -> int:
    state = active()
    kernel = state.kernel
    name = _key(kernel, key, n, "var key").decode("utf-8")
    value = state.vars.get(name)
    return kernel.alloc_bytes(value) if value else 0


VAR_ENTRY_OVERHEAD: Final = 48


def var_set(key: int, key_length: int, value: int, value_length: int) -> None:
    state = active()
    limit = state.manifest.memory.var_bytes_limit
    if limit == 0:
        raise HostError("Vars are disabled by this host")
    kernel = state.kernel
    name = _key(kernel, key, key_length, "var key").decode("utf-8")
    store = state.vars
    if value == 0:
        old = store.pop(name, None)
        if old is not None:
            state.var_bytes -= VAR_ENTRY_OVERHEAD + len(name.encode()) + len(old)
        return
    data = _key(kernel, value, value_length, "var value")
    entry = VAR_ENTRY_OVERHEAD + len(name.encode()) + len(data)
    # The reference counts an existing entry for the same key too (ABI.md 2.4).
    if entry + state.var_bytes > limit:
        raise LimitError(
            f"Variable store is full (limit memory.max_var_bytes = {limit} bytes)",
            "memory.max_var_bytes", limit)
    old = store.get(name)
    if old is not None:
        state.var_bytes -= VAR_ENTRY_OVERHEAD + len(name.encode()) + len(old)
    store[name] = data
    state.var_bytes += entry


# ------------------------------------------------------------------ HTTP

_REQUEST_KEYS = frozenset({"url", "headers", "method"})


def http_request(request: int, body: int) -> int:
    state = active()
    state.http_status = 0
    state.http_headers = None
    kernel = state.kernel
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
    manifest = state.manifest
    from . import _http  # only plug-ins that make requests load the HTTP client's module
    try:
        host = _http.request_host(url)
        if not _http.host_allowed(host, manifest.allowed_hosts):
            raise HostError(
                f"HTTP request to {url} is not allowed: the host {host!r} does not match the "
                "manifest's allowed_hosts")
        payload = kernel.take_bytes(body, "http request body") if body else None
        response = _http.send(method.upper(), url, headers, payload, state.time_left(),
                             manifest.memory.http_response_limit)
    except _http.HttpTimeout:
        state.timed_out = True
        raise HostError("timeout") from None
    except _http.ResponseTooLarge as exc:
        raise LimitError(str(exc), "memory.max_http_response_bytes", exc.limit) from None
    except _http.HttpError as exc:
        raise HostError(str(exc)) from None
    state.http_status = response.status
    state.http_headers = response.headers
    return kernel.alloc_bytes(response.body)


def http_status_code() -> int:
    return active().http_status


def http_headers() -> int:
    """The last response's headers as a JSON object (ABI.md 2.5); captured by default."""
    state = active()
    text = json.dumps(state.http_headers or {}, sort_keys=True, separators=(",", ":"))
    return state.kernel.alloc_bytes(text.encode("utf-8"))


# ------------------------------------------------------------------ logs


def _logger(level: int) -> Callable[[int], None]:
    def log(message: int) -> None:
        state = active()
        kernel = state.kernel
        if not _logs.plugin_logger.isEnabledFor(level) or _logs.abi_log_level() == _logs.LOG_OFF:
            kernel.take(message)
            return
        data = kernel.take_bytes(message, "log message")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            _logs.plugin_logger.error("plug-in log message is not valid UTF-8 (%s)", exc,
                                     extra={"plugin_id": str(state.id)})
            return
        _logs.plugin_logger.log(level, "%s", text, extra={"plugin_id": str(state.id)})
    log.__name__ = f"log_{_logs.LEVEL_NAMES[level].lower()}"
    return log


def get_log_level() -> int:
    return _logs.abi_log_level()


# name -> (params, results, implementation): the host half of ABI.md 2.1, except
# config_get, var_get and var_set, which plug-ins import from the kernel.
HOST_FUNCTIONS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...], Callable[..., Any]]]] = {
    "http_request": ((I64, I64), (I64,), http_request),
    "http_status_code": ((), (I32,), http_status_code),
    "http_headers": ((), (I64,), http_headers),
    "log_trace": ((I64,), (), _logger(_logs.TRACE)),
    "log_debug": ((I64,), (), _logger(_logs.DEBUG)),
    "log_info": ((I64,), (), _logger(_logs.INFO)),
    "log_warn": ((I64,), (), _logger(_logs.WARNING)),
    "log_error": ((I64,), (), _logger(_logs.ERROR)),
    "get_log_level": ((), (I32,), get_log_level),
}

# The namespace the kernel imports KERNEL_IMPORTS from (kernel.wat); plug-ins cannot import it.
KERNEL_IMPORTS_NAMESPACE: Final = "wasmplug:host"
# name -> (params, results, implementation): what the kernel's config_get,
# var_get and var_set call once they have taken the plug-in's handles.
KERNEL_IMPORTS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...], Callable[..., Any]]]] = {
    "config_get": ((I64, I64), (I64,), config_get),
    "var_get": ((I64, I64), (I64,), var_get),
    "var_set": ((I64, I64, I64, I64), (), var_set),
}

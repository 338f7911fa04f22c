"""The `extism:host/env` functions done in Python: config, vars, HTTP, logs.

The functions here are module-level and find what they serve through
`active()`: the `HostState` of the plug-in whose call is running on this
thread, set by the plug-in for the duration of the call. Being module-level,
each is turned into a native callback once per process, not once per plug-in.
`HostState` is all the host side sees of a plug-in (no `Plugin` in here), so
this module sits below `_plugin` and host functions (`_host_functions`) too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, Final

from . import _logs
from ._callpath import I32, I64
from ._errors import Error
from ._kernel import MASK64, VAR_ENTRY_OVERHEAD, VAULT_HEADER, Kernel, KernelMemoryError, VaultFull
from ._manifest import HTTP_TOKEN, Manifest

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from ._plugin_id import PluginId


class HostError(Exception):
    """A host function refused the guest's request: the call fails with this text."""


class LimitError(HostError):
    """A host function stopped the call because of a limit (named, with its value)."""

    def __init__(self, message: str, limit: str, value: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.value = value


class Config(dict[str, str]):
    """A plug-in's config: a dict that notes when it changes, so the kernel's copy
    (kernel.wat's vault) is rewritten before the next call, and only then."""

    __slots__ = ("changed",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.changed = True

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key, value)
        self.changed = True

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.changed = True

    def __ior__(self, other: Any) -> Config:  # type: ignore[override,misc]
        super().__ior__(other)
        self.changed = True
        return self

    def pop(self, *args: Any) -> Any:
        self.changed = True
        return super().pop(*args)

    def popitem(self) -> tuple[str, str]:
        self.changed = True
        return super().popitem()

    def clear(self) -> None:
        self.changed = True
        super().clear()

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self.changed = True

    def setdefault(self, key: str, default: str = "") -> str:
        self.changed = True
        return super().setdefault(key, default)


class Vars(MutableMapping[str, bytes]):
    """`Plugin.vars`: the plug-in's vars as a mapping of str to bytes.

    They live in the kernel (kernel.wat's vault), where the plug-in's var_get
    and var_set reach them without Python; this view reads and writes them
    there, under the plug-in's call lock (a call in another thread finishes
    first). Vars set here count towards memory.max_var_bytes like the plug-in's
    own, but are never refused for it: the host is trusted.
    """

    __slots__ = ("_state",)

    def __init__(self, state: HostState) -> None:
        self._state = state

    def __getitem__(self, key: str) -> bytes:
        if not isinstance(key, str):
            raise KeyError(key)
        state = self._state
        with state.exclusive():
            kernel = state.kernel
            value = (kernel.vault.var_get(key.encode("utf-8")) if kernel is not None
                     else state.detached.get(key))
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: bytes) -> None:
        if not isinstance(key, str):
            raise TypeError(f"var names are str, got {type(key).__name__}")
        if not isinstance(value, bytes | bytearray | memoryview):
            raise TypeError(f"var values are bytes, got {type(value).__name__}")
        state = self._state
        with state.exclusive():
            kernel = state.kernel
            if kernel is None:
                state.detached[key] = bytes(value)
                return
            try:
                kernel.vault.var_set(key.encode("utf-8"), bytes(value))
            except VaultFull as exc:
                raise Error(f"cannot set var {key!r}: {exc}") from None

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        state = self._state
        with state.exclusive():
            kernel = state.kernel
            if kernel is None:
                del state.detached[key]
            else:
                kernel.vault.var_delete(key.encode("utf-8"))

    def __iter__(self) -> Iterator[str]:
        return iter(self._items())

    def __len__(self) -> int:
        state = self._state
        with state.exclusive():
            kernel = state.kernel
            return kernel.vault.var_count() if kernel is not None else len(state.detached)

    def _items(self) -> dict[str, bytes]:
        state = self._state
        with state.exclusive():
            kernel = state.kernel
            if kernel is None:
                return dict(state.detached)
            return {key.decode("utf-8"): value for key, value in kernel.vault.var_items()}

    def __repr__(self) -> str:
        return repr(self._items())


class HostState:
    """What the host side works with for one plug-in instance.

    The plug-in owns it and keeps it current: its kernel (replaced when the
    instance is rebuilt), config, vars, the running call's host context and
    deadline. Host functions read and write it during a call; `timed_out` is
    how they tell the plug-in that the call ran out of time in the host.
    """

    __slots__ = ("_config", "deadline", "detached", "host_context", "http_headers", "http_status",
                 "id", "kernel", "lock", "manifest", "stop_requested", "timed_out")

    def __init__(self, plugin_id: PluginId, manifest: Manifest, config: Mapping[str, str]) -> None:
        self.id = plugin_id
        self.manifest = manifest
        self._config = Config(config)
        self.kernel: Kernel = None  # type: ignore[assignment]  # set when the store is built
        self.detached: dict[str, bytes] = {}  # the vars once the kernel is gone (a closed plug-in)
        self.host_context: Any = None
        self.http_status = 0
        self.http_headers: dict[str, str] | None = None
        self.deadline: float | None = None  # time.monotonic() when the call must end
        self.timed_out = False
        # True once the running call is to stop (cancelled, timed out, plug-in closing):
        # a host function that waits looks at it.
        self.stop_requested: Callable[[], bool] = _never
        # The plug-in's call lock (set by the plug-in): `exclusive` takes it.
        self.lock: AbstractContextManager[object] = _UNLOCKED

    @property
    def config(self) -> Config:
        return self._config

    @config.setter
    def config(self, value: Mapping[str, str]) -> None:
        self._config = Config(value)

    def exclusive(self) -> AbstractContextManager[object]:
        """What makes the kernel's vault the caller's alone: the plug-in's call lock,
        unless this thread is in a call of this plug-in (a host function)."""
        return _UNLOCKED if getattr(_active, "state", None) is self else self.lock

    def use_kernel(self, kernel: Kernel, keep_vars: bool) -> None:
        """A new kernel (a new store): the config goes there at the next call,
        the vars now (those of the previous kernel if `keep_vars`)."""
        old = self.kernel
        carried = old.vault.snapshot() if keep_vars and old is not None else None
        self.kernel = kernel
        if carried:
            kernel.vault.load(self._config, carried)
            self._config.changed = False
        else:
            self._config.changed = True
        if not keep_vars:
            self.http_status = 0
            self.http_headers = None

    def vault_bound(self) -> int:
        """The bytes the kernel's vault may need: the config, the vars at their limit,
        and room to build a new tail of the table past it (capped at 4 GiB)."""
        config = sum(8 + len(k.encode()) + len(v.encode()) for k, v in self._config.items())
        limit = self.manifest.memory.var_bytes_limit
        return min(VAULT_HEADER + config + 3 * limit + 16, 1 << 32)

    def sync(self) -> None:
        """Before a call: the kernel's copy of a changed config rewritten."""
        config = self._config
        if config.changed:
            if config or self.kernel.has_vault:
                try:
                    self.kernel.vault.load(config)
                except VaultFull as exc:
                    raise Error(f"the config does not fit in the plug-in's memory limit "
                                f"(memory.max_pages): {exc}") from None
            config.changed = False

    def detach(self) -> None:
        """The kernel is going away (the plug-in is closed): keep a copy of the vars."""
        if self.kernel is not None:
            self.detached = {k.decode("utf-8"): v for k, v in self.kernel.vault.var_items()}
            self.kernel = None  # type: ignore[assignment]

    def time_left(self) -> float | None:
        """Seconds before the running call's timeout (None: no timeout)."""
        deadline = self.deadline
        return None if deadline is None else max(0.0, deadline - time.monotonic())


def _never() -> bool:
    return False


class _Unlocked:
    """A lock that is never held (contextlib's nullcontext without importing contextlib)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_UNLOCKED: Final = _Unlocked()


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


# The kernel answers config_get, var_get and var_set from its vault when it can
# (kernel.wat, "config and vars"); it calls these with each handle, already
# taken, and its length for the rest: an invalid handle (length 0 for a non-zero
# handle), a key that is not ASCII, vars turned off, a var over the limit.


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
    raw = _key(kernel, key, n, "var key")
    raw.decode("utf-8")  # (a key that is not UTF-8 fails the call, saying so)
    value = kernel.vault.var_get(raw)
    return kernel.alloc_bytes(value) if value else 0


def var_set(key: int, key_length: int, value: int, value_length: int) -> None:
    state = active()
    limit = state.manifest.memory.var_bytes_limit
    if limit == 0:
        raise HostError("Vars are disabled by this host")
    kernel = state.kernel
    raw = _key(kernel, key, key_length, "var key")
    raw.decode("utf-8")
    vault = kernel.vault
    if value == 0:
        vault.var_delete(raw)
        return
    data = _key(kernel, value, value_length, "var value")
    # The reference counts an existing entry for the same key too (ABI.md 2.4).
    if VAR_ENTRY_OVERHEAD + len(raw) + len(data) + vault.var_bytes() > limit:
        raise LimitError(
            f"Variable store is full (limit memory.max_var_bytes = {limit} bytes)",
            "memory.max_var_bytes", limit)
    try:
        vault.var_set(raw, data)
    except VaultFull as exc:
        raise HostError(f"Variable store is full: {exc}") from None


# ------------------------------------------------------------------ HTTP

_REQUEST_KEYS = frozenset({"url", "headers", "method"})


def http_request(request: int, body: int) -> int:
    state = active()
    state.http_status = 0
    state.http_headers = None
    kernel = state.kernel
    raw = kernel.take_bytes(request, "http request")
    import json  # (here: import wasmplug and a plain call do without it)

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
                              manifest.memory.http_response_limit, guard=manifest.network_guard)
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
    import json

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

"""One extension: its loaded build(s), lifecycle, calls, restarts and statistics.

A `_Build` is one loaded version of an extension: compiled code, its
instance(s) (one `Plugin`, or a `PluginPool` when `max_concurrent_calls > 1`),
initialised, with its capabilities. An `Extension` owns the current build and
replaces it on a restart or a reload; a replaced build is *retired*: calls that
already entered it finish on it, later calls go to the new one, and it is shut
down once the last of them has left.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import CallError, CallTimeout, CompiledPlugin, Error, Plugin, PluginPool
from ..actors import is_crash
from . import codec
from .config import ExtensionConfig
from .errors import (
    ExtensionCallFailed,
    ExtensionCrashed,
    ExtensionError,
    ExtensionNotReady,
    ExtensionTimeout,
    InvalidParams,
    InvalidResult,
    MethodNotOffered,
    PermissionDenied,
)
from .schema import SchemaError, Validator, compile_schema
from .turnstile import TURNSTILE

log = logging.getLogger("wasmplug.extensions")

LOADING, READY, FAILED, RESTARTING, UNLOADED = "loading", "ready", "failed", "restarting", "unloaded"
LIFECYCLE_EXPORTS = {"initialize", "capabilities", "shutdown"}
# Exports that initialise a guest's runtime (ABI.md 5.3) or are WASI commands: never methods.
RUNTIME_EXPORTS = {"_initialize", "_start", "__wasm_call_ctors", "hs_init", "hs_exit"}
WAIT_FOR_RESTART = 60.0  # seconds a call waits for a restarting extension at most
LONG_CALL_S = 40e-6  # a call of the plug-in this long runs without the turnstile
LONG_IN_A_ROW = 3
REMEASURE_EVERY = 64
_clock = time.perf_counter


@dataclass(frozen=True)
class Capability:
    """A method an extension offers, as its `capabilities()` describes it."""

    name: str
    description: str = ""
    params_schema: Any = None
    return_schema: Any = None
    validate_params: Validator | None = field(default=None, repr=False, compare=False)
    validate_result: Validator | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Event:
    """Something that happened to an extension (also logged on `wasmplug.extensions`).

    `kind`: loaded, failed, unloaded, call_failed, restarting, restarted,
    reloaded, reload_failed, warning, config_failed.
    """

    kind: str
    extension: str
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExtensionStatus:
    name: str
    state: str
    health: str           # healthy | degraded (last call failed) | unhealthy | starting
    version: str | None   # sha256 of the loaded module
    capabilities: tuple[str, ...]
    calls: int
    errors: int
    restarts: int
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    reason: str | None    # why it failed / is restarting
    in_flight: int = 0    # calls running now


class _StartError(Error):
    """Loading, initialising or reading the capabilities failed (the reason is the message)."""


EmitFn = Callable[[str, str, str, dict[str, Any]], None]


class _Build:
    """One loaded version of an extension."""

    def __init__(self, settings: ExtensionConfig, compiled: CompiledPlugin, version: str | None,
                 emit: EmitFn) -> None:
        self.name = settings.name
        self.compiled = compiled
        self.version = version
        self.init_params = codec.encode_exact(dict(settings.config))
        self.drained = threading.Event()  # set once retired and the last call has left
        # One item per call inside this build. A list's append and pop are
        # atomic, so entering and leaving take no lock: a caller appends, then
        # checks `retired`; retire() sets `retired`, then checks the list.
        # Either the caller sees `retired` (and backs out), or retire() sees it.
        self._inside: list[None] = []
        self.retired = False
        functions = set(compiled.exported_functions())
        self.has = {name: name in functions for name in LIFECYCLE_EXPORTS}
        config = settings.config_strings()
        n = settings.permissions.max_concurrent_calls
        self.plugin: Plugin | None = Plugin(compiled, config=config) if n == 1 else None
        # Every instance of the pool is initialised before its first call (`setup`).
        self.pool = PluginPool(compiled, max_instances=n, config=config,
                               setup=self._initialise) if n > 1 else None
        missing = [name for name in ("initialize", "capabilities") if not self.has[name]]
        if missing:
            emit("warning", self.name, f"extension {self.name!r} does not export "
                 f"{' or '.join(missing)}: using defaults (no initialisation; every export is a "
                 "method)", {"missing": missing})
        try:
            if self.plugin is not None:
                self._initialise(self.plugin)
                self.capabilities = self._read_capabilities(self.plugin, functions)
            else:
                assert self.pool is not None
                with self.pool.acquire() as plugin:  # (initialised by the pool's setup)
                    self.capabilities = self._read_capabilities(plugin, functions)
        except BaseException:
            self.close(shutdown=False)
            raise

    # -- start-up ------------------------------------------------------------
    def _initialise(self, plugin: Plugin) -> None:
        if self.has["initialize"]:
            status = _ask(plugin, "initialize", self.init_params, '{"status": "ready"}')
            if not isinstance(status, dict) or status.get("status") != "ready":
                raise _StartError(f'initialize answered {_show(status)}; expected {{"status": "ready"}}')

    def _read_capabilities(self, plugin: Plugin, functions: set[str]) -> dict[str, Capability]:
        if not self.has["capabilities"]:
            return {name: Capability(name) for name in sorted(functions - LIFECYCLE_EXPORTS
                                                                - RUNTIME_EXPORTS)}
        listed = _ask(plugin, "capabilities", "", '[{"name": ..., "description": ...}, ...]')
        if not isinstance(listed, list):
            raise _StartError(f"capabilities answered {_show(listed)}; expected a JSON list")
        found: dict[str, Capability] = {}
        for index, item in enumerate(listed):
            found_cap = self._capability(item, index, functions)
            if found_cap.name in found:
                raise _StartError(f"capabilities lists {found_cap.name!r} twice")
            found[found_cap.name] = found_cap
        return found

    def _capability(self, item: Any, index: int, functions: set[str]) -> Capability:
        where = f"capability #{index + 1}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise _StartError(f"{where} needs a non-empty \"name\" string: got {_show(item)}")
        name = item["name"]
        unknown = set(item) - {"name", "description", "params_schema", "return_schema"}
        if unknown:
            raise _StartError(f"capability {name!r} has unknown field(s) {', '.join(sorted(unknown))}")
        description = item.get("description", "")
        if not isinstance(description, str):
            raise _StartError(f"capability {name!r}: description must be a string")
        if name not in functions or name in LIFECYCLE_EXPORTS:
            raise _StartError(f"capability {name!r} is not an exported method of the extension")
        validators: dict[str, Validator | None] = {}
        for key in ("params_schema", "return_schema"):
            schema = item.get(key)
            try:
                validators[key] = None if schema is None else compile_schema(schema)
            except SchemaError as exc:
                raise _StartError(f"capability {name!r}: {key}: {exc}") from None
        return Capability(name, description, item.get("params_schema"), item.get("return_schema"),
                          validators["params_schema"], validators["return_schema"])

    # -- calls ---------------------------------------------------------------
    @property
    def inflight(self) -> int:
        """Calls inside this build now."""
        return len(self._inside)

    def enter(self) -> bool:
        self._inside.append(None)
        if self.retired:
            self.leave()
            return False
        return True

    def leave(self) -> None:
        self._inside.pop()
        if self.retired and not self._inside:
            self.drained.set()

    def call(self, method: str, data: bytes) -> bytes:
        if self.plugin is not None:
            output: bytes = self.plugin.call(method, data)
            return output
        assert self.pool is not None
        try:
            output = self.pool.call(method, data)
        except _StartError as exc:  # (raised by the setup of a new instance only)
            raise CallError(f"a new instance failed to start: {exc}", function=method,
                            code=134) from None
        return output

    # -- the end -------------------------------------------------------------
    def retire(self, *, shutdown: bool, timeout: float | None = None) -> None:
        """Take no more calls; wait for the calls inside to finish; shut down and free."""
        self.retired = True
        if not self._inside:
            self.drained.set()
        self.drained.wait(timeout)
        self.close(shutdown=shutdown)

    def close(self, *, shutdown: bool) -> None:
        if self.plugin is not None:
            if shutdown:
                self._shutdown(self.plugin)
            self.plugin.close()
        if self.pool is not None:
            if shutdown and self.has["shutdown"]:
                with contextlib.ExitStack() as stack:
                    for _ in range(self.pool.count()):  # every instance (all idle by now)
                        self._shutdown(stack.enter_context(self.pool.acquire(timeout=1.0)))
            self.pool.close()

    def _shutdown(self, plugin: Plugin) -> None:
        if not self.has["shutdown"]:  # (every instance there is was initialised)
            return
        try:
            plugin.call("shutdown", b"")
        except Error as exc:
            log.warning("extension %r: shutdown failed: %s", self.name, exc)


class Extension:
    """An extension by name: survives its restarts and reloads."""

    def __init__(self, settings: ExtensionConfig, emit: EmitFn) -> None:
        self.settings = settings
        self.name = settings.name
        self._emit = emit
        self.state = LOADING
        self.reason: str | None = None
        self._build: _Build | None = None
        self._compiled: CompiledPlugin | None = None
        self._version: str | None = None
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._lifecycle = threading.RLock()  # one start/restart/reload/unload at a time
        self._cancel = threading.Event()  # set: the pending restart is moot
        self._stats = threading.Lock()
        self._call_numbers = itertools.count(1)
        self._calls = 0
        self.errors = 0
        self.restarts = 0
        self._crashes_in_a_row = 0
        self._last_failed = False
        self._latencies: deque[float] = deque(maxlen=2048)
        # method -> calls made since it was measured long (< 0: long calls in a row so far)
        self._long_methods: dict[str, int] = {}

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> None:
        """Load and initialise; on failure the state is `failed` with the reason."""
        with self._lifecycle:
            if not self.settings.enabled:
                self._set_state(UNLOADED, "disabled in the configuration")
                return
            self._set_state(LOADING, None)
            try:
                build = self._new_build(self.settings, recompile=True)
            except Error as exc:
                self._set_state(FAILED, str(exc))
                self._emit("failed", self.name, f"extension {self.name!r} failed to load: {exc}",
                           {"reason": str(exc)})
                return
            self._install(build)
            self._emit("loaded", self.name, f"extension {self.name!r} loaded (version "
                       f"{(build.version or '?')[:12]}, {len(build.capabilities)} capabilities)",
                       {"version": build.version})

    def reload(self, settings: ExtensionConfig | None = None) -> bool:
        """Load the module (and settings) again; keep the running build if that fails."""
        settings = settings or self.settings
        with self._lifecycle:
            try:
                build = self._new_build(settings, recompile=True)
            except Error as exc:
                self._emit("reload_failed", self.name, f"extension {self.name!r}: reload failed, "
                           f"the previous version keeps running: {exc}", {"reason": str(exc)})
                return False
            self.settings = settings
            self._cancel.set()  # a pending restart of the old build is moot
            old = self._install(build)
            self._emit("reloaded", self.name, f"extension {self.name!r} reloaded (version "
                       f"{(build.version or '?')[:12]})", {"version": build.version})
        if old is not None:
            old.retire(shutdown=True)
        return True

    def unload(self) -> None:
        """Stop taking calls, let running calls finish, call `shutdown`, free."""
        with self._lifecycle:
            self._cancel.set()
            with self._lock:
                old, self._build = self._build, None
                self.state, self.reason = UNLOADED, "unloaded"
                self._changed.notify_all()
        if old is not None:
            old.retire(shutdown=True)
        self._emit("unloaded", self.name, f"extension {self.name!r} unloaded", {})

    def _install(self, build: _Build, crashes_in_a_row: int = 0) -> _Build | None:
        with self._lock:
            old, self._build = self._build, build
            self.state, self.reason = READY, None
            self._crashes_in_a_row = crashes_in_a_row
            self._changed.notify_all()
        return old

    def _set_state(self, state: str, reason: str | None) -> None:
        with self._lock:
            self.state, self.reason = state, reason
            self._changed.notify_all()

    def _new_build(self, settings: ExtensionConfig, *, recompile: bool) -> _Build:
        """A started build: of the module as it is now on disk, or (a restart) of the running one's."""
        if recompile or self._compiled is None:
            compiled, version = _compile(settings)
        else:
            compiled, version = self._compiled, self._version
        build = _Build(settings, compiled, version, self._emit)
        self._compiled, self._version = compiled, version  # what later restarts start again
        return build

    # -- calls -----------------------------------------------------------------
    def call(self, method: str, params: Any = None) -> Any:
        # Short calls take the turnstile (turnstile.py): from several threads
        # they run one thread at a time, a slice each, instead of handing the
        # GIL back and forth at every call. Long ones (measured) do not: their
        # Wasm runs in parallel. Every REMEASURE_EVERY-th call of a long method
        # takes the turnstile again, to measure it without other callers, but
        # only if it is free: waiting for it would keep this thread from calling
        # for up to a turn (its holder does not hand it over before its turn ends).
        skipped = self._long_methods.get(method)  # < 0: seen long, not yet in a row
        if skipped is not None and skipped >= 0:
            if skipped < REMEASURE_EVERY:
                self._long_methods[method] = skipped + 1
                return self._call(method, params, False)
            held = TURNSTILE.try_enter()
        else:
            held = TURNSTILE.enter()
        try:
            return self._call(method, params, held)
        finally:
            if held:
                TURNSTILE.leave()

    def _call(self, method: str, params: Any, alone: bool) -> Any:
        build = self._enter()
        try:
            capability = build.capabilities.get(method)
            if capability is None:
                raise MethodNotOffered(
                    f"extension {self.name!r} does not offer {method!r} (it offers: "
                    f"{', '.join(build.capabilities) or 'nothing'})", extension=self.name,
                    method=method)
            data = self._encode_params(capability, method, params)
            started = _clock()
            try:
                output = build.call(method, data)
            except Error as exc:
                failure: Error | None = exc
            else:
                failure = None
        finally:
            build.leave()
        elapsed = _clock() - started
        if elapsed >= LONG_CALL_S:
            if alone:  # (without the turnstile, waiting for the GIL may be what took long)
                self._measured_long(method)
        else:  # (pop: another thread may forget it at the same moment)
            self._long_methods.pop(method, None)
        if failure is not None:
            raise self._failed(build, method, failure) from None
        self._latencies.append(elapsed)
        self._calls = next(self._call_numbers)  # itertools.count: atomic under the GIL
        self._last_failed = False
        self._crashes_in_a_row = 0
        try:
            result = codec.decode(output)
        except ValueError:
            raise self._count(InvalidResult(
                f"{self.name}.{method} answered {_show(output)}, which is not JSON",
                extension=self.name, method=method)) from None
        if capability.validate_result is not None:
            try:
                capability.validate_result(result)
            except SchemaError as exc:
                raise self._count(InvalidResult(
                    f"{self.name}.{method} answered against its return_schema: {exc}",
                    extension=self.name, method=method)) from None
        return result

    def _measured_long(self, method: str) -> None:
        """A call of `method` with the turnstile took long: after LONG_IN_A_ROW such
        calls in a row (one may just have been preempted), it is a long method."""
        seen = self._long_methods.get(method)
        if seen is None:
            self._long_methods[method] = -1
        elif seen < 0:
            self._long_methods[method] = 0 if -seen + 1 >= LONG_IN_A_ROW else seen - 1
        else:  # measured again: still long
            self._long_methods[method] = 0

    def _encode_params(self, capability: Capability, method: str, params: Any) -> bytes:
        if capability.validate_params is not None:
            try:
                capability.validate_params(params)
            except SchemaError as exc:
                raise self._count(InvalidParams(
                    f"invalid params for {self.name}.{method}: {exc}", extension=self.name,
                    method=method)) from None
        try:
            return codec.encode(params)
        except (TypeError, ValueError) as exc:
            raise self._count(InvalidParams(
                f"params for {self.name}.{method} cannot be sent as JSON: {exc}",
                extension=self.name, method=method)) from None

    def _enter(self) -> _Build:
        while True:
            build = self._build
            if build is None or self.state != READY:
                build = self._wait_until_ready()
            if build.enter():
                return build
            # retired between reading and entering it: the new one is installed by now

    def _wait_until_ready(self) -> _Build:
        deadline = time.monotonic() + WAIT_FOR_RESTART
        with self._changed:
            while self.state in (LOADING, RESTARTING):
                remaining = deadline - time.monotonic()
                if (self.state == RESTARTING
                        and self.settings.restart.calls_during_restart == "fail") or remaining <= 0:
                    break
                self._changed.wait(remaining)
            if self.state == READY and self._build is not None:
                return self._build
            state, reason = self.state, self.reason
        raise ExtensionNotReady(
            f"extension {self.name!r} is {state}" + (f": {reason}" if reason else ""),
            extension=self.name, state=state, reason=reason)

    def _count(self, error: ExtensionError) -> ExtensionError:
        with self._stats:
            self.errors += 1
            self._last_failed = True
        self._emit("call_failed", self.name, f"{self.name}.{error.method} failed: {error}",
                   {"method": error.method, "error": type(error).__name__})
        return error

    def _failed(self, build: _Build, method: str, exc: Error) -> ExtensionError:
        where = {"extension": self.name, "method": method}
        error: ExtensionError
        if isinstance(exc, CallTimeout):
            error = ExtensionTimeout(f"{self.name}.{method} timed out: {exc}", **where)
        elif is_crash(exc):
            error = ExtensionCrashed(f"{self.name}.{method} crashed: {exc}", **where)
        elif isinstance(exc, CallError) and " is not allowed" in str(exc):
            error = PermissionDenied(str(exc), **where)
        else:
            error = ExtensionCallFailed(str(exc), **where)  # the extension's own words
        self._count(error)
        if isinstance(error, ExtensionTimeout | ExtensionCrashed):
            self._crashed(build, str(error))
        return error

    # -- restarts ----------------------------------------------------------------
    def _crashed(self, build: _Build, reason: str) -> None:
        policy = self.settings.restart
        with self._lock:
            if self._build is not build or self.state != READY:
                return  # another call's crash (or a reload) already took care of it
            self._crashes_in_a_row += 1
            attempt = self._crashes_in_a_row
            give_up = policy.strategy == "never" or attempt > policy.max_retries
            self._build = None
            self._cancel = threading.Event()
            self.state = FAILED if give_up else RESTARTING
            self.reason = reason if policy.strategy == "never" else (
                f"gave up after {policy.max_retries} restarts in a row: {reason}" if give_up
                else reason)
            self._changed.notify_all()
        if give_up:
            self._emit("failed", self.name, f"extension {self.name!r} failed: {self.reason}",
                       {"reason": self.reason})
            _retire_in_background(build)
            return
        delay = policy.delay(attempt)
        self._emit("restarting", self.name, f"extension {self.name!r} crashed; restart {attempt} of "
                   f"at most {policy.max_retries} in {delay:g} s: {reason}",
                   {"attempt": attempt, "delay": delay, "reason": reason})
        threading.Thread(target=self._restart_loop, args=(build, attempt, delay, self._cancel),
                         daemon=True, name=f"restart-{self.name}").start()

    def _restart_loop(self, crashed: _Build, attempt: int, delay: float,
                      cancel: threading.Event) -> None:
        """Wait, build a fresh instance of the same code, initialise it; retry per the policy."""
        _retire_in_background(crashed)  # its other calls (pool) finish on it, not holding us up
        policy = self.settings.restart
        while not cancel.wait(delay):
            with self._lifecycle:
                if cancel.is_set() or self.state != RESTARTING:
                    return
                try:
                    build = self._new_build(self.settings, recompile=False)
                except Error as exc:
                    reason = f"restart {attempt} failed: {exc}"
                else:
                    self._install(build, crashes_in_a_row=attempt)
                    with self._stats:
                        self.restarts += 1
                    self._emit("restarted", self.name, f"extension {self.name!r} restarted "
                               f"(restart {attempt})", {"attempt": attempt})
                    return
                if attempt >= policy.max_retries:
                    self._set_state(FAILED, f"gave up after {attempt} restarts in a row: {reason}")
                    self._emit("failed", self.name, f"extension {self.name!r} failed: {self.reason}",
                               {"reason": self.reason})
                    return
                attempt += 1
                delay = policy.delay(attempt)
                with self._lock:
                    self._crashes_in_a_row, self.reason = attempt, reason
                self._emit("restarting", self.name, f"extension {self.name!r}: {reason}; restart "
                           f"{attempt} in {delay:g} s", {"attempt": attempt, "delay": delay,
                                                         "reason": reason})

    # -- observability -----------------------------------------------------------
    def status(self) -> ExtensionStatus:
        build = self._build
        latencies = sorted(self._latencies)
        p50 = p99 = None
        if latencies:
            p50 = statistics.median(latencies) * 1000
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
        state = self.state
        health = ("starting" if state == LOADING else "unhealthy" if state != READY
                  else "degraded" if self._last_failed else "healthy")
        return ExtensionStatus(
            name=self.name, state=state, health=health,
            version=build.version if build is not None else self._version,
            capabilities=tuple(build.capabilities) if build is not None else (),
            calls=self.calls, errors=self.errors, restarts=self.restarts,
            latency_p50_ms=p50, latency_p99_ms=p99, reason=self.reason,
            in_flight=build.inflight if build is not None else 0)

    @property
    def calls(self) -> int:
        """Successful calls so far."""
        return self._calls

    def capabilities(self) -> list[Capability]:
        build = self._build
        return list(build.capabilities.values()) if build is not None else []


def _retire_in_background(build: _Build) -> None:
    """Retire a crashed build (no shutdown call: it is suspect) once its calls have left."""
    threading.Thread(target=build.retire, kwargs={"shutdown": False}, daemon=True,
                     name=f"retire-{build.name}").start()


def _compile(settings: ExtensionConfig) -> tuple[CompiledPlugin, str | None]:
    """Read (and verify) the module and compile it with the extension's permissions."""
    source: dict[str, Any]
    version: str | None
    if settings.path is not None:
        try:
            wasm = settings.path.read_bytes()
        except OSError as exc:
            raise _StartError(f"cannot read {settings.path}: {exc.strerror or exc}") from None
        version = hashlib.sha256(wasm).hexdigest()
        if settings.hash is not None and settings.hash != version:
            raise _StartError(f"{settings.path} has sha256 {version}, but the configuration pins "
                              f"{settings.hash}: fix source.hash or the file")
        if settings.kind == "js":
            wasm = _build_js(wasm, settings.path.name)
        source = {"data": wasm}
    else:
        source = {"url": settings.url}
        if settings.hash is not None:
            source["hash"] = settings.hash
        version = settings.hash
    permissions = settings.permissions
    manifest: dict[str, Any] = {"wasm": [source], "allowed_hosts": list(permissions.allowed_hosts)}
    if permissions.max_pages is not None:
        manifest["memory"] = {"max_pages": permissions.max_pages}
    if permissions.max_execution_time is not None:
        manifest["timeout_ms"] = max(1, round(permissions.max_execution_time * 1000))
    if permissions.filesystem:
        manifest["allowed_paths"] = {path: path.removeprefix("ro:")
                                     for path in permissions.filesystem}
    if settings.kind == "js":
        from wasmplug.js import with_heap_limit

        manifest = with_heap_limit(manifest)  # a JS memory hog gets a JS error, not oom
    try:
        # The JavaScript runtime needs WASI (clocks, random); it is granted nothing else.
        wasi = bool(permissions.filesystem) or settings.kind == "js"
        compiled = CompiledPlugin(manifest, wasi=wasi, functions=[], fuel_limit=permissions.fuel)
    except Error as exc:
        raise _StartError(f"cannot load the module: {exc}") from None
    return compiled, version


def _build_js(source: bytes, filename: str) -> bytes:
    """The plug-in of a JavaScript extension (wasmplug.js; the runtime is built on first use)."""
    from wasmplug import js

    try:
        return js.build(source, filename=filename)
    except Error as exc:
        raise _StartError(f"cannot build the JavaScript extension {filename}: {exc}") from None


def _ask(plugin: Plugin, export: str, params: str | bytes, expected: str) -> Any:
    """Call a lifecycle export; its decoded JSON answer."""
    try:
        answer: bytes = plugin.call(export, params)
    except Error as exc:
        raise _StartError(f"{export} failed: {exc}") from None
    try:
        return json.loads(answer)
    except ValueError:
        raise _StartError(f"{export} answered {_show(answer)}, which is not JSON; "
                          f"expected {expected}") from None


def _show(value: Any) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else repr(value)
    return repr(text[:77] + "...") if len(text) > 80 else repr(text)

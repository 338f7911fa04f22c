"""SQL functions backed by plug-in exports: what to register, and calling it safely.

`SQLFunction` says what one SQL function is (name, export, kind, arguments,
result type, limits). `Bound` is that function attached to a compiled
plug-in: it calls the export for a row (scalar) or keeps one plug-in
instance per group (aggregate, window) and turns every failure into a
`SQLFunctionError` whose message names the function and the reason. Engine
adapters (`sqlite.py`, `duck.py`) only move values in and out.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from wasmplug import (
    CallError,
    CallTimeout,
    CompiledPlugin,
    Error,
    Manifest,
    Plugin,
    PreparedCall,
    WasmData,
    WasmFile,
)

from .values import ResultType, SQLValue, WrongResultType, decode, encode_args

Kind = Literal["scalar", "aggregate", "window", "batch"]
KINDS: tuple[str, ...] = ("scalar", "aggregate", "window", "batch")

# Limits applied when neither the manifest nor the caller sets them: a SQL
# function runs once per row, so a plug-in that hangs or hoards must fail fast.
DEFAULT_TIMEOUT_MS = 1_000
DEFAULT_MAX_PAGES = 1_024               # 64 MiB
DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_INSTANCES = 16              # plug-in instances one aggregate keeps at once (groups in flight)
MAX_ARGS = 100

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_EXPORT = re.compile(r"[^\x00-\x1f]{1,256}")


class SQLFunctionError(Error):
    """A plug-in function failed inside SQL: `function` is its SQL name, `reason` one of
    "trap", "timeout", "oom", "limit", "wrong result type", "interrupted" (Ctrl-C),
    "error" (the plug-in's own)."""

    def __init__(self, function: str, reason: str, message: str) -> None:
        super().__init__(f"{function}: {message}")
        self.function = function
        self.reason = reason


@dataclass(frozen=True)
class Limits:
    """Per-function limits; None leaves the manifest's value (or wasmplug.sql's default)."""

    timeout_ms: int | None = None
    max_pages: int | None = None
    fuel_limit: int | None = None
    max_output_bytes: int | None = None
    max_instances: int | None = None

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise Error(f"{field.name} must be a positive integer, got {value!r:.40}")

    def over(self, base: Limits) -> Limits:
        """These limits, with `base`'s where these are None."""
        return Limits(**{f.name: getattr(self, f.name) if getattr(self, f.name) is not None
                         else getattr(base, f.name) for f in dataclasses.fields(self)})


@dataclass(frozen=True)
class SQLFunction:
    """One SQL function made of plug-in exports.

    kind "scalar" and "batch" call `export` (default: `name`); "aggregate" calls
    `<export>_step` per row and `<export>_final` at the end; "window" also
    `<export>_inverse` and `<export>_value`. `nargs` -1 takes any number of
    arguments. `strict`: a NULL argument gives NULL without calling the
    plug-in. `args="json"` always passes a JSON array. `arg_types` are the
    DuckDB parameter types (default VARCHAR).
    """

    name: str
    export: str | None = None
    kind: Kind = "scalar"
    nargs: int = 1
    returns: ResultType | str = ResultType.TEXT
    deterministic: bool = False
    strict: bool = True
    args: Literal["auto", "json"] = "auto"
    arg_types: tuple[str, ...] | None = None
    limits: Limits = Limits()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise Error(f"SQL function name {self.name!r:.80} is not a plain SQL identifier "
                        "(letters, digits and _, at most 64, not starting with a digit)")
        if self.export is not None and (not isinstance(self.export, str)
                                        or not _EXPORT.fullmatch(self.export)):
            raise Error(f"{self.name}: export {self.export!r:.80} is not a valid export name")
        if self.kind not in KINDS:
            raise Error(f"{self.name}: kind {self.kind!r:.40} is not one of {', '.join(KINDS)}")
        nargs = self.nargs
        if isinstance(nargs, bool) or not isinstance(nargs, int) or not -1 <= nargs <= MAX_ARGS:
            raise Error(f"{self.name}: nargs must be -1 (any) or 0..{MAX_ARGS}, got {self.nargs!r:.40}")
        object.__setattr__(self, "returns", ResultType.parse(str(self.returns)))
        if self.args not in ("auto", "json"):
            raise Error(f"{self.name}: args must be 'auto' or 'json', got {self.args!r:.40}")
        if self.arg_types is not None:
            object.__setattr__(self, "arg_types", tuple(self.arg_types))
            if self.nargs >= 0 and len(self.arg_types) != self.nargs:
                raise Error(f"{self.name}: {len(self.arg_types)} arg_types for {self.nargs} arguments")

    @property
    def result_type(self) -> ResultType:
        return ResultType(self.returns)

    def exports(self) -> dict[str, str]:
        """The plug-in exports this function calls, by role."""
        base = self.export or self.name
        if self.kind in ("scalar", "batch"):
            return {"call": base}
        roles = ("step", "final") if self.kind == "aggregate" else ("step", "inverse", "value", "final")
        return {role: f"{base}_{role}" for role in roles}


def as_function(item: SQLFunction | str) -> SQLFunction:
    if isinstance(item, SQLFunction):
        return item
    if isinstance(item, str):
        return SQLFunction(item)
    raise Error(f"functions must be SQLFunction or str names, got {item!r:.80}")


def _manifest_of(source: Any, wasi: bool) -> Manifest:
    if isinstance(source, Manifest):
        return source
    if isinstance(source, CompiledPlugin):
        return source.manifest
    if isinstance(source, Path) or (isinstance(source, str) and source.endswith(".wasm")
                                    and "\n" not in source and "://" not in source):
        return Manifest(wasm=(WasmFile(str(source)),))
    if isinstance(source, bytes | bytearray) and bytes(source[:4]) == b"\0asm":
        return Manifest(wasm=(WasmData(bytes(source)),))
    return CompiledPlugin(source, wasi=wasi, functions=[]).manifest  # parses every other form


def _dict_with_limits(manifest: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
    """`with_limits` for a manifest dict (so it is parsed, and compiled, once)."""
    memory = manifest.get("memory")
    memory = dict(memory) if isinstance(memory, Mapping) else {}
    memory["max_pages"] = limits.max_pages or memory.get("max_pages") or DEFAULT_MAX_PAGES
    memory["max_output_bytes"] = (limits.max_output_bytes or memory.get("max_output_bytes")
                                  or DEFAULT_MAX_OUTPUT_BYTES)
    return {**manifest, "memory": memory,
            "timeout_ms": limits.timeout_ms or manifest.get("timeout_ms") or DEFAULT_TIMEOUT_MS}


def with_limits(manifest: Manifest, limits: Limits) -> Manifest:
    """The manifest with `limits` applied, and wasmplug.sql's defaults where neither sets one."""
    memory = manifest.memory
    memory = dataclasses.replace(
        memory,
        max_pages=limits.max_pages or memory.max_pages or DEFAULT_MAX_PAGES,
        max_output_bytes=limits.max_output_bytes or memory.max_output_bytes or DEFAULT_MAX_OUTPUT_BYTES)
    return dataclasses.replace(manifest, memory=memory,
                               timeout_ms=limits.timeout_ms or manifest.timeout_ms or DEFAULT_TIMEOUT_MS)


class PluginSource:
    """Where a function's instances come from: a plug-in compiled once per distinct set of limits."""

    def __init__(self, source: Any, *, wasi: bool = False, config: dict[str, str] | None = None,
                 limits: Limits = Limits()) -> None:
        self.given = source if isinstance(source, Plugin) else None
        self.wasi = wasi
        self.config = dict(config or {})
        self.limits = limits
        self._dict = dict(source) if isinstance(source, Mapping) else None
        parsed = self.given is not None or self._dict is not None
        self._manifest = None if parsed else _manifest_of(source, wasi)
        self._compiled: dict[Limits, CompiledPlugin] = {}
        self._lock = threading.Lock()

    def compiled(self, limits: Limits) -> CompiledPlugin:
        if self.given is not None:
            compiled = self.given.compiled_plugin
            assert compiled is not None
            return compiled
        limits = limits.over(self.limits)
        with self._lock:
            found = self._compiled.get(limits)
            if found is None:
                if self._dict is not None:
                    manifest: Any = _dict_with_limits(self._dict, limits)
                else:
                    assert self._manifest is not None
                    manifest = with_limits(self._manifest, limits)
                found = CompiledPlugin(manifest, wasi=self.wasi, functions=[], fuel_limit=limits.fuel_limit)
                self._compiled[limits] = found
            return found

    def new_plugin(self, limits: Limits) -> Plugin:
        return Plugin(self.compiled(limits), config=self.config or None)

    def close(self) -> None:
        with self._lock:
            self._compiled.clear()


def failure(name: str, error: Exception) -> SQLFunctionError:
    """A plug-in failure as the SQL error to raise: `<name>: <reason>: <detail>`."""
    if isinstance(error, SQLFunctionError):
        return error
    text = str(error)
    if isinstance(error, WrongResultType):
        return SQLFunctionError(name, "wrong result type", text)
    if isinstance(error, CallTimeout):
        reason = "timeout"
    elif isinstance(error, CallError) and error.limit == "memory.max_pages":
        reason = "oom"
    elif isinstance(error, CallError) and error.limit is not None:
        reason = "limit"
    elif isinstance(error, CallError) and error.code == 134:
        reason = "trap"
    else:
        reason = "error"
    if reason == "trap" and "wasm trap:" in text:  # the trap itself, not wasmtime's backtrace
        text = text[text.rindex("wasm trap:"):].splitlines()[0]
    if not text.startswith(f"{reason}:"):
        text = f"{reason}: {text}"
    return SQLFunctionError(name, reason, text)


class Bound:
    """One SQL function attached to its plug-in: what the engine adapters call."""

    def __init__(self, function: SQLFunction, source: PluginSource) -> None:
        self.function = function
        self.name = function.name
        self.source = source
        self.returns = function.result_type
        self.as_json = function.args == "json"
        self.exports = function.exports()
        limits = function.limits.over(source.limits)
        self.limits = limits
        self.max_instances = limits.max_instances or DEFAULT_MAX_INSTANCES
        compiled = source.compiled(function.limits)
        missing = [e for e in self.exports.values() if not compiled.function_exists(e)]
        if missing:
            raise Error(f"{self.name}: the plug-in does not export {', '.join(missing)} "
                        f"(a {function.kind} function needs {', '.join(self.exports.values())})")
        self._plugin: Plugin | None = source.given
        self._idle: list[Plugin] = []
        self._busy = 0
        self._owned: list[Plugin] = []
        self._lock = threading.Lock()
        self.export = self.exports.get("call", "")
        self._prepared: PreparedCall | None = None
        # Instances for calls that come from several threads at once (DuckDB's): idle ones'
        # prepared calls, how many exist, and a wait for one when `max_instances` are busy.
        self._free_calls: list[PreparedCall] = []
        self._instances = 0
        self._returned = threading.Condition(self._lock)
        # How SQLite calls a scalar row by row (set by sqlite.py): "compiled" (the C extension's
        # callback), "ctypes" (the same through ctypes), "python" (the sqlite3 module's API).
        self.callback: str | None = None

    # -- scalar ------------------------------------------------------------
    def plugin(self) -> Plugin:
        """The instance scalar and batch calls run on (made on first use)."""
        plugin = self._plugin
        if plugin is None:
            with self._lock:
                if self._plugin is None:
                    self._plugin = self.source.new_plugin(self.function.limits)
                    self._owned.append(self._plugin)
                plugin = self._plugin
        return plugin

    def prepared(self) -> PreparedCall:
        """The scalar/batch export of `plugin()`, prepared once (`Plugin.prepare`): what is
        called per row or per vector."""
        call = self._prepared
        if call is None:
            call = self._prepared = self.plugin().prepare(self.export)
        return call

    def call_raw(self, data: bytes) -> bytes:
        """Call the scalar/batch export with `data`; SQLFunctionError on any failure."""
        try:
            return self.prepared()(data)
        except Error as exc:
            raise failure(self.name, exc) from None

    # -- calls from several threads at once (DuckDB) ---------------------------
    def checkout(self) -> PreparedCall:
        """The scalar/batch export on an instance no other thread is using; give it back with
        `checkin`. DuckDB runs a function on several of its threads at once, so each gets an
        instance of its own, at most `max_instances` (past that, a thread waits for one).

        A free list, not a `threading.local`: on a thread Python did not start (DuckDB's),
        each call gets a thread state of its own that is cleared when the call returns, so a
        thread-local instance would be freed at the end of every call, inside
        `PyThreadState_Clear`, where freeing a store (wasmtime calls back into Python)
        crashes CPython 3.11 (docs/sql.md, "DuckDB's threads").
        """
        if self.source.given is not None:  # one instance the caller made: threads take turns on it
            return self.prepared()
        free = self._free_calls
        try:
            return free.pop()
        except IndexError:
            pass
        with self._lock:
            while not free and self._instances >= self.max_instances:
                self._returned.wait()
            if free:
                return free.pop()
            self._instances += 1
        try:
            plugin = self.source.new_plugin(self.function.limits)
            call = plugin.prepare(self.export)
        except Error as exc:
            with self._lock:
                self._instances -= 1
                self._returned.notify()
            raise failure(self.name, exc) from None
        with self._lock:
            self._owned.append(plugin)
        return call

    def checkin(self, call: PreparedCall) -> None:
        """Give back what `checkout` gave."""
        if self.source.given is not None:
            return
        with self._lock:
            self._free_calls.append(call)
            self._returned.notify()

    def call_pooled(self, data: bytes) -> bytes:
        """`call_raw` on an instance of this thread's own for the call (`checkout`)."""
        call = self.checkout()
        try:
            return call(data)
        except Error as exc:
            raise failure(self.name, exc) from None
        finally:
            self.checkin(call)

    def scalar(self, *args: SQLValue) -> SQLValue:
        if self.function.strict and None in args:
            return None
        try:
            data = encode_args(args, self.as_json)
            return decode(self.prepared()(data), self.returns)
        except Error as exc:
            raise failure(self.name, exc) from None

    def decode(self, output: bytes) -> SQLValue:
        try:
            return decode(output, self.returns)
        except Error as exc:
            raise failure(self.name, exc) from None

    # -- aggregate / window -------------------------------------------------
    def accumulator(self) -> Accumulator:
        with self._lock:
            if self._busy >= self.max_instances:
                raise SQLFunctionError(self.name, "limit", f"limit: more than {self.max_instances} groups "
                                       "at once (raise max_instances)")
            self._busy += 1
            plugin = self._idle.pop() if self._idle else None
        if plugin is None:
            try:
                plugin = self.source.new_plugin(self.function.limits)
            except Error as exc:
                with self._lock:
                    self._busy -= 1
                raise failure(self.name, exc) from None
            with self._lock:
                self._owned.append(plugin)
        return Accumulator(self, plugin)

    def release(self, plugin: Plugin, clean: bool) -> None:
        if not clean:
            try:
                plugin.renew(keep_vars=False)  # the next group starts from a fresh instance
            except Error:
                with self._lock:
                    self._busy -= 1
                return
        with self._lock:
            self._busy -= 1
            self._idle.append(plugin)

    def close(self) -> None:
        with self._lock:
            owned, self._owned, self._idle, self._plugin = self._owned, [], [], None
            self._prepared = None
            self._free_calls = []
            self._instances = 0
            self._returned.notify_all()
        for plugin in owned:
            plugin.close()


class Accumulator:
    """One group of an aggregate or window function, on a plug-in instance of its own."""

    __slots__ = ("_bound", "_clean", "_plugin")

    def __init__(self, bound: Bound, plugin: Plugin) -> None:
        self._bound = bound
        self._plugin: Plugin | None = plugin
        self._clean = True

    def _call(self, role: str, args: Sequence[SQLValue] | None) -> bytes:
        bound = self._bound
        if self._plugin is None:
            raise SQLFunctionError(bound.name, "error", "error: this group already failed or finished")
        try:
            data = b"" if args is None else encode_args(args, bound.as_json)
            return self._plugin.call(bound.exports[role], data)
        except Error as exc:
            self._clean = False
            raise failure(bound.name, exc) from None

    def step(self, *args: SQLValue) -> None:
        if self._bound.function.strict and None in args:
            return
        self._call("step", args)

    def inverse(self, *args: SQLValue) -> None:
        if self._bound.function.strict and None in args:
            return
        self._call("inverse", args)

    def value(self) -> SQLValue:
        return self._bound.decode(self._call("value", None))

    def finalize(self) -> SQLValue:
        """The group's result; the instance goes back to the function (renewed if anything failed)."""
        if self._plugin is None:
            return None
        try:
            if not self._clean:
                return None
            return self._bound.decode(self._call("final", None))
        finally:
            self.discard()

    def discard(self) -> None:
        """Give the instance back without a result (the group was abandoned or failed)."""
        plugin, self._plugin = self._plugin, None
        if plugin is not None:
            self._bound.release(plugin, self._clean)

    def __del__(self) -> None:
        if getattr(self, "_plugin", None) is not None:
            self._clean = False
            self.discard()

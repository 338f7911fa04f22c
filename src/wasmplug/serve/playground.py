"""Running a playground snippet: JavaScript or a .wasm, one export, under a deployed function's limits.

The web layer (`views/playground.py`) hands a `Snippet` to a `Playground`,
which builds it (JavaScript with `wasmplug.js`, the build cached by the
source's hash, the cache bounded), calls the export once on a fresh instance
with the limits of `PlaygroundLimits` (memory, timeout, fuel, output size, no
network unless hosts are allowed) and returns a `RunResult`: the output, the
plug-in's log lines (bounded by count and by bytes), the duration, the fuel and
the memory used, or the error. Nothing a snippet does can stop the process:
every failure is a `RunResult` with `ok=False`, or a `SnippetError` for input
the playground refuses before running anything.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import wasmplug
from wasmplug import binary, js
from wasmplug.js.errors import from_call_error
from wasmplug.js.plugin_build import listing_names, load_request

JS_FILENAME = "playground.js"
PAGE = 65_536
# Exports that set an instance up rather than being called by a user.
_SET_UP_EXPORTS = {"_start", "_initialize", "__wasm_call_ctors", "hs_init"}
_CALLABLE = {((), ()), ((), ("i32",))}  # an Extism function: () -> () or () -> i32


class SnippetError(wasmplug.Error):
    """A snippet the playground refuses (too big, bad export, bad config, does not build).

    `kind` says which: "input" (the caller's request), "build" (the code does
    not build or load).
    """

    def __init__(self, message: str, kind: str = "input") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class PlaygroundLimits:
    """What one snippet may take: the same defaults as a deployed function's."""

    max_source_bytes: int = 256 * 1024      # JavaScript source
    max_wasm_bytes: int = 8 * 1024 * 1024   # an uploaded module
    max_input_bytes: int = 256 * 1024
    max_output_bytes: int = 1024 * 1024
    max_config_entries: int = 32
    max_config_bytes: int = 16 * 1024       # keys and values together
    max_log_lines: int = 200
    max_log_bytes: int = 32 * 1024
    memory_max_pages: int = 512             # 32 MiB
    timeout_ms: int = 2000
    fuel: int = 2_000_000_000               # instructions per call
    allowed_hosts: tuple[str, ...] = ()     # no network
    build_cache_entries: int = 32
    max_concurrent_runs: int = 2


@dataclass(frozen=True)
class Snippet:
    """What to run: `kind` "js" (source text) or "wasm" (module bytes), the export, input, config."""

    kind: str
    source: bytes
    export: str
    input: bytes = b""
    config: Mapping[str, str] = field(default_factory=dict)


@dataclass
class RunResult:
    """The outcome of one run. `error`/`kind` are set when `ok` is False."""

    ok: bool
    output: bytes = b""
    logs: list[tuple[str, str]] = field(default_factory=list)   # (level, text)
    logs_dropped: int = 0
    duration_ms: float = 0.0
    fuel_used: int | None = None
    memory_bytes: int | None = None
    error: str = ""
    kind: str = ""

    def to_json(self) -> dict[str, Any]:
        """The JSON the page reads: output as text when it is UTF-8, always as base64 too."""
        import base64

        try:
            text: str | None = self.output.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        found: dict[str, Any] = {
            "ok": self.ok, "output": text, "output_base64": base64.b64encode(self.output).decode(),
            "output_bytes": len(self.output),
            "logs": [{"level": level, "text": line} for level, line in self.logs],
            "logs_dropped": self.logs_dropped, "duration_ms": round(self.duration_ms, 3),
            "fuel_used": self.fuel_used, "memory_bytes": self.memory_bytes,
        }
        if not self.ok:
            found["error"], found["kind"] = self.error, self.kind
        return found


@dataclass
class _Built:
    compiled: wasmplug.CompiledPlugin
    exports: list[str]


class _LogBox:
    """The log lines of one run, bounded by count and by bytes (the rest are counted, not kept)."""

    def __init__(self, max_lines: int, max_bytes: int) -> None:
        self.max_lines = max_lines
        self.room = max_bytes
        self.lines: list[tuple[str, str]] = []
        self.dropped = 0
        self.lock = threading.Lock()

    def add(self, level: str, text: str) -> None:
        with self.lock:
            if len(self.lines) >= self.max_lines or self.room <= 0:
                self.dropped += 1
                return
            data = text.encode("utf-8", "replace")
            if len(data) > self.room:
                text = data[:self.room].decode("utf-8", "ignore") + " …"
                data = data[:self.room]
            self.room -= len(data)
            self.lines.append((level, text))


class _LogRouter(logging.Filter):
    """On the `wasmplug.plugin` logger while runs are going on: a playground plug-in's records go
    to its run's box and no further (a snippet cannot flood the server's log); other plug-ins'
    records pass as before. `remove()` puts the logger back as it was."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__()
        self.logger = logger
        self.previous_level = logger.getEffectiveLevel()
        self.saved_level = logger.level
        self.listening = _Listening()
        self.boxes: dict[str, _LogBox] = {}
        logger.addFilter(self)
        logger.addHandler(self.listening)
        logger.setLevel(logging.DEBUG)  # runs see logging on, whatever the server's level

    def remove(self) -> None:
        self.logger.removeFilter(self)
        self.logger.removeHandler(self.listening)
        self.logger.setLevel(self.saved_level)

    def filter(self, record: logging.LogRecord) -> bool:
        box = self.boxes.get(str(getattr(record, "plugin_id", "")))
        if box is None:
            return record.levelno >= self.previous_level
        try:
            text = record.getMessage()
        except Exception:  # a record that cannot be formatted is still a line
            text = str(record.msg)
        box.add(logging.getLevelName(record.levelno).lower(), text)
        return False


class _Listening(logging.Handler):
    """Makes logging count as on for plug-ins (their `get_log_level` is not "off"): prints nothing."""

    def emit(self, record: logging.LogRecord) -> None:
        pass


_router_lock = threading.Lock()
_router: _LogRouter | None = None


@contextlib.contextmanager
def _routed(plugin_id: str, box: _LogBox) -> Iterator[None]:
    """While the block runs, plug-in `plugin_id`'s log records go to `box`. The router is on
    the logger only while some run is going on: after the last one, the logger is as it was."""
    global _router
    with _router_lock:
        if _router is None:
            _router = _LogRouter(logging.getLogger("wasmplug.plugin"))
        router = _router
        router.boxes[plugin_id] = box
    try:
        yield
    finally:
        with _router_lock:
            router.boxes.pop(plugin_id, None)
            if not router.boxes and _router is router:
                router.remove()
                _router = None


def _digest(kind: str, source: bytes) -> str:
    return kind + ":" + hashlib.sha256(source).hexdigest()


class Playground:
    """Builds and runs snippets under `limits`; thread-safe (runs happen in a thread pool)."""

    def __init__(self, limits: PlaygroundLimits | None = None) -> None:
        self.limits = limits or PlaygroundLimits()
        self._cache: OrderedDict[str, _Built] = OrderedDict()
        self._lock = threading.Lock()
        self._loader: wasmplug.CompiledPlugin | None = None
        self.builds = 0  # how many times a snippet was built (a cache hit builds nothing)

    # -- the limits as a manifest ---------------------------------------------------
    def _manifest(self, wasm: dict[str, Any]) -> dict[str, Any]:
        lim = self.limits
        return {"wasm": [wasm], "timeout_ms": lim.timeout_ms,
                "memory": {"max_pages": lim.memory_max_pages, "max_output_bytes": lim.max_output_bytes},
                "allowed_hosts": list(lim.allowed_hosts) or None,
                "blocked_networks": ["non-public"]}  # whatever an allowed host resolves to

    def _compile(self, manifest: dict[str, Any]) -> wasmplug.CompiledPlugin:
        return wasmplug.CompiledPlugin(manifest, wasi=True, functions=[], fuel_limit=self.limits.fuel)

    # -- checking a request ----------------------------------------------------------
    def check_source(self, kind: str, source: bytes) -> None:
        lim = self.limits
        if kind == "js":
            if len(source) > lim.max_source_bytes:
                raise SnippetError(f"the JavaScript is {len(source)} bytes; the playground takes at most "
                                   f"{lim.max_source_bytes}")
            if not source.strip():
                raise SnippetError("write some JavaScript first: export a function, e.g. "
                                   "`export function greet() { Host.outputString('hi') }`")
        elif kind == "wasm":
            if len(source) > lim.max_wasm_bytes:
                raise SnippetError(f"the module is {len(source)} bytes; the playground takes at most "
                                   f"{lim.max_wasm_bytes}")
            if not source.startswith(b"\0asm"):
                raise SnippetError("the upload is not a WebAssembly module (it does not start with "
                                   "\\0asm): choose a .wasm file")
        else:
            raise SnippetError(f"kind must be 'js' or 'wasm', not {kind[:20]!r}")

    def check(self, snippet: Snippet) -> None:
        """Refuse what the limits do not allow, before anything runs (SnippetError)."""
        lim = self.limits
        self.check_source(snippet.kind, snippet.source)
        if len(snippet.input) > lim.max_input_bytes:
            raise SnippetError(f"the input is {len(snippet.input)} bytes; at most {lim.max_input_bytes}")
        if not snippet.export or len(snippet.export) > 256:
            raise SnippetError("pick the export to run")
        if len(snippet.config) > lim.max_config_entries:
            raise SnippetError(f"the config has {len(snippet.config)} entries; at most "
                               f"{lim.max_config_entries}")
        size = 0
        for key, value in snippet.config.items():
            if not isinstance(key, str) or not isinstance(value, str) or not key:
                raise SnippetError("config must map non-empty names to text values")
            if key.startswith("wasmplug."):
                raise SnippetError(f"config key {key[:40]!r}: names starting with 'wasmplug.' are "
                                   "reserved for the runtime")
            size += len(key.encode()) + len(value.encode())
        if size > lim.max_config_bytes:
            raise SnippetError(f"the config is {size} bytes; at most {lim.max_config_bytes}")

    # -- building ---------------------------------------------------------------------
    def build(self, kind: str, source: bytes) -> _Built:
        """The compiled snippet and its exports (from the cache when the source was built before)."""
        self.check_source(kind, source)
        key = _digest(kind, source)
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        built = self._build_js(source) if kind == "js" else self._build_wasm(source)
        with self._lock:
            self.builds += 1
            self._cache[key] = built
            while len(self._cache) > self.limits.build_cache_entries:
                self._cache.popitem(last=False)
        return built

    def exports(self, kind: str, source: bytes) -> list[str]:
        return list(self.build(kind, source).exports)

    def _js_exports(self, source: bytes) -> list[str]:
        """The functions `source` exports, found by evaluating it once under the limits."""
        with self._lock:
            if self._loader is None:
                self._loader = self._compile(self._manifest({"path": str(js.bare_runtime_path())}))
            loader = self._loader
        with wasmplug.Plugin(loader) as plugin:
            try:
                listing: bytes = plugin.call("__wasmplug_load", load_request(source, JS_FILENAME))
            except wasmplug.CallError as exc:
                raise SnippetError(_call_failure(exc)[0], "build") from None
        return listing_names(listing)[0]

    def _build_js(self, source: bytes) -> _Built:
        names = self._js_exports(source)
        if not names:
            raise SnippetError("the code exports no function: write `export function name() {...}`",
                               "build")
        try:
            wasm = js.build(source, filename=JS_FILENAME, exports=names)
            manifest = js.with_heap_limit(self._manifest({"data": wasm}))
            return _Built(self._compile(manifest), names)
        except wasmplug.Error as exc:
            raise SnippetError(str(exc), "build") from None

    def _build_wasm(self, source: bytes) -> _Built:
        try:
            exports = binary.signatures(source)[1]
        except ValueError as exc:
            raise SnippetError(f"the module cannot be read: {exc}", "build") from None
        names = [name for name, item in exports.items()
                 if item in _CALLABLE and name not in _SET_UP_EXPORTS and not name.startswith("__")]
        if not names:
            raise SnippetError("the module exports no Extism function (`() -> i32`)", "build")
        try:
            return _Built(self._compile(self._manifest({"data": source})), names)
        except wasmplug.Error as exc:
            raise SnippetError(str(exc), "build") from None

    # -- running ----------------------------------------------------------------------
    def run(self, snippet: Snippet) -> RunResult:
        """Build (or find) the snippet and call its export once; never raises for the code's faults.

        SnippetError is raised only for a request the limits refuse (see `check`)."""
        self.check(snippet)
        started = time.perf_counter()
        try:
            built = self.build(snippet.kind, snippet.source)
        except SnippetError as exc:
            if exc.kind != "build":
                raise
            return RunResult(False, error=str(exc), kind="build",
                             duration_ms=(time.perf_counter() - started) * 1000)
        if snippet.export not in built.exports:
            raise SnippetError(f"the snippet has no export {snippet.export[:60]!r}; it exports "
                               f"{', '.join(built.exports)[:400]}")
        box = _LogBox(self.limits.max_log_lines, self.limits.max_log_bytes)
        result = RunResult(False)
        plugin = wasmplug.Plugin(built.compiled, config=dict(snippet.config))
        started = time.perf_counter()
        try:
            with _routed(str(plugin.id), box):
                result.output = plugin.call(snippet.export, snippet.input)
            result.ok = True
        except wasmplug.CallError as exc:
            result.error, result.kind = _call_failure(exc)
        except wasmplug.Error as exc:
            result.error, result.kind = str(exc), "load"
        finally:
            result.duration_ms = (time.perf_counter() - started) * 1000
            result.fuel_used = plugin.fuel_consumed
            result.memory_bytes = plugin.memory_bytes
            plugin.close()
        result.logs, result.logs_dropped = box.lines, box.dropped
        return result


def _call_failure(exc: wasmplug.CallError) -> tuple[str, str]:
    """(message, kind) for a failed call: which limit stopped it, or the code's own error."""
    kinds = {"timeout_ms": "timeout", "fuel_limit": "fuel", "memory.max_pages": "memory",
             "memory.max_output_bytes": "output", "memory.max_var_bytes": "memory",
             "memory.max_http_response_bytes": "http"}
    if exc.limit is not None:
        return str(exc), kinds.get(exc.limit, "limit")
    error = from_call_error(exc, JS_FILENAME)
    if isinstance(error, js.JSError):
        return str(error), "js"
    return str(exc), "trap" if exc.code == 134 else "plugin"

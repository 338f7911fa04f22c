"""wasmtime engines, compiled modules and the epoch ticker.

Plug-ins with the same engine settings share one `Runtime`: one
`wasmtime.Engine`, one compiled kernel, one in-memory table of compiled
modules (so compiling the same bytes twice in a process is free), the on-disk
module cache, and one ticker thread for timeouts (started on first use).
"""

from __future__ import annotations

import heapq
import itertools
import math
import re
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path

from . import _daemon, _logs, _runtime_events, _versions
from . import _wasmtime as wasmtime
from ._cache import ModuleCache
from ._digest import sha256_hex
from ._errors import LoadError
from ._records import record

WASMTIME_VERSION = _versions.installed("wasmtime", wasmtime.package_dir())


def extism_version() -> str:
    """The runtime's version: wasmplug's, with the wasmtime it runs on."""
    return f"wasmplug {_versions.wasmplug_version()} (wasmtime {WASMTIME_VERSION})"
_MAX_WAIT_S = 3600.0
#: Bytes of native stack one Wasm call may use (wasmtime's default: 512 KiB).
MAX_WASM_STACK = 1536 * 1024
log = _logs.root_logger


@record(frozen=True)
class EngineSettings:
    """Everything that changes the compiled code (and so the cache key)."""

    fuel: bool = False

    def fingerprint(self) -> str:
        return (f"wasmtime={WASMTIME_VERSION};epoch=1;fuel={int(self.fuel)};"
                f"stack={MAX_WASM_STACK};v=1")

    def config(self) -> wasmtime.Config:
        config = wasmtime.Config()
        config.epoch_interruption = True
        config.consume_fuel = self.fuel
        # Linear memories never move: the host can keep the kernel memory's
        # address for the life of a store (kernel.py relies on this).
        config.memory_may_move = False
        config.wasm_tail_call = True
        config.wasm_function_references = True
        config.wasm_gc = True
        # Room for sensible recursion in guests (the JS runtime parses JSON 3,000
        # deep); below wasmtime's 2 MiB async stack, far below a thread's 8 MiB.
        config.max_wasm_stack = MAX_WASM_STACK
        return config


class EpochTicker:
    """One thread per engine that advances the epoch when a deadline passes.

    `schedule(seconds, fire)` calls `fire()` (which marks the plug-in as
    timed out) and then increments the engine's epoch, which makes every
    store on the engine consult its interrupt check. No thread per call.
    """

    def __init__(self, engine: wasmtime.Engine) -> None:
        self._engine = engine
        self._heap: list[tuple[float, int, Callable[[], object]]] = []
        self._cancelled: set[int] = set()
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._started = False
        # When the ticker's current wait ends by itself (-inf: it is not waiting, and will
        # look at the heap before it waits again). A deadline before that needs a wake-up;
        # any other does not, so a call's schedule/cancel pair never wakes the thread (a
        # wake-up is a GIL handoff, milliseconds on a busy machine).
        self._wake_at = -math.inf

    def schedule(self, seconds: float, fire: Callable[[], object]) -> int:
        token = next(self._seq)
        deadline = time.monotonic() + seconds
        with self._cond:
            heapq.heappush(self._heap, (deadline, token, fire))
            if not self._started:
                self._started = True
                _daemon.start(self._run, "wasmplug-epoch-ticker")
            if deadline < self._wake_at:
                self._cond.notify()
        return token

    def cancel(self, token: int) -> None:
        with self._cond:
            self._cancelled.add(token)
            if len(self._cancelled) > 64 and len(self._cancelled) * 2 > len(self._heap):
                # Drop cancelled entries now rather than at their (maybe distant) deadline.
                self._heap = [e for e in self._heap if e[1] not in self._cancelled]
                heapq.heapify(self._heap)
                self._cancelled.clear()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._wake_at = math.inf
                    self._cond.wait()
                    self._wake_at = -math.inf
                when, token, fire = self._heap[0]
                delay = when - time.monotonic()
                if token in self._cancelled:
                    heapq.heappop(self._heap)
                    self._cancelled.discard(token)
                    continue
                if delay > 0:
                    # Waits are capped: a deadline centuries away (timeout_ms
                    # near 2^64) must not overflow the platform's time_t.
                    wait = min(delay, _MAX_WAIT_S)
                    self._wake_at = time.monotonic() + wait
                    self._cond.wait(wait)
                    self._wake_at = -math.inf
                    continue
                heapq.heappop(self._heap)
            try:
                fire()
            except Exception:  # one plug-in's failure must not stop every timeout
                log.exception("timeout callback failed")
            self._engine.increment_epoch()


class Runtime:
    """An engine with its kernel, compiled-module tables and ticker."""

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self.engine = wasmtime.Engine(settings.config())
        self.disk_cache = ModuleCache(self.engine, settings.fingerprint())
        self._modules: weakref.WeakValueDictionary[str, wasmtime.Module] = (
            weakref.WeakValueDictionary())
        self._lock = threading.Lock()
        kernel_wat = _KERNEL_WAT.read_bytes()
        self.kernel = self.compile(kernel_wat, sha256_hex(kernel_wat), "kernel")
        self.ticker = EpochTicker(self.engine)

    def compile(self, wasm: bytes | Callable[[], bytes], sha256: str, label: str = "main",
                budget: bool = False) -> wasmtime.Module:
        """The compiled module for `wasm` (memory table, then disk cache, then compile).

        `wasm` may be a function returning the bytes: it is called only if
        the module has to be compiled.

        With `budget`, every `memory.grow` of the module draws from the
        kernel's page budget (_memory_budget.py); that variant is cached apart.
        """
        started = time.perf_counter()
        key, rewrite = sha256, None
        rewrite_errors: tuple[type[Exception], ...] = ()
        if budget:  # only plug-ins with memory.max_pages load the rewriter
            from . import _memory_budget

            key = f"{sha256}|{_memory_budget.BUDGET_TAG}"
            rewrite, rewrite_errors = _memory_budget.rewrite, (_memory_budget.RewriteError,)
        module = self._modules.get(key)
        if module is not None:
            _runtime_events.module_ready("reused", label, sha256, started)
            return module
        try:
            module = self.disk_cache.load_or_compile(wasm, key, rewrite, label=label, sha256=sha256)
        except rewrite_errors as exc:
            raise LoadError(
                f"Unable to compile Extism plugin: module '{label}' cannot be given a memory "
                f"budget for memory.max_pages ({exc}); load it without max_pages"
            ) from None
        except wasmtime.WasmtimeError as exc:
            raise LoadError(
                f"Unable to compile Extism plugin: module '{label}' is not valid WebAssembly; "
                f"check that the file is a .wasm built for wasm32 (wasmtime: {_detail(exc)})"
            ) from None
        with self._lock:
            self._modules[key] = module
        return module


def _detail(exc: BaseException) -> str:
    """wasmtime's message with its causes on one line: what was wrong, and where."""
    parts: list[str] = []
    for line in (raw.strip() for raw in str(exc).splitlines()):
        if not line or line == "Caused by:" or _SNIPPET_LINE.match(line):
            continue
        where = _WAT_LOCATION.match(line)
        if where:  # a text-format error: "--> <anon>:3:7" under the message
            parts[-1:] = [f"{parts[-1] if parts else 'error'} (at line {where[1]}, "
                          f"column {where[2]})"]
            continue
        # "0: unexpected end-of-file (at offset 0x1d)" -> the cause itself
        number, sep, rest = line.partition(": ")
        parts.append(" ".join((rest if sep and number.isdigit() else line).split()))
    return ": ".join(parts) or type(exc).__name__


_KERNEL_WAT = Path(__file__).with_name("kernel.wat")  # package data, beside this module
_SNIPPET_LINE = re.compile(r"^(\d+ )?\|")  # the source excerpt wasmtime draws under a WAT error
_WAT_LOCATION = re.compile(r"^--> .*:(\d+):(\d+)$")


_runtimes: dict[EngineSettings, Runtime] = {}
_runtimes_lock = threading.Lock()


DEFAULT_SETTINGS = EngineSettings()


def runtime(settings: EngineSettings = DEFAULT_SETTINGS) -> Runtime:
    """The shared runtime for these engine settings."""
    found = _runtimes.get(settings)
    if found is None:
        with _runtimes_lock:
            found = _runtimes.get(settings)
            if found is None:
                found = _runtimes[settings] = Runtime(settings)
    return found

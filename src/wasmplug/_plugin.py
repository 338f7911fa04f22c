"""`CompiledPlugin` and `Plugin`: load, link and call Extism plug-ins.

The call protocol is ABI.md section 5. A call costs one Wasm call to the
kernel (reset and place the input), one copy of the input, the guest export
itself, one read of the kernel's registers and one copy of the output.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

from . import _callpath, _host_env, _logs, _runtime_events, _sigint
from . import _wasmtime as wasmtime
from ._callpath import I32, CallPath
from ._engine import EngineSettings, Runtime, runtime
from ._errors import CallError, CallTimeout, Error, LoadError, ManifestError, name_list
from ._host_functions import HOST_FN_REGISTRY, Function
from ._kernel import Kernel, KernelMemoryError
from ._linking import link_store, plan_links, template_linker
from ._manifest import Manifest, check_counts, load_limits, load_modules, parse_source
from ._plugin_id import PluginId
from ._prepared import PreparedCall
from ._wasi import WasiOptions, attach, close_at_exit, parse_allowed_paths
from .binary import Item

if TYPE_CHECKING:
    import uuid

log = _logs.root_logger

TRAP_CODE: Final = 134
# How long close() waits for a running call it cancelled (a host function
# cannot be interrupted; the plug-in is then freed when that call returns).
CLOSE_TIMEOUT_S: Final = 5.0
# `Plugin.plugin`: 1 while usable, -1 once freed, CLOSING while close() waits
# for a running call (a state, not an attribute of its own: a Plugin's
# attribute dict stays small enough for CPython to share its keys).
CLOSING: Final = 0
# Bounds on what one plug-in's store may hold, whatever the manifest says.
STORE_LIMITS: Final = {"table_elements": 1_000_000, "instances": 10_000, "tables": 1_000}
T = TypeVar("T")


_events_enabled_for = _runtime_events.enabled_for  # the call path's one logging check
_CALL_EVENTS: Final = _runtime_events.CALL_EVENTS


def _to_bytes(buffer: bytes) -> bytes:
    return bytes(buffer)


_REGISTRY: Any = object()  # "every host function defined with @host_fn", as in the SDK


class CompiledPlugin:
    """A manifest's modules, verified, compiled and checked for linking once.

    Plug-ins created from it share the compiled code:
    `Plugin(compiled)` costs a store and a kernel, not a compilation.
    `functions` defaults to every `@host_fn` defined so far (as in the
    extism SDK); pass a list to choose, `[]` or None for none. `wasi` is a
    bool or a `WasiOptions`. `fuel_limit` caps the instructions one call may
    execute (the tank is refilled at the start of every call).
    """

    def __init__(self, plugin: Any, wasi: bool | WasiOptions = False,
                 functions: Iterable[Function] | None = _REGISTRY, *,
                 fuel_limit: int | None = None) -> None:
        started = time.perf_counter()
        self.pointer = -1
        if fuel_limit is not None and (isinstance(fuel_limit, bool) or not isinstance(fuel_limit, int)
                                       or fuel_limit < 1):
            raise Error(f"fuel_limit must be a positive number of instructions, got {fuel_limit!r}")
        self.fuel_limit = fuel_limit
        self.manifest: Manifest = parse_source(plugin)
        if functions is _REGISTRY:
            functions = HOST_FN_REGISTRY
        self.functions: list[Function] = list(functions or [])
        for fn in self.functions:
            if not isinstance(fn, Function):
                raise Error(f"functions must be host functions (wasmplug.host_fn / Function), "
                            f"got {fn!r:.80}")
        self.wasi: WasiOptions | None = (
            wasi if isinstance(wasi, WasiOptions) else WasiOptions() if wasi else None)
        self.mounts = parse_allowed_paths(self.manifest.allowed_paths) if self.wasi else []
        self.runtime: Runtime = runtime(EngineSettings(fuel=fuel_limit is not None))
        limits = load_limits()
        loaded = load_modules(self.manifest, time.monotonic() + limits.timeout_s)
        facts = {m.name: m.facts for m in loaded}
        check_counts(facts, limits)  # before compiling anything
        self.max_memories = limits.max_memories
        # With memory.max_pages every memory.grow draws from one budget (ABI.md 7.1).
        budget = self.manifest.memory.max_pages is not None
        self.modules: list[tuple[str, wasmtime.Module]] = [
            (m.name, self.runtime.compile(m.read, m.sha256, m.name, budget)) for m in loaded]
        self.main: wasmtime.Module = self.modules[-1][1]
        # Imports and exports, read from the binaries (they compiled, so they parse).
        try:
            items = {name: f.signatures() for name, f in facts.items()}
        except ValueError as exc:
            raise LoadError(f"Unable to create Extism plugin: {exc}") from None
        self.links = plan_links(self.modules, items, self.functions, self.wasi is not None)
        # 0.x plug-ins run with WASI expected a fresh instance for every call (ABI.md 4).
        self.fresh_instance_per_call = self.links.uses_legacy_abi and self.wasi is not None
        # Largest initial size of any memory of the plug-in, the kernel's page
        # included, exported or not; and the pages its own memories take when
        # instantiated, which must fit in memory.max_pages (ABI.md 7.1).
        self.initial_pages = max([1, *(p for f in facts.values() for p in f.memory_minimums)])
        self.instantiation_pages = sum(p for f in facts.values() for p in f.own_memory_minimums)
        self._exports: dict[str, Item] = items["main"][1]
        self._signatures = {name: item for name, item in self._exports.items()
                            if not isinstance(item, str)}
        self.init_steps = self._guest_init_steps()
        self._templates: dict[str, wasmtime.Linker] = {}
        self.pointer = 1
        _runtime_events.compiled_plugin_ready(len(self.modules), len(self.functions), started)

    def _signature(self, name: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        return self._signatures.get(name)

    def _guest_init_steps(self) -> list[tuple[str, tuple[int, ...]]]:
        """ABI.md 5.3: what to call, once per instance, to initialise the guest's runtime."""
        nullary = ((), ())
        if "hs_init" in self._exports:
            steps: list[tuple[str, tuple[int, ...]]] = []
            if self._signature("_initialize") == nullary:
                steps.append(("_initialize", ()))
            return [*steps, ("hs_init", (0, 0))]
        if "__wasm_call_ctors" in self._exports:
            return [("__wasm_call_ctors", ())] if self._signature("__wasm_call_ctors") == nullary else []
        return [("_initialize", ())] if self._signature("_initialize") == nullary else []

    def callable_results(self, name: str) -> tuple[str, ...]:
        """The result types of export `name`, or CallError if it is not an Extism function."""
        signature = self._signature(name)
        if signature is None:
            exported = self.exported_functions()
            raise CallError(f"Function not found: {name} (the plug-in exports: "
                            f"{name_list(exported) or 'no callable functions'})", function=name)
        params, results = signature
        if len(results) > 1:
            raise CallError(f"Function {name} has {len(results)} results, expected 0 or 1",
                            function=name)
        if params:
            raise CallError(
                f"Function {name} takes {len(params)} parameters; Extism exports take none "
                "(input arrives through the kernel)", function=name)
        if results and results != (I32,):
            raise CallError(f"Function {name} returns {results[0]}; Extism exports return "
                            "nothing or an i32 status code", function=name)
        return results

    def linker(self, path: _callpath.CallPath) -> wasmtime.Linker:
        """The template linker plug-ins clone (built on first use, per call path)."""
        template = self._templates.get(path.name)
        if template is None:
            template = self._templates[path.name] = template_linker(
                self.links, self.runtime.engine, path)
        return template

    def function_exists(self, name: str) -> bool:
        signature = self._signature(name)
        return signature is not None and signature in (((), ()), ((), (I32,)))

    def exported_functions(self) -> list[str]:
        """The names of the main module's exports an Extism call can run, sorted."""
        return sorted(n for n in self._exports if self.function_exists(n))

    def __del__(self) -> None:
        self.pointer = -1


class CancelHandle:
    """Interrupts the call running on a plug-in, from any thread."""

    def __init__(self, plugin: Plugin) -> None:
        self._plugin = weakref.ref(plugin)

    def cancel(self) -> bool:
        """Stop the running call (it fails with `timeout`); False if none was running."""
        plugin = self._plugin()
        return plugin is not None and plugin._interrupt(plugin._call_seq)


class Plugin:
    """A running plug-in: `call` its exports with bytes in and bytes out.

    `plugin` is a `CompiledPlugin`, a manifest (`Manifest`, dict, JSON/TOML
    text or file path) or wasm bytes. `config` is merged into the manifest's
    config. Calls on one plug-in are serialised; a plug-in keeps its memory,
    globals and vars between calls. After a call whose guest code was cut
    short (a trap, timeout, cancel, or a host function that raised) the next
    call runs on a fresh instance, vars kept, unless `keep_instance_after_trap`.
    """

    # After a call whose guest code was cut short (a trap, a timeout, a cancel,
    # a host function that raised), the next call runs on a fresh instance,
    # vars kept (as `renew()`): the guest may have left its memory or globals
    # inconsistent. True keeps the instance, as the reference SDK does.
    keep_instance_after_trap: bool = False

    def __init__(self, plugin: Any, wasi: bool | WasiOptions = False, config: Any = None,
                 functions: Iterable[Function] | None = _REGISTRY, *,
                 fuel_limit: int | None = None, keep_instance_after_trap: bool = False) -> None:
        started = time.perf_counter()
        self.plugin = -1
        if keep_instance_after_trap:  # (an attribute only then: see CLOSING)
            self.keep_instance_after_trap = True
        self._owns_compiled_plugin = not isinstance(plugin, CompiledPlugin)
        self.compiled_plugin: CompiledPlugin | None = (
            plugin if isinstance(plugin, CompiledPlugin)
            else CompiledPlugin(plugin, wasi=wasi, functions=functions, fuel_limit=fuel_limit))
        self._compiled: CompiledPlugin = self.compiled_plugin
        self.fuel_limit: int | None = None
        if fuel_limit is not None and self._compiled.fuel_limit is None:
            raise Error("fuel_limit needs fuel metering compiled in: create the CompiledPlugin "
                        "with fuel_limit=..., or pass fuel_limit with the plug-in's bytes/manifest")
        self.fuel_consumed = 0
        self._path: CallPath = _callpath.get()
        self._id = PluginId()
        self._host = _host_env.HostState(self._id, self._compiled.manifest,
                                         dict(self._compiled.manifest.config))
        if config is not None:
            self.update_config(config)
        self._lock = self._host.lock = threading.Lock()
        self._owner: int | None = None
        self._call_seq = 0
        self._interrupting = 0  # the call_seq an interrupt was requested for
        self._interrupt_reason = ""
        self._running = False
        self._keep_vars_on_rebuild = False
        self._cancelled: threading.Event | None = None  # set by an async caller's cancellation
        me = self._weak = weakref.ref(self)
        self._host.stop_requested = lambda: (p := me()) is None or p._should_interrupt()
        # The timeout's entry in the engine ticker: at most one per plug-in, armed for
        # `_timer_at` and re-armed from there while calls keep starting (_arm_timer).
        self._timer_lock = threading.RLock()
        self._timer_at: float | None = None
        self.fuel_limit = fuel_limit if fuel_limit is not None else self._compiled.fuel_limit
        self._build_store()
        self.plugin = 1
        if self._compiled.wasi is not None:
            close_at_exit(self._close_at_exit)
        _sigint.watch(self)
        _runtime_events.plugin_created(self._id, started, self._compiled.wasi is not None)

    # -- construction ----------------------------------------------------
    def _build_store(self, keep_vars: bool = False) -> None:
        compiled = self._compiled
        rt = compiled.runtime
        store = wasmtime.Store(rt.engine)
        if self.fuel_limit is not None:
            store.set_fuel(self.fuel_limit)  # the kernel's set-up runs Wasm too
        _callpath.install_interrupt_check(store, self._should_interrupt)
        if compiled.wasi is not None:
            attach(store, compiled.wasi, compiled.mounts, str(self._id))
        linker = self._path.clone_linker(compiled.linker(self._path),
                                         lambda: template_linker(compiled.links, rt.engine, self._path))
        kernel_instance = linker.instantiate(store, rt.kernel)
        link_store(compiled.links, linker, store, kernel_instance)
        self._store = store
        self._linker = linker
        memory = compiled.manifest.memory
        kernel = self._kernel = Kernel(store, kernel_instance, self._path, memory.max_pages,
                                       memory.var_bytes_limit)
        # The kernel's budget bounds all growth (ABI.md 7.1); as a second line,
        # no memory may exceed the largest initial size plus max_pages (or what
        # the config and the vars may need in the kernel's vault). Tables and
        # the number of memories are bounded so no module can take the host's
        # memory or address space (STORE_LIMITS).
        store.set_limits(memory_size=kernel.memory_size_limit(
                             compiled.initial_pages, self._host.vault_bound()),
                         memories=compiled.max_memories + 1, **STORE_LIMITS)  # + the kernel's
        self._host.use_kernel(kernel, keep_vars)
        self._instance: wasmtime.Instance | None = None
        self._invokers: dict[str, _callpath.Invoker] = {}
        self._needs_rebuild = False

    def _instantiate(self, name: str) -> None:
        started = time.perf_counter()
        store, linker, kernel = self._store, self._linker, self._kernel
        # ABI.md 7.1: the plug-in's memories must fit in the budget (start
        # functions draw from what is left); then the budget is refilled.
        refused = kernel.budget_for_instantiation(self._compiled.instantiation_pages)
        if refused is not None:
            raise self._oom(name, refused)
        try:
            for module_name, module in self._compiled.links.modules:
                linker.define_module(store, module_name, module)
            instance = linker.instantiate(store, self._compiled.main)
        except wasmtime.Trap as exc:
            self._needs_rebuild = True  # the store may hold a half-built instance
            if kernel.over_budget():
                raise self._oom(name, "the start function grew memory past memory.max_pages "
                                f"({kernel.max_pages} pages)") from None
            raise CallError(f"plug-in initialisation (its start function) trapped: "
                            f"{_describe(exc)}", code=TRAP_CODE) from None
        except wasmtime.WasmtimeError as exc:
            self._needs_rebuild = True
            raise LoadError(f"Unable to create Extism plugin: {_describe(exc)}") from None
        self._instance = instance
        kernel.refill_budget()
        for step, args in self._compiled.init_steps:
            func = self._path.export(store, instance, step)
            try:
                func(store, *args)
            except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
                self._needs_rebuild = True  # start again from a fresh instance next call
                if kernel.over_budget():
                    raise self._oom(name, f"plug-in initialisation ({step}) grew memory past "
                                    f"memory.max_pages ({kernel.max_pages} pages)") from None
                raise CallError(f"plug-in initialisation ({step}) failed: {_describe(exc)}",
                                function=step, code=TRAP_CODE) from None
        _runtime_events.plugin_instantiated(self._id, started)

    def _oom(self, name: str, detail: str) -> CallError:
        return CallError(f"oom: {detail}", function=name, code=TRAP_CODE,
                         limit="memory.max_pages", limit_value=self._kernel.max_pages)

    def _invoker(self, name: str) -> _callpath.Invoker:
        found = self._invokers.get(name)
        if found is not None:
            return found
        assert self._instance is not None
        results = self._compiled.callable_results(name)
        func = self._path.export(self._store, self._instance, name)
        invoker = self._invokers[name] = self._path.bind(self._store, func, (), results)
        return invoker

    # -- calls -----------------------------------------------------------
    def call(self, function_name: str, data: str | bytes | bytearray | memoryview,
             parse: Callable[[bytes], T] | None = _to_bytes,  # type: ignore[assignment]
             host_context: Any = None) -> T:
        """Call export `function_name` with `data` as input; return its output.

        The output is passed through `parse` (default: `bytes`). Raises
        `wasmplug.Error` (a `CallError`) if the plug-in fails, with the
        plug-in's own error message; the plug-in stays usable. Calls from
        several threads are serialised; Wasm runs without holding the GIL.
        """
        return self._call(function_name, data, parse, host_context, None)

    async def call_async(self, function_name: str, data: str | bytes | bytearray | memoryview,
                         parse: Callable[[bytes], T] | None = _to_bytes,  # type: ignore[assignment]
                         host_context: Any = None) -> T:
        """`call` in a worker thread, never blocking the event loop.

        Cancelling the awaiting task stops the Wasm call (as a cancel handle
        would), or keeps it from starting if it is still waiting its turn.
        """
        import asyncio  # here, not at import: asyncio (with ssl, socket) is ~1/3 of a bare start

        cancelled = threading.Event()
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(None, self._call, function_name, data, parse,
                                      host_context, cancelled)
        try:
            return await future
        except asyncio.CancelledError:
            cancelled.set()
            self._compiled.runtime.engine.increment_epoch()  # let a running call see it
            raise

    def prepare(self, function_name: str) -> PreparedCall:
        """`call(function_name, data)` made ready for many calls: `prepared(data) -> bytes`,
        with the same results and errors, and less work per call (for one call per row)."""
        return PreparedCall(self, function_name)

    def _call(self, function_name: str, data: str | bytes | bytearray | memoryview,
              parse: Callable[[bytes], T] | None, host_context: Any,
              cancelled: threading.Event | None) -> T:
        if isinstance(data, str):
            data = data.encode("utf-8")
        elif not isinstance(data, bytes):
            data = _input_bytes(data)
        me = threading.get_ident()
        if self._owner == me:
            raise CallError("cannot make reentrant calls into plugin", function=function_name)
        if self.plugin == CLOSING:  # do not queue behind a call that close() is waiting for
            raise Error("this plug-in has been freed; create a new Plugin")
        with self._lock:
            self._owner = me
            self._cancelled = cancelled
            try:
                if cancelled is not None and cancelled.is_set():
                    raise CallTimeout("timeout: the call was cancelled before it started",
                                      function=function_name, code=TRAP_CODE)
                if _events_enabled_for(_CALL_EVENTS):
                    # (arguments, not a closure: a closure would make these
                    # variables cells, slowing every call down)
                    output = _runtime_events.observe_call(
                        self._id, function_name, len(data), self._call_locked,
                        function_name, data, host_context)
                else:
                    output = self._call_locked(function_name, data, host_context)
            finally:
                self._owner = None
                self._cancelled = None
                if self.plugin == CLOSING:
                    self._free()  # close() gave up waiting for this call, or ran inside it
        if parse is _to_bytes or parse is None:  # the output is bytes already (kernel.read)
            return output  # type: ignore[return-value]
        return parse(output)

    def _call_locked(self, name: str, data: bytes, host_context: Any) -> bytes:
        invoke = self._prepare(name, data)
        rc, failure, interrupted = self._run(invoke, host_context)
        return self._outcome(name, rc, failure, interrupted)

    def _prepare(self, name: str, data: bytes) -> _callpath.Invoker:
        """An instance ready to run export `name`, with `data` placed as its input."""
        if self.plugin != 1:
            raise Error("this plug-in has been freed; create a new Plugin")
        if self._needs_rebuild:
            self._build_store(keep_vars=self._keep_vars_on_rebuild)
            self._keep_vars_on_rebuild = False
        elif self._compiled.fresh_instance_per_call and self._instance is not None:
            self._build_store(keep_vars=True)
        if self._host.config.changed:  # the kernel's copy rewritten, before any guest code
            self._host.sync()
        if self.fuel_limit is not None:
            self._store.set_fuel(self.fuel_limit)  # start and init code burn fuel too
        if self._instance is None:
            try:
                self._instantiate(name)
            except CallError:
                fuel = self._fuel_error(name)
                if fuel is not None:
                    raise fuel from None
                raise
        invoke = self._invoker(name)
        try:
            placed = self._kernel.begin_call(data)
        except (wasmtime.Trap, wasmtime.WasmtimeError, KernelMemoryError) as exc:
            if self.plugin == CLOSING:  # close() interrupted the kernel (it stops all Wasm)
                raise CallTimeout("timeout: the plug-in was closed during the call",
                                  function=name, code=TRAP_CODE) from None
            # Only a plug-in that scribbled over its kernel's bookkeeping gets
            # here: give it a fresh kernel (and instance) next call, vars kept.
            self._needs_rebuild = self._keep_vars_on_rebuild = True
            raise CallError(f"the plug-in corrupted its kernel memory ({_describe(exc)}); it "
                            "has been reset and will start from a fresh instance", function=name,
                            code=TRAP_CODE) from None
        if not placed:
            detail = (f"failed to allocate extism memory: the input ({len(data)} bytes) does not "
                      "fit in the plug-in's memory limit (memory.max_pages)")
            if self._kernel.budgeted:
                raise self._oom(name, detail)
            raise CallError(detail, function=name)
        return invoke

    def _run(self, invoke: _callpath.Invoker, host_context: Any
             ) -> tuple[int, BaseException | None, bool]:
        """Run the guest: its return code, what it raised, and whether it was interrupted."""
        timeout = self._compiled.manifest.timeout_ms
        host = self._host
        # The deadline, the call number and "running" change together under the timer's
        # lock, which `_timer_fired` holds while it reads them: it sees one call or none.
        with self._timer_lock:
            if timeout is not None:
                deadline = host.deadline = time.monotonic() + timeout / 1000
            self._call_seq += 1
            # Running before the timer is armed: a timer that fires before the Wasm
            # starts (a short timeout, a descheduled thread) must still stop it.
            self._running = True
            if timeout is not None and (self._timer_at is None or self._timer_at > deadline):
                self._arm_timer(deadline)  # else the armed entry comes first and re-arms
        host.host_context = host_context
        previous = _host_env.enter(host)
        failure: BaseException | None = None
        rc = 0
        try:
            rc = invoke() or 0
        except BaseException as exc:
            failure = exc
        finally:
            self._running = False
            _host_env.leave(previous)
            host.host_context = None
            interrupted = self._interrupting == self._call_seq
            self._interrupting = 0
            if host.timed_out:  # a host function (HTTP) ran out of the call's time
                host.timed_out = False
                interrupted, self._interrupt_reason = True, "timeout_ms"
            if self._cancelled is not None and self._cancelled.is_set():
                interrupted, self._interrupt_reason = True, "cancel"
            if self.plugin == CLOSING:
                interrupted, self._interrupt_reason = True, "close"
        return rc, failure, interrupted

    def _outcome(self, name: str, rc: int, failure: BaseException | None, interrupted: bool
                 ) -> bytes:
        """The call's output, or the error that says why there is none (ABI.md 5)."""
        if interrupted and self._interrupt_reason == "sigint":
            _sigint.deliver()  # Ctrl-C: the SIGINT handler (KeyboardInterrupt) runs now
        oom = failure is not None and self._kernel.over_budget()
        if name == "_start":
            self._needs_rebuild = True
        elif (failure is not None and not oom and not self.keep_instance_after_trap
              and not self._needs_rebuild):  # the guest was cut short: renew, vars kept
            self._needs_rebuild = self._keep_vars_on_rebuild = True
        if self.fuel_limit is not None:
            fuel = self._fuel_error(name)
            if fuel is not None and failure is not None:
                raise fuel from None
        kernel = self._kernel
        error, _, _, out_offset, out_length = kernel.registers()
        if error:
            n = kernel.length(error)
            if n:
                raw = kernel.read(error, n)
                try:
                    message = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    message = f"unable to load error message from memory: {exc}"
                raise CallError(message, function=name,
                                code=TRAP_CODE if failure else (rc or -1)) from None
        if failure is not None:
            reason = self._classify(failure, name, interrupted, oom)
            if isinstance(failure, wasmtime.WasmtimeError):
                raise reason from None
            raise reason from failure  # a host function's exception: keep it as the cause
        if rc:
            raise CallError(f"Error code: {rc}", function=name, code=rc)
        max_output = self._compiled.manifest.memory.max_output_bytes
        if max_output is not None and out_length > max_output:
            raise CallError(f"the output ({out_length} bytes) exceeds memory.max_output_bytes "
                            f"({max_output} bytes)", function=name,
                            limit="memory.max_output_bytes", limit_value=max_output)
        try:
            return kernel.read(out_offset, out_length)
        except KernelMemoryError as exc:
            raise CallError(f"the plug-in's output is out of bounds: {exc}",
                            function=name) from None

    def _classify(self, failure: BaseException, name: str, interrupted: bool,
                  oom: bool) -> CallError:
        manifest = self._compiled.manifest
        if interrupted:
            if self._interrupt_reason == "sigint":
                return CallTimeout("interrupted: SIGINT (Ctrl-C) stopped the call",
                                   function=name, code=TRAP_CODE)
            if self._interrupt_reason == "timeout_ms":
                return CallTimeout(f"timeout: the call ran longer than timeout_ms "
                                   f"({manifest.timeout_ms} ms)", function=name, code=TRAP_CODE,
                                   limit="timeout_ms", limit_value=manifest.timeout_ms)
            if self._interrupt_reason == "close":
                return CallTimeout("timeout: the plug-in was closed during the call",
                                   function=name, code=TRAP_CODE)
            return CallTimeout("timeout: the call was cancelled through its cancel handle",
                               function=name, code=TRAP_CODE)
        if oom:
            return self._oom(name, f"the plug-in needed more memory than memory.max_pages "
                             f"({self._kernel.max_pages} pages) allows")
        if isinstance(failure, _host_env.LimitError):
            return CallError(str(failure), function=name, limit=failure.limit,
                             limit_value=failure.value)
        if isinstance(failure, wasmtime.Trap):
            return CallError(_describe(failure), function=name, code=TRAP_CODE)
        if isinstance(failure, wasmtime.WasmtimeError):
            return CallError(_describe(failure), function=name)
        if isinstance(failure, Exception):
            return CallError(str(failure) or type(failure).__name__, function=name)
        raise failure  # KeyboardInterrupt, SystemExit: not ours to swallow

    def _fuel_error(self, name: str) -> CallError | None:
        """Record the fuel used; the error to raise if the tank is empty."""
        if self.fuel_limit is None:
            return None
        remaining = self._store.get_fuel()
        self.fuel_consumed = self.fuel_limit - remaining
        if remaining:
            return None
        return CallError(f"plugin ran out of fuel (fuel_limit = {self.fuel_limit} instructions "
                         "per call)", function=name, code=TRAP_CODE, limit="fuel_limit",
                         limit_value=self.fuel_limit)

    def _should_interrupt(self) -> bool:
        if self.plugin == CLOSING:
            return True
        if not self._running:
            return False
        cancelled = self._cancelled
        return self._interrupting == self._call_seq or (cancelled is not None and cancelled.is_set())

    def _interrupt_if_running_on(self, thread: int) -> bool:
        """Ctrl-C (_sigint.py): stop the call `thread` is making on this plug-in, if any."""
        return self._owner == thread and self._interrupt(self._call_seq, "sigint")

    def _arm_timer(self, deadline: float) -> None:
        """Make the ticker wake this plug-in at `deadline` (time.monotonic()); the caller
        holds `_timer_lock`.

        No call cancels its entry: when it fires, `_timer_fired` stops the running
        call if that call's deadline has come, or re-arms for it. So a plug-in
        called again and again costs the ticker one entry and one wake-up per
        timeout period, not a schedule and a cancel (two lock round trips) per call.
        """
        self._timer_at = deadline  # before scheduling: the entry may fire at once
        me = self._weak
        self._compiled.runtime.ticker.schedule(max(0.0, deadline - time.monotonic()),
                                               lambda: _timer_fired(me, deadline))

    def _interrupt(self, seq: int, reason: str = "cancel") -> bool:
        """Interrupt call number `seq` if it is still running; True if it was."""
        if not self._running or seq != self._call_seq:
            return False
        self._interrupt_reason = reason
        self._interrupting = seq
        self._compiled.runtime.engine.increment_epoch()
        return True

    # -- the rest of the SDK surface --------------------------------------
    @property
    def config(self) -> dict[str, str]:
        """The plug-in's config (the manifest's, merged with `config=`; see `update_config`)."""
        return self._host.config

    @config.setter
    def config(self, value: dict[str, str]) -> None:
        self._host.config = value

    @property
    def vars(self) -> _host_env.Vars:
        """The plug-in's persistent variables (`var_get` / `var_set`), kept between calls:
        a mutable mapping of str to bytes (the vars live in the kernel; see `Vars`)."""
        return _host_env.Vars(self._host)

    @property
    def http_status(self) -> int:
        """The status of the plug-in's last HTTP response (0 if none)."""
        return self._host.http_status

    @property
    def http_headers(self) -> dict[str, str] | None:
        """The headers of the plug-in's last HTTP response (None if none)."""
        return self._host.http_headers

    @property
    def id(self) -> uuid.UUID:
        return self._id.uuid()

    @property
    def memory_bytes(self) -> int:
        """Bytes of linear memory the plug-in holds now: the kernel's and the memories its main
        instance exports (before the first call instantiates it, the kernel's alone)."""
        if self.plugin != 1:
            raise Error("the plug-in is closed")
        store = self._store
        total = self._kernel.memory.data_len(store)
        if self._instance is not None:
            total += sum(item.data_len(store) for item in self._instance.exports(store).values()
                         if isinstance(item, wasmtime.Memory))
        return total

    def memory_region(self, name: str = "memory") -> tuple[int, int] | None:
        """Where the main instance's exported memory `name` lies in this process now:
        (address, bytes). None if there is no live instance (before the first call,
        after close or a failed call, or once `renew` was asked for) or no such memory.

        For hosts that manage the memory's pages themselves (wasmplug.js restores a
        Sandbox's fresh state this way). Memories never move (the engine is set up
        so), but the region is valid only until the instance is replaced: ask again
        before each use.
        """
        if self.plugin != 1 or self._instance is None or self._needs_rebuild:
            return None
        memory = self._instance.exports(self._store).get(name)
        if not isinstance(memory, wasmtime.Memory):
            return None
        return memory.data_ptr(self._store), memory.data_len(self._store)

    def function_exists(self, name: str) -> bool:
        """True if the main module exports `name` as a callable Extism function."""
        return self._compiled.function_exists(name)

    def cancel_handle(self) -> CancelHandle:
        return CancelHandle(self)

    def renew(self, keep_vars: bool = True) -> None:
        """Run the next call on a fresh instance of the same compiled code.

        Its memory and globals start as when the plug-in was created; vars are
        kept unless `keep_vars` is False. Cheaper than a new `Plugin` (no
        compilation, linking or registration), and nothing the guest left in
        its memory survives.
        """
        if self._owner == threading.get_ident():  # from a host function, inside a call
            self._renew_flags(keep_vars)
            return
        with self._lock:
            self._renew_flags(keep_vars)

    def _renew_flags(self, keep_vars: bool) -> None:
        if self.plugin != 1:
            raise Error("this plug-in has been freed; create a new Plugin")
        self._needs_rebuild = True
        self._keep_vars_on_rebuild = keep_vars

    def reset(self) -> bool:
        """Forget every kernel allocation (including the last output)."""
        with self._lock:
            try:
                self._kernel.reset()
            except (wasmtime.Trap, wasmtime.WasmtimeError):
                return False
            return True

    def update_config(self, config: Any) -> None:
        """Merge `{key: str | None}` into the config (None removes the key)."""
        if isinstance(config, str | bytes):
            try:
                import json  # (lazily: import wasmplug does not need it)

                config = json.loads(config)
            except ValueError as exc:
                raise ManifestError(f"config update is not valid JSON: {exc}") from None
        if not isinstance(config, Mapping) or not all(
                isinstance(k, str) and (v is None or isinstance(v, str))
                for k, v in config.items()):
            raise ManifestError(
                "config must be an object of string keys to string (or null) values, "
                f"got {config!r:.80}")
        for key, value in config.items():
            if value is None:
                self.config.pop(key, None)
            else:
                self.config[key] = value

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Free the plug-in now (it is also freed when garbage-collected).

        A call running in another thread is cancelled (it fails with
        `CallTimeout`) and waited for, at most `timeout` seconds: Wasm stops
        at once, a host function only when it returns. If it is still running
        then, the plug-in is freed as soon as that call returns. Calls after
        close fail with `Error`.
        """
        if self.plugin != 1:
            return
        self.plugin = CLOSING  # every Wasm entry of this plug-in is now interrupted
        engine = self._compiled.runtime.engine
        if self._owner == threading.get_ident():  # from a host function, inside a call
            engine.increment_epoch()  # the call fails back in Wasm, and frees the plug-in
            return
        deadline = time.monotonic() + timeout
        while True:
            engine.increment_epoch()  # the running Wasm consults _should_interrupt
            if self._lock.acquire(timeout=max(0.0, min(0.05, deadline - time.monotonic()))):
                try:
                    self._free()
                finally:
                    self._lock.release()
                return
            if time.monotonic() >= deadline:
                log.warning("closing a plug-in: its running call did not stop within %g s "
                            "(a host function that does not return?); it is freed when that "
                            "call returns", timeout)
                return

    def _free(self) -> None:
        """Drop the store and everything in it (under the call lock)."""
        self.plugin = -1
        if self._store is None:
            return
        _runtime_events.plugin_freed(self._id)
        self._invokers = {}
        self._instance = None
        self._host.detach()
        self._kernel = None  # type: ignore[assignment]
        self._linker = None  # type: ignore[assignment]
        self._store = None  # type: ignore[assignment]
        if self._owns_compiled_plugin and self.compiled_plugin is not None:
            self.compiled_plugin.__del__()
            self.compiled_plugin = None

    def _close_at_exit(self) -> wasmtime.Store | None:
        """Free a WASI store before Python finalises (wasi.close_at_exit); not mid-call.

        Returns the store a running call is using (left alone), else None.
        """
        if self._lock.locked():
            return self._store
        self.close()
        return None

    def __enter__(self) -> Plugin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "plugin", -1) != -1:
            self.plugin = -1
            try:  # noqa: SIM105 - at exit, modules (contextlib too) may be torn down
                _runtime_events.plugin_freed(self._id)
            except Exception:
                pass
            if getattr(self, "_owns_compiled_plugin", False):
                self.compiled_plugin = None


def _input_bytes(data: object) -> bytes:
    """A call's input other than str / bytes, accepted and refused as the extism SDK does.

    bytearray and memoryview are accepted too (a wasmplug extension); a list
    or tuple of integers is taken as the bytes it lists.
    """
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    if isinstance(data, list | tuple):
        try:
            return bytes(data)
        except ValueError:
            raise OverflowError("the input list holds an integer outside 0..255") from None
        except TypeError:
            raise TypeError("the input list must hold integers from 0 to 255") from None
    raise TypeError(f"a plug-in call's input must be str or bytes, not {type(data).__name__}")


def _timer_fired(me: weakref.ref[Plugin], at: float) -> None:
    """The ticker reached `at`, a deadline a plug-in armed (Plugin._arm_timer)."""
    plugin = me()
    if plugin is None:
        return
    with plugin._timer_lock:
        if plugin._timer_at != at:
            return  # a stale entry: another one is armed, and in charge
        plugin._timer_at = None
        deadline = plugin._host.deadline
        if not plugin._running or deadline is None:
            return  # no call runs: the next one arms again
        if deadline <= at:  # the running call's own deadline has come
            plugin._interrupt(plugin._call_seq, "timeout_ms")
        else:  # armed for an earlier call: wait for this one's
            plugin._arm_timer(deadline)


def _describe(exc: BaseException) -> str:
    return str(exc).strip() or type(exc).__name__

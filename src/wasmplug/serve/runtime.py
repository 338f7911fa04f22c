"""Running functions: one pool per active version, a bounded queue in front of it, version swaps.

Each `FunctionRuntime` is one version of one function: its compiled plug-in
(limits compiled in), its instances (`LoopInstances`: at most `max_instances`,
created lazily, reused; replaced after every call with `fresh_instance`) and a
bound on the requests it admits: `max_instances` running plus
`queue_per_instance` waiting per instance. A request past that bound is turned
away at once (503 with Retry-After), and a queued one gives up after the
queue timeout (503), so a flooded function holds at most its own cap of worker
threads and never the ones the other functions need.

A call runs inline, on the event loop, when the function may (no HTTP, no fresh
instance, not on Ray) and a warm instance is idle, under the watchdog's budget
(`inline.py`); otherwise, or once the function has run past that budget, on a
worker thread.

`Runtimes` maps names (and routes) to the active `FunctionRuntime`. A deploy
builds and tries the new version first; the swap is one assignment, so a request
that already holds the old runtime finishes on it, and the old pool is closed
once its last request is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import sys
import threading
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

from wasmplug import CallError, CallTimeout, CompiledPlugin, Error, Plugin

from .database import FunctionStore, Version
from .errors import DeployRejected, ServeError
from .functions import manifest, uses_wasi
from .inline import InlineWatchdog
from .instances import LoopInstances
from .settings import ServerSettings

log = logging.getLogger("wasmplug.serve")

# How long a function whose inline call was cut for holding the loop too long (wall-clock time,
# not CPU) runs on worker threads before it may run inline again.
INLINE_COOL_DOWN_S = 30

LIMIT_KINDS = {"fuel_limit": "fuel_exhausted", "timeout_ms": "timeout", "memory.max_pages": "out_of_memory",
               "memory.max_output_bytes": "output_too_large", "memory.max_var_bytes": "vars_too_large",
               "memory.max_http_response_bytes": "http_response_too_large"}


class RayInstances:
    """A function's instances as Ray actors (`wasmplug.distributed.RayPluginPool`): the same
    `call`, `count` and `close` as a `PluginPool`. Actors reserve no CPU, so a server with many
    functions does not run out of the cluster's CPUs; their limits travel with the manifest."""

    def __init__(self, version: Version, actors: int, allowed_networks: tuple[str, ...]) -> None:
        from wasmplug.distributed import RayPluginPool

        settings = version.settings
        kwargs: dict[str, Any] = {"wasi": uses_wasi(version.module, settings), "functions": []}
        if settings.fuel is not None:
            kwargs["fuel_limit"] = settings.fuel
        self._pool = RayPluginPool(manifest(version.module, settings, allowed_networks), num_actors=actors,
                                   num_cpus_per_actor=0, fresh_instance=settings.fresh_instance, **kwargs)

    def call(self, export: str, data: bytes) -> bytes:
        try:
            output: bytes = self._pool.call(export, data)
            return output
        except Error as exc:  # Ray's wrapper of the plug-in's error: the error itself (its message)
            original = getattr(exc, "cause", None)
            if isinstance(original, Error):
                raise original from None
            raise

    def count(self) -> int:
        return len(self._pool.actors)

    def close(self) -> None:
        self._pool.shutdown()


# How much nicer than the event loop the worker threads of demoted functions run (Linux, where a
# thread has a priority of its own): they carry the calls that ran too long inline, so a CPU-bound
# function kept at its cap cannot take the core the loop's short calls need.
WORKER_NICE = 10


def lower_priority() -> None:
    """Run the calling (worker) thread `WORKER_NICE` nicer (Linux only; elsewhere the whole
    process would be)."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(),
                           min(19, os.getpriority(os.PRIO_PROCESS, 0) + WORKER_NICE))


def failure(exc: Error) -> ServeError:
    """A call's error as the answer to its request: whose fault, and what happened."""
    if isinstance(exc, CallTimeout):
        return ServeError(str(exc), status=504, kind="timeout")
    if isinstance(exc, CallError):
        return ServeError(str(exc), status=502, kind=LIMIT_KINDS.get(exc.limit or "", "plugin_error"))
    return ServeError(str(exc), status=502, kind="plugin_error")


class FunctionRuntime:
    """One version of one function, ready to take calls (see the module's docstring)."""

    def __init__(self, version: Version, server: ServerSettings, watchdog: InlineWatchdog,
                 workers: Executor, demoted_workers: Executor) -> None:
        self.version = version
        self.name = version.name
        settings = version.settings
        self.compiled = CompiledPlugin(manifest(version.module, settings, server.http_allowed_networks()),
                                       wasi=uses_wasi(version.module, settings), functions=[],
                                       fuel_limit=settings.fuel)
        self.exports = frozenset(version.module.exports)
        # The slots are taken in the event loop, so a call reaches a worker thread only with an
        # instance free for it: waiting never holds a thread (and costs no task, unlike a timed wait
        # in AsyncPluginPool).
        self.pool: LoopInstances | RayInstances
        self.ray = server.ray_address is not None
        if self.ray:
            self.pool = RayInstances(version, settings.max_instances, server.http_allowed_networks())
        else:
            self.pool = LoopInstances(self.compiled, settings.max_instances, settings.fresh_instance)
        # Inline calls (on the event loop, under the watchdog's budget): only for a function whose
        # call can be cut and run again without a trace outside its instance (docs/serve.md).
        self.inline = (not self.ray and server.inline_budget_ms > 0 and not settings.allowed_hosts
                       and not settings.fresh_instance)
        self.watchdog = watchdog
        # The worker threads of calls that do not run inline, and those of a demoted function's.
        self.workers = workers
        self.demoted_workers = demoted_workers
        self.demoted_until = 0.0  # no inline call before this time.monotonic() (inf: never again)
        self._slots = asyncio.Semaphore(settings.max_instances)
        self.capacity = settings.max_instances * (1 + server.queue_per_instance)
        self.queue_timeout = server.queue_timeout
        self.admitted = 0  # running or waiting for an instance
        self.running = 0
        self._retired = False
        self._closing: asyncio.Task[None] | None = None

    @property
    def retired(self) -> bool:
        return self._retired

    @property
    def queued(self) -> int:
        return self.admitted - self.running

    def instances(self) -> int:
        return self.pool.count()

    def check_export(self, export: str) -> None:
        if export not in self.exports:
            raise ServeError(f"the function {self.name!r} has no export {export[:64]!r}; it exports: "
                             + (", ".join(sorted(self.exports)[:20]) or "nothing callable"),
                             status=404, kind="no_such_export")

    def admit(self) -> None:
        """Count a request in (503 if the queue is full). From here until `release`, this version stays
        open for it: call it with no `await` since the runtime was looked up, so a swap cannot slip in."""
        if self.admitted >= self.capacity:
            raise ServeError(f"the function {self.name!r} is saturated: {self.running} calls running and "
                             f"{self.queued} waiting; retry later", status=503, kind="saturated",
                             retry_after=1)
        self.admitted += 1

    def release(self) -> None:
        self.admitted -= 1
        if self._retired and self.admitted == 0:
            self._close_soon()

    async def call(self, export: str, data: bytes) -> bytes:
        """`admit`, `run`, `release`."""
        self.admit()
        try:
            return await self.run(export, data)
        finally:
            self.release()

    async def run(self, export: str, data: bytes) -> bytes:
        """Run `export` on `data` for an admitted request: the output, or a `ServeError` saying what
        went wrong and whose fault. Inline when the function may and a warm instance is idle."""
        self.check_export(export)
        await self._take_slot()
        self.running += 1
        if self.inline and isinstance(self.pool, LoopInstances) and (
                not self.demoted_until or time.monotonic() >= self.demoted_until):
            plugin = self.pool.take_warm()
            if plugin is not None:
                try:
                    output = self._run_inline(self.pool, plugin, export, data)
                except BaseException:
                    self._done()
                    raise
                if output is not None:
                    self._done()
                    return output
        return await self._run_in_thread(export, data)

    def _done(self) -> None:
        self.running -= 1
        self._slots.release()

    def _run_inline(self, pool: LoopInstances, plugin: Plugin, export: str, data: bytes) -> bytes | None:
        """The call on the event loop, under the watchdog: its output, or None if the watchdog cut it
        (the instance is discarded and the function demoted: the caller runs it on a thread)."""
        token = self.watchdog.begin(plugin)
        try:
            output = pool.prepared(plugin, export)(data)
        except CallTimeout as exc:
            self.watchdog.end()
            if exc.limit == "timeout_ms":  # its own timeout (shorter than the budget): its answer
                pool.give_back(plugin, clean=False)
                raise failure(exc) from None
            pool.discard(plugin)
            if not self.watchdog.was_cut(token):  # a late cancel meant for the call before: no demotion
                return None
            if self.watchdog.last_cut == "wall":  # it waited (or the machine is loaded): for a while
                self.demoted_until = time.monotonic() + INLINE_COOL_DOWN_S
                log.info("an inline call of the function %r (version %d) held the event loop over %g ms: "
                         "its calls run on worker threads for %d s", self.name, self.version.number,
                         self.watchdog.wall_s * 1000, INLINE_COOL_DOWN_S)
            else:
                self.demoted_until = math.inf
                log.info("the function %r (version %d) ran past the inline budget (%g ms of CPU): its "
                         "calls run on worker threads from now on", self.name, self.version.number,
                         self.watchdog.budget_s * 1000)
            return None
        except Error as exc:
            self.watchdog.end()
            pool.give_back(plugin, clean=False)
            raise failure(exc) from None
        except BaseException:
            self.watchdog.end()
            pool.discard(plugin)
            raise
        self.watchdog.end()
        pool.give_back(plugin, clean=True)
        return output

    async def _run_in_thread(self, export: str, data: bytes) -> bytes:
        """The call on a worker thread (the slot taken is released when the thread is done with it,
        even if the request is cancelled first)."""
        loop = asyncio.get_running_loop()
        pool = self.pool
        workers = self.demoted_workers if self.demoted_until else self.workers
        future: asyncio.Future[Any]
        try:
            if isinstance(pool, RayInstances):
                future = loop.run_in_executor(workers, pool.call, export, data)
            else:
                future = loop.run_in_executor(workers, pool.run, pool.take(), export, data)
        except BaseException:
            self._done()
            raise
        future.add_done_callback(self._thread_done)
        try:
            result = await asyncio.shield(future)
        except Error as exc:  # an instance could not be made, or Ray's call failed
            raise failure(exc) from None
        output: bytes | Error = result if isinstance(pool, RayInstances) else result[1]
        if isinstance(output, Error):
            raise failure(output) from None
        return output

    def _thread_done(self, future: asyncio.Future[Any]) -> None:
        self._done()
        if future.cancelled() or future.exception() is not None:
            return
        result = future.result()
        if isinstance(result, tuple) and isinstance(self.pool, LoopInstances):
            plugin, outcome = result
            self.pool.give_back(plugin, clean=isinstance(outcome, bytes))

    async def _take_slot(self) -> None:
        if not self._slots.locked():
            await self._slots.acquire()
            return
        try:
            async with asyncio.timeout(self.queue_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise ServeError(f"the function {self.name!r} is saturated: no instance became free within "
                             f"{self.queue_timeout} s; retry later", status=503, kind="saturated",
                             retry_after=1) from None

    def retire(self) -> None:
        """No new requests come here: close the pool once the ones in flight are done."""
        self._retired = True
        if self.admitted == 0:
            self._close_soon()

    def _close_soon(self) -> None:
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(asyncio.to_thread(self.pool.close))


def _open(version: Version, server: ServerSettings, watchdog: InlineWatchdog,
          workers: Executor, demoted_workers: Executor) -> FunctionRuntime:
    try:
        return FunctionRuntime(version, server, watchdog, workers, demoted_workers)
    except Error as exc:
        raise DeployRejected(f"the module does not load: {exc}", kind="invalid_module") from None


class Runtimes:
    """The active version of every function, by name and by route."""

    def __init__(self, store: FunctionStore, server: ServerSettings) -> None:
        self.store = store
        self.server = server
        self.active: dict[str, FunctionRuntime] = {}
        self.routes: dict[str, str] = {}  # route -> function name
        self.ready = False
        self._loading: dict[str, asyncio.Lock] = {}
        # The worker threads of Wasm calls (not inline); a demoted function's, a priority below the loop's.
        self.workers = ThreadPoolExecutor(server.worker_threads, thread_name_prefix="wasmplug-serve-call")
        self.demoted_workers = ThreadPoolExecutor(server.worker_threads, initializer=lower_priority,
                                                  thread_name_prefix="wasmplug-serve-demoted")
        self.watchdog = InlineWatchdog(server.inline_budget_ms / 1000, server.inline_wall_ms / 1000)

    def _open(self, version: Version) -> FunctionRuntime:
        return _open(version, self.server, self.watchdog, self.workers, self.demoted_workers)

    async def load_all(self) -> None:
        """Bring every stored function's active version up (a broken one is logged and skipped)."""
        for name in await asyncio.to_thread(self.store.names):
            try:
                await self.get(name)
            except Error as exc:
                log.warning("the function %r could not be loaded: %s", name, exc)
        self.ready = True

    async def sync(self) -> None:
        """Catch up with the database: versions another server activated, functions it deleted or
        deployed (several `serve` front ends can share one database)."""
        wanted = await asyncio.to_thread(self.store.active_versions)
        for name in [n for n in self.active if n not in wanted]:
            self.remove(name)
        for name, number in wanted.items():
            runtime = self.active.get(name)
            if runtime is not None and runtime.version.number == number:
                continue
            try:
                version = await asyncio.to_thread(self.store.active, name)
                if version.number == number and (runtime is None or self.active.get(name) is runtime):
                    self._install(await asyncio.to_thread(self._open, version))
            except Error as exc:
                log.warning("the function %r could not be brought up to date: %s", name, exc)

    async def get(self, name: str) -> FunctionRuntime:
        """The runtime of `name`'s active version (loaded from the database on first use)."""
        runtime = self.active.get(name)
        if runtime is not None:
            return runtime
        lock = self._loading.setdefault(name, asyncio.Lock())
        try:
            async with lock:
                runtime = self.active.get(name)
                if runtime is None:
                    version = await asyncio.to_thread(self.store.active, name)
                    runtime = await asyncio.to_thread(self._open, version)
                    self._install(runtime)
                return runtime
        finally:
            if not lock.locked():
                self._loading.pop(name, None)

    async def prepare(self, version: Version) -> FunctionRuntime:
        """A runtime for `version`, validated: it loads, exports what its route needs, passes its trial."""
        settings = version.settings
        exports = version.module.exports
        if settings.route is not None:
            owner = self.routes.get(settings.route)
            if owner is not None and owner != version.name:
                raise ServeError(f"the route {settings.route} is taken by the function {owner!r}",
                                 status=409, kind="route_taken")
            if settings.route_export not in exports:
                raise DeployRejected(f"the route needs the export {settings.route_export!r}, which the "
                                     f"module does not export (it exports: {', '.join(exports[:20])})",
                                     kind="no_such_export")
        runtime = await asyncio.to_thread(self._open, version)
        try:
            if not exports:
                raise DeployRejected("the module exports no callable function (an export taking and "
                                     "returning nothing, or returning an i32)", kind="no_exports")
            if settings.sample_input is not None:
                export = settings.sample_export or (settings.route_export if settings.route else exports[0])
                try:
                    await runtime.call(export, settings.sample_input.encode())
                except ServeError as exc:
                    raise DeployRejected(f"the trial call of {export!r} with the sample input failed "
                                         f"({exc.kind}): {exc}", kind="trial_failed") from None
        except BaseException:
            runtime.retire()
            raise
        return runtime

    def install(self, runtime: FunctionRuntime) -> None:
        """Make `runtime` take `name`'s new requests; the one it replaces finishes its own and closes."""
        self._install(runtime)

    def _install(self, runtime: FunctionRuntime) -> None:
        old = self.active.get(runtime.name)
        self.active[runtime.name] = runtime
        if old is not None and old.version.settings.route is not None:
            self.routes.pop(old.version.settings.route, None)
        route = runtime.version.settings.route
        if route is not None:
            self.routes[route] = runtime.name
        if old is not None and old is not runtime:
            old.retire()

    def remove(self, name: str) -> None:
        old = self.active.pop(name, None)
        if old is not None:
            if old.version.settings.route is not None:
                self.routes.pop(old.version.settings.route, None)
            old.retire()

    def match_route(self, path: str) -> tuple[str, str] | None:
        """(function name, route) for a request path under some function's route, longest route first."""
        parts = path.split("/")
        for end in range(min(len(parts), 5), 1, -1):
            route = "/".join(parts[:end])
            name = self.routes.get(route)
            if name is not None:
                return name, route
        return None

    async def close(self) -> None:
        for runtime in list(self.active.values()):
            with contextlib.suppress(Exception):
                await asyncio.to_thread(runtime.pool.close)
        self.active.clear()
        self.watchdog.stop()
        self.workers.shutdown(wait=False, cancel_futures=True)
        self.demoted_workers.shutdown(wait=False, cancel_futures=True)

"""Pools of plug-in instances for many calls at once (threads or asyncio).

A `Plugin` runs one call at a time. A pool compiles the plug-in once and
hands out up to `max_instances` instances, created lazily and reused::

    pool = wasmplug.PluginPool("count_vowels.wasm", max_instances=4)
    with pool.acquire(timeout=1.0) as plugin:
        plugin.call("count_vowels", "hello")
    pool.call("count_vowels", "hello")          # the same, in one step

With `reset=True` an instance never serves two users: it is replaced by a
fresh one (new memory, globals and vars) after each use. `setup` is called
with every new instance before its first use (e.g. to initialise it).
`AsyncPluginPool` is the asyncio version: `await pool.call(...)`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any, Final, TypeAlias, TypeVar

from ._errors import Error
from ._plugin import CLOSE_TIMEOUT_S, CompiledPlugin, Plugin, _to_bytes

T = TypeVar("T")
Setup = Callable[[Plugin], object]
log = logging.getLogger("wasmplug.pool")


class PoolTimeout(Error):
    """No instance became free within the acquire timeout."""


class _Closed:
    """What a waiter is handed when the pool closes while it waits."""


CLOSED: Final = _Closed()
Grant: TypeAlias = Plugin | bool | _Closed  # an idle instance, True: create one (slot reserved), or closed


class _Waiter:
    """A thread waiting in line for an instance (on a lock held until it is served:
    cheaper than an Event, which is a condition and a lock)."""

    __slots__ = ("grant", "served")

    def __init__(self) -> None:
        self.grant: Grant | None = None
        self.served = threading.Lock()
        self.served.acquire()

    def wait(self, timeout: float | None) -> bool:
        return self.served.acquire(timeout=-1 if timeout is None else max(0.0, timeout))

    def wake(self) -> None:
        self.served.release()


class _TaskWaiter:
    """An asyncio task waiting in line for an instance."""

    __slots__ = ("future", "grant", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.grant: Grant | None = None
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()

    def wake(self) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            _resolve(self.future)
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(_resolve, self.future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _Instances:
    """What both pools share: the compiled plug-in, the idle list, the count,
    and the line of waiters, served first come first served (`grant_locked`)."""

    def __init__(self, source: Any, max_instances: int | None, reset: bool,
                 config: Any, setup: Setup | None, plugin_kwargs: dict[str, Any]) -> None:
        self.compiled = source if isinstance(source, CompiledPlugin) else CompiledPlugin(
            source, **{k: v for k, v in plugin_kwargs.items() if k in ("wasi", "functions",
                                                                         "fuel_limit")})
        self.max_instances = max_instances or os.cpu_count() or 1
        if self.max_instances < 1:
            raise Error(f"max_instances must be at least 1, got {max_instances}")
        self.reset = reset
        self.config = config
        self.setup = setup
        self.lock = threading.Lock()  # guards created, the waiters' line and hand-overs
        self.idle: list[Plugin] = []
        self.busy: set[Plugin] = set()  # taken instances, cancelled by close()
        self.waiters: collections.deque[_Waiter | _TaskWaiter] = collections.deque()
        self.created = 0
        self.closed = False

    def new(self) -> Plugin:
        plugin = Plugin(self.compiled, config=self.config)
        if self.setup is not None:
            try:
                self.setup(plugin)
            except BaseException:
                plugin.close()  # never handed out: the error goes to the caller that wanted it
                raise
        self.busy.add(plugin)
        if self.closed:  # closed while it was being created
            plugin.close()
        return plugin

    def enqueue_locked(self, waiter: _Waiter | _TaskWaiter) -> None:
        """Join the line, then serve it: a waiter first joins and then looks
        at the idle list, a lock-free return first appends and then looks at
        the line, so one of the two always sees the other."""
        if self.closed:
            raise Error("this pool is closed")
        self.waiters.append(waiter)
        self.grant_locked()

    def grant_locked(self) -> None:
        """Hand idle instances (or free slots) to the longest waiters. Under the lock."""
        waiters = self.waiters
        while waiters:
            grant: Grant
            if self.closed:
                grant = CLOSED
            elif self.idle:
                grant = self.idle.pop()
                self.busy.add(grant)
            elif self.created < self.max_instances:
                self.created += 1
                grant = True
            else:
                return
            waiter = waiters.popleft()
            waiter.grant = grant
            waiter.wake()

    def leave_line(self, waiter: _Waiter | _TaskWaiter) -> Grant | None:
        """A waiter gives up (timeout, cancellation): what it was granted
        meanwhile, if anything (the caller uses it or passes it on)."""
        with self.lock:
            if waiter.grant is None:
                self.waiters.remove(waiter)
            return waiter.grant

    def pass_on(self, grant: Grant) -> None:
        """Give a grant nobody will use back to the line."""
        if isinstance(grant, Plugin):
            self.put_back(grant)
        elif grant is True:
            self.put_back(None)

    def put_back(self, kept: Plugin | None) -> None:
        """An instance back in the pool (None: its slot is free), to the longest waiter."""
        with self.lock:
            if kept is not None:
                self.busy.discard(kept)
            if kept is None or self.closed:
                self.created -= 1
            else:
                self.idle.append(kept)
            self.grant_locked()
        if kept is not None and self.closed:
            kept.close()

    def take_idle(self) -> list[Plugin]:
        """Empty the idle list (each instance popped by exactly one caller)."""
        taken = []
        while True:
            try:
                plugin = self.idle.pop()
            except IndexError:
                break
            taken.append(plugin)
        if taken:
            with self.lock:
                self.created -= len(taken)
        return taken

    def close_line(self) -> None:
        """Mark the pool closed and turn every waiter away."""
        with self.lock:
            self.closed = True
            self.grant_locked()

    def give_back(self, plugin: Plugin) -> Plugin | None:
        """The instance to keep idle after a use (None: drop it)."""
        self.busy.discard(plugin)
        if self.closed:
            plugin.close()
            return None
        if self.reset:
            plugin.close()
            try:
                fresh = self.new()
            except Exception as exc:  # the call succeeded: the next take makes one (and says why)
                log.warning("a fresh plug-in instance could not be made: %s", exc)
                return None
            self.busy.discard(fresh)
            return fresh
        return plugin

    def close_busy(self, timeout: float) -> None:
        """Cancel the calls running on taken instances and free them (close() of each)."""
        for plugin in list(self.busy):
            plugin.close(timeout)

    def timeout_error(self, timeout: float | None) -> PoolTimeout:
        return PoolTimeout(
            f"no plug-in instance became free within {timeout} s: all {self.max_instances} "
            "are busy (raise max_instances, or the acquire timeout)")


class _Pool:
    """What both pools share: their instances, their cap and their count."""

    def __init__(self, source: Any, *, max_instances: int | None = None, reset: bool = False,
                 config: Any = None, setup: Setup | None = None, **plugin_kwargs: Any) -> None:
        self._pool = _Instances(source, max_instances, reset, config, setup, plugin_kwargs)

    @property
    def max_instances(self) -> int:
        return self._pool.max_instances

    def count(self) -> int:
        """How many instances exist (never more than `max_instances`)."""
        return self._pool.created


class PluginPool(_Pool):
    """A thread-safe pool of instances of one plug-in.

    `source` is anything `Plugin` accepts (or a `CompiledPlugin`);
    `plugin_kwargs` (`wasi`, `functions`, `fuel_limit`) are used to compile
    it, `config` for each instance. `max_instances` defaults to the number
    of CPUs. `setup(plugin)` runs once for each new instance, before its first
    use; if it raises, the instance is closed and the caller that was to get
    it gets the error instead.

    Fair: threads that have to wait are served first come, first served; an
    instance given back goes straight to the longest waiter, so a wait lasts
    about (waiters ahead / max_instances) uses. While nobody waits, taking an
    idle instance and giving it back take no lock (a list's `pop` and
    `append` are atomic), so threads calling at once do not queue behind
    each other.
    """

    def acquire(self, timeout: float | None = None) -> _Lease:
        """An instance for the `with` block; PoolTimeout if none frees up in time."""
        return _Lease(self, timeout)

    def call(self, function_name: str, data: str | bytes, *, timeout: float | None = None,
             parse: Callable[[bytes], T] | None = _to_bytes,  # type: ignore[assignment]
             host_context: Any = None) -> T:
        """Call `function_name` on a free instance."""
        plugin = self._take(timeout)
        try:
            return plugin.call(function_name, data, parse, host_context)
        finally:
            self._return(plugin)

    def _take(self, timeout: float | None) -> Plugin:
        pool = self._pool
        if pool.waiters:  # others are in line: queue behind them
            return self._take_waiting(timeout)
        try:
            plugin = pool.idle.pop()
        except IndexError:
            return self._take_waiting(timeout)
        pool.busy.add(plugin)
        if pool.closed:  # closed meanwhile: close() may not have seen it in busy
            self._return(plugin)
            raise Error("this pool is closed")
        return plugin

    def _take_waiting(self, timeout: float | None) -> Plugin:
        """Join the line; create an instance when granted a free slot."""
        pool = self._pool
        waiter = _Waiter()
        with pool.lock:
            pool.enqueue_locked(waiter)
        if waiter.grant is None and not waiter.wait(timeout):
            grant = pool.leave_line(waiter)
            if grant is None:
                raise pool.timeout_error(timeout)
        grant = waiter.grant
        if isinstance(grant, Plugin):
            return grant
        if grant is not True:
            raise Error("this pool is closed")
        try:
            return pool.new()  # outside the lock: creating an instance takes a while
        except BaseException:
            pool.put_back(None)
            raise

    def _return(self, plugin: Plugin) -> None:
        pool = self._pool
        kept = pool.give_back(plugin)
        if kept is None or pool.waiters:
            pool.put_back(kept)
            return
        pool.idle.append(kept)
        # Append, then look at the line (a waiter joins, then looks at the
        # idle list): either it sees this instance, or this sees it waiting.
        if pool.waiters:
            with pool.lock:
                pool.grant_locked()
        if pool.closed:
            for plugin in pool.take_idle():
                plugin.close()

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Free every instance: idle ones at once; on busy ones the running call
        is cancelled (it fails with `CallTimeout`), waiting up to `timeout` s each.
        Threads waiting for an instance get `Error`."""
        pool = self._pool
        pool.close_line()
        for plugin in pool.take_idle():
            plugin.close()
        pool.close_busy(timeout)

    def __enter__(self) -> PluginPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Lease:
    """`with pool.acquire() as plugin:` takes an instance on entry, gives it back on exit."""

    __slots__ = ("_plugin", "_pool", "_timeout")

    def __init__(self, pool: PluginPool, timeout: float | None) -> None:
        self._pool = pool
        self._timeout = timeout

    def __enter__(self) -> Plugin:
        self._plugin = self._pool._take(self._timeout)
        return self._plugin

    def __exit__(self, *exc: object) -> None:
        self._pool._return(self._plugin)


class AsyncPluginPool(_Pool):
    """The asyncio version of `PluginPool`: acquiring never blocks the loop.

    Calls run in worker threads (`Plugin.call_async`); cancelling a task
    stops its Wasm call. Waiting tasks are served first come, first served.
    A task cancelled while it waits, or while its instance is being made or
    renewed in a worker thread, leaves the instance to the pool.
    """

    @contextlib.asynccontextmanager
    async def acquire(self, timeout: float | None = None) -> AsyncIterator[Plugin]:
        plugin = await self._take(timeout)
        try:
            yield plugin
        finally:
            await self._return(plugin)

    async def call(self, function_name: str, data: str | bytes, *, timeout: float | None = None,
                   parse: Callable[[bytes], T] | None = _to_bytes,  # type: ignore[assignment]
                   host_context: Any = None) -> T:
        async with self.acquire(timeout) as plugin:
            return await plugin.call_async(function_name, data, parse=parse,
                                           host_context=host_context)

    async def _take(self, timeout: float | None) -> Plugin:
        pool = self._pool
        loop = asyncio.get_running_loop()
        waiter = _TaskWaiter(loop)
        with pool.lock:
            pool.enqueue_locked(waiter)
        if waiter.grant is None:
            try:
                await asyncio.wait_for(waiter.future, timeout)
            except (TimeoutError, asyncio.CancelledError) as exc:
                grant = pool.leave_line(waiter)
                if grant is None:
                    if isinstance(exc, TimeoutError):
                        raise pool.timeout_error(timeout) from None
                    raise
                if not isinstance(exc, TimeoutError):  # cancelled just as it was served
                    pool.pass_on(grant)
                    raise
        grant = waiter.grant
        if isinstance(grant, Plugin):
            return grant
        if grant is not True:
            raise Error("this pool is closed")
        making = loop.run_in_executor(None, pool.new)
        try:
            return await asyncio.shield(making)
        except asyncio.CancelledError:
            making.add_done_callback(self._made_for_nobody)
            raise
        except BaseException:
            pool.put_back(None)
            raise

    def _made_for_nobody(self, making: asyncio.Future[Plugin]) -> None:
        """The task that wanted this instance was cancelled: the pool keeps it."""
        if making.cancelled() or making.exception() is not None:
            self._pool.put_back(None)
        else:
            self._pool.put_back(making.result())

    async def _return(self, plugin: Plugin) -> None:
        pool = self._pool
        if not pool.reset:
            pool.put_back(pool.give_back(plugin))
            return
        renewing = asyncio.get_running_loop().run_in_executor(None, pool.give_back, plugin)
        try:
            kept = await asyncio.shield(renewing)
        except asyncio.CancelledError:  # the fresh instance still goes back to the pool
            renewing.add_done_callback(lambda done: pool.put_back(
                None if done.cancelled() or done.exception() is not None else done.result()))
            raise
        except BaseException:
            pool.put_back(None)
            raise
        pool.put_back(kept)

    async def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """As `PluginPool.close`; the wait for busy instances runs in a thread."""
        pool = self._pool
        pool.close_line()
        for plugin in pool.take_idle():
            plugin.close()
        await asyncio.to_thread(pool.close_busy, timeout)

    async def __aenter__(self) -> AsyncPluginPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

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

import contextlib
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ._errors import Error
from ._plugin import CLOSE_TIMEOUT_S, CompiledPlugin, Plugin, _to_bytes

if TYPE_CHECKING:
    import asyncio

T = TypeVar("T")
Setup = Callable[[Plugin], object]
log = logging.getLogger("wasmplug.pool")


class PoolTimeout(Error):
    """No instance became free within the acquire timeout."""


class _Instances:
    """What both pools share: the compiled plug-in, the idle list, the count."""

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
        self.idle: list[Plugin] = []
        self.busy: set[Plugin] = set()  # taken instances, cancelled by close()
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

    def take_now(self) -> Plugin | bool:
        """An idle instance; True when a new one may be created (its slot is
        reserved); False when the caller must wait. Call under the pool's lock."""
        if self.closed:
            raise Error("this pool is closed")
        if self.idle:
            plugin = self.idle.pop()
            self.busy.add(plugin)
            return plugin
        if self.created < self.max_instances:
            self.created += 1
            return True
        return False

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


class PluginPool:
    """A thread-safe pool of instances of one plug-in.

    `source` is anything `Plugin` accepts (or a `CompiledPlugin`);
    `plugin_kwargs` (`wasi`, `functions`, `fuel_limit`) are used to compile
    it, `config` for each instance. `max_instances` defaults to the number
    of CPUs. `setup(plugin)` runs once for each new instance, before its first
    use; if it raises, the instance is closed and the caller that was to get
    it gets the error instead.

    Taking an idle instance and giving it back take no lock (a list's `pop`
    and `append` are atomic): the condition is only for waiting, creating and
    closing, so threads calling at once do not queue behind each other.
    """

    def __init__(self, source: Any, *, max_instances: int | None = None, reset: bool = False,
                 config: Any = None, setup: Setup | None = None, **plugin_kwargs: Any) -> None:
        self._pool = _Instances(source, max_instances, reset, config, setup, plugin_kwargs)
        self._cond = threading.Condition()
        self._waiting = 0  # threads waiting for an instance (under the condition)

    @property
    def max_instances(self) -> int:
        return self._pool.max_instances

    def count(self) -> int:
        """How many instances exist (never more than `max_instances`)."""
        return self._pool.created

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
        """No idle instance: create one if allowed, else wait for one."""
        pool = self._pool
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._waiting += 1
            try:
                while True:
                    taken = pool.take_now()
                    if isinstance(taken, Plugin):
                        return taken
                    if taken:
                        break
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise pool.timeout_error(timeout)
                    self._cond.wait(remaining)
            finally:
                self._waiting -= 1
        try:
            return pool.new()  # outside the lock: creating an instance takes a while
        except BaseException:
            with self._cond:
                pool.created -= 1
                self._cond.notify()
            raise

    def _return(self, plugin: Plugin) -> None:
        pool = self._pool
        kept = pool.give_back(plugin)
        if kept is None:
            with self._cond:
                pool.created -= 1
                self._cond.notify()
            return
        pool.idle.append(kept)
        # A waiter counts itself (under the condition) before it looks at the
        # idle list: either it sees this instance, or this sees it waiting.
        if pool.closed:
            self._close_idle()
        elif self._waiting:
            with self._cond:
                self._cond.notify()

    def _close_idle(self) -> None:
        """Close the idle instances (each popped by exactly one thread)."""
        pool = self._pool
        while True:
            try:
                plugin = pool.idle.pop()
            except IndexError:
                return
            with self._cond:
                pool.created -= 1
            plugin.close()

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Free every instance: idle ones at once; on busy ones the running call
        is cancelled (it fails with `CallTimeout`), waiting up to `timeout` s each."""
        with self._cond:
            self._pool.closed = True
            self._cond.notify_all()
        self._close_idle()
        self._pool.close_busy(timeout)

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


class AsyncPluginPool:
    """The asyncio version of `PluginPool`: acquiring never blocks the loop.

    Calls run in worker threads (`Plugin.call_async`); cancelling a task
    stops its Wasm call.
    """

    def __init__(self, source: Any, *, max_instances: int | None = None, reset: bool = False,
                 config: Any = None, setup: Setup | None = None, **plugin_kwargs: Any) -> None:
        self._pool = _Instances(source, max_instances, reset, config, setup, plugin_kwargs)
        self._cond: asyncio.Condition | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def max_instances(self) -> int:
        return self._pool.max_instances

    def count(self) -> int:
        return self._pool.created

    def _condition(self) -> asyncio.Condition:
        """The condition of the running event loop (a pool may outlive a loop)."""
        import asyncio  # already loaded by the running loop; not imported with wasmplug

        loop = asyncio.get_running_loop()
        if self._cond is None or self._loop is not loop:
            self._cond, self._loop = asyncio.Condition(), loop
        return self._cond

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
        import asyncio

        pool, cond = self._pool, self._condition()

        async def wait_for_slot() -> Plugin | bool:
            async with cond:
                while not (taken := pool.take_now()):
                    await cond.wait()
                return taken

        try:
            taken = await asyncio.wait_for(wait_for_slot(), timeout)
        except TimeoutError:
            raise pool.timeout_error(timeout) from None
        if isinstance(taken, Plugin):
            return taken
        try:
            return await asyncio.to_thread(pool.new)
        except BaseException:
            async with cond:
                pool.created -= 1
                cond.notify()
            raise

    async def _return(self, plugin: Plugin) -> None:
        import asyncio

        kept = await asyncio.to_thread(self._pool.give_back, plugin) if self._pool.reset else (
            self._pool.give_back(plugin))
        cond = self._condition()
        async with cond:
            if kept is None:
                self._pool.created -= 1
            else:
                self._pool.idle.append(kept)
            cond.notify()

    async def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """As `PluginPool.close`; the wait for busy instances runs in a thread."""
        import asyncio

        cond = self._condition()
        async with cond:
            self._pool.closed = True
            idle, self._pool.idle = self._pool.idle, []
            self._pool.created -= len(idle)
            cond.notify_all()
        for plugin in idle:
            plugin.close()
        await asyncio.to_thread(self._pool.close_busy, timeout)

    async def __aenter__(self) -> AsyncPluginPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

"""asyncio: call_async, cancellation, AsyncPluginPool."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

from wasmplug import AsyncPluginPool, CallTimeout, Plugin, PoolTimeout

from .conftest import runaway, wasm
from .waiting import wait_until_async

pytestmark = pytest.mark.usefixtures("call_path")


@runaway()
def test_call_async_does_not_block_the_loop() -> None:
    plugin = Plugin({"wasm": [{"path": str(wasm("wat/loop"))}], "timeout_ms": 400})

    async def main() -> int:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        with pytest.raises(CallTimeout):
            await plugin.call_async("forever", b"")
        task.cancel()
        return ticks

    assert asyncio.run(main()) >= 20  # the loop kept running during the 400 ms call


def test_call_async_returns_output() -> None:
    plugin = Plugin(wasm("count_vowels").read_bytes())
    out = asyncio.run(plugin.call_async("count_vowels", "aei", parse=json.loads))
    assert out["count"] == 3


@runaway()
def test_cancelling_the_task_cancels_the_wasm_call() -> None:
    plugin = Plugin(wasm("wat/loop").read_bytes())  # no timeout: only cancellation can stop it

    async def main() -> None:
        task = asyncio.create_task(plugin.call_async("forever", b""))
        await wait_until_async(lambda: plugin._running, "the Wasm call to start")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    start = time.monotonic()
    asyncio.run(main())
    # The Wasm call really stopped: the plug-in is free for the next call at once.
    assert plugin.call("ok", b"") == b""
    assert time.monotonic() - start < 3


def test_cancelled_before_it_starts_never_runs() -> None:
    plugin = Plugin(wasm("count_vowels").read_bytes())

    held, release = threading.Event(), threading.Event()

    async def main() -> None:
        blocker = asyncio.create_task(asyncio.to_thread(_hold, plugin, held, release))
        await asyncio.to_thread(held.wait, 10)  # the plug-in is busy: a call waits its turn
        waiting = asyncio.create_task(plugin.call_async("count_vowels", "aaa"))
        await asyncio.sleep(0)  # one turn of the loop: the task handed the call to the executor
        waiting.cancel()  # while the plug-in is still held: before the call could start
        with pytest.raises(asyncio.CancelledError):
            await waiting
        release.set()
        await blocker

    asyncio.run(main())
    # Only the calls that were not cancelled touched the vars.
    assert json.loads(plugin.call("count_vowels", ""))["total"] == 0


def _hold(plugin: Plugin, held: threading.Event, release: threading.Event) -> None:
    with plugin._lock:
        held.set()
        release.wait(10)


def test_async_pool_many_tasks_results_by_content() -> None:
    async def main() -> list[int]:
        async with AsyncPluginPool(wasm("count_vowels").read_bytes(), max_instances=3) as pool:
            outs = await asyncio.gather(*(
                pool.call("count_vowels", "a" * i, parse=json.loads, timeout=10)
                for i in range(100)))
            assert 1 <= pool.count() <= 3
            return [o["count"] for o in outs]

    assert asyncio.run(main()) == list(range(100))


def test_async_pool_acquire_timeout() -> None:
    async def main() -> None:
        pool = AsyncPluginPool(wasm("echo").read_bytes(), max_instances=1)
        async with pool.acquire():
            with pytest.raises(PoolTimeout, match="all 1 are busy"):
                async with pool.acquire(timeout=0.1):
                    pass
        assert await pool.call("echo", b"free") == b"free"

    asyncio.run(main())


def test_async_pool_sets_up_each_new_instance() -> None:
    seen: list[Plugin] = []

    def setup(plugin: Plugin) -> None:
        assert plugin.call("echo", b"setup") == b"setup"
        seen.append(plugin)

    async def main() -> None:
        pool = AsyncPluginPool(wasm("echo").read_bytes(), max_instances=2, setup=setup)
        async with pool.acquire() as a, pool.acquire() as b:
            assert {a, b} == set(seen)
        assert await pool.call("echo", b"x") == b"x"
        assert len(seen) == 2
        await pool.close()

    asyncio.run(main())


@runaway()
def test_async_pool_cancellation_frees_the_instance() -> None:
    async def main() -> None:
        pool = AsyncPluginPool(wasm("wat/loop").read_bytes(), max_instances=1)
        task = asyncio.create_task(pool.call("forever", b""))
        await wait_until_async(lambda: any(p._running for p in list(pool._pool.busy)),
                               "the pool's Wasm call to start")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await pool.call("ok", b"", timeout=2) == b""

    asyncio.run(main())


def test_async_pool_survives_its_event_loop() -> None:
    pool = AsyncPluginPool(wasm("echo").read_bytes(), max_instances=1)
    assert asyncio.run(pool.call("echo", b"first loop")) == b"first loop"
    assert asyncio.run(pool.call("echo", b"second loop")) == b"second loop"

"""close() cannot hang: a running call is cancelled, waited for a bounded
time, and the plug-in freed (Plugin, `with`, PluginPool, AsyncPluginPool,
PluginServer). Every test runs a runaway guest, so each has a tight bound."""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import pytest

from wasmplug import (
    AsyncPluginPool,
    CallTimeout,
    Error,
    Function,
    Plugin,
    PluginPool,
)
from wasmplug.actors import PluginServer

from .conftest import runaway, wasm

pytestmark = [pytest.mark.usefixtures("call_path"), runaway()]

LOOP = wasm("wat/loop")


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, Future[Any]]:
    result: Future[Any] = Future()

    def target() -> None:
        try:
            result.set_result(fn())
        except BaseException as exc:
            result.set_exception(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, result


def wait_running(plugin: Plugin) -> None:
    deadline = time.monotonic() + 10
    while not plugin._running:
        assert time.monotonic() < deadline, "the call never started"
        time.sleep(0.01)


def assert_closed(plugin: Plugin) -> None:
    assert plugin.plugin == -1 and plugin._store is None
    with pytest.raises(Error, match="freed"):
        plugin.call("ok", b"")


def test_close_cancels_a_runaway_call_and_frees_the_plugin() -> None:
    plugin = Plugin(LOOP.read_bytes())  # no timeout_ms: only close can stop it
    thread, result = in_thread(lambda: plugin.call("forever", b""))
    wait_running(plugin)
    started = time.monotonic()
    plugin.close()
    assert time.monotonic() - started < 5
    with pytest.raises(CallTimeout, match=r"^timeout: the plug-in was closed during the call"):
        result.result(5)
    thread.join(5)
    assert not thread.is_alive()
    assert_closed(plugin)
    plugin.close()  # twice is fine


def test_leaving_a_with_block_cancels_another_threads_call() -> None:
    with Plugin(LOOP.read_bytes()) as plugin:
        _, result = in_thread(lambda: plugin.call("forever", b""))
        wait_running(plugin)
    with pytest.raises(CallTimeout):
        result.result(5)
    assert_closed(plugin)


def test_close_waits_a_bounded_time_for_a_host_function_then_frees_after_it() -> None:
    release = threading.Event()

    def stuck(*_: Any) -> None:
        release.wait(20)

    source = """
    (module
      (import "extism:host/user" "stuck" (func $stuck))
      (func (export "run") (result i32) (call $stuck) (loop $l (br $l)) (i32.const 0))
      (func (export "ok") (result i32) (i32.const 0)))
    """
    plugin = Plugin(source, functions=[Function("extism:host/user", "stuck", [], [], stuck)])
    thread, result = in_thread(lambda: plugin.call("run", b""))
    wait_running(plugin)
    started = time.monotonic()
    plugin.close(timeout=0.3)
    assert 0.25 < time.monotonic() - started < 3  # gave up waiting, did not hang
    with pytest.raises(Error, match="freed"):
        plugin.call("ok", b"")  # refused at once, not queued behind the stuck call
    release.set()  # the host function returns; the loop after it is interrupted at once
    with pytest.raises(CallTimeout):
        result.result(5)
    thread.join(5)
    assert plugin._store is None  # freed by the call on its way out


def test_close_from_a_host_function_stops_its_own_call() -> None:
    holder: list[Plugin] = []

    def close_me(*_: Any) -> None:
        holder[0].close()

    source = """
    (module
      (import "extism:host/user" "close_me" (func $close_me))
      (func (export "run") (result i32) (call $close_me) (loop $l (br $l)) (i32.const 0)))
    """
    plugin = Plugin(source, functions=[Function("extism:host/user", "close_me", [], [], close_me)])
    holder.append(plugin)
    with pytest.raises(CallTimeout, match="closed"):
        plugin.call("run", b"")
    assert plugin._store is None


def test_pool_close_cancels_busy_instances() -> None:
    pool = PluginPool(LOOP.read_bytes(), max_instances=2)
    calls = [in_thread(lambda: pool.call("forever", b"")) for _ in range(2)]
    deadline = time.monotonic() + 10
    while len(pool._pool.busy) < 2 or not all(p._running for p in pool._pool.busy):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    busy = list(pool._pool.busy)
    started = time.monotonic()
    pool.close()
    assert time.monotonic() - started < 5
    for thread, result in calls:
        with pytest.raises(CallTimeout):
            result.result(5)
        thread.join(5)
    for plugin in busy:
        assert plugin._store is None
    with pytest.raises(Error, match="closed"):
        pool.call("ok", b"")


def test_async_pool_close_cancels_busy_instances() -> None:
    async def main() -> None:
        pool = AsyncPluginPool(LOOP.read_bytes(), max_instances=1)
        task = asyncio.create_task(pool.call("forever", b""))
        deadline = time.monotonic() + 10
        while not any(p._running for p in list(pool._pool.busy)):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        await asyncio.wait_for(pool.close(), 10)
        with pytest.raises(CallTimeout):
            await asyncio.wait_for(task, 5)

    asyncio.run(main())


def test_server_stop_cancels_a_runaway_call() -> None:
    server = PluginServer(LOOP.read_bytes()).start()
    runaway = server.send("forever")
    queued = server.send("ok")
    plugin = server._plugin
    assert plugin is not None
    wait_running(plugin)
    started = time.monotonic()
    server.stop(timeout=0.5)
    assert time.monotonic() - started < 5
    assert not server.running
    with pytest.raises(CallTimeout):
        runaway.result(5)
    with pytest.raises(Error, match="stopped"):
        queued.result(5)
    assert plugin._store is None


def test_server_stop_still_finishes_the_mailbox_when_it_can() -> None:
    server = PluginServer(LOOP.read_bytes()).start()
    replies = [server.send("ok") for _ in range(5)]
    server.stop()
    assert [r.result(5) for r in replies] == [b""] * 5


def test_supervisor_stop_cancels_a_runaway_child() -> None:
    from wasmplug.actors import Supervisor

    with Supervisor() as supervisor:
        server = supervisor.start_child(LOOP.read_bytes())
        runaway = server.send("forever")
        plugin = server._plugin
        assert plugin is not None
        wait_running(plugin)
        started = time.monotonic()
    assert time.monotonic() - started < 15  # the with block's stop() did not hang
    assert not server.running
    with pytest.raises(CallTimeout):
        runaway.result(5)


def test_close_frees_the_store_at_once() -> None:
    """Nothing the host side keeps (its HostState) holds the store after close(): a WASI
    store must be gone before the interpreter finalises (_wasi.py, teardown)."""
    plugin = Plugin(wasm("count_vowels"), config={"vowels": "aeiou"})
    assert plugin.call("count_vowels", "hello")
    store = weakref.ref(plugin._store)
    kernel = weakref.ref(plugin._kernel)
    plugin.close()
    assert store() is None
    assert kernel() is None

"""Actors: PluginServer mailboxes, reload, Supervisor restarts, the registry."""

from __future__ import annotations

import asyncio
import threading

import pytest

from wasmplug import CallError, Error
from wasmplug.actors import PluginServer, Registry, ServerStopped, Supervisor, is_crash

from .conftest import runaway, wasm

pytestmark = pytest.mark.usefixtures("call_path")

# `count` adds 1 to var "n" and outputs it (8 bytes LE) plus VERSION*1000;
# `crash` traps; `fail` returns 1 (an answer, not a crash).
COUNTER = """
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "load_u64" (func $load_u64 (param i64) (result i64)))
  (import "extism:host/env" "var_get" (func $var_get (param i64) (result i64)))
  (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func $key (result i64)
    (local $k i64)
    (local.set $k (call $alloc (i64.const 1)))
    (call $store_u8 (local.get $k) (i32.const 110))
    (local.get $k))
  (func (export "count") (result i32)
    (local $v i64) (local $n i64) (local $out i64)
    (local.set $v (call $var_get (call $key)))
    (if (i64.ne (local.get $v) (i64.const 0)) (then (local.set $n (call $load_u64 (local.get $v)))))
    (local.set $n (i64.add (local.get $n) (i64.const 1)))
    (local.set $v (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $v) (local.get $n))
    (call $var_set (call $key) (local.get $v))
    (local.set $out (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $out) (i64.add (local.get $n) (i64.const VERSION000)))
    (call $output_set (local.get $out) (i64.const 8))
    (i32.const 0))
  (func (export "crash") (result i32) unreachable)
  (func (export "fail") (result i32) (i32.const 1)))
"""


def version(v: int) -> bytes:
    return COUNTER.replace("VERSION", str(v)).encode()


def n(output: bytes) -> int:
    return int.from_bytes(output, "little")


def test_server_serves_calls_casts_and_async_in_order() -> None:
    with PluginServer(version(1)) as server:
        assert n(server.call("count")) == 1001
        server.cast("count")
        server.cast("count")
        futures = [server.send("count") for _ in range(3)]
        assert [n(f.result(5)) for f in futures] == [1004, 1005, 1006]
        assert n(asyncio.run(server.call_async("count"))) == 1007
        assert server.calls == 7
    assert not server.running
    with pytest.raises(ServerStopped, match="not running"):
        server.call("count")


def test_server_errors_reach_the_caller_and_it_keeps_serving() -> None:
    with PluginServer(version(1)) as server:
        with pytest.raises(CallError, match=r"^Error code: 1$"):
            server.call("fail")
        with pytest.raises(CallError, match="unreachable"):
            server.call("crash")  # unsupervised: the plug-in stays usable
        assert n(server.call("count")) == 1001


def test_many_threads_one_server_no_lost_or_duplicated_results() -> None:
    with PluginServer(version(1)) as server:
        results: list[int] = []
        lock = threading.Lock()

        def work() -> None:
            for _ in range(100):
                value = n(server.call("count", timeout=10))
                with lock:
                    results.append(value)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(results) == [1000 + i for i in range(1, 801)]


def test_reload_under_load() -> None:
    with PluginServer(version(1)) as server:
        before = [server.send("count") for _ in range(200)]
        server.reload(version(2))  # waits until the messages before it were served
        after = [server.send("count") for _ in range(200)]
        old = [n(f.result(10)) for f in before]
        new = [n(f.result(10)) for f in after]
    assert old == [1000 + i for i in range(1, 201)]
    assert new == [2000 + i for i in range(201, 401)]  # new code, vars kept


def test_reload_with_bad_code_keeps_the_old_code() -> None:
    with PluginServer(version(1)) as server:
        with pytest.raises(Error, match=r"Unable to compile|Unknown manifest"):
            server.reload(b"\0asm broken")
        assert n(server.call("count")) == 1001


def test_supervisor_restarts_a_crashed_plugin_and_hands_over_vars() -> None:
    registry = Registry()
    with Supervisor(max_restarts=3, within=10, registry=registry) as sup:
        server = sup.start_child(version(1), name="counter")
        assert n(registry.call("counter", "count")) == 1001
        assert n(registry.call("counter", "count")) == 1002
        with pytest.raises(CallError, match="unreachable") as info:
            server.call("crash")
        assert is_crash(info.value)
        assert n(server.call("count")) == 1003  # a new instance, with the vars handed over
        assert server.restarts == 1
        with pytest.raises(CallError, match="Error code: 1"):
            server.call("fail")  # an answer, not a crash
        assert server.restarts == 1


def test_supervisor_without_hand_over_starts_fresh() -> None:
    with Supervisor(hand_over_vars=False, registry=Registry()) as sup:
        server = sup.start_child(version(1))
        server.call("count")
        with pytest.raises(CallError):
            server.call("crash")
        assert n(server.call("count")) == 1001


@runaway()
def test_timeouts_count_as_crashes() -> None:
    with Supervisor(registry=Registry()) as sup:
        server = sup.start_child({"wasm": [{"path": str(wasm("wat/loop"))}], "timeout_ms": 100})
        with pytest.raises(CallError, match="timeout"):
            server.call("forever")
        assert server.restarts == 1
        assert server.call("ok") == b""


def test_restart_budget_exhausted_stops_the_server() -> None:
    registry = Registry()
    with Supervisor(max_restarts=2, within=30, registry=registry) as sup:
        server = sup.start_child(version(1), name="flaky")
        for _ in range(2):
            with pytest.raises(CallError):
                server.call("crash")
        assert server.restarts == 2
        fatal = server.send("crash")
        queued = server.send("count")  # behind the crash that exhausts the budget
        with pytest.raises(CallError, match="unreachable"):
            fatal.result(5)
        with pytest.raises(ServerStopped, match="gave up after too many crashes"):
            queued.result(5)
        with pytest.raises(ServerStopped, match=r"(?s)not running: .*unreachable"):
            server.call("count")
        assert not server.running
        assert registry.whereis("flaky") is None
        assert "flaky" not in sup.children


def test_registry_names_and_errors() -> None:
    registry = Registry()
    with Supervisor(registry=registry) as sup:
        sup.start_child(wasm("echo").read_bytes(), name="echo")
        assert registry.names() == ["echo"]
        assert registry.call("echo", "echo", "hi") == b"hi"
        with pytest.raises(Error, match="already registered"):
            sup.start_child(wasm("echo").read_bytes(), name="echo")
        with pytest.raises(Error, match="no plug-in server is registered as 'nope'"):
            registry.call("nope", "echo")
    assert registry.names() == []

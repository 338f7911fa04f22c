"""A plug-in stays usable after any number of traps (issue 25): the call after
a trapped one runs on a fresh instance of the same compiled code, vars kept;
`keep_instance_after_trap=True` keeps the instance, as the reference SDK does."""

from __future__ import annotations

import json

import pytest

from wasmplug import CallError, CallTimeout, Error, Plugin

from .conftest import AS, runaway

pytestmark = pytest.mark.usefixtures("call_path")

# `count` adds 1 to a global and to var "n", and outputs both (8 bytes LE
# each); `crash` adds 1 to the global, then traps; `spin` loops forever.
STATE = """
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "load_u64" (func $load_u64 (param i64) (result i64)))
  (import "extism:host/env" "var_get" (func $var_get (param i64) (result i64)))
  (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (global $g (mut i64) (i64.const 0))
  (func $key (result i64)
    (local $k i64)
    (local.set $k (call $alloc (i64.const 1)))
    (call $store_u8 (local.get $k) (i32.const 110))
    (local.get $k))
  (func (export "count") (result i32)
    (local $v i64) (local $n i64) (local $out i64)
    (global.set $g (i64.add (global.get $g) (i64.const 1)))
    (local.set $v (call $var_get (call $key)))
    (if (i64.ne (local.get $v) (i64.const 0)) (then (local.set $n (call $load_u64 (local.get $v)))))
    (local.set $n (i64.add (local.get $n) (i64.const 1)))
    (local.set $v (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $v) (local.get $n))
    (call $var_set (call $key) (local.get $v))
    (local.set $out (call $alloc (i64.const 16)))
    (call $store_u64 (local.get $out) (global.get $g))
    (call $store_u64 (i64.add (local.get $out) (i64.const 8)) (local.get $n))
    (call $output_set (local.get $out) (i64.const 16))
    (i32.const 0))
  (func (export "crash") (result i32)
    (global.set $g (i64.add (global.get $g) (i64.const 1)))
    unreachable)
  (func (export "spin") (result i32) (loop $l (br $l)) (i32.const 0)))
"""


def count(plugin: Plugin) -> tuple[int, int]:
    """(the global, var "n") after one `count`."""
    out = plugin.call("count", b"")
    return int.from_bytes(out[:8], "little"), int.from_bytes(out[8:], "little")


def test_seven_hundred_refused_requests_are_all_refused_cleanly() -> None:
    # The AssemblyScript PDK aborts when the host refuses a request; each
    # abort left its shadow-stack pointer behind, and after 511 of them every
    # call failed with "call stack exhausted".
    plugin = Plugin({"wasm": [{"path": str(AS / "http.wasm")}], "allowed_hosts": ["example.org"]},
                    functions=[])
    request = json.dumps({"url": "http://127.0.0.1:1/refused", "method": "GET"})
    messages = set()
    for _ in range(700):
        with pytest.raises(Error) as info:
            plugin.call("fetch", request)
        messages.add(str(info.value))
    assert messages == {"HTTP request to http://127.0.0.1:1/refused is not allowed: the host "
                        "'127.0.0.1' does not match the manifest's allowed_hosts"}


def test_a_trap_keeps_the_vars_and_resets_memory_and_globals() -> None:
    plugin = Plugin(STATE, functions=[])
    assert count(plugin) == (1, 1)
    assert count(plugin) == (2, 2)
    with pytest.raises(CallError, match="unreachable") as info:
        plugin.call("crash", b"")
    assert info.value.code == 134
    assert count(plugin) == (1, 3)  # a fresh instance: the global starts over, vars kept
    assert count(plugin) == (2, 4)  # and it is kept while calls succeed
    for _ in range(3):
        with pytest.raises(CallError):
            plugin.call("crash", b"")
    assert count(plugin) == (1, 5)


def test_keep_instance_after_trap_is_the_reference_behaviour() -> None:
    plugin = Plugin(STATE, functions=[], keep_instance_after_trap=True)
    assert count(plugin) == (1, 1)
    with pytest.raises(CallError, match="unreachable"):
        plugin.call("crash", b"")
    assert count(plugin) == (3, 2)  # the same instance: the trapped call's global stays


def test_a_plugin_error_is_an_answer_not_a_trap() -> None:
    # A call that returns an error code ran to its end: the instance is kept.
    plugin = Plugin(AS / "count_vowels.wasm", functions=[])
    totals = [json.loads(plugin.call("count_vowels", "aa"))["total"] for _ in range(2)]
    with pytest.raises(CallError, match="Function not found"):
        plugin.call("nope", b"")
    totals.append(json.loads(plugin.call("count_vowels", "aa"))["total"])
    assert totals == [2, 4, 6]


@runaway()
def test_a_timed_out_call_also_gets_a_fresh_instance() -> None:
    plugin = Plugin({"wasm": [{"data": STATE.encode()}], "timeout_ms": 50}, functions=[])
    assert count(plugin) == (1, 1)
    with pytest.raises(CallTimeout):
        plugin.call("spin", b"")
    assert count(plugin) == (1, 2)

"""Limits: fuel, output size, tables, and what a limit's Error says (ABI.md section 7)."""

from __future__ import annotations

import json

import pytest

from wasmplug import CallError, CompiledPlugin, Error, ManifestError, Plugin

from .conftest import wasm

pytestmark = pytest.mark.usefixtures("call_path")

LOOP = wasm("wat/loop")


def test_fuel_stops_a_loop_and_the_tank_refills_every_call() -> None:
    plugin = Plugin(LOOP.read_bytes(), fuel_limit=100_000)
    for _ in range(3):
        with pytest.raises(CallError, match=r"^plugin ran out of fuel \(fuel_limit = 100000 ") as info:
            plugin.call("forever", b"")
        assert (info.value.limit, info.value.limit_value) == ("fuel_limit", 100_000)
        assert plugin.fuel_consumed == 100_000
        assert plugin.call("ok", b"") == b""  # a full tank again
        assert 0 < plugin.fuel_consumed < 100_000


def test_fuel_limit_one_fails_every_call() -> None:
    # ABI.md 12.17: 10 001 consecutive calls each fail with a message containing "fuel".
    plugin = Plugin(wasm("count_vowels").read_bytes(), fuel_limit=1)
    for _ in range(10_001):
        with pytest.raises(CallError, match="fuel"):
            plugin.call("count_vowels", b"abc")
    assert plugin.fuel_consumed > 0


def test_fuel_is_enough_for_real_work() -> None:
    plugin = Plugin(wasm("count_vowels").read_bytes(), fuel_limit=10_000_000)
    assert json.loads(plugin.call("count_vowels", "hello world"))["count"] == 3


def test_fuel_limit_with_a_compiled_plugin() -> None:
    compiled = CompiledPlugin(LOOP.read_bytes(), fuel_limit=1_000)
    tight = Plugin(compiled)
    generous = Plugin(compiled, fuel_limit=50_000)
    with pytest.raises(CallError, match=r"fuel_limit = 1000 "):
        tight.call("forever", b"")
    with pytest.raises(CallError, match=r"fuel_limit = 50000 "):
        generous.call("forever", b"")
    with pytest.raises(Error, match="fuel_limit needs fuel metering compiled in"):
        Plugin(CompiledPlugin(LOOP.read_bytes()), fuel_limit=5)
    with pytest.raises(Error, match="fuel_limit must be a positive number"):
        Plugin(LOOP.read_bytes(), fuel_limit=0)


def test_output_larger_than_max_output_bytes_is_refused() -> None:
    manifest = {"wasm": [{"path": str(wasm("echo"))}], "memory": {"max_output_bytes": 1000}}
    plugin = Plugin(manifest)
    assert plugin.call("echo", b"x" * 1000) == b"x" * 1000
    with pytest.raises(CallError, match=r"output \(1001 bytes\) exceeds memory\.max_output_bytes "
                                        r"\(1000 bytes\)") as info:
        plugin.call("echo", b"x" * 1001)
    assert (info.value.limit, info.value.limit_value) == ("memory.max_output_bytes", 1000)
    assert plugin.call("echo", b"fine") == b"fine"
    with pytest.raises(ManifestError, match=r"memory.max_output_bytes"):
        Plugin({"wasm": [{"path": str(wasm("echo"))}], "memory": {"max_output_bytes": -1}})


def test_limit_errors_name_the_limit() -> None:
    vars_full = Plugin({"wasm": [{"path": str(wasm("host_env"))}], "memory": {"max_var_bytes": 60}})
    with pytest.raises(CallError) as info:
        vars_full.call("var_set", "k=" + "v" * 100)
    assert (info.value.limit, info.value.limit_value) == ("memory.max_var_bytes", 60)
    oom = Plugin({"wasm": [{"path": str(wasm("wat/kernel_alloc"))}], "memory": {"max_pages": 2}})
    with pytest.raises(CallError, match=r"^oom: ") as info:
        oom.call("alloc_like_input", b"z" * 100_000)
    assert (info.value.limit, info.value.limit_value) == ("memory.max_pages", 2)
    plain = Plugin(wasm("wat/trap").read_bytes())
    with pytest.raises(CallError) as info:
        plain.call("trap", b"")
    assert info.value.limit is None and info.value.limit_value is None


TRAPPING_INIT = """
(module
  (global $calls (mut i32) (i32.const 0))
  (func (export "_initialize") unreachable)
  (func (export "ok") (result i32) (i32.const 0)))
"""

TRAPPING_START = """
(module
  (func $start unreachable)
  (start $start)
  (func (export "ok") (result i32) (i32.const 0)))
"""


@pytest.mark.parametrize(("source", "pattern"), [
    (TRAPPING_INIT, r"(?s)^plug-in initialisation \(_initialize\) failed: .*unreachable"),
    (TRAPPING_START, r"(?s)^plug-in initialisation \(its start function\) trapped: .*unreachable"),
])
def test_trap_during_initialisation_fails_each_call_cleanly(source: str, pattern: str) -> None:
    plugin = Plugin(source)
    for _ in range(3):  # each call starts again from a fresh instance
        with pytest.raises(CallError, match=pattern) as info:
            plugin.call("ok", b"")
        assert info.value.code == 134


TABLE_BOMB = """
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (table $t 1 funcref)
  (func (export "grow") (result i32)
    (local $p i64)
    (local.set $p (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $p)
      (i64.extend_i32_s (table.grow $t (ref.null func) (i32.const 2000000))))
    (call $output_set (local.get $p) (i64.const 8))
    (i32.const 0)))
"""


def test_tables_cannot_grow_past_the_store_limit() -> None:
    out = Plugin(TABLE_BOMB).call("grow", b"")
    assert int.from_bytes(out, "little", signed=True) == -1

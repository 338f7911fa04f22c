"""The legacy 0.x ABI (ABI.md 4) and multi-module manifests (6.3, 5.1)."""

from __future__ import annotations

import json
import logging

import pytest

from wasmplug import CallError, Function, LoadError, Plugin, ValType

from .conftest import wasm

pytestmark = pytest.mark.usefixtures("call_path")


def u64(data: bytes) -> int:
    return int.from_bytes(data, "little")


def test_legacy_plugin_runs_with_vars_config_logs_and_errors(
        caplog: pytest.LogCaptureFixture) -> None:
    plugin = Plugin(wasm("wat/legacy_count_vowels").read_bytes())
    with caplog.at_level(logging.INFO, logger="wasmplug.plugin"):
        assert json.loads(plugin.call("count_vowels", "Hello, World!")) == {"count": 3, "total": 3}
    assert json.loads(plugin.call("count_vowels", "aeiou aeiou")) == {"count": 10, "total": 13}
    assert "counted" in caplog.text
    with pytest.raises(CallError, match=r"^legacy failure$"):
        plugin.call("fail", b"")
    configured = Plugin(wasm("wat/legacy_count_vowels").read_bytes(), config={"vowels": "xyz"})
    assert json.loads(configured.call("count_vowels", "xyz"))["count"] == 3


def test_legacy_and_current_plugins_side_by_side() -> None:
    legacy = Plugin(wasm("wat/legacy_count_vowels").read_bytes())
    current = Plugin(wasm("count_vowels").read_bytes())
    for _ in range(3):
        assert json.loads(legacy.call("count_vowels", "aaa"))["count"] == 3
        assert json.loads(current.call("count_vowels", "aaa"))["count"] == 3


LEGACY_USER_FN = """
(module
  (import "env" "shout" (func $shout (param i64) (result i64)))
  (import "env" "extism_input_offset" (func $input_offset (result i64)))
  (import "env" "extism_length" (func $length (param i64) (result i64)))
  (import "env" "extism_output_set" (func $output_set (param i64 i64)))
  (func (export "run") (result i32)
    (local $p i64)
    (local.set $p (call $shout (call $input_offset)))
    (call $output_set (local.get $p) (call $length (local.get $p)))
    (i32.const 0)))
"""


def test_namespace_less_host_function_answers_legacy_env_imports() -> None:
    def shout(plugin, params, results):  # type: ignore[no-untyped-def]
        plugin.return_string(results[0], plugin.input_string(params[0]).upper() + "!")

    fn = Function(None, "shout", [ValType.I64], [ValType.I64], shout)
    assert Plugin(LEGACY_USER_FN, functions=[fn]).call("run", "hey") == b"HEY!"


# A 0.x plug-in with WASI: the instance is fresh for every call (ABI.md 4),
# while vars persist. `calls` outputs a global counter and a var counter.
LEGACY_WASI = """
(module
  (import "wasi_snapshot_preview1" "sched_yield" (func $yield (result i32)))
  (import "env" "extism_alloc" (func $alloc (param i64) (result i64)))
  (import "env" "extism_store_u64" (func $store_u64 (param i64 i64)))
  (import "env" "extism_load_u64" (func $load_u64 (param i64) (result i64)))
  (import "env" "extism_store_u8" (func $store_u8 (param i64 i32)))
  (import "env" "extism_var_get" (func $var_get (param i64) (result i64)))
  (import "env" "extism_var_set" (func $var_set (param i64 i64)))
  (import "env" "extism_output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)
  (global $calls (mut i64) (i64.const 0))
  (func $key (result i64)
    (local $k i64)
    (local.set $k (call $alloc (i64.const 1)))
    (call $store_u8 (local.get $k) (i32.const 110))
    (local.get $k))
  (func (export "calls") (result i32)
    (local $v i64) (local $n i64) (local $out i64)
    (drop (call $yield))
    (global.set $calls (i64.add (global.get $calls) (i64.const 1)))
    (local.set $v (call $var_get (call $key)))
    (if (i64.ne (local.get $v) (i64.const 0))
      (then (local.set $n (call $load_u64 (local.get $v)))))
    (local.set $n (i64.add (local.get $n) (i64.const 1)))
    (local.set $v (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $v) (local.get $n))
    (call $var_set (call $key) (local.get $v))
    (local.set $out (call $alloc (i64.const 16)))
    (call $store_u64 (local.get $out) (global.get $calls))
    (call $store_u64 (i64.add (local.get $out) (i64.const 8)) (local.get $n))
    (call $output_set (local.get $out) (i64.const 16))
    (i32.const 0)))
"""


def test_legacy_wasi_plugin_gets_a_fresh_instance_per_call() -> None:
    plugin = Plugin(LEGACY_WASI, wasi=True)
    outputs = [plugin.call("calls", b"") for _ in range(3)]
    assert [(u64(o[:8]), u64(o[8:])) for o in outputs] == [(1, 1), (1, 2), (1, 3)]
    no_wasi = LEGACY_WASI.replace(
        '(import "wasi_snapshot_preview1" "sched_yield" (func $yield (result i32)))', "")
    no_wasi = no_wasi.rstrip()[:-1] + "(func $yield (result i32) (i32.const 0)))"
    without_wasi_semantics = Plugin(no_wasi)
    outputs = [without_wasi_semantics.call("calls", b"") for _ in range(3)]
    assert [u64(o[:8]) for o in outputs] == [1, 2, 3]  # instance kept


def test_multi_module_manifest_links_by_name() -> None:
    lib, main = str(wasm("wat/lib_math")), str(wasm("wat/uses_lib"))
    for manifest in (
        {"wasm": [{"path": lib, "name": "lib_math"}, {"path": main, "name": "main"}]},
        {"wasm": [{"path": main, "name": "main"}, {"path": lib, "name": "lib_math"}]},
        {"wasm": [{"path": lib, "name": "lib_math"}, {"path": main}]},
        {"wasm": [{"path": lib, "name": "lib_math"}, {"path": main, "name": "whatever"}]},
    ):
        assert u64(Plugin(manifest).call("compute", b"")) == 42


def test_only_main_exports_are_callable() -> None:
    manifest = {"wasm": [{"path": str(wasm("wat/lib_math")), "name": "lib_math"},
                         {"path": str(wasm("wat/uses_lib"))}]}
    plugin = Plugin(manifest)
    assert not plugin.function_exists("add_one")
    with pytest.raises(CallError, match="Function not found: add_one"):
        plugin.call("add_one", b"")


def test_missing_module_is_named_at_load() -> None:
    with pytest.raises(LoadError, match=r"unknown import lib_math\.add_one"):
        Plugin(wasm("wat/uses_lib").read_bytes())


# `commander` is a command (it exports `_start`): every call into it from
# another module runs in a fresh instance, so `next` always returns 1. A
# reactor (no `_start`) is instantiated once and keeps counting.
COMMANDER = """
(module
  (global $n (mut i64) (i64.const 0))
  (func (export "_start"))
  (func (export "next") (result i64)
    (global.set $n (i64.add (global.get $n) (i64.const 1))) (global.get $n)))
"""
USES_COMMANDER = """
(module
  (import "commander" "next" (func $next (result i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func (export "run") (result i32)
    (local $p i64)
    (local.set $p (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $p) (call $next))
    (call $output_set (local.get $p) (i64.const 8))
    (i32.const 0)))
"""


def test_command_module_gets_a_fresh_instance_per_imported_call() -> None:
    manifest = {"wasm": [{"data": COMMANDER.encode(), "name": "commander"},
                         {"data": USES_COMMANDER.encode(), "name": "main"}]}
    plugin = Plugin(manifest)
    assert [u64(plugin.call("run", b"")) for _ in range(5)] == [1, 1, 1, 1, 1]
    reactor = COMMANDER.replace('(func (export "_start"))', "")
    manifest["wasm"][0] = {"data": reactor.encode(), "name": "commander"}
    plugin = Plugin(manifest)
    assert [u64(plugin.call("run", b"")) for _ in range(5)] == [1, 2, 3, 4, 5]


def test_fixture_commander_links() -> None:
    manifest = {"wasm": [{"path": str(wasm("wat/commander")), "name": "commander"},
                         {"path": str(wasm("wat/uses_commander")), "name": "main"}]}
    assert u64(Plugin(manifest).call("run", b"")) == 0  # its _start never runs, as in extism

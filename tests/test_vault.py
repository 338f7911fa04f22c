"""Config and vars in the kernel's vault (kernel.wat, "config and vars").

config_get, var_get and var_set are answered in Wasm, without a call into
Python, when the key is ASCII (and, for var_set, vars are on and the var fits
in memory.max_var_bytes); everything else goes to the host's half. Both halves
keep one table, which must behave as the documented dict of vars.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wasmplug
from wasmplug import CallError, CompiledPlugin, Error, Plugin, _host_env

from .conftest import wasm

pytestmark = pytest.mark.usefixtures("call_path")

# "set": input = one byte k, k bytes of key, then the value (none: delete the var).
# "get" / "config": input = the key; output = the value (empty if none).
VARS_WAT = """
(module
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "var_get" (func $var_get (param i64) (result i64)))
  (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
  (import "extism:host/env" "config_get" (func $config_get (param i64) (result i64)))
  (func $block (param $from i64) (param $n i64) (result i64)
    (local $p i64) (local $i i64)
    (if (i64.eqz (local.get $n)) (then (return (i64.const 0))))
    (local.set $p (call $alloc (local.get $n)))
    (loop $copy
      (call $store_u8 (i64.add (local.get $p) (local.get $i))
                      (call $input_load_u8 (i64.add (local.get $from) (local.get $i))))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br_if $copy (i64.lt_u (local.get $i) (local.get $n))))
    (local.get $p))
  (func (export "set") (result i32)
    (local $k i64)
    (local.set $k (i64.extend_i32_u (call $input_load_u8 (i64.const 0))))
    (call $var_set (call $block (i64.const 1) (local.get $k))
                   (call $block (i64.add (i64.const 1) (local.get $k))
                                (i64.sub (i64.sub (call $input_length) (i64.const 1)) (local.get $k))))
    (i32.const 0))
  (func $out (param $p i64) (result i32)
    (if (i64.ne (local.get $p) (i64.const 0))
      (then (call $output_set (local.get $p) (call $length (local.get $p)))))
    (i32.const 0))
  (func (export "get") (result i32)
    (call $out (call $var_get (call $block (i64.const 0) (call $input_length)))))
  (func (export "config") (result i32)
    (call $out (call $config_get (call $block (i64.const 0) (call $input_length)))))
)
"""


def guest_set(plugin: Plugin, key: str | bytes, value: bytes) -> None:
    raw = key.encode() if isinstance(key, str) else key
    plugin.call("set", bytes([len(raw)]) + raw + value)


def guest_get(plugin: Plugin, key: str | bytes) -> bytes:
    return plugin.call("get", key)


@pytest.fixture
def host_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """Counts the calls into the host's halves of config_get, var_get and var_set
    (of plug-ins whose CompiledPlugin is made after the fixture)."""
    counts = dict.fromkeys(_host_env.KERNEL_IMPORTS, 0)

    def counting(name: str, impl: Callable[..., Any]) -> Callable[..., Any]:
        def count(*args: int) -> Any:
            counts[name] += 1
            return impl(*args)
        return count

    for name, (params, results, impl) in list(_host_env.KERNEL_IMPORTS.items()):
        monkeypatch.setitem(_host_env.KERNEL_IMPORTS, name, (params, results, counting(name, impl)))
    yield counts


def test_count_vowels_calls_no_python_for_its_config_and_vars(host_calls: dict[str, int]) -> None:
    plugin = Plugin(CompiledPlugin(wasm("count_vowels").read_bytes()), config={"vowels": "eo"})
    outputs: list[bytes] = [plugin.call("count_vowels", "hello world") for _ in range(3)]
    assert outputs[-1] == b'{"count":3,"total":9,"vowels":"eo"}'
    assert host_calls == {"config_get": 0, "var_get": 0, "var_set": 0}


def test_what_the_kernel_does_not_take_goes_to_the_host(host_calls: dict[str, int]) -> None:
    plugin = Plugin(CompiledPlugin(VARS_WAT), config={"clé": "v", "key": "w"})
    assert plugin.call("config", "clé") == b"v"  # not ASCII: the host's half
    assert plugin.call("config", "key") == b"w"
    guest_set(plugin, "ключ", b"1")
    assert guest_get(plugin, "ключ") == b"1"
    guest_set(plugin, "k", b"2")
    assert guest_get(plugin, "k") == b"2"
    assert host_calls == {"config_get": 1, "var_get": 1, "var_set": 1}
    assert plugin.vars == {"ключ": b"1", "k": b"2"}


def test_a_key_that_is_not_utf8_fails_the_call() -> None:
    plugin = Plugin(VARS_WAT)
    with pytest.raises(CallError, match="codec can't decode"):
        guest_set(plugin, b"\xff", b"1")
    with pytest.raises(CallError, match="codec can't decode"):
        guest_get(plugin, b"\xff")
    with pytest.raises(CallError, match="codec can't decode"):
        plugin.call("config", b"\xfe")
    assert plugin.vars == {}


@pytest.mark.parametrize("key", ["k", "ķ"])  # the kernel's path, the host's path
def test_the_var_limit_counts_48_bytes_and_the_old_entry_on_both_paths(key: str) -> None:
    entry = 48 + len(key.encode()) + 10
    plugin = Plugin({"wasm": [{"data": VARS_WAT.encode()}], "memory": {"max_var_bytes": entry * 2}})
    guest_set(plugin, key, b"a" * 10)
    with pytest.raises(CallError, match=r"^Variable store is full") as info:
        guest_set(plugin, key, b"b" * 11)  # the old entry counts too: 2 * entry + 1
    assert info.value.limit == "memory.max_var_bytes"
    assert plugin.vars == {key: b"a" * 10}  # nothing lost
    guest_set(plugin, key, b"c" * 10)  # exactly at the limit
    assert guest_get(plugin, key) == b"c" * 10
    guest_set(plugin, key + "2", b"d" * 9)
    assert plugin.vars == {key: b"c" * 10, key + "2": b"d" * 9}
    with pytest.raises(CallError, match=r"^Variable store is full"):
        guest_set(plugin, "x", b"e")
    guest_set(plugin, key, b"")  # a delete makes room
    guest_set(plugin, "x", b"e")
    assert plugin.vars == {key + "2": b"d" * 9, "x": b"e"}


def test_vars_off_refuses_sets_on_both_paths() -> None:
    plugin = Plugin({"wasm": [{"data": VARS_WAT.encode()}], "memory": {"max_var_bytes": 0}})
    for key in ("k", "ķ"):
        with pytest.raises(CallError, match=r"^Vars are disabled by this host$"):
            guest_set(plugin, key, b"v")
    plugin.vars["k"] = b"from the host"  # the host is trusted
    assert guest_get(plugin, "k") == b"from the host"


def test_the_config_seen_by_the_kernel_follows_every_change() -> None:
    plugin = Plugin(VARS_WAT, config={"a": "1"})
    assert plugin.call("config", "a") == b"1"
    plugin.config["a"] = "2"
    assert plugin.call("config", "a") == b"2"
    plugin.update_config({"a": None, "b": "3"})
    assert plugin.call("config", "a") == b"" and plugin.call("config", "b") == b"3"
    plugin.config = {"c": "4" * 1000}
    assert plugin.call("config", "b") == b"" and plugin.call("config", "c") == b"4" * 1000
    plugin.config.clear()
    assert plugin.call("config", "c") == b""
    guest_set(plugin, "v", b"kept")
    plugin.config.setdefault("d", "5")  # the vars move behind the longer config
    assert plugin.call("config", "d") == b"5" and guest_get(plugin, "v") == b"kept"
    assert plugin.call("get", "v") == b"kept" and plugin.vars == {"v": b"kept"}
    prepared = plugin.prepare("config")
    plugin.config |= {"d": "6"}
    assert prepared(b"d") == b"6"


def test_the_vars_view() -> None:
    plugin = Plugin(VARS_WAT)
    plugin.vars["a"] = b"1"
    plugin.vars["b"] = bytearray(b"22")  # type: ignore[assignment]
    assert guest_get(plugin, "b") == b"22"
    guest_set(plugin, "c", b"333")
    assert dict(plugin.vars) == {"a": b"1", "b": b"22", "c": b"333"}
    assert len(plugin.vars) == 3 and "c" in plugin.vars and "d" not in plugin.vars
    assert repr(plugin.vars) == "{'a': b'1', 'b': b'22', 'c': b'333'}"
    del plugin.vars["a"]
    with pytest.raises(KeyError):
        del plugin.vars["a"]
    with pytest.raises(KeyError):
        plugin.vars["a"]
    with pytest.raises(TypeError, match="var values are bytes"):
        plugin.vars["x"] = "text"  # type: ignore[assignment]
    with pytest.raises(TypeError, match="var names are str"):
        plugin.vars[1] = b"x"  # type: ignore[index]
    plugin.vars.update({"d": b"4"})
    assert plugin.vars.pop("b") == b"22"
    assert guest_get(plugin, "d") == b"4" and guest_get(plugin, "b") == b""
    plugin.close()
    assert plugin.vars == {"c": b"333", "d": b"4"}  # still readable once closed


def test_a_host_function_may_use_the_vars_during_a_call() -> None:
    box: list[Plugin] = []

    @wasmplug.host_fn(name="remember")
    def remember(value: str) -> str:
        box[0].vars["seen"] = value.encode()
        return box[0].vars["seen"].decode().upper()

    wat = """(module
      (import "extism:host/user" "remember" (func $remember (param i64) (result i64)))
      (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
      (import "extism:host/env" "length" (func $length (param i64) (result i64)))
      (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
      (func (export "run") (result i32) (local $p i64)
        (local.set $p (call $remember (call $input_offset)))
        (call $output_set (local.get $p) (call $length (local.get $p)))
        (i32.const 0)))"""
    plugin = Plugin(wat, functions=[remember])
    box.append(plugin)
    assert plugin.call("run", "abc") == b"ABC"
    assert plugin.vars == {"seen": b"abc"}


def test_reading_the_vars_waits_for_a_running_call() -> None:
    entered, release = threading.Event(), threading.Event()
    box: list[Plugin] = []

    @wasmplug.host_fn(name="pause")
    def pause(value: str) -> str:
        entered.set()
        assert release.wait(30)
        return value

    wat = """(module
      (import "extism:host/user" "pause" (func $pause (param i64) (result i64)))
      (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
      (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
      (func (export "run") (result i32)
        (call $var_set (call $pause (call $input_offset)) (call $input_offset))
        (i32.const 0)))"""
    plugin = Plugin(wat, functions=[pause])
    box.append(plugin)
    caller = threading.Thread(target=plugin.call, args=("run", "k"))
    caller.start()
    assert entered.wait(30)
    seen: list[dict[str, bytes]] = []
    reader = threading.Thread(target=lambda: seen.append(dict(plugin.vars)))
    reader.start()
    reader.join(0.2)
    assert reader.is_alive() and not seen  # the call holds the plug-in
    release.set()
    caller.join(30)
    reader.join(30)
    assert seen == [{"k": b"k"}]


def test_vars_survive_a_renew_and_a_trap_and_go_with_keep_vars_false() -> None:
    plugin = Plugin(VARS_WAT, config={"a": "1"})
    guest_set(plugin, "k", b"v")
    plugin.vars["h"] = b"w"
    plugin.renew()
    assert guest_get(plugin, "k") == b"v" and plugin.call("config", "a") == b"1"
    with pytest.raises(CallError):
        plugin.call("get", b"\xff")  # a host failure: the next call renews the instance
    assert plugin.vars == {"k": b"v", "h": b"w"}
    assert guest_get(plugin, "h") == b"w"
    plugin.renew(keep_vars=False)  # (at the next call)
    assert guest_get(plugin, "k") == b"" and plugin.call("config", "a") == b"1" and plugin.vars == {}


def test_a_call_cut_short_at_any_point_of_var_set_leaves_the_old_or_the_new_vars() -> None:
    """Fuel runs out at each function entry and loop header in turn (where an epoch
    interrupt could strike too): the vars are always whole, before or after."""
    compiled = CompiledPlugin(VARS_WAT, fuel_limit=10**9)
    before = {"a": b"1", "k": b"old", "z": b"26"}
    for value in (b"new", b"longer value", b""):  # same size, another size, a delete
        after = {**before, "k": value} if value else {"a": b"1", "z": b"26"}
        probe = Plugin(compiled, fuel_limit=10**9)
        probe.vars.update(before)
        guest_set(probe, "k", value)
        needed = probe.fuel_consumed
        seen = set()
        for fuel in range(max(1, needed - 400), needed + 1):
            plugin = Plugin(compiled, fuel_limit=fuel)
            plugin.vars.update(before)
            try:
                guest_set(plugin, "k", value)
            except CallError as exc:
                assert exc.limit == "fuel_limit", exc
            state = dict(plugin.vars)
            assert state in (before, after), (fuel, state)
            seen.add(state == after)
        assert seen == {False, True}


# ------------------------------------------------------------------ the table against a model

_KEYS = st.sampled_from(["a", "b", "long key " * 3, "é", "ключ", ""])
_VALUES = st.binary(min_size=0, max_size=40)
_OPS = st.lists(st.tuples(st.sampled_from(["guest", "host", "del", "renew"]), _KEYS, _VALUES),
                max_size=25)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(ops=_OPS, limit=st.sampled_from([0, 60, 150, 1_048_576]))
def test_the_vault_behaves_as_a_dict_with_a_limit(ops: list[tuple[str, str, bytes]],
                                                  limit: int) -> None:
    plugin = Plugin({"wasm": [{"data": VARS_WAT.encode()}], "memory": {"max_var_bytes": limit}})
    model: dict[str, bytes] = {}
    for op, key, value in ops:
        if op == "guest":
            usage = sum(48 + len(k.encode()) + len(v) for k, v in model.items())
            if limit == 0:
                expected_error: str | None = "Vars are disabled"
            elif value and 48 + len(key.encode()) + len(value) + usage > limit:
                expected_error = "Variable store is full"
            else:
                expected_error = None
            try:
                guest_set(plugin, key, value)
            except CallError as exc:
                assert expected_error is not None and str(exc).startswith(expected_error), exc
            else:
                assert expected_error is None
                if value:
                    model[key] = value
                else:
                    model.pop(key, None)
        elif op == "host":
            plugin.vars[key] = value
            model[key] = value
        elif op == "del":
            if key in model:
                del plugin.vars[key]
                del model[key]
            else:
                with pytest.raises(KeyError):
                    del plugin.vars[key]
        else:
            plugin.renew()
        assert plugin.vars == model
        if key:  # (an empty key reads as no var through the WAT's handle 0)
            assert guest_get(plugin, key) == model.get(key, b"")


def test_the_python_view_refuses_nothing_a_closed_plugin_had() -> None:
    plugin = Plugin(VARS_WAT)
    plugin.close()
    plugin.vars["late"] = b"1"
    assert plugin.vars == {"late": b"1"}
    with pytest.raises(Error, match="freed"):
        guest_get(plugin, "late")


def test_a_plugin_with_vars_is_freed_without_the_cycle_collector() -> None:
    import gc
    import weakref

    plugin = Plugin(VARS_WAT, config={"a": "1"})
    guest_set(plugin, "k", b"v")
    assert dict(plugin.vars) == {"k": b"v"}
    kernel = weakref.ref(plugin._kernel)
    gc.disable()
    try:
        del plugin
        assert kernel() is None  # its store (and memories) went with it, not at the next gc
    finally:
        gc.enable()


def test_a_var_the_vault_cannot_hold_is_refused_with_an_error() -> None:
    plugin = Plugin({"wasm": [{"data": VARS_WAT.encode()}],
                     "memory": {"max_pages": 2, "max_var_bytes": 100}})
    with pytest.raises(Error, match=r"^cannot set var 'big': no room for"):
        plugin.vars["big"] = b"x" * 10_000_000  # past the store's memory limit
    plugin.vars["small"] = b"y"
    assert guest_get(plugin, "small") == b"y" and dict(plugin.vars) == {"small": b"y"}

"""User host functions: host_fn, Function, CurrentPlugin (ABI.md section 8)."""

from __future__ import annotations

import json
import pickle
from typing import Annotated, Any

import pytest

import wasmplug
from wasmplug import (
    CallError,
    Codec,
    CurrentPlugin,
    Function,
    Json,
    LoadError,
    Pickle,
    Plugin,
    Val,
    ValType,
    host_fn,
)

from .conftest import runaway

pytestmark = pytest.mark.usefixtures("call_path")

# A guest that hands its input to host function `user.transform` (i64 -> i64)
# and outputs the block it gets back; and one that adds numbers through host
# function `user.add` (i64, i64 -> i64) and scales through `user.scale` (f64 -> f64).
STRING_GUEST = """
(module
  (import "extism:host/user" "transform" (func $transform (param i64) (result i64)))
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func (export "run") (result i32)
    (local $out i64)
    (local.set $out (call $transform (call $input_offset)))
    (call $output_set (local.get $out) (call $length (local.get $out)))
    (i32.const 0)))
"""

NUMBER_GUEST = """
(module
  (import "math" "add" (func $add (param i64 i64) (result i64)))
  (import "math" "scale" (func $scale (param f64) (result f64)))
  (import "math" "flag" (func $flag (param i32) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func $emit (param $v i64)
    (local $p i64)
    (local.set $p (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $p) (local.get $v))
    (call $output_set (local.get $p) (i64.const 8)))
  (func (export "add") (result i32) (call $emit (call $add (i64.const 40) (i64.const 2))) (i32.const 0))
  (func (export "scale") (result i32)
    (call $emit (i64.reinterpret_f64 (call $scale (f64.const 1.5)))) (i32.const 0))
  (func (export "flag") (result i32)
    (call $emit (i64.extend_i32_u (call $flag (i32.const 1)))) (i32.const 0)))
"""


def string_plugin(fn: Function, **kwargs: Any) -> Plugin:
    return Plugin(STRING_GUEST, functions=[fn], **kwargs)


def test_inferred_str_with_user_data() -> None:
    @host_fn(name="transform", user_data=b"test")
    def hello(text: str, *user_data: bytes) -> str:
        return f"{text}: {user_data[0].decode()}"

    assert string_plugin(hello).call("run", "hello world") == b"hello world: test"


def test_explicit_signature_with_current_plugin() -> None:
    @host_fn(name="transform", signature=([ValType.PTR], [ValType.PTR]))
    def shout(plugin: CurrentPlugin, params: list[Val], results: list[Val]) -> None:
        assert params[0].t == ValType.I64
        plugin.return_string(results[0], plugin.input_string(params[0]).upper())

    assert string_plugin(shout).call("run", "quiet") == b"QUIET"


@runaway(30)  # a deadlock would hang the call
def test_a_host_function_may_renew_the_plugin_it_serves() -> None:
    """Plugin.renew() from inside a call applies to the next call (and does not deadlock)."""
    owner: list[Plugin] = []

    @host_fn(name="transform")
    def renew_me(text: str) -> str:
        owner[0].renew()
        return text.upper()

    plugin = string_plugin(renew_me)
    owner.append(plugin)
    assert plugin.call("run", "again") == b"AGAIN"
    assert plugin.call("run", "and again") == b"AND AGAIN"  # on the fresh instance


def test_low_level_function_object() -> None:
    def f(plugin: CurrentPlugin, params: list[Val], results: list[Val], tag: bytes) -> None:
        mem = plugin.memory_at_offset(params[0])
        data = bytes(plugin.memory(mem)[:])
        out = plugin.alloc(len(data) + len(tag))
        plugin.memory(out)[:] = data + tag
        results[0].value = out.offset

    fn = Function("extism:host/user", "transform", [ValType.I64], [ValType.I64], f, b"!")
    assert string_plugin(fn).call("run", "bytes") == b"bytes!"


def test_numbers_are_passed_as_wasm_values() -> None:
    @host_fn(namespace="math")
    def add(a: int, b: int) -> int:
        return a + b

    @host_fn(namespace="math")
    def scale(x: float) -> float:
        return x * 2

    @host_fn(namespace="math")
    def flag(b: bool) -> bool:
        return not b

    plugin = Plugin(NUMBER_GUEST, functions=[add, scale, flag])
    assert int.from_bytes(plugin.call("add", b""), "little") == 42
    import struct
    assert struct.unpack("<d", plugin.call("scale", b""))[0] == 3.0
    assert int.from_bytes(plugin.call("flag", b""), "little") == 0


def test_json_pickle_and_codec() -> None:
    @host_fn(name="transform")
    def via_json(data: Annotated[dict[str, int], Json]) -> Annotated[dict[str, int], Json]:
        return {k: v * 2 for k, v in data.items()}

    assert json.loads(string_plugin(via_json).call("run", '{"a": 1}')) == {"a": 2}

    @host_fn(name="transform")
    def to_pickle(data: bytes) -> Annotated[Any, Pickle]:
        return {"got": data}

    assert pickle.loads(string_plugin(to_pickle).call("run", "xyz")) == {"got": b"xyz"}

    # ABI.md 12.25: decode replaces o -> u, encode replaces u -> a.
    @host_fn(name="transform")
    def codec(value: Annotated[str, Codec(lambda b: b.decode().replace("o", "u"))]
              ) -> Annotated[str, Codec(lambda s: s.replace("u", "a").encode())]:
        return value

    assert string_plugin(codec).call("run", '{"count": 3}') == b'{"caant": 3}'


def test_host_context_reaches_the_function() -> None:
    @host_fn(name="transform")
    def remember(plugin: CurrentPlugin, text: str) -> str:
        context = plugin.host_context()
        context.append(text)
        return str(len(context))

    plugin = string_plugin(remember)
    first: list[str] = []
    second: list[str] = ["x"]
    assert plugin.call("run", "a", host_context=first) == b"1"
    assert plugin.call("run", "b", host_context=first) == b"2"
    assert plugin.call("run", "c", host_context=second) == b"2"
    assert first == ["a", "b"] and second == ["x", "c"]


def test_exception_fails_the_call_cleanly() -> None:
    @host_fn(name="transform")
    def broken(text: str) -> str:
        if text == "boom":
            raise ValueError("host function exploded")
        return text

    plugin = string_plugin(broken)
    bystander = Plugin(STRING_GUEST, functions=[broken])
    with pytest.raises(CallError, match=r"^host function exploded$") as info:
        plugin.call("run", "boom")
    assert isinstance(info.value.__cause__, ValueError)
    assert plugin.call("run", "fine") == b"fine"
    assert bystander.call("run", "also fine") == b"also fine"


def test_set_error_wins_even_when_the_function_returns() -> None:
    @host_fn(name="transform")
    def refuse(plugin: CurrentPlugin, text: str) -> str:
        plugin.set_error("TEST")
        return text

    with pytest.raises(CallError, match=r"^TEST$"):
        string_plugin(refuse).call("run", "x")


def test_set_error_wins_over_an_exception() -> None:
    @host_fn(name="transform")
    def refuse(plugin: CurrentPlugin, text: str) -> str:
        plugin.set_error("TEST")
        raise RuntimeError("not this")

    with pytest.raises(CallError, match=r"^TEST$"):
        string_plugin(refuse).call("run", "x")


def test_wrong_result_type_is_reported() -> None:
    @host_fn(name="transform", signature=([ValType.I64], [ValType.I64]))
    def wrong(plugin: CurrentPlugin, params: list[Val], results: list[Val]) -> None:
        results[0] = Val(ValType.F64, 1.0)

    with pytest.raises(CallError, match="Output type mismatch"):
        string_plugin(wrong).call("run", "x")


def test_a_replaced_result_val_of_the_right_type_is_used() -> None:
    @host_fn(name="transform", signature=([ValType.I64], [ValType.I64]))
    def replace(plugin: CurrentPlugin, params: list[Val], results: list[Val]) -> None:
        out = plugin.alloc(2)
        plugin.memory(out)[:] = b"ok"
        results[0] = Val(ValType.PTR, out.offset)  # PTR is I64

    assert string_plugin(replace).call("run", "x") == b"ok"


def test_signature_mismatch_is_refused_at_load() -> None:
    @host_fn(name="transform")
    def takes_two(a: int, b: int) -> int:
        return a + b

    with pytest.raises(LoadError, match=r"extism:host/user\.transform has type"):
        string_plugin(takes_two)


def test_functions_default_to_the_registry_and_can_be_chosen() -> None:
    @host_fn(name="transform")
    def registered(text: str) -> str:
        return "from the registry"

    assert Plugin(STRING_GUEST).call("run", "x") == b"from the registry"
    with pytest.raises(LoadError, match=r"unknown import extism:host/user\.transform"):
        Plugin(STRING_GUEST, functions=[])
    wasmplug._host_functions.HOST_FN_REGISTRY.remove(registered)


def test_later_definition_of_the_same_name_wins() -> None:
    first_fn = Function("extism:host/user", "transform", [ValType.I64], [ValType.I64],
                        lambda p, a, r: p.return_string(r[0], "first"))
    second_fn = Function("extism:host/user", "transform", [ValType.I64], [ValType.I64],
                         lambda p, a, r: p.return_string(r[0], "second"))
    assert Plugin(STRING_GUEST, functions=[first_fn, second_fn]).call("run", "") == b"second"


def test_decorator_needs_annotations() -> None:
    with pytest.raises(TypeError, match="must include Python type annotations"):
        host_fn()(lambda x: x)
    with pytest.raises(TypeError, match="Could not infer input type for argument x"):
        @host_fn()
        def bad(x: list[int]) -> None: ...


def test_decorated_function_is_still_callable_from_python() -> None:
    @host_fn()
    def double(x: int) -> int:
        return 2 * x

    assert double(21) == 42
    assert double.name == "double" and double.namespace is None


def test_val_type_and_repr_match_the_sdk() -> None:
    assert ValType.I64 is ValType.PTR
    assert repr(Val(ValType.F64, 3.14)) == "Val(ValType.F64, 3.14)"
    assert len(wasmplug.Memory(10, 5)) == 5


def test_assemblyscript_plugin_calling_typed_host_functions() -> None:
    from .conftest import wasm

    calls: list[str] = []

    @host_fn()
    def hello_world(name: str) -> str:
        return f"Hello, {name}!"

    @host_fn()
    def add_i64(a: int, b: int) -> int:
        return a + b

    @host_fn()
    def scale_f64(x: float) -> float:
        return x * 2.5

    @host_fn(signature=([ValType.I32], [ValType.I32]))
    def flag_i32(plugin: CurrentPlugin, params: list[Val], results: list[Val]) -> None:
        results[0].value = -params[0].value

    @host_fn()
    def host_json(data: Annotated[dict[str, Any], Json]) -> Annotated[dict[str, Any], Json]:
        return {"seen": data, "host": "python"}

    @host_fn()
    def no_args() -> None:
        calls.append("no_args")

    functions = [hello_world, add_i64, scale_f64, flag_i32, host_json, no_args]
    plugin = Plugin(wasm("host_functions").read_bytes(), functions=functions)
    assert plugin.call("say_hello", "wörld 🌎") == "Hello, wörld 🌎!".encode()
    assert plugin.call("add", "40,2") == b"42"
    assert plugin.call("add", "-9223372036854775808,-1") == b"9223372036854775807"  # i64 wraps
    assert plugin.call("scale", "1.5") == b"3.75"
    assert plugin.call("flag", "21") == b"-21"
    assert json.loads(plugin.call("json_roundtrip", '{"a": [1, 2]}')) == {
        "seen": {"a": [1, 2]}, "host": "python"}
    assert plugin.call("call_no_args", b"") == b"done" and calls == ["no_args"]
    with pytest.raises(LoadError, match=r"unknown import extism:host/user\.no_args"):
        Plugin(wasm("host_functions").read_bytes(), functions=functions[:-1])


def test_dropped_host_functions_release_their_native_callbacks() -> None:
    import gc

    from wasmplug import _callpath

    baseline = len(_callpath._callbacks)
    for i in range(200):
        def shout(plugin: CurrentPlugin, params: list[Val], results: list[Val],
                  suffix: bytes = str(i).encode()) -> None:
            plugin.return_string(results[0], plugin.input_string(params[0]) + suffix.decode())

        fn = Function("extism:host/user", "transform", [ValType.I64], [ValType.I64], shout)
        plugin = Plugin(STRING_GUEST, functions=[fn])
        assert plugin.call("run", "x") == f"x{i}".encode()
        del plugin, fn, shout
    gc.collect()
    # raw path: released through wasmtime's finalizers; public path: never held.
    assert len(_callpath._callbacks) <= baseline + 1

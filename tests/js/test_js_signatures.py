"""Host functions and exports of every signature the JS PDK allows (issue 19).

typed.d.ts declares host functions taking and returning I32, I64, F32, F64 or
nothing (one with 20 parameters) and exports with typed parameters and results;
`js build -i` gives the imports and the exports exactly those Wasm types (the
runtime's dispatcher is regenerated per plug-in, see js/embed.py).
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import extism
import pytest
import wasmtime

import wasmplug
from wasmplug import Function, ValType, host_fn, js
from wasmplug.js.interface import read_interface

from .conftest import JS, source

USER = "extism:host/user"


def built() -> bytes:
    return js.build(source("typed.js"), filename="typed.js",
                    interface=read_interface(source("typed.d.ts"), filename="typed.d.ts"))


def signatures(wasm: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """({import name: (params, results)} of extism:host/user, {export name: (params, results)})."""
    module = wasmtime.Module(wasmtime.Engine(), wasm)
    def sig(t: Any) -> tuple[list[str], list[str]]:
        return [str(p) for p in t.params], [str(r) for r in t.results]
    return ({i.name: sig(i.type) for i in module.imports if i.module == USER},
            {e.name: sig(e.type) for e in module.exports if isinstance(e.type, wasmtime.FuncType)})


def wasmplug_functions(seen: list[int]) -> list[Function]:
    def add(_: Any, params: list[Any], results: list[Any]) -> None:
        results[0].value = params[0].value + params[1].value

    def scale(_: Any, params: list[Any], results: list[Any]) -> None:
        results[0].value = params[0].value * params[1].value

    def note(_: Any, params: list[Any], results: list[Any]) -> None:
        seen.append(params[0].value)

    def many(_: Any, params: list[Any], results: list[Any]) -> None:
        results[0].value = sum(p.value for p in params) * 1000

    @host_fn(name="greet")
    def greet(name: str) -> str:
        return f"hi {name}"

    return [Function(USER, "add", [ValType.I32] * 2, [ValType.I32], add),
            Function(USER, "scale", [ValType.F32, ValType.F64], [ValType.F64], scale),
            Function(USER, "note", [ValType.I64], [], note),
            Function(USER, "many", [ValType.I32] * 20, [ValType.I64], many), greet]


def test_imports_and_exports_have_the_declared_types() -> None:
    imports, exports = signatures(built())
    assert imports == {"add": (["i32", "i32"], ["i32"]), "scale": (["f32", "f64"], ["f64"]),
                       "note": (["i64"], []), "many": (["i32"] * 20, ["i64"]),
                       "greet": (["i64"], ["i64"])}
    assert exports == {"add3": (["i32"] * 3, ["i32"]), "big": (["i64"], ["i64"]),
                       "half": (["f64"], ["f32"]), "appendString": (["i64", "i64"], ["i64"]),
                       "hosts": ([], ["i32"]), "wrongCount": ([], ["i32"])}


def test_js_calls_host_functions_of_every_type() -> None:
    seen: list[int] = []
    manifest = {"wasm": [{"data": built()}]}
    with wasmplug.Plugin(manifest, wasi=True, functions=wasmplug_functions(seen)) as p:
        # add(2, 40) I32; scale(1.5, 2) F32 x F64; note(7n) I64 -> void; many(0..19) 20 x I32 -> I64;
        # greet: the PDK's memory offsets
        assert json.loads(p.call("hosts", b"")) == [42, 3, None, 190000, "hi ann"]
        assert seen == [7]
        assert p.call("wrongCount", b"") == b"TypeError: host function add takes 2 arguments, not 1"


def linked_manifest() -> dict[str, Any]:
    caller = bytes(wasmtime.wat2wasm((JS / "typed_caller.wat").read_text()))
    return {"wasm": [{"data": built(), "name": "typed"}, {"data": caller, "name": "main"}]}


def test_typed_exports_called_by_a_linked_module() -> None:
    with wasmplug.Plugin(linked_manifest(), wasi=True, functions=wasmplug_functions([])) as p:
        # add3(1, 2, 39) -> I32 42; big(21) gets a BigInt and returns 42n -> I64
        assert struct.unpack("<qq", p.call("run", b"")) == (42, 42)


def test_the_official_sdk_runs_typed_exports_and_host_functions() -> None:
    types = extism.ValType
    seen: list[int] = []

    @extism.host_fn(name="add", namespace=USER, signature=([types.I32] * 2, [types.I32]))
    def add(_: Any, params: list[Any], results: list[Any], *user_data: Any) -> None:
        results[0].value = params[0].value + params[1].value

    @extism.host_fn(name="scale", namespace=USER, signature=([types.F32, types.F64], [types.F64]))
    def scale(_: Any, params: list[Any], results: list[Any], *user_data: Any) -> None:
        pass  # the SDK's Python layer cannot return an F64 from a host function

    @extism.host_fn(name="note", namespace=USER, signature=([types.I64], []))
    def note(_: Any, params: list[Any], results: list[Any], *user_data: Any) -> None:
        seen.append(params[0].value)

    @extism.host_fn(name="many", namespace=USER, signature=([types.I32] * 20, [types.I64]))
    def many(_: Any, params: list[Any], results: list[Any], *user_data: Any) -> None:
        results[0].value = sum(p.value for p in params)

    @extism.host_fn(name="greet")
    def greet(name: str) -> str:
        return f"hey {name}"

    functions = [add, scale, note, many, greet]
    linked = extism.Plugin(linked_manifest(), wasi=True, functions=functions)
    assert struct.unpack("<qq", linked.call("run", b"")) == (42, 42)
    plugin = extism.Plugin({"wasm": [{"data": built()}]}, wasi=True, functions=functions)
    result = json.loads(plugin.call("hosts", b""))
    assert (result[0], result[2], result[3], result[4]) == (42, None, 190, "hey ann")
    assert seen == [7]


def test_more_than_sixteen_host_functions() -> None:
    code = "const f = Host.getFunctions();\nmodule.exports = { go() { return f.f39(2) + f.f0(1) } };"
    wasm = js.build(code, host_functions=[f"f{n}(I32): I32" for n in range(40)])
    assert len(signatures(wasm)[0]) == 40

    def make(n: int) -> Function:
        def plus(_: Any, params: list[Any], results: list[Any]) -> None:
            results[0].value = params[0].value + 1000 * n
        return Function(USER, f"f{n}", [ValType.I32], [ValType.I32], plus)

    with wasmplug.Plugin({"wasm": [{"data": wasm}]}, wasi=True,
                         functions=[make(n) for n in range(40)]) as plugin:
        with pytest.raises(wasmplug.CallError) as caught:  # a number is the return code
            plugin.call("go", b"")
        assert caught.value.code == 39003


def test_cli_takes_signatures_with_f(tmp_path: Path) -> None:
    out = tmp_path / "t.wasm"
    build = [sys.executable, "-m", "wasmplug", "js", "build", str(JS / "typed.js"), "-o", str(out)]
    done = subprocess.run([*build, "-f", "add(I32, I32): I32", "-f", "note(I64): void", "-f", "greet"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    imports, exports = signatures(out.read_bytes())
    assert imports == {"add": (["i32", "i32"], ["i32"]), "note": (["i64"], []),
                       "greet": (["i64"], ["i64"])}
    assert exports["add3"] == ([], ["i32"])  # without the interface: the PDK's plain exports
    bad = subprocess.run([*build, "-f", "add(I32 I32): I32"], capture_output=True, text=True, timeout=300,
                         check=False)
    assert bad.returncode == 1 and "--host-function, line 1: expected ':', found 'I32'" in bad.stderr

"""JS plug-ins calling host functions the JS PDK way: Host.getFunctions() and Memory.

The functions are declared when the plug-in is built (`--host-function NAME`):
the runtime's host-function slots are renamed to exactly those imports
(`extism:host/user.NAME`, type (i64) -> i64), without renumbering anything.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import extism
import pytest
import wasmtime

import wasmplug
from wasmplug import Json, host_fn, js
from wasmplug.js import embed

from .conftest import JS, source

DECLARED = ["greet", "lookup"]


def built() -> bytes:
    return js.build(source("host_functions.js"), filename="host_functions.js", host_functions=DECLARED)


def imports(wasm: bytes) -> set[tuple[str, str]]:
    module = wasmtime.Module(wasmtime.Engine(), wasm)
    return {(i.module, i.name) for i in module.imports if i.module.startswith("extism:host/user")}


def functions() -> list[Any]:
    @host_fn()
    def greet(name: str) -> str:
        return f"Hello, {name}!"

    @host_fn()
    def lookup(query: Annotated[dict, Json]) -> Annotated[dict, Json]:  # type: ignore[type-arg]
        return {"key": query["key"], "value": 42}

    return [greet, lookup]


def test_js_calls_python_host_functions() -> None:
    with wasmplug.Plugin({"wasm": [{"data": built()}]}, wasi=True, functions=functions()) as plugin:
        assert plugin.call("hello", "ann") == b"Hello, ann!"
        # JSON through Memory.fromJsonObject / readJsonObject; .len counts UTF-8 bytes
        assert json.loads(plugin.call("query", "k")) == {"found": {"key": "k", "value": 42}, "bytes": 2}
        for name in ("bob", "é" * 1000):
            assert plugin.call("hello", name) == f"Hello, {name}!".encode()


def test_the_plugin_imports_exactly_the_declared_functions() -> None:
    assert imports(built()) == {("extism:host/user", "greet"), ("extism:host/user", "lookup")}
    plain = js.build(source("count_vowels.js"), filename="count_vowels.js")
    assert imports(plain) == set()  # unused slots import a kernel function every host has
    with wasmplug.Plugin({"wasm": [{"data": plain}]}, wasi=True, functions=[]) as plugin:
        assert json.loads(plugin.call("count_vowels", "aei"))["count"] == 3


def test_an_undeclared_function_is_a_clear_js_error() -> None:
    with wasmplug.Plugin({"wasm": [{"data": built()}]}, wasi=True, functions=functions()) as plugin:
        with pytest.raises(wasmplug.CallError, match=r"host function missing was not declared.*"
                                                     r"--host-function missing"):
            plugin.call("undeclared", "")
        assert plugin.call("hello", "ann") == b"Hello, ann!"  # still usable


def test_a_missing_host_function_is_refused_at_load_with_its_name() -> None:
    with pytest.raises(wasmplug.Error, match="lookup"):
        wasmplug.Plugin({"wasm": [{"data": built()}]}, wasi=True, functions=functions()[:1])


def test_a_host_function_error_fails_the_call() -> None:
    @host_fn(name="greet")
    def refuse(name: str) -> str:
        raise ValueError(f"no greeting for {name}")

    with wasmplug.Plugin({"wasm": [{"data": built()}]}, wasi=True,
                         functions=[refuse, functions()[1]]) as plugin:
        with pytest.raises(wasmplug.Error, match="no greeting for ann"):
            plugin.call("hello", "ann")
        assert json.loads(plugin.call("query", "k"))["found"]["value"] == 42


def test_the_official_sdk_runs_it_too() -> None:
    @extism.host_fn(name="greet")
    def greet(name: str) -> str:
        return f"Hi {name}"

    @extism.host_fn(name="lookup")
    def lookup(query: Annotated[dict, extism.Json]) -> Annotated[dict, extism.Json]:  # type: ignore[type-arg]
        return {"value": query["key"] * 2}

    plugin = extism.Plugin({"wasm": [{"data": built()}]}, wasi=True, functions=[greet, lookup])
    assert plugin.call("hello", "ann") == b"Hi ann"
    assert json.loads(plugin.call("query", "ab"))["found"] == {"value": "abab"}


def test_declarations_are_checked() -> None:
    code = source("host_functions.js")
    with pytest.raises(js.BuildError, match="65 host functions declared; the runtime has 64 slots"):
        js.build(code, host_functions=[f"f{n}" for n in range(65)])
    with pytest.raises(js.BuildError, match="declared twice"):
        js.build(code, host_functions=["greet", "greet"])
    with pytest.raises(js.BuildError, match="cannot be a host function name"):
        js.build(code, host_functions=["a\nb"])
    many = js.build(code, filename="h.js", host_functions=[f"f{n}" for n in range(embed.HOST_SLOTS)])
    assert len(imports(many)) == embed.HOST_SLOTS


@pytest.mark.parametrize("declare", [["--host-function", "greet", "-f", "lookup"],
                                     ["-i", str(JS / "host_functions.d.ts")]])
def test_cli_build_with_host_functions(tmp_path: Path, declare: list[str]) -> None:
    out = tmp_path / "h.wasm"
    result = subprocess.run([sys.executable, "-m", "wasmplug", "js", "build", str(JS / "host_functions.js"),
                             "-o", str(out), *declare], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert imports(out.read_bytes()) == {("extism:host/user", "greet"), ("extism:host/user", "lookup")}
    with wasmplug.Plugin(str(out), wasi=True, functions=functions()) as plugin:
        assert plugin.call("hello", "cy") == b"Hello, cy!"


def test_host_functions_from_an_extism_js_interface_file() -> None:
    text = (JS / "host_functions.d.ts").read_text()
    assert js.host_functions_from_dts(text) == ["greet", "lookup"]
    assert js.host_functions_from_dts("declare module 'main' { export function f(): I32; }") == []
    # other signatures come back in the notation `-f` and build(host_functions=) take
    assert js.host_functions_from_dts(
        "declare module 'extism:host' { interface user { add(a: I64, b: I32): F64; n(): void } }",
        filename="x.d.ts") == ["add(I64, I32): F64", "n(): void"]
    with pytest.raises(js.BuildError, match="cannot read the host function declaration"):
        js.host_functions_from_dts("declare module 'extism:host' { interface user { 3d(): I64 } }")

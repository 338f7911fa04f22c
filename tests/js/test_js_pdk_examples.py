"""The JS PDK's examples, as plug-ins of our own shaped like them (plugins/js/pdk/).

Each is built the way the PDK's Makefile builds its example with extism-js
(`js build SOURCE -i SOURCE.d.ts -o OUT.wasm`) and run under wasmplug (its CLI,
as the Makefile runs `extism call ... --wasi --input=...`, and its Python API)
and under the official `extism` SDK, with the output the example documents.
"""

from __future__ import annotations

import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import extism
import pytest
import wasmtime

import wasmplug

from ..http_server import serve
from .conftest import JS

PDK = JS / "pdk"


def js_build(tmp_path: Path, name: str, *, interface: bool = True) -> Path:
    """`wasmplug js build pdk/NAME.js -i pdk/NAME.d.ts -o NAME.wasm`, as the Makefile runs extism-js."""
    out = tmp_path / f"{name}.wasm"
    flags = ["-i", str(PDK / f"{name}.d.ts")] if interface else []
    done = subprocess.run([sys.executable, "-m", "wasmplug", "js", "build", str(PDK / f"{name}.js"), *flags,
                           "-o", str(out)], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return out


def both(wasm: Path, **options: Any) -> list[Callable[[str, bytes | str], bytes]]:
    """`call(name, input)` of the plug-in under wasmplug and under the official SDK."""
    functions = options.pop("functions", ([], []))
    ours = wasmplug.Plugin({"wasm": [{"path": str(wasm)}], **options}, wasi=True, functions=functions[0])
    official = extism.Plugin({"wasm": [{"path": str(wasm)}], **options}, wasi=True,
                             functions=functions[1])
    return [ours.call, official.call]


def test_simple_js_greets_from_the_cli_and_both_sdks(tmp_path: Path) -> None:
    wasm = js_build(tmp_path, "hello")
    done = subprocess.run([sys.executable, "-m", "wasmplug", "call", str(wasm), "greet", "--wasi",
                           "--input=Benjamin"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Hello, Benjamin"
    for call in both(wasm):
        assert call("greet", "Benjamin") == b"Hello, Benjamin"


def test_an_es_module_with_text_encoding(tmp_path: Path) -> None:
    for call in both(js_build(tmp_path, "module")):
        assert call("shout", "héllo") == "HÉLLO! (6 bytes)".encode()


def test_host_functions_declared_in_extism_host_user(tmp_path: Path) -> None:
    wasm = js_build(tmp_path, "offsets")
    module = wasmtime.Module(wasmtime.Engine(), wasm.read_bytes())
    assert {(i.module, i.name) for i in module.imports if "user" in i.module} == {
        ("extism:host/user", "describe"), ("extism:host/user", "decorate")}

    @wasmplug.host_fn(name="describe")
    def describe(text: str) -> str:
        return f"{len(text)} characters"

    @wasmplug.host_fn(name="decorate")
    def decorate(value: Annotated[dict, wasmplug.Json]) -> Annotated[dict, wasmplug.Json]:  # type: ignore[type-arg]
        return {**value, "tags": [*value["tags"], value["name"]]}

    @extism.host_fn(name="describe")
    def describe_sdk(text: str) -> str:
        return f"{len(text)} characters"

    @extism.host_fn(name="decorate")
    def decorate_sdk(value: Annotated[dict, extism.Json]) -> Annotated[dict, extism.Json]:  # type: ignore[type-arg]
        return {**value, "tags": [*value["tags"], value["name"]]}

    for call in both(wasm, functions=([describe, decorate], [describe_sdk, decorate_sdk])):
        assert call("run", "Ann") == b"3 characters / js+Ann"


def test_typed_exports_called_by_a_linked_module(tmp_path: Path) -> None:
    wasm = js_build(tmp_path, "typed")
    caller = bytes(wasmtime.wat2wasm((PDK / "typed_caller.wat").read_text()))
    manifest = {"wasm": [{"path": str(wasm), "name": "typed"}, {"data": caller, "name": "main"}]}

    @wasmplug.host_fn(name="wrap")
    def wrap(text: str) -> Annotated[dict, wasmplug.Json]:  # type: ignore[type-arg]
        return {"wrapped": f"[{text}]"}

    @extism.host_fn(name="wrap")
    def wrap_sdk(text: str) -> Annotated[dict, extism.Json]:  # type: ignore[type-arg]
        return {"wrapped": f"[{text}]"}

    with wasmplug.Plugin(manifest, wasi=True, functions=[wrap]) as ours:
        assert struct.unpack("<q", ours.call("sum", b"")) == (42,)
        assert ours.call("join", b"") == b"abc"
    official = extism.Plugin(manifest, wasi=True, functions=[wrap_sdk])
    assert struct.unpack("<q", official.call("sum", b"")) == (42,)
    assert official.call("join", b"") == b"abc"
    # `wrap(text: string): {wrapped: string}`: both types are memory offsets (I64)
    for call in both(wasm, functions=([wrap], [wrap_sdk])):
        assert call("viaHost", "x") == b"[x]"


def test_var_http_config_and_memory_in_one_call(tmp_path: Path) -> None:
    wasm = js_build(tmp_path, "everything")
    with serve(tmp_path) as url:
        config = {"echo_url": f"{url}/echo", "family": "Manuel"}
        for call in both(wasm, allowed_hosts=["127.0.0.1"], config=config):
            assert call("visit", "Steve") == b"POST Steve Manuel"
        for call in both(wasm, allowed_hosts=["127.0.0.1"], config={"echo_url": f"{url}/echo"}):
            with pytest.raises((wasmplug.Error, extism.Error), match="5"):  # the return code
                call("visit", "Steve")


def test_errors_caught_thrown_and_of_promises_used_unawaited(tmp_path: Path) -> None:
    wasm = js_build(tmp_path, "caught", interface=False)
    for call in both(wasm):
        assert call("catches", b"") == b""  # the async error is caught in JS: success
        assert call("handled", b"") == b"from the handler"
        with pytest.raises((wasmplug.Error, extism.Error),
                           match=r"Error: a plain JS exception[\s\S]*caught\.js"):
            call("throws", b"")
        with pytest.raises((wasmplug.Error, extism.Error), match="TypeError: not a function"):
            call("notAwaited", b"")

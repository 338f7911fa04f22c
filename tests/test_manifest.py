"""Manifest parsing and validation (ABI.md section 6)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from wasmplug import LoadError, Manifest, ManifestError, MemoryOptions, Plugin, WasmData, WasmFile
from wasmplug._manifest import load_modules, parse_source

from .conftest import wasm

ECHO = wasm("echo")


def test_typed_manifest_object() -> None:
    manifest = Manifest(wasm=(WasmFile(str(ECHO)),), config={"a": "b"},
                        memory=MemoryOptions(max_var_bytes=10), timeout_ms=1000)
    assert parse_source(manifest) is manifest
    assert Plugin(manifest).call("echo", b"typed") == b"typed"


def test_dict_json_string_and_json_file(tmp_path: Path) -> None:
    obj = {"wasm": [{"path": str(ECHO), "name": "main"}], "config": {"k": "v"},
           "memory": {"max_pages": 100, "max_var_bytes": 5, "max_http_response_bytes": 9},
           "allowed_hosts": ["*.example.com"], "allowed_paths": {"/tmp": "/data"},
           "timeout_ms": 250}
    file = tmp_path / "m.json"
    file.write_text(json.dumps(obj))
    for source in (obj, json.dumps(obj), str(file), file):
        m = parse_source(source)
        assert m.config == {"k": "v"}
        assert m.memory == MemoryOptions(max_pages=100, max_http_response_bytes=9,
                                         max_var_bytes=5)
        assert m.allowed_hosts == ("*.example.com",)
        assert m.allowed_paths == {"/tmp": "/data"}
        assert m.timeout_ms == 250


def test_toml_manifest(tmp_path: Path) -> None:
    file = tmp_path / "m.toml"
    file.write_text(f'timeout_ms = 5000\n[[wasm]]\npath = "{ECHO}"\n[config]\nx = "y"\n')
    m = parse_source(str(file))
    assert m.timeout_ms == 5000 and m.config == {"x": "y"}
    assert Plugin(str(file)).call("echo", b"toml") == b"toml"


def test_data_as_bytes_and_base64_with_hash() -> None:
    data = ECHO.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    for value in (data, base64.b64encode(data).decode()):
        plugin = Plugin({"wasm": [{"data": value, "hash": digest}]})
        assert plugin.call("echo", b"d") == b"d"


def test_hash_mismatch_is_refused_before_compiling() -> None:
    wrong = "0" * 64
    with pytest.raises(LoadError, match=f"Hash mismatch, found [0-9a-f]{{64}} but expected {wrong}"):
        Plugin({"wasm": [{"path": str(ECHO), "hash": wrong}]})


@pytest.mark.parametrize("encode", [bytes, lambda b: base64.b64encode(b).decode()],
                         ids=["bytes", "base64"])
def test_hash_of_data_sources_is_verified(encode: Any) -> None:
    data = ECHO.read_bytes()
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(LoadError, match=rf"^Hash mismatch, found {hashlib.sha256(data).hexdigest()} "
                                        rf"but expected {wrong} \(wasm\[0\]\.data\)"):
        Plugin({"wasm": [{"data": encode(data), "hash": wrong}]})
    tampered = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(LoadError, match=r"^Hash mismatch"):
        Plugin({"wasm": [{"data": encode(tampered), "hash": hashlib.sha256(data).hexdigest()}]})


def test_uppercase_hash_is_rejected_with_a_clear_message() -> None:
    with pytest.raises(ManifestError, match=r"wasm\[0\]\.hash.*lowercase hex"):
        parse_source({"wasm": [{"path": str(ECHO), "hash": "A" * 64}]})


@pytest.mark.parametrize(("manifest", "field"), [
    ({"wasm": [{"path": "x"}], "bogus": 1}, "'bogus'"),
    ({"wasm": [{"path": "x", "extra": 1}]}, r"'wasm\[0\]\.extra'"),
    ({"wasm": [{"path": "x"}], "memory": {"max_pages": -1}}, "'memory.max_pages'"),
    ({"wasm": [{"path": "x"}], "memory": {"max_pages": "10"}}, "'memory.max_pages'"),
    ({"wasm": [{"path": "x"}], "memory": {"max_var_bytes": 1.5}}, "'memory.max_var_bytes'"),
    ({"wasm": [{"path": "x"}], "memory": {"nope": 1}}, "'memory.nope'"),
    ({"wasm": [{"path": "x"}], "memory": 3}, "'memory'"),
    ({"wasm": [{"path": "x"}], "config": {"a": 1}}, "'config'"),
    ({"wasm": [{"path": "x"}], "timeout_ms": True}, "'timeout_ms'"),
    ({"wasm": [{"path": "x"}], "allowed_hosts": "example.com"}, "'allowed_hosts'"),
    ({"wasm": [{"path": "x"}], "allowed_paths": ["/tmp"]}, "'allowed_paths'"),
    ({"wasm": [{"nothing": "here"}]}, r"'wasm\[0\]'.*'path', 'data' or 'url'"),
    ({"wasm": [{"data": "not base64!"}]}, r"'wasm\[0\]\.data'.*base64"),
    ({"wasm": [{"data": {"ptr": 1, "len": 2}}]}, r"'wasm\[0\]\.data'.*native host"),
    ({"wasm": "x.wasm"}, "'wasm'"),
    ({"wasm": [{"url": "https://x", "method": 5}]}, r"'wasm\[0\]\.method'"),
])
def test_invalid_fields_are_named(manifest: dict[str, object], field: str) -> None:
    with pytest.raises(ManifestError, match=field):
        parse_source(manifest)


def test_no_wasm_is_an_error() -> None:
    for manifest in ({"wasm": []}, {}, {"config": {}}):
        with pytest.raises(ManifestError, match="No wasm files specified"):
            parse_source(manifest)


def test_unknown_manifest_format() -> None:
    with pytest.raises(ManifestError, match=r"the plug-in data is neither a wasm module nor a "
                       r"JSON/TOML manifest: TOML: .*\(at line 1, column \d+\)"):
        parse_source("this is { neither json nor toml")
    with pytest.raises(ManifestError, match=r"the plug-in data is not a manifest: a manifest "
                       r"is a JSON/TOML object, got list \[1, 2\]"):
        parse_source("[1, 2]")
    with pytest.raises(ManifestError, match="not a known manifest field"):
        Plugin({"invalid_manifest": True})


def test_legacy_aliases_are_accepted() -> None:
    m = parse_source({"wasm": [{"url": "https://e/x.wasm", "header": {"a": "b"}, "method": "post"}],
                      "memory": {"max": 5}})
    assert m.memory.max_pages == 5
    source = m.wasm[0]
    assert source.headers == {"a": "b"} and source.method == "POST"  # type: ignore[union-attr]


def test_defaults() -> None:
    m = parse_source({"wasm": [{"path": "x"}]})
    assert m.memory.var_bytes_limit == 1_048_576
    assert m.memory.http_response_limit == 52_428_800
    assert m.allowed_hosts is None and m.allowed_paths is None and m.timeout_ms is None


def test_module_naming_rules() -> None:
    a, b = b"\0asm\x01\0\0\0", b"\0asm\x01\0\0\0\x00"

    def names(*sources: WasmData) -> list[str]:
        return [m.name for m in load_modules(Manifest(wasm=sources))]

    assert names(WasmData(a, name="anything")) == ["main"]           # single: always main
    assert names(WasmData(a, name="lib"), WasmData(b)) == ["lib", "main"]
    assert names(WasmData(a), WasmData(b, name="lib")) == ["lib", "main"]  # main listed last
    assert names(WasmData(a, name="x"), WasmData(b, name="y")) == ["x", "main"]  # last -> main
    with pytest.raises(LoadError, match="Duplicate module name found in Extism manifest: main"):
        names(WasmData(a), WasmData(b), WasmData(a, name="z"))


def test_bytes_that_are_wat_toml_json_or_wasm() -> None:
    assert isinstance(parse_source(b"(module)").wasm[0], WasmData)
    assert isinstance(parse_source(b";; comment\n(module)").wasm[0], WasmData)
    assert parse_source(b'{"wasm": [{"path": "x"}]}').wasm[0] == WasmFile("x")
    assert parse_source(b'[[wasm]]\npath = "x"\n').wasm[0] == WasmFile("x")

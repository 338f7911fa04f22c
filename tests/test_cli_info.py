"""`wasmplug info`: every committed plug-in described without being instantiated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from wasmplug.cli import main

from .conftest import ROOT, wasm
from .http_server import serve

ALL_FIXTURES = sorted((ROOT / "plugins").rglob("*.wasm"))
INVALID = {"garbage.wasm", "empty.wasm", "truncated.wasm", "invalid_types.wasm"}


def info(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["info", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: str(p.relative_to(ROOT / "plugins")))
def test_info_json_on_every_fixture(path: Path) -> None:
    code, out, err = info(str(path), "--json")
    if code == 3:  # the hostile corpus' invalid files: a clear error, no traceback
        assert err.startswith("Error: ") and "Traceback" not in err
        assert out == ""
        return
    assert code == 0, err
    report = json.loads(out)
    main_module = report["modules"][-1]
    assert main_module["size"] == path.stat().st_size
    assert len(main_module["sha256"]) == 64
    assert report["functions"] == sorted(
        e["name"] for e in main_module["exports"] if e["extism_function"])


def test_invalid_files_exit_3() -> None:
    invalid = [p for p in ALL_FIXTURES if p.name in INVALID]
    assert invalid
    for path in invalid:
        assert info(str(path))[0] == 3, path


def test_wasi_plugin() -> None:
    report = json.loads(info(str(ROOT / "plugins" / "c" / "wasi_files.wasm"), "--json")[1])
    assert report["needs_wasi"] is True
    wasi = [i for i in report["modules"][0]["imports"] if i["module"] == "wasi_snapshot_preview1"]
    assert wasi and all(i["how"] == "WASI (needs --wasi)" for i in wasi)


def _string(text: str) -> bytes:
    return bytes([len(text)]) + text.encode()


def test_custom_sections_and_the_producers_language(tmp_path: Path) -> None:
    payload = (b"\x01" + _string("language") + b"\x01" + _string("Rust") + _string("1.78.0"))
    body = _string("producers") + payload
    path = tmp_path / "with_producers.wasm"
    path.write_bytes(wasm("echo").read_bytes() + b"\x00" + bytes([len(body)]) + body)
    report = json.loads(info(str(path), "--json")[1])
    section = report["modules"][0]["custom_sections"][-1]
    assert section == {"name": "producers", "size": len(payload),
                       "producers": {"language": ["Rust 1.78.0"]}}
    assert "language: Rust 1.78.0" in info(str(path))[1]


def test_host_function_imports_are_listed_with_signatures() -> None:
    report = json.loads(info(str(wasm("host_functions")), "--json")[1])
    needed = report["host_functions_needed"]
    assert "extism:host/user.add_i64 (i64, i64) -> (i64)" in needed
    kinds = {i["name"]: i["how"] for i in report["modules"][0]["imports"]}
    assert kinds["alloc"] == "kernel" and kinds["hello_world"].startswith("a host function")


def test_legacy_plugin() -> None:
    report = json.loads(info(str(wasm("wat/legacy_count_vowels")), "--json")[1])
    assert {i["how"] for i in report["modules"][0]["imports"]} == {"legacy 0.x ABI"}
    assert report["host_functions_needed"] == []
    assert report["modules"][0]["memories"][0]["origin"] == "defined"


def test_multi_module_with_link_and_manifest(tmp_path: Path) -> None:
    lib = wasm("wat/lib_math")
    report = json.loads(info(str(wasm("wat/uses_lib")), "--link", f"lib_math={lib}",
                             "--json")[1])
    assert [m["name"] for m in report["modules"]] == ["lib_math", "main"]
    assert report["host_functions_needed"] == []
    assert {i["how"] for i in report["modules"][1]["imports"] if i["module"] == "lib_math"} == {
        "module 'lib_math' of the manifest"}
    (tmp_path / "lib.wasm").write_bytes(lib.read_bytes())
    (tmp_path / "main.wasm").write_bytes(wasm("wat/uses_lib").read_bytes())
    (tmp_path / "m.json").write_text(json.dumps({"wasm": [
        {"path": "lib.wasm", "name": "lib_math"}, {"path": "main.wasm"}]}))
    code, out, err = info("-m", str(tmp_path / "m.json"))
    assert code == 0, err
    assert "callable functions: compute" in out


def test_second_run_comes_from_the_cache() -> None:
    path = str(wasm("count_vowels"))
    info(path, "--json")
    report = json.loads(info(path, "--json")[1])
    assert report["modules"][0]["from_cache"] is True
    assert report["modules"][0]["compile_seconds"] >= 0


def test_human_output() -> None:
    code, out, _ = info(str(wasm("count_vowels")))
    assert code == 0
    assert "count_vowels" in out and "imports from extism:host/env" in out
    assert "--memory-max needed at least" in out


def test_wrong_hash_exits_3() -> None:
    code, _, err = info(str(wasm("echo")), "--hash", "0" * 64)
    assert code == 3 and "Hash mismatch" in err


def test_url_plugin(tmp_path: Path) -> None:
    (tmp_path / "echo.wasm").write_bytes(wasm("echo").read_bytes())
    with serve(tmp_path) as base:
        code, out, err = info(f"{base}/file/echo.wasm", "--json")
    assert code == 0, err
    assert json.loads(out)["functions"] == ["echo"]

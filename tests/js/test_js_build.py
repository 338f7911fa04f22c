"""Building: the runtime (reproducible), embedding (pure Python), the CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import wasmplug
from wasmplug import js
from wasmplug.cli import main
from wasmplug.js import embed, recipe, snapshot

from .conftest import JS, source


def test_runtime_matches_the_recorded_sha256() -> None:
    """The runtime built from the pinned sources is byte-for-byte the recorded one."""
    runtime = js.runtime_bytes()
    assert hashlib.sha256(runtime).hexdigest() == recipe.RUNTIME_SHA256
    assert 500_000 < len(runtime) < 2_000_000


def test_runtime_needs_only_a_few_wasi_calls() -> None:
    import wasmtime

    module = wasmtime.Module(wasmtime.Engine(), js.runtime_bytes())
    wasi = sorted(i.name for i in module.imports if i.module == "wasi_snapshot_preview1")
    assert wasi == ["clock_time_get", "fd_close", "fd_fdstat_get", "fd_seek", "fd_write", "random_get"]
    slots = sorted(i.name for i in module.imports if i.module == "extism:host/user")
    assert slots == sorted(f"__wasmplug_host_{n}" for n in range(embed.HOST_SLOTS))
    bare = wasmtime.Module(wasmtime.Engine(), js.bare_runtime_bytes())
    assert {i.module for i in bare.imports} == {"wasi_snapshot_preview1", "extism:host/env"}


def test_bare_runtime_explains_itself() -> None:
    with wasmplug.Plugin(js.bare_runtime_bytes(), wasi=True) as plugin, \
            pytest.raises(wasmplug.CallError, match="no JavaScript code is loaded"):
        plugin.call("__wasmplug_invoke", b"sf\0")


def test_a_new_process_reads_only_the_bare_runtime(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The bare runtime is kept beside the built one, named by its recipe; later reads skip the raw one."""
    from wasmplug.js import prebuilt

    built = tmp_path / f"runtime-{prebuilt.recipe_digest()}.wasm"
    built.write_bytes(js.runtime_bytes())
    monkeypatch.delenv("WASMPLUG_JS_RUNTIME")
    monkeypatch.setenv("WASMPLUG_JS_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setattr(prebuilt, "_cached", None)  # as in a new process
    monkeypatch.setattr(prebuilt, "_derived_paths", {})
    expected = js.bare_runtime_bytes()
    made = tmp_path / f"bare-{prebuilt.recipe_digest()}-s{snapshot.FORMAT}.wasm"
    assert made.read_bytes() == expected
    monkeypatch.setattr(prebuilt, "_derived_paths", {})

    def unread() -> bytes:
        raise AssertionError("the built runtime was read again")
    monkeypatch.setattr(prebuilt, "runtime_bytes", unread)
    assert js.bare_runtime_bytes() == expected


def test_embedding_appends_and_keeps_the_runtime_intact() -> None:
    runtime = js.runtime_bytes()
    blob = embed.make_blob(b"export function a() { return 'A' }", ["a", "b"], kind="m", filename="x.js")
    wasm = embed.embed(runtime, blob, ["a", "b"])
    assert blob in wasm and len(wasm) < len(runtime) + len(blob) + 200
    with wasmplug.Plugin(wasm, wasi=True) as plugin:
        assert plugin.call("a", "") == b"A"
        with pytest.raises(wasmplug.CallError, match="no function named 'b'"):
            plugin.call("b", "")
    with pytest.raises(embed.EmbedError, match="not a wasmplug JS runtime"):
        echo = Path(__file__).parents[2] / "plugins/assemblyscript/echo.wasm"
        embed.embed(echo.read_bytes(), blob, ["a"])
    with pytest.raises(embed.EmbedError, match="not a wasm binary"):
        embed.embed(b"nope", blob, ["a"])


def test_leb128_round_trip() -> None:
    from wasmplug.binary import Reader, encode_sleb, encode_uleb

    for n in (0, 1, 63, 64, 127, 128, 300, 2**31 - 1):
        r = Reader(encode_uleb(n))
        assert r.uleb() == n
    assert encode_sleb(-1) == b"\x7f" and encode_sleb(64) == b"\xc0\x00" and encode_sleb(63) == b"\x3f"
    with pytest.raises(embed.EmbedError, match="truncated"):
        embed.embed(b"\0asm\x01\0\0\0\x01\x05\x00", b"", ["a"])


def test_cli_build_then_call(tmp_path: Path) -> None:
    out = tmp_path / "game.wasm"
    result = CliRunner().invoke(main, ["js", "build", str(JS / "game.js"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "get_constraints, handle_event, init_game, render" in result.output
    with wasmplug.Plugin(out.read_bytes(), wasi=True) as game:
        assert json.loads(game.call("get_constraints", "")) == {"min_players": 2, "max_players": 2}
    listing = CliRunner().invoke(main, ["js", "exports", str(JS / "count_vowels.js")])
    assert listing.output.split() == ["count_vowels", "noop"]


def test_cli_call_accepts_a_js_file() -> None:
    result = CliRunner().invoke(main, ["call", str(JS / "count_vowels.js"), "count_vowels",
                                       "--input", "Hello, World!"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["count"] == 3
    failing = CliRunner().invoke(main, ["call", str(JS / "errors.js"), "throws", "--input", "x"])
    assert failing.exit_code == 1 and "Error: Error: the plug-in refused: x" in failing.output


def test_cli_build_reports_js_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.js"
    bad.write_text("export function f() {\n  return 1 +;\n}\n")
    result = CliRunner().invoke(main, ["js", "build", str(bad)])
    assert result.exit_code == 1 and "SyntaxError" in result.output and "bad.js:2" in result.output
    assert not (tmp_path / "bad.wasm").exists()


def test_build_file_defaults_to_wasm_beside_the_source(tmp_path: Path) -> None:
    src = tmp_path / "hello.js"
    src.write_text(source("count_vowels.js"))
    assert js.build_file(src) == tmp_path / "hello.wasm"
    assert (tmp_path / "hello.wasm").read_bytes()[:4] == b"\0asm"
    with pytest.raises(js.BuildError, match="cannot read"):
        js.build_file(tmp_path / "missing.js")


@pytest.mark.timeout(60)
def test_runtime_path_uses_the_given_runtime_or_says_how_to_build(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASMPLUG_JS_RUNTIME", str(tmp_path / "nothing.wasm"))
    with pytest.raises(js.RuntimeMissing, match="not a file"):
        js.runtime_path()
    monkeypatch.delenv("WASMPLUG_JS_RUNTIME")
    monkeypatch.setenv("WASMPLUG_JS_RUNTIME_DIR", str(tmp_path / "cache"))
    with pytest.raises(js.RuntimeMissing, match="not built yet"):
        js.runtime_path(build=False)

"""`wasmplug.js.built`: a .js file run by path (`wasmplug call x.js`) is built once, then loaded as a file."""

from __future__ import annotations

import functools
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import wasmplug
from wasmplug import js
from wasmplug.js import built, prebuilt

CODE = "function hello() {{ Host.outputString('{greeting}, ' + Host.inputString()); }}\n" \
       "module.exports = {{ hello }};\n"


def write(folder: Path, greeting: str) -> Path:
    path = folder / "hello.js"
    path.write_text(CODE.format(greeting=greeting))
    return path


def test_a_js_file_is_built_once_and_then_loaded_by_path(tmp_path: Path) -> None:
    source = write(tmp_path, f"hi-{uuid.uuid4().hex[:8]}")
    manifest = js.manifest_for(source)
    kept = Path(manifest["wasm"][0]["path"])  # type: ignore[index]
    assert kept.parent == prebuilt.runtime_dir() / built.FOLDER and kept.is_file()
    written = kept.stat().st_mtime_ns
    with wasmplug.Plugin(js.manifest_for(source), wasi=True) as plugin:
        assert plugin.call("hello", "you").decode().endswith(", you")
    again = js.manifest_for(source)
    assert again["wasm"][0]["path"] == str(kept)
    assert kept.stat().st_mtime_ns == written  # not built again

    source.write_text(source.read_text().replace("hi-", "hello-"))  # another source: another file
    changed = Path(js.manifest_for(source)["wasm"][0]["path"])
    assert changed != kept
    with wasmplug.Plugin(js.manifest_for(source), wasi=True) as plugin:
        assert plugin.call("hello", "you").decode().startswith("hello-")


def test_at_most_max_kept_files_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(built, "MAX_KEPT", 2)
    sources = [f"module.exports = {{ f{n}: () => {n} }}; // {uuid.uuid4()}\n" for n in range(4)]
    paths = [built.built_path(code.encode(), f"f{n}.js", functools.partial(js.build, code))
             for n, code in enumerate(sources)]
    assert all(p is not None for p in paths)
    folder = prebuilt.runtime_dir() / built.FOLDER
    left = sorted(folder.glob("*.wasm"))
    assert len(left) <= 2 and paths[-1] in left and paths[0] not in left


def test_a_folder_that_cannot_hold_it_builds_in_memory(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prebuilt, "runtime_dir", lambda: tmp_path / "elsewhere")
    manifest = js.manifest_for(write(tmp_path, "hey"))
    assert "data" in manifest["wasm"][0]  # type: ignore[index]
    with wasmplug.Plugin(manifest, wasi=True) as plugin:
        assert plugin.call("hello", "you") == b"hey, you"


def test_wasmplug_call_runs_the_kept_plugin_and_reports_a_broken_file(tmp_path: Path) -> None:
    source = write(tmp_path, f"yo-{uuid.uuid4().hex[:8]}")
    for _ in range(2):  # builds and keeps; loads what was kept
        done = subprocess.run([sys.executable, "-m", "wasmplug", "call", str(source), "hello", "-i", "x"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and done.stdout.startswith("yo-") and done.stdout.endswith(", x\n"), \
            done.stderr
    source.write_text("function (")
    done = subprocess.run([sys.executable, "-m", "wasmplug", "call", str(source), "hello"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "hello.js" in done.stderr

"""WASI (off by default) and allowed_paths (ABI.md 6.6), with a C plug-in."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import pytest

from wasmplug import CallError, LoadError, Plugin, WasiOptions

from .conftest import ROOT

pytestmark = pytest.mark.usefixtures("call_path")

WASI_FILES = ROOT / "plugins" / "c" / "wasi_files.wasm"
EPERM = "Operation not permitted (EPERM, errno 63)"
ENOENT = "No such file or directory (ENOENT, errno 44)"


def wasi_plugin(rw: Path, ro: Path, **kwargs: Any) -> Plugin:
    manifest = {"wasm": [{"path": str(WASI_FILES)}],
                "allowed_paths": {str(rw): "/data", f"ro:{ro}": "/ro"}}
    return Plugin(manifest, wasi=kwargs.pop("wasi", True), **kwargs)


def test_wasi_is_off_by_default() -> None:
    with pytest.raises(LoadError, match="needs WASI, which is off; create the plug-in with wasi=True"):
        Plugin(WASI_FILES.read_bytes())


def test_read_and_write_inside_the_mapping(wasi_dirs: tuple[Path, Path, Path]) -> None:
    rw, ro, _ = wasi_dirs
    p = wasi_plugin(rw, ro)
    assert p.call("read_file", "/ro/hello.txt") == b"hello world!"
    assert p.call("write_file", "/data/new.txt\nwritten by wasm") == b"ok"
    assert (rw / "new.txt").read_text() == "written by wasm"
    assert p.call("read_file", "/data/new.txt") == b"written by wasm"
    assert p.call("list_dir", "/ro") == b"hello.txt"


def test_read_only_mapping_refuses_writes(wasi_dirs: tuple[Path, Path, Path]) -> None:
    rw, ro, _ = wasi_dirs
    p = wasi_plugin(rw, ro)
    with pytest.raises(CallError, match=r"^write_file: /ro/x\.txt: " + re.escape(EPERM) + "$"):
        p.call("write_file", "/ro/x.txt\nnope")
    with pytest.raises(CallError, match=r"^write_file: /ro/hello\.txt: " + re.escape(EPERM) + "$"):
        p.call("write_file", "/ro/hello.txt\noverwritten")
    assert not (ro / "x.txt").exists()
    assert (ro / "hello.txt").read_text() == "hello world!"


@pytest.mark.parametrize(("path", "error"), [
    ("/data/../outside/secret.txt", EPERM),
    ("/data/../../../../etc/passwd", EPERM),
    ("/etc/passwd", ENOENT),                   # no mapping is named /etc
    ("/data/escape/secret.txt", EPERM),        # a symlink to a directory outside the mapping
    ("/data/secret_link.txt", EPERM),          # a symlink to a file outside the mapping
    ("../outside/secret.txt", ENOENT),
])
def test_nothing_outside_the_mapping_is_reachable(wasi_dirs: tuple[Path, Path, Path], path: str,
                                                  error: str) -> None:
    rw, ro, _ = wasi_dirs
    p = wasi_plugin(rw, ro)
    with pytest.raises(CallError, match="^" + re.escape(f"read_file: {path}: {error}") + "$"):
        p.call("read_file", path)


def test_no_mapping_means_no_files(wasi_dirs: tuple[Path, Path, Path]) -> None:
    p = Plugin(WASI_FILES.read_bytes(), wasi=True)
    with pytest.raises(CallError, match="^" + re.escape(f"read_file: /etc/passwd: {ENOENT}") + "$"):
        p.call("read_file", "/etc/passwd")
    with pytest.raises(CallError, match="^" + re.escape(f"write_file: /tmp/x: {ENOENT}") + "$"):
        p.call("write_file", "/tmp/x\ny")


def test_environment_is_empty_unless_given(wasi_dirs: tuple[Path, Path, Path],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOST_SECRET", "do not leak")
    rw, ro, _ = wasi_dirs
    assert wasi_plugin(rw, ro).call("getenv_all", b"") == b""
    given = wasi_plugin(rw, ro, wasi=WasiOptions(env={"GREETING": "hi"}))
    assert given.call("getenv_all", b"") == b"GREETING=hi\n"


def test_stdout_and_stderr_go_to_logging_or_callbacks(wasi_dirs: tuple[Path, Path, Path],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    rw, ro, _ = wasi_dirs
    with caplog.at_level(logging.INFO, logger="wasmplug.plugin"):
        assert wasi_plugin(rw, ro).call("print_stdout", "line one\n") == b"printed"
    messages = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "wasmplug.plugin"]
    assert (logging.INFO, "line one") in messages and (logging.WARNING, "line one") in messages
    out: list[bytes] = []
    err: list[bytes] = []
    p = wasi_plugin(rw, ro, wasi=WasiOptions(stdout=out.append, stderr=err.append))
    p.call("print_stdout", "captured\n")
    assert b"".join(out) == b"captured\n" and b"".join(err) == b"captured\n"


def test_missing_mapped_directory_fails_creation(tmp_path: Path) -> None:
    manifest = {"wasm": [{"path": str(WASI_FILES)}],
                "allowed_paths": {str(tmp_path / "nope"): "/data"}}
    with pytest.raises(LoadError, match=r"allowed_paths maps .*nope.*not a directory"):
        Plugin(manifest, wasi=True)


def test_reactor_initialize_runs_before_first_call(wasi_dirs: tuple[Path, Path, Path]) -> None:
    # wasi-libc's _initialize sets up the preopens: without it no path resolves.
    rw, ro, _ = wasi_dirs
    p = wasi_plugin(rw, ro)
    assert p._compiled.init_steps == [("_initialize", ())]
    assert p.call("read_file", "/ro/hello.txt") == b"hello world!"
    assert os.listdir(ro) == ["hello.txt"]

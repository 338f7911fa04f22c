"""WASI (off by default) and allowed_paths (ABI.md 6.6), with a C plug-in."""

from __future__ import annotations

import logging
import os
import re
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wasmplug import CallError, CallTimeout, LoadError, Plugin, WasiOptions

from .conftest import ROOT, runaway

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


# ------------------------------------------------------------------ clock waits (poll_oneoff)

SLEEP = ROOT / "plugins" / "wat" / "wasi_sleep.wasm"


def sleeper(**manifest: Any) -> Plugin:
    return Plugin({"wasm": [{"path": str(SLEEP)}], **manifest}, wasi=True)


def events(output: bytes) -> tuple[int, list[tuple[int, int, int]]]:
    """(errno, [(userdata, error, type), ...]) as wasi_sleep.wat outputs them."""
    errno, count = struct.unpack_from("<II", output)
    return errno, [struct.unpack_from("<QHB", output, 8 + 32 * i) for i in range(count)]


def ns(seconds: float) -> bytes:
    return int(seconds * 1e9).to_bytes(8, "little")


def test_a_short_clock_wait_ends_with_its_event() -> None:
    started = time.monotonic()
    assert events(sleeper().call("sleep", ns(0.02))) == (0, [(7, 0, 0)])
    assert time.monotonic() - started >= 0.02  # it did wait


@runaway(30)
def test_a_clock_wait_ends_at_the_call_timeout() -> None:
    """An hour's sleep is cut at timeout_ms (WASI's native sleep would hold the thread)."""
    plugin = sleeper(timeout_ms=200)
    with pytest.raises(CallTimeout, match=r"timeout_ms \(200 ms\)"):
        plugin.call("sleep", ns(3600))
    with pytest.raises(CallTimeout):
        plugin.call("sleep_forever", ns(3600))
    assert events(plugin.call("sleep", ns(0))) == (0, [(7, 0, 0)])  # still usable


def sleep_in_background(plugin: Plugin) -> tuple[threading.Thread, list[BaseException]]:
    """Start an hour's clock wait on `plugin` in a thread; what it raised lands in the list."""
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            plugin.call("sleep", ns(3600))
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    return thread, outcome


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll for a state, for at most 20 s."""
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.005)


@runaway(30)
def test_a_clock_wait_ends_when_the_call_is_cancelled() -> None:
    plugin = sleeper()
    handle = plugin.cancel_handle()
    thread, outcome = sleep_in_background(plugin)
    wait_for(handle.cancel, "the call never started")  # cancel() is False until it runs
    thread.join(20)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], CallTimeout)


@runaway(30)
def test_a_ready_descriptor_ends_the_wait_at_once() -> None:
    assert events(sleeper().call("sleep_or_stdin", ns(3600))) == (0, [(9, 0, 1)])


@runaway(30)
def test_closing_the_plug_in_ends_a_clock_wait() -> None:
    plugin = sleeper()
    handle = plugin.cancel_handle()
    thread, outcome = sleep_in_background(plugin)
    wait_for(lambda: plugin._running, "the call never started")
    plugin.close(timeout=10)
    thread.join(20)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], CallTimeout)
    assert not handle.cancel()

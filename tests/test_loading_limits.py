"""Loading is bounded (LoadLimits): only regular files, a size cap per module
(files, downloads and bytes), caps on modules, imports, exports, functions,
memories and tables checked before compiling, a load deadline, and short
messages for long lists. Each attack below used to exhaust memory, hang, or
take seconds."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest

import wasmplug
from wasmplug import CallError, LoadError, LoadLimits, Plugin

from .conftest import wasm
from .http_server import serve_handler

pytestmark = pytest.mark.timeout(60)

ECHO = wasm("echo")


@contextmanager
def limits(**changes: Any) -> Iterator[LoadLimits]:
    previous = wasmplug.load_limits()
    wasmplug.set_load_limits(dataclasses.replace(previous, **changes))
    try:
        yield wasmplug.load_limits()
    finally:
        wasmplug.set_load_limits(previous)


def leb(value: int) -> bytes:
    out = bytearray()
    while True:
        b, value = value & 0x7F, value >> 7
        out.append(b | (0x80 if value else 0))
        if not value:
            return bytes(out)


def section(code: int, body: bytes) -> bytes:
    return bytes([code]) + leb(len(body)) + body


def many_exports(n: int) -> bytes:
    """A valid module with n functions () -> (i32) exported as f0, f1, ..."""
    types = section(1, b"\x01\x60\x00\x01\x7f")
    funcs = section(3, leb(n) + b"\x00" * n)
    exports = section(7, leb(n) + b"".join(
        leb(len(name)) + name + b"\x00" + leb(i)
        for i, name in enumerate(f"f{i}".encode() for i in range(n))))
    code = section(10, leb(n) + b"\x04\x00\x41\x00\x0b" * n)
    return b"\0asm\x01\0\0\0" + types + funcs + exports + code


def test_defaults_are_documented_values() -> None:
    assert wasmplug.load_limits() == LoadLimits(
        max_module_bytes=256 * 1024 * 1024, max_modules=64, max_imports=10_000,
        max_exports=10_000, max_functions=1_000_000, max_memories=16, max_tables=100,
        timeout_s=60.0)


@pytest.mark.timeout(10)
def test_dev_zero_is_refused_without_reading() -> None:
    with pytest.raises(LoadError, match=r'^Unable to load Wasm file "/dev/zero": not a regular '
                                        r"file \(a character device\)"):
        Plugin({"wasm": [{"path": "/dev/zero"}]})


@pytest.mark.timeout(10)
def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "plugin.wasm"
    os.mkfifo(fifo)
    with pytest.raises(LoadError, match=r"not a regular file \(a FIFO\)"):
        Plugin({"wasm": [{"path": str(fifo)}]})
    with pytest.raises(LoadError, match=r"not a regular file \(a FIFO\)"):
        Plugin(fifo)  # a path given directly


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=r"it is a directory; give the path of a \.wasm file"):
        Plugin({"wasm": [{"path": str(tmp_path)}]})


def test_files_and_bytes_larger_than_the_cap_are_refused(tmp_path: Path) -> None:
    data = ECHO.read_bytes()
    big = tmp_path / "big.wasm"
    big.write_bytes(data)
    with limits(max_module_bytes=len(data) - 1):
        with pytest.raises(LoadError, match=rf'^Unable to load Wasm file "{big}": it is larger '
                                            rf"than the limit of {len(data) - 1:,} bytes per "
                                            r"module .*raise LoadLimits\.max_module_bytes"):
            Plugin({"wasm": [{"path": str(big)}]})
        with pytest.raises(LoadError, match=r"wasm\[0\]\.data: it is larger than the limit"):
            Plugin({"wasm": [{"data": data}]})
    with limits(max_module_bytes=len(data)):  # exactly the cap is fine
        assert Plugin({"wasm": [{"path": str(big)}]}).call("echo", b"hi") == b"hi"


class ModuleHandler(BaseHTTPRequestHandler):
    body: ClassVar[bytes] = b""
    delay: ClassVar[float] = 0.0

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        for i in range(0, len(self.body), 1024):
            if self.delay:
                time.sleep(self.delay)
            try:
                self.wfile.write(self.body[i:i + 1024])
            except OSError:
                return


def test_downloads_have_the_same_size_cap() -> None:
    data = ECHO.read_bytes()

    class Handler(ModuleHandler):
        body = data

    with serve_handler(Handler) as url:
        with limits(max_module_bytes=len(data) - 1), pytest.raises(
                LoadError, match=r"^Unable to load Wasm module from http://127\.0\.0\.1:\d+"
                                 r"/m\.wasm: it is larger than the limit"):
            Plugin({"wasm": [{"url": url + "/m.wasm"}]})
        assert Plugin({"wasm": [{"url": url + "/m.wasm"}]}).call("echo", b"ok") == b"ok"


@pytest.mark.timeout(20)
def test_a_slow_download_is_stopped_at_the_load_timeout() -> None:
    class Handler(ModuleHandler):
        body = ECHO.read_bytes()
        delay = 0.2  # about 2 s for the whole module

    with serve_handler(Handler) as url, limits(timeout_s=0.5):
        started = time.monotonic()
        with pytest.raises(LoadError, match=r"the download took longer than the load timeout "
                                            r"\(0\.5 s\)"):
            Plugin({"wasm": [{"url": url + "/slow.wasm"}]})
        assert time.monotonic() - started < 5


def test_the_load_timeout_covers_every_module() -> None:
    with limits(timeout_s=0.0), pytest.raises(LoadError, match=r"loading took longer than the "
                                                                 r"load timeout \(0 s\)"):
        Plugin({"wasm": [{"path": str(ECHO)}]})


@pytest.mark.timeout(20)
def test_ten_thousand_and_one_wasm_entries_are_refused_before_reading() -> None:
    entry = {"path": str(ECHO)}
    started = time.monotonic()
    with pytest.raises(LoadError, match=r"the manifest lists 10,001 wasm modules; at most 64 are "
                                        r"allowed"):
        Plugin({"wasm": [dict(entry, name=f"m{i}") for i in range(10_001)]})
    assert time.monotonic() - started < 5


@pytest.mark.timeout(20)
def test_a_hundred_thousand_exports_are_refused_before_compiling() -> None:
    module = many_exports(100_000)
    started = time.monotonic()
    with pytest.raises(LoadError, match=r"module 'main' declares 100,000 exports; at most 10,000 "
                                        r"are allowed"):
        Plugin(module)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(("change", "source", "message"), [
    ({"max_imports": 3}, "plugins/wat/memory_grow.wasm", r"module 'main' declares 4 imports; "
                                                          r"at most 3"),
    ({"max_functions": 2}, "plugins/wat/memory_grow.wasm", r"module 'main' declares 3 functions"),
    ({"max_memories": 1}, "plugins/hostile/memory_split.wasm", r"declare 2 memories; at most 1"),
    ({"max_tables": 0}, "plugins/hostile/table_grow_bomb.wasm", r"declare 1 tables; at most 0"),
])
def test_each_count_is_capped(change: dict[str, int], source: str, message: str) -> None:
    path = Path(__file__).resolve().parent.parent / source
    Plugin({"wasm": [{"path": str(path)}]})  # loads under the defaults
    with limits(**change), pytest.raises(LoadError, match=message):
        Plugin({"wasm": [{"path": str(path)}]})


def test_long_lists_in_messages_are_shortened() -> None:
    plugin = Plugin(many_exports(1_000))
    with pytest.raises(CallError, match=r"^Function not found: nope \(the plug-in exports: f0, "
                                        r"f1, .* … and 990 more\)$") as info:
        plugin.call("nope", b"")
    assert len(str(info.value)) < 200
    assert plugin.call("f999", b"") == b""


def test_set_load_limits_takes_only_load_limits() -> None:
    with pytest.raises(TypeError, match="LoadLimits"):
        wasmplug.set_load_limits({"max_modules": 3})  # type: ignore[arg-type]


def test_limits_apply_in_every_thread() -> None:
    errors: list[BaseException] = []

    def load() -> None:
        try:
            Plugin({"wasm": [{"path": str(ECHO)}] * 2})
        except LoadError as exc:
            errors.append(exc)

    with limits(max_modules=1):
        thread = threading.Thread(target=load)
        thread.start()
        thread.join(30)
    assert len(errors) == 1 and "at most 1 are allowed" in str(errors[0])

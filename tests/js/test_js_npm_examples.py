"""The JS PDK's examples that need npm packages, as plug-ins of our own (plugins/js/npm/).

The pinned packages of plugins/js/npm/package.json (and esbuild) are installed
once into a cache outside the repository (tests/js/npm.py); each plug-in is
bundled as the PDK's esbuild.js does (CommonJS, es2020), built with `wasmplug
js build` (with the interface file, as the Makefile passes `-i` to extism-js)
and run under wasmplug's CLI, its Python API and the official `extism` SDK,
checking the output the example documents. Without node and npm the tests
skip, saying so (a failure under scripts/test.sh, as in CI).
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import extism
import pytest

import wasmplug

from . import npm
from .conftest import JS

NPM = JS / "npm"
Call = Callable[[str, bytes | str], bytes]


@pytest.fixture(scope="session")
def node_modules() -> Path:
    try:
        return npm.install(NPM / "package.json")
    except npm.NpmUnavailable as missing:
        pytest.skip(str(missing))
    except npm.NpmFailed as failed:
        pytest.fail(str(failed), pytrace=False)


def build(node_modules: Path, tmp_path: Path, entry: str, *esbuild: str, interface: bool = True) -> Path:
    """Bundle plugins/js/npm/ENTRY and `wasmplug js build` it (`-i NAME.d.ts` when it has one)."""
    stem = Path(entry).stem
    bundled = npm.bundle(node_modules, NPM / entry, tmp_path / f"{stem}.bundle.js", *esbuild)
    out = tmp_path / f"{stem}.wasm"
    flags = ["-i", str(NPM / f"{stem}.d.ts")] if interface else []
    done = subprocess.run([sys.executable, "-m", "wasmplug", "js", "build", str(bundled), *flags,
                           "-o", str(out)], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return out


def cli(wasm: Path, function: str, text: str = "") -> str:
    done = subprocess.run([sys.executable, "-m", "wasmplug", "call", str(wasm), function, "--wasi",
                           f"--input={text}"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.rstrip("\n")


def both(wasm: Path) -> list[Call]:
    """`call(name, input)` of one instance under wasmplug and of one under the official SDK."""
    ours = wasmplug.Plugin({"wasm": [{"path": str(wasm)}]}, wasi=True)
    official = extism.Plugin({"wasm": [{"path": str(wasm)}]}, wasi=True)
    return [ours.call, official.call]


def panel(color: str, visits: int) -> str:
    """What react-dom's renderToString makes of plugins/js/npm/panel.jsx's view."""
    times = "time" if visits == 1 else "times"
    return (f'<section style="color:{color};border-width:2px"><h1>Welcome</h1>'
            f"<p>rendered <!-- -->{visits}<!-- --> <!-- -->{times}</p></section>")


@pytest.mark.timeout(600)  # the first run installs the packages
@pytest.mark.parametrize("mode", ["production", "development"])
def test_react_renders_to_a_string_and_keeps_its_state(node_modules: Path, tmp_path: Path, mode: str) -> None:
    wasm = build(node_modules, tmp_path, "panel.jsx", f'--define:process.env.NODE_ENV="{mode}"')
    bundled = (tmp_path / "panel.bundle.js").read_text()
    other = "development" if mode == "production" else "production"
    assert f"cjs/react.{mode}" in bundled and f"cjs/react.{other}" not in bundled  # React's build of it
    assert cli(wasm, "render") == panel("navy", 1)
    assert cli(wasm, "setState", '{"type": "theme", "theme": {"color": "tomato"}}') == panel("tomato", 1)
    for call in both(wasm):
        assert call("render", b"").decode() == panel("navy", 1)
        action = {"type": "theme", "theme": {"color": "tomato", "title": "<b>&"}}
        assert call("setState", json.dumps(action)).decode() == panel("tomato", 2).replace(
            "Welcome", "&lt;b&gt;&amp;")  # React escapes the text
        assert call("render", b"").decode() == panel("tomato", 3).replace("Welcome", "&lt;b&gt;&amp;")
        with pytest.raises((wasmplug.Error, extism.Error), match='unknown action type: "reset"'):
            call("setState", '{"type": "reset"}')
        assert call("render", b"").decode().endswith("rendered <!-- -->4<!-- --> <!-- -->times</p></section>")


def checksum_of(text: str) -> dict[str, object]:
    data = text.encode()
    crc = zlib.crc32(data)
    return {"unsigned": crc, "same": True, "bytes": len(data), "hex": f"{crc:08x}", "be": crc,
            "base64": base64.b64encode(data).decode()}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("buffer", ["global", "npm"])
def test_an_npm_package_on_buffers(node_modules: Path, tmp_path: Path, buffer: str) -> None:
    """buffer-crc32 with `require("buffer")` answered by the runtime's Buffer (the PDK's shim) or
    by the npm `buffer` package bundled in."""
    shim = [f"--alias:buffer={NPM / 'buffer_shim.js'}"] if buffer == "global" else []
    wasm = build(node_modules, tmp_path, "checksum.js", *shim, interface=False)
    bundled = (tmp_path / "checksum.bundle.js").read_text()
    assert ("base64-js" in bundled) == (buffer == "npm")  # which Buffer the bundle really has
    assert json.loads(cli(wasm, "checksum", "héllo")) == checksum_of("héllo")
    for call in both(wasm):
        for text in ["hello", "héllo wörld ✓", "x" * 5000]:
            assert json.loads(call("checksum", text)) == checksum_of(text)


@pytest.mark.timeout(600)
def test_a_syntax_highlighter_to_html(node_modules: Path, tmp_path: Path) -> None:
    wasm = build(node_modules, tmp_path, "highlight.js")
    source = 'const s = "<a>"; // say hi\nreturn 42;'
    html = ('<span class="hljs-keyword">const</span> s = '
            '<span class="hljs-string">&quot;&lt;a&gt;&quot;</span>; '
            '<span class="hljs-comment">// say hi</span>\n'
            '<span class="hljs-keyword">return</span> '
            '<span class="hljs-number">42</span>;')
    request = json.dumps({"code": source, "language": "javascript"})
    assert cli(wasm, "highlight", request) == html
    for call in both(wasm):
        assert call("highlight", request).decode() == html
        with pytest.raises((wasmplug.Error, extism.Error), match='no grammar for "cobol"'):
            call("highlight", json.dumps({"code": "x", "language": "cobol"}))


def test_an_unreachable_registry_fails_with_a_clear_message_in_bounded_time(tmp_path: Path) -> None:
    try:
        npm.tools()
    except npm.NpmUnavailable as missing:
        pytest.skip(str(missing))
    with socket.socket() as closed:  # a loopback port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(npm.NpmFailed, match="npm install of the pinned packages failed") as failed:
        npm.install(NPM / "package.json", cache=tmp_path / "cache", registry=f"http://127.0.0.1:{port}/",
                    timeout=90, retries=0)
    assert f"connect ECONNREFUSED 127.0.0.1:{port}" in str(failed.value)  # npm's reason, told
    assert time.monotonic() - started < 90
    assert list((tmp_path / "cache").glob("*/node_modules")) == []  # nothing half-installed stays


def test_an_install_that_hangs_is_cut_at_its_timeout(tmp_path: Path) -> None:
    try:
        npm.tools()
    except npm.NpmUnavailable as missing:
        pytest.skip(str(missing))
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        with pytest.raises(npm.NpmFailed, match=r"did not finish in 5 s \(is npm's registry reachable\?\)"):
            npm.install(NPM / "package.json", cache=tmp_path / "cache",
                        registry=f"http://127.0.0.1:{port}/", timeout=5)
    assert [entry.suffix for entry in (tmp_path / "cache").iterdir()] == [".lock"]  # nothing else left


def test_without_npm_the_examples_skip_saying_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no node, no npm
    with pytest.raises(npm.NpmUnavailable, match=r"node and npm are needed .*apt-get install nodejs npm"):
        npm.install(NPM / "package.json", cache=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()  # nothing attempted

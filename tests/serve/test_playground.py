"""The playground's JSON API on a real server (uvicorn on a random loopback port), real clients.

Runs show output, logs, duration and fuel; failures come back with their
kind; hostile snippets (endless loops, memory hogs, stack overflows, huge
output, log floods) cost one failed run and never the server; bodies, rates
and concurrent runs are bounded; a JS build is cached.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gamebox.conftest import live_server
from tests.waiting import wait_until
from wasmplug.serve.app import create_app
from wasmplug.serve.playground import PlaygroundLimits
from wasmplug.serve.settings import ServerSettings
from wasmplug.serve.views.playground import PlaygroundService, PlaygroundSettings

pytestmark = pytest.mark.timeout(300)
ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ROOT / "plugins" / "hostile"
COUNT_VOWELS = ROOT / "plugins" / "assemblyscript" / "count_vowels.wasm"

GREET = """export function greet() {
  const name = Host.inputString();
  console.log(`greeting ${name}`);
  console.warn(`salutation is ${Config.get("salutation")}`);
  Host.outputString(`${Config.get("salutation")}, ${name}!`);
}
export function fail() { throw new TypeError("no greeting today"); }
export function binary() { return new Uint8Array([0xff, 0x00, 0xfe]); }
export function spin() { for (;;) {} }
export function hog() { const keep = []; for (;;) keep.push(new Array(1 << 16).fill(7)); }
export function deep() { const f = (n) => f(n + 1) + 1; return f(0); }
export function flood() { for (let i = 0; ; i++) console.log(`line ${i} ` + "x".repeat(100)); }
export function huge() { Host.outputString("y".repeat(4 * 1024 * 1024)); }
export function fetch_out() { return Http.request({ url: "http://127.0.0.1:9/", method: "GET" }).body; }
"""


def wasm_body(path: Path, export: str, data: str = "") -> dict[str, Any]:
    return {"kind": "wasm", "wasm_base64": base64.b64encode(path.read_bytes()).decode(),
            "export": export, "input": data}


def js_body(export: str, data: str = "", config: dict[str, str] | None = None,
            source: str = GREET) -> dict[str, Any]:
    return {"kind": "js", "source": source, "export": export, "input": data,
            "config": config or {"salutation": "Hello"}}


_DATA_DIRS: list[tempfile.TemporaryDirectory[str]] = []


def settings(playground: PlaygroundSettings) -> ServerSettings:
    """A server with the playground's `playground` settings and a database of its own."""
    data = tempfile.TemporaryDirectory(prefix="wasmplug-playground-test-")
    _DATA_DIRS.append(data)  # removed when the test module is done with
    return ServerSettings(data_dir=Path(data.name), playground=playground)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Any]]:
    """The default limits, but a timeout short enough for the hostile tests to be quick."""
    limits = PlaygroundLimits(timeout_ms=1500, max_log_lines=50, max_log_bytes=4096,
                              max_output_bytes=1024 * 1024)
    app = create_app(settings(playground=PlaygroundSettings(limits=limits, requests_per_window=10_000)))
    with live_server(app) as url:
        yield url, app


def post(url: str, path: str, body: Any, **kwargs: Any) -> httpx.Response:
    return httpx.post(url + path, json=body, timeout=120, **kwargs)


def run_ok(url: str) -> None:
    """The server still runs snippets properly."""
    reply = post(url, "/playground/run", js_body("greet", "again")).json()
    assert reply["ok"] and reply["output"] == "Hello, again!"


def test_a_js_run_shows_output_logs_duration_and_fuel(server: tuple[str, Any]) -> None:
    url, _ = server
    exports = post(url, "/playground/exports", {"kind": "js", "source": GREET})
    assert exports.status_code == 200
    assert set(exports.json()["exports"]) == {"greet", "fail", "binary", "spin", "hog", "deep", "flood",
                                              "huge", "fetch_out"}
    reply = post(url, "/playground/run", js_body("greet", "Ada", {"salutation": "Bonjour"}))
    assert reply.status_code == 200
    data = reply.json()
    assert data["ok"] is True
    assert data["output"] == "Bonjour, Ada!"
    assert data["output_bytes"] == len("Bonjour, Ada!")
    assert data["logs"] == [{"level": "info", "text": "greeting Ada"},
                            {"level": "warning", "text": "salutation is Bonjour"}]
    assert data["logs_dropped"] == 0
    assert 0 < data["duration_ms"] < 60_000
    assert data["fuel_used"] > 0
    assert data["memory_bytes"] >= 65_536


def test_a_thrown_error_and_a_syntax_error_are_shown(server: tuple[str, Any]) -> None:
    url, _ = server
    data = post(url, "/playground/run", js_body("fail")).json()
    assert data["ok"] is False and data["kind"] == "js"
    assert data["error"].startswith("TypeError: no greeting today")
    assert "playground.js:" in data["error"]  # where it was thrown
    broken = post(url, "/playground/run", js_body("f", source="export function f( {")).json()
    assert broken["ok"] is False and broken["kind"] == "build"
    assert "SyntaxError" in broken["error"]
    listing = post(url, "/playground/exports", {"kind": "js", "source": "export function f( {"})
    assert listing.status_code == 422 and listing.json()["kind"] == "build"


def test_output_that_is_not_utf8_comes_as_base64(server: tuple[str, Any]) -> None:
    url, _ = server
    data = post(url, "/playground/run", js_body("binary")).json()
    assert data["ok"] and data["output"] is None
    assert base64.b64decode(data["output_base64"]) == b"\xff\x00\xfe"


def test_an_uploaded_wasm_lists_its_exports_and_runs(server: tuple[str, Any]) -> None:
    url, _ = server
    body = wasm_body(COUNT_VOWELS, "count_vowels", "Hello, World!")
    listing = post(url, "/playground/exports", {"kind": "wasm", "wasm_base64": body["wasm_base64"]})
    assert listing.json() == {"exports": ["count_vowels"]}
    data = post(url, "/playground/run", body).json()
    assert data["ok"], data
    assert data["output"] == '{"count":3,"total":3,"vowels":"aeiouAEIOU"}'
    assert data["fuel_used"] > 0


@pytest.mark.parametrize(("export", "kinds"), [
    ("spin", {"fuel", "timeout"}),   # an endless loop
    ("hog", {"js", "memory"}),       # eats memory: JS's out-of-memory, or the page budget
    ("deep", {"js", "trap"}),        # a stack overflow: RangeError, or a trap
    ("huge", {"output"}),            # 4 MiB of output, over max_output_bytes
])
def test_a_hostile_js_snippet_fails_alone(server: tuple[str, Any], export: str, kinds: set[str]) -> None:
    url, _ = server
    data = post(url, "/playground/run", js_body(export)).json()
    assert data["ok"] is False and data["kind"] in kinds, data
    run_ok(url)


@pytest.mark.parametrize(("module", "kinds", "says"), [
    ("endless_loop", {"fuel", "timeout"}, ""),  # whichever comes first on a loaded machine
    ("deep_recursion", {"trap"}, "call stack exhausted"),
    ("memory_grow_bomb", {"memory"}, "oom"),
    ("huge_output", {"output"}, "memory.max_output_bytes"),
])
def test_a_hostile_module_fails_alone(server: tuple[str, Any], module: str, kinds: set[str],
                                      says: str) -> None:
    url, _ = server
    body = wasm_body(HOSTILE / f"{module}.wasm", "run")
    if module == "huge_output":  # run's input: the output's size as a little-endian u64 (16 MiB)
        body["input"] = (16 * 1024 * 1024).to_bytes(8, "little").decode("ascii")
    reply = post(url, "/playground/run", body).json()
    assert reply["ok"] is False and reply["kind"] in kinds, reply
    assert says in reply["error"]
    run_ok(url)


def test_an_endless_loop_with_fuel_to_spare_meets_the_timeout() -> None:
    limits = PlaygroundLimits(timeout_ms=300, fuel=10**15)
    app = create_app(settings(playground=PlaygroundSettings(limits=limits)))
    with live_server(app) as url:
        data = post(url, "/playground/run", wasm_body(HOSTILE / "endless_loop.wasm", "run")).json()
    assert data["ok"] is False and data["kind"] == "timeout", data


def test_log_lines_are_bounded_by_count_and_bytes_and_stay_out_of_the_server_log(
        server: tuple[str, Any]) -> None:
    url, _ = server
    seen: list[logging.LogRecord] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    catcher = Catch()
    logging.getLogger().addHandler(catcher)
    try:
        data = post(url, "/playground/run", js_body("flood")).json()
    finally:
        logging.getLogger().removeHandler(catcher)
    assert data["ok"] is False and data["kind"] in {"fuel", "timeout"}
    assert 0 < len(data["logs"]) <= 50
    assert sum(len(line["text"].encode()) for line in data["logs"]) <= 4096 + 50 * 4
    assert data["logs_dropped"] > 1000
    assert not [r for r in seen if r.name == "wasmplug.plugin"]


def test_no_network_unless_hosts_are_allowed(server: tuple[str, Any]) -> None:
    url, _ = server
    data = post(url, "/playground/run", js_body("fetch_out")).json()
    assert data["ok"] is False
    assert "allowed_hosts" in data["error"] or "not allowed" in data["error"], data


@pytest.mark.parametrize(("body", "says"), [
    ({"kind": "python", "source": "x"}, "kind"),
    ({"kind": "wasm", "wasm_base64": "!!!", "export": "x"}, "base64"),
    ({"kind": "wasm", "wasm_base64": base64.b64encode(b"MZ not wasm").decode(), "export": "x"}, "\\0asm"),
    (js_body("nope"), "no export 'nope'"),
    (js_body("greet", config={"wasmplug.js.max_memory": "1"}), "reserved"),
    (js_body("greet", data="x" * (256 * 1024 + 1)), "the input is"),
    ({**js_body("greet"), "config": {"k": 1}}, "config"),
    ([1, 2], "JSON object"),
])
def test_bad_requests_are_refused_with_a_clear_message(server: tuple[str, Any], body: Any,
                                                       says: str) -> None:
    url, _ = server
    reply = post(url, "/playground/run", body)
    assert reply.status_code == 400, reply.text
    assert says in reply.json()["error"]
    assert reply.json()["kind"] == "input"


@pytest.mark.parametrize("body", [b"{not json", b"[" * 100_000, b"\xff\xfe"])
def test_a_body_that_is_not_json_is_refused(server: tuple[str, Any], body: bytes) -> None:
    url, _ = server
    reply = httpx.post(url + "/playground/run", content=body, timeout=30)
    assert reply.status_code == 400 and reply.json() == {"error": "the body must be JSON", "kind": "input"}
    run_ok(url)


def test_a_declared_oversized_body_is_refused_unread(server: tuple[str, Any]) -> None:
    url, app = server
    cap = app.state.playground.settings.max_body_bytes
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"POST /playground/run HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {cap + 1}\r\n\r\n".encode())
        reply = sock.recv(4096).decode("latin-1")  # answered with no body sent at all
    assert reply.startswith("HTTP/1.1 413"), reply


def test_a_streamed_body_over_the_cap_is_cut_off() -> None:
    playground = PlaygroundSettings(limits=PlaygroundLimits(max_wasm_bytes=4096, max_source_bytes=512,
                                                          max_input_bytes=512, max_config_bytes=256))
    cap = playground.max_body_bytes
    sent = 0

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked, 10 times the cap at most
        nonlocal sent
        while sent < cap * 10:
            sent += 1024
            yield b" " * 1024

    with live_server(create_app(settings(playground=playground))) as url:
        try:
            reply = httpx.post(url + "/playground/run", content=chunks(), timeout=30)
        except httpx.HTTPError:  # the server may close before the client has sent it all
            assert sent < cap * 10
        else:
            assert reply.status_code == 413
            assert reply.json()["kind"] == "too_large"


def test_requests_are_rate_limited_per_client_address() -> None:
    playground = PlaygroundSettings(requests_per_window=3, window=600)
    with live_server(create_app(settings(playground=playground))) as url:
        body = {"kind": "js", "source": "export function f() {}"}
        codes = [post(url, "/playground/exports", body).status_code for _ in range(3)]
        refused = post(url, "/playground/exports", body)
    assert codes == [200, 200, 200]
    assert refused.status_code == 429 and refused.json()["kind"] == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1


def test_excess_concurrent_runs_get_429_and_the_event_loop_stays_free() -> None:
    limits = PlaygroundLimits(max_concurrent_runs=1, timeout_ms=8000, fuel=10**15)
    app = create_app(settings(playground=PlaygroundSettings(limits=limits)))
    svc: PlaygroundService = app.state.playground
    source = ("export function slow() { const end = Date.now() + Number(Host.inputString());"
              " while (Date.now() < end) {} }")
    with live_server(app) as url:
        body = js_body("slow", "60000", source=source)
        assert post(url, "/playground/exports", body).status_code == 200  # built: runs start at once
        first: list[httpx.Response] = []
        runner = threading.Thread(target=lambda: first.append(post(url, "/playground/run", body)))
        runner.start()
        wait_until(lambda: svc.busy == 1, "the first run to take the only slot")
        second = post(url, "/playground/run", body)
        page = httpx.get(url + "/playground", timeout=10)  # the loop serves pages meanwhile
        still_busy = svc.busy == 1
        runner.join(60)
    assert still_busy
    assert second.status_code == 429 and second.json()["kind"] == "busy"
    assert second.headers["retry-after"] == "1"
    assert page.status_code == 200
    assert first[0].json()["kind"] == "timeout"


def test_a_js_build_is_cached_and_the_cache_is_bounded() -> None:
    limits = PlaygroundLimits(build_cache_entries=2)
    app = create_app(settings(playground=PlaygroundSettings(limits=limits)))
    playground = app.state.playground.playground
    with live_server(app) as url:
        one = js_body("f", source="export function f() { return 'one' }")
        assert post(url, "/playground/run", one).json()["output"] == "one"
        builds = playground.builds
        assert post(url, "/playground/exports", one).json() == {"exports": ["f"]}
        assert post(url, "/playground/run", one).json()["output"] == "one"
        assert playground.builds == builds  # same source: no rebuild
        for n in ("two", "three"):
            post(url, "/playground/run", js_body("f", source=f"export function f() {{ return '{n}' }}"))
        assert playground.builds == builds + 2
        assert len(playground._cache) == 2


def test_the_page_has_a_strict_csp_and_only_same_origin_script(server: tuple[str, Any]) -> None:
    url, _ = server
    page = httpx.get(url + "/playground", timeout=10)
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "unsafe-eval" not in csp
    html = page.text
    assert html.count("<script") == 1 and '<script src="/playground/static/playground.js"' in html
    assert not re.search(r"\son[a-z]+\s*=", html)  # no inline event handlers
    script = httpx.get(url + "/playground/static/playground.js", timeout=10)
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "eval(" not in script.text and "new Function" not in script.text


def test_a_run_whose_request_is_cancelled_keeps_its_slot_until_it_ends() -> None:
    """The slot is freed when the work ends, not when its caller gives up (no pile-up in the pool)."""
    from types import SimpleNamespace

    from wasmplug.serve.views.playground import _in_pool

    svc = PlaygroundService(PlaygroundSettings(limits=PlaygroundLimits(max_concurrent_runs=1)))
    request: Any = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(playground=svc)))
    started, finish = threading.Event(), threading.Event()

    def work() -> str:
        started.set()
        finish.wait(30)
        return "done"

    async def scenario() -> None:
        task = asyncio.create_task(_in_pool(request, work))
        while not started.is_set():
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert svc.busy == 1  # the work still runs: its slot is still taken
        refused = await _in_pool(request, work)
        assert refused.status_code == 429
        finish.set()
        while svc.busy:
            await asyncio.sleep(0.001)
        finish.clear()
        assert await _in_pool(request, lambda: "again") == "again"

    try:
        asyncio.run(scenario())
    finally:
        finish.set()
        svc.close()


def test_concurrent_runs_each_get_only_their_own_log_lines() -> None:
    """Records are routed by plug-in id: two runs logging at once never see each other's lines."""
    from wasmplug.serve.playground import Playground, Snippet

    playground = Playground(PlaygroundLimits(max_log_lines=500, max_log_bytes=64 * 1024))
    source = (b"export function talk() { const tag = Config.get('tag');"
              b" for (let i = 0; i < 300; i++) console.log(`${tag} ${i}`); }")
    playground.build("js", source)  # built once, before the race
    results: dict[str, list[Any]] = {"a": [], "b": []}
    barrier = threading.Barrier(2)

    def talk(tag: str) -> None:
        barrier.wait(30)
        for _ in range(5):
            results[tag].append(playground.run(Snippet("js", source, "talk", config={"tag": tag})))

    threads = [threading.Thread(target=talk, args=(tag,)) for tag in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for tag, runs in results.items():
        assert len(runs) == 5
        for result in runs:
            assert result.ok, result.error
            assert [text for _, text in result.logs] == [f"{tag} {i}" for i in range(300)]


def test_after_a_run_the_plugin_logger_is_as_it_was() -> None:
    """A run routes its plug-in's log lines to its result only while it lasts: afterwards the
    `wasmplug.plugin` logger has its level, handlers and filters back, so other plug-ins in the
    process see the log level the application chose."""
    from wasmplug.serve.playground import Playground, Snippet

    logger = logging.getLogger("wasmplug.plugin")
    before = (logger.level, list(logger.handlers), list(logger.filters))
    source = b'export function hi() { console.log("a line"); Host.outputString("hi"); }'
    result = Playground().run(Snippet("js", source, "hi"))
    assert result.ok, result.error
    assert [text for _, text in result.logs] == ["a line"]
    assert (logger.level, list(logger.handlers), list(logger.filters)) == before

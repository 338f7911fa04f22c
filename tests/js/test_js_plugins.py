"""JS plug-ins built by `wasmplug.js.build`, run by wasmplug (PDK-style API)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest

import wasmplug
from wasmplug import js

from ..http_server import serve
from .conftest import event, source

Load = Callable[..., wasmplug.Plugin]


def test_count_vowels_commonjs(load: Load) -> None:
    plugin = load("count_vowels.js")
    assert json.loads(plugin.call("count_vowels", "Hello, World!"))["count"] == 3
    assert json.loads(plugin.call("count_vowels", "ÀÉ aéi"))["count"] == 2  # UTF-8 in, per character
    assert plugin.call("noop", "") == b""


def test_exports_are_the_module_functions() -> None:
    assert js.exports_of(source("count_vowels.js")) == ["count_vowels", "noop"]
    assert js.exports_of(source("game.js")) == [
        "get_constraints", "handle_event", "init_game", "render"]
    wasm = js.build("export function a() {}\nexport const b = 1;\nexport let c = () => 2;\n")
    with wasmplug.Plugin(wasm, wasi=True) as plugin:
        assert plugin.function_exists("a") and plugin.function_exists("c")
        assert not plugin.function_exists("b")


def test_tic_tac_toe_whole_match(load: Load) -> None:
    game = load("game.js")
    assert json.loads(game.call("get_constraints", "")) == {"min_players": 2, "max_players": 2}
    state = json.loads(game.call("init_game", json.dumps({"player_ids": ["ann", "bob"]})))
    assert state["version"] == 1 and state["board"] == [""] * 9
    assert b"Your turn" in game.call("render", json.dumps({"player_id": "ann"}))
    assert b"Waiting for ann" in game.call("render", json.dumps({"player_id": "bob"}))
    with pytest.raises(wasmplug.Error, match="not bob's turn"):
        game.call("handle_event", event("bob", 4))
    versions = []
    for player, cell in [("ann", 4), ("bob", 0), ("ann", 2), ("bob", 6), ("ann", 3), ("bob", 5),
                         ("ann", 1), ("bob", 7)]:
        state = json.loads(game.call("handle_event", event(player, cell)))
        versions.append(state["version"])
        assert state["winner"] is None
    with pytest.raises(wasmplug.Error, match="cell 4 is not free"):
        game.call("handle_event", event("ann", 4))
    state = json.loads(game.call("handle_event", event("ann", 8)))
    assert versions == list(range(2, 10)) and state["version"] == 10
    assert state["board"] == ["O", "X", "X", "X", "X", "O", "O", "O", "X"]
    assert state["winner"] == "draw"
    html = game.call("render", json.dumps({"player_id": "bob"})).decode()
    assert 'data-version="10"' in html and "Draw!" in html and html.count('class="cell"') == 9
    with pytest.raises(wasmplug.Error, match="the game is over"):
        game.call("handle_event", event("bob", 0))


def test_game_render_escapes_player_names(load: Load) -> None:
    game = load("game.js")
    game.call("init_game", json.dumps({"player_ids": ["<b>x</b>", "bob"]}))
    html = game.call("render", json.dumps({"player_id": "bob"})).decode()
    assert "<b>" not in html and "&#60;b&#62;x" in html


def test_http_against_loopback_server(load: Load, tmp_path: object) -> None:
    with serve(tmp_path) as url:  # type: ignore[arg-type]
        plugin = load("http.js", allowed_hosts=["127.0.0.1"])
        reply = json.loads(plugin.call("fetch", json.dumps({"url": f"{url}/echo", "method": "post",
                                                            "body": "payload"})))
        assert reply["status"] == 200
        echo = json.loads(reply["body"])
        assert echo["method"] == "POST" and echo["body"] == "payload"
        assert echo["headers"]["x-plugin"] == "js" and echo["headers"]["x-count"] == "2"
        assert reply["test_header"] == "yes"  # response headers reach JS
        missing = json.loads(plugin.call("fetch", json.dumps({"url": f"{url}/status/404"})))
        assert missing == {"status": 404, "body": "status body", "test_header": "yes"}


def test_http_without_allowed_hosts_is_refused(load: Load, tmp_path: object) -> None:
    with serve(tmp_path) as url:  # type: ignore[arg-type]
        plugin = load("http.js")
        with pytest.raises(wasmplug.CallError, match="is not allowed"):
            plugin.call("fetch", json.dumps({"url": f"{url}/echo"}))


def test_config_vars_bytes_and_text(load: Load) -> None:
    plugin = load("config_vars.js", config={"name": "Ann"})
    assert plugin.call("greet", "") == b"Hello, Ann!"
    assert load("config_vars.js").call("greet", "") == b"no name configured"
    assert [plugin.call("count", "") for _ in range(3)] == [b"1", b"2", b"3"]
    assert plugin.vars["n"] == b"3"
    assert json.loads(plugin.call("forget", "")) == {"n": None}
    assert "n" not in plugin.vars
    assert plugin.call("bytes", bytes([0, 1, 254, 255])) == bytes([255, 254, 1, 0])
    assert plugin.vars["raw"] == bytes([255, 254, 1, 0])
    text = json.loads(plugin.call("text", "héllo"))
    assert text == {"bytes": 6, "same": True, "b64": "aMOpbGxv"}


def test_console_goes_to_the_plugin_log(load: Load, caplog: pytest.LogCaptureFixture) -> None:
    plugin = load("config_vars.js")
    with caplog.at_level(logging.DEBUG, logger="wasmplug.plugin"):
        plugin.call("log", "")
    records = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "wasmplug.plugin"]
    assert records == [(logging.DEBUG, "debug line"), (logging.INFO, 'info line {"a":1}'),
                       (logging.WARNING, "warn line"), (logging.ERROR, "error line")]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="wasmplug.plugin"):
        plugin.call("log", "")
    assert [r.getMessage() for r in caplog.records if r.name == "wasmplug.plugin"] == [
        "warn line", "error line"]


def test_errors_carry_message_and_js_stack(load: Load) -> None:
    plugin = load("errors.js")
    with pytest.raises(wasmplug.CallError) as caught:
        plugin.call("throws", "because")
    assert str(caught.value).startswith("Error: the plug-in refused: because\n")
    assert "at throws (errors.js:4" in str(caught.value)
    with pytest.raises(wasmplug.CallError, match=r"^plain string$"):
        plugin.call("throws_string", "")
    with pytest.raises(wasmplug.CallError, match="Error code: 42") as rc:
        plugin.call("return_code", "")
    assert rc.value.code == 42
    with pytest.raises(wasmplug.CallError, match="RangeError: async failure"):
        plugin.call("rejects", "")
    with pytest.raises(wasmplug.CallError, match=r"TypeError: cannot read property 'property' of undefined"
                       r"\n    at bug \(errors.js:22"):
        plugin.call("bug", "")
    assert plugin.call("ok", "") == b"still fine"


def test_es_module_and_commonjs_and_results() -> None:
    sources = {
        "esm": "export function f() { return 'esm:' + Host.inputString() }",
        "cjs": "module.exports.f = function () { return 'cjs:' + Host.inputString() }",
        "exp": "exports.f = () => 'exp:' + Host.inputString()",
    }
    for kind, code in sources.items():
        with wasmplug.Plugin(js.build(code), wasi=True) as plugin:
            assert plugin.call("f", "x") == f"{kind}:x".encode()
    code = ("export const obj = () => ({a: [1, 2]});\n"
            "export const buf = () => new Uint8Array([0, 255]);\n"
            "export const nothing = () => { Host.outputBytes(new Uint8Array([7]).buffer) };\n")
    with wasmplug.Plugin(js.build(code), wasi=True) as plugin:
        assert json.loads(plugin.call("obj", "")) == {"a": [1, 2]}
        assert plugin.call("buf", "") == b"\x00\xff"
        assert plugin.call("nothing", "") == b"\x07"


def test_build_errors_are_clear(tmp_path: object) -> None:
    with pytest.raises(js.JSError, match="SyntaxError") as caught:
        js.build("export function f( {", filename="broken.js")
    assert caught.value.line == 1 or "broken.js" in str(caught.value)
    with pytest.raises(js.BuildError, match="exports no functions"):
        js.build("const x = 1;")
    with pytest.raises(js.BuildError, match="clashes"):
        js.build("export function memory() {}")
    with pytest.raises(js.JSError, match="top-level failure"):
        js.build("throw new Error('top-level failure');\nexport function f() {}")


def test_undeclared_host_functions_say_how_to_declare_them() -> None:
    # (declared ones: test_js_host_functions.py)
    code = "export function f() { const { my_host_fn } = Host.getFunctions(); return my_host_fn(1) }"
    with wasmplug.Plugin(js.build(code), wasi=True) as plugin, \
            pytest.raises(wasmplug.CallError, match=r"host function my_host_fn was not declared .*"
                                                    r"--host-function my_host_fn"):
        plugin.call("f", "")

"""The same JS plug-ins run under the official `extism` Python SDK (its native runtime)."""

from __future__ import annotations

import json
from pathlib import Path

import extism
import pytest

from ..http_server import serve
from .conftest import built, event


def plugin(name: str, **manifest: object) -> extism.Plugin:
    return extism.Plugin({"wasm": [{"data": built(name)}], **manifest}, wasi=True)


def test_count_vowels_and_game_match() -> None:
    assert json.loads(plugin("count_vowels.js").call("count_vowels", "Hello, World!"))["count"] == 3
    game = plugin("game.js")
    game.call("init_game", json.dumps({"player_ids": ["ann", "bob"]}))
    for player, cell in [("ann", 0), ("bob", 3), ("ann", 1), ("bob", 4)]:
        game.call("handle_event", event(player, cell))
    state = json.loads(game.call("handle_event", event("ann", 2)))
    assert state["winner"] == "X" and state["version"] == 6
    assert b"ann wins!" in game.call("render", json.dumps({"player_id": "bob"}))


def test_config_vars() -> None:
    p = extism.Plugin({"wasm": [{"data": built("config_vars.js")}]}, wasi=True, config={"name": "Ann"})
    assert p.call("greet", "") == b"Hello, Ann!"
    assert [p.call("count", "") for _ in range(2)] == [b"1", b"2"]
    assert p.call("bytes", bytes([0, 255])) == bytes([255, 0])


def test_errors() -> None:
    p = plugin("errors.js")
    with pytest.raises(extism.Error, match="the plug-in refused: no") as caught:
        p.call("throws", "no")
    assert "errors.js:4" in str(caught.value)
    with pytest.raises(extism.Error, match="42"):
        p.call("return_code", "")
    assert p.call("ok", "") == b"still fine"


def test_http_loopback(tmp_path: Path) -> None:
    with serve(tmp_path) as url:
        p = plugin("http.js", allowed_hosts=["127.0.0.1"])
        reply = json.loads(p.call("fetch", json.dumps({"url": f"{url}/echo"})))
        assert reply["status"] == 200 and json.loads(reply["body"])["headers"]["x-plugin"] == "js"
        refused = plugin("http.js")
        # the official SDK reports the host's refusal as a wasm backtrace, without the reason
        with pytest.raises(extism.Error):
            refused.call("fetch", json.dumps({"url": f"{url}/echo"}))

"""`wasmplug gamebox serve` and `wasmplug gamebox play` as a user runs them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from websockets.sync.client import ClientConnection, connect

from wasmplug.cli import main
from wasmplug.gamebox.catalogue.folders import bundled_games_dir

from .conftest import TEST_GAMES

pytestmark = pytest.mark.timeout(90)


@contextmanager
def running(*args: str) -> Iterator[str]:
    """Run `wasmplug gamebox ARGS`; yields the first line it prints."""
    process = subprocess.Popen([sys.executable, "-m", "wasmplug", "gamebox", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line, process.stderr.read() if process.stderr else "no output"
        yield line.strip()
    finally:
        process.terminate()
        process.wait(15)


def url_in(line: str) -> str:
    match = re.search(r"http://127\.0\.0\.1:\d+", line)
    assert match, line
    return match.group(0)


def member(base: str, code: str | None, name: str) -> tuple[str, str]:
    """Create (code None) or join an arena over HTTP; (code, cookie)."""
    with httpx.Client(base_url=base) as http:
        # With --data-dir accounts are on, and the arena forms carry a CSRF token.
        home = http.get("/" if code is None else f"/?arena={code}").text
        token = re.search(r'name="csrf" value="([^"]+)"', home)
        csrf = {"csrf": token.group(1)} if token else {}
        if code is None:
            response = http.post("/arenas", data={"name": name, **csrf})
        else:
            response = http.post("/join", data={"code": code, "name": name, **csrf})
        assert response.status_code == 303, response.text
        code = response.headers["location"].rsplit("/", 1)[-1]
        return code, f"gamebox_{code}={response.cookies[f'gamebox_{code}']}"


def socket(base: str, code: str, cookie: str) -> ClientConnection:
    return connect(base.replace("http", "ws") + f"/arena/{code}/ws", additional_headers={"cookie": cookie})


def board_containing(ws: ClientConnection, text: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        message = json.loads(ws.recv(timeout=30))
        if message["t"] == "board" and text in message["html"]:
            return str(message["html"])
    raise AssertionError(f"no board with {text!r}")


def test_help_lists_serve_and_play() -> None:
    result = CliRunner().invoke(main, ["gamebox", "--help"])
    assert result.exit_code == 0
    assert "serve" in result.output and "play" in result.output


def test_play_refuses_what_is_neither_wasm_nor_js(tmp_path: Path) -> None:
    game = tmp_path / "game.py"
    game.write_text("def render(): pass")
    result = CliRunner().invoke(main, ["gamebox", "play", str(game)])
    assert result.exit_code != 0 and "neither a .wasm nor a .js file" in result.output


def test_serve_has_the_bundled_games_and_the_data_dir_games(tmp_path: Path) -> None:
    (tmp_path / "games").mkdir()
    shutil.copy(bundled_games_dir() / "tictactoe.wasm", tmp_path / "games" / "my_game.wasm")
    shutil.copy(bundled_games_dir() / "connect_four.js", tmp_path / "games" / "my_js_game.js")
    with running("serve", "--port", "0", "--data-dir", str(tmp_path)) as line:
        base = url_in(line)
        code, cookie = member(base, None, "ann")
        page = httpx.get(f"{base}/arena/{code}", headers={"cookie": cookie}).text
        for game in ("tictactoe", "trivia", "event_log", "rock_paper_scissors", "my_game",
                     "event_log_js", "connect_four", "my_js_game"):
            assert f'data-gb-game="{game}"' in page
        assert "hostile" not in page and "failing" not in page


def test_play_prints_the_arena_link_and_reloads_the_game_on_change(tmp_path: Path) -> None:
    game = tmp_path / "game.wasm"
    shutil.copy(bundled_games_dir() / "event_log.wasm", game)
    with running("play", str(game), "--port", "0") as line:
        base = url_in(line)
        code = re.search(r"\?arena=([A-Z]{6})", line)
        assert code, line
        _, ann_cookie = member(base, code.group(1), "ann")
        _, bob_cookie = member(base, code.group(1), "bob")
        with socket(base, code.group(1), ann_cookie) as ann, socket(base, code.group(1), bob_cookie):
            ann.send(json.dumps({"t": "action", "name": "select", "game": "game"}))
            ann.send(json.dumps({"t": "action", "name": "start"}))
            board_containing(ann, "Version: 0")
            for _ in range(2):
                ann.send(json.dumps({"t": "event", "name": "cell-clicked", "value": {"cell": "0"}}))
            board_containing(ann, "Version: 2")
            # The author rebuilds the game: the arena continues on the new code, state kept
            # (the failing test game renders the same "version" var the event log keeps).
            shutil.copy(TEST_GAMES / "failing.wasm", tmp_path / "new.wasm")
            (tmp_path / "new.wasm").replace(game)
            assert 'class="failing">Version 2<' in board_containing(ann, "failing")


def test_play_a_js_game_and_reload_it_on_change(tmp_path: Path) -> None:
    game = tmp_path / "four.js"
    source = (bundled_games_dir() / "connect_four.js").read_text()
    game.write_text(source)
    with running("play", str(game), "--port", "0") as line:
        base = url_in(line)
        code = re.search(r"\?arena=([A-Z]{6})", line)
        assert code and "four.js" in line, line
        _, ann_cookie = member(base, code.group(1), "ann")
        _, bob_cookie = member(base, code.group(1), "bob")
        with socket(base, code.group(1), ann_cookie) as ann, socket(base, code.group(1), bob_cookie):
            ann.send(json.dumps({"t": "action", "name": "select", "game": "four"}))
            ann.send(json.dumps({"t": "action", "name": "start"}))
            board_containing(ann, "Your turn (red)")
            ann.send(json.dumps({"t": "event", "name": "drop", "value": {"column": "2"}}))
            board_containing(ann, "Waiting for bob (yellow)")
            # The author edits the game: it is rebuilt and the match continues on the new code.
            (tmp_path / "new.js").write_text(source.replace("Waiting for ", "Now it is "))
            (tmp_path / "new.js").replace(game)
            html = board_containing(ann, "Now it is bob (yellow)")
            assert html.count('class="drop red"') == 1  # the state was kept


def test_serve_with_an_unreachable_ray_cluster_fails_at_once(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:  # a loopback port nothing listens on once closed
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
    started = time.monotonic()
    result = CliRunner().invoke(main, ["gamebox", "serve", "--data-dir", str(tmp_path),
                                       "--database-url", f"sqlite:///{tmp_path / 'db.sqlite'}",
                                       "--ray", f"127.0.0.1:{port}"])
    assert result.exit_code != 0
    assert f"cannot reach the Ray cluster at 127.0.0.1:{port}" in result.output
    assert "ray start --head" in result.output
    assert time.monotonic() - started < 30  # Ray itself would retry for minutes


def test_the_server_runs_on_uvloop_when_it_is_installed() -> None:
    """uvloop (in the gamebox and test extras) makes every WebSocket message cheaper."""
    import asyncio

    from wasmplug.cli.gamebox import _run

    uvloop = pytest.importorskip("uvloop")  # not on Windows (see the extras)

    loops: list[asyncio.AbstractEventLoop] = []

    async def main() -> None:
        loops.append(asyncio.get_running_loop())

    _run(main())
    assert isinstance(loops[0], uvloop.Loop)

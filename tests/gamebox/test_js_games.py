"""GameBox games written in JavaScript (the JS PDK style), built by wasmplug.js on load.

The bundled `event_log_js.js` and `connect_four.js` are played through the
game API and over HTTP and WebSockets (in a real browser: test_js_browser.py); the catalogue
accepts `.js` games in any folder and builds each version of a source once.
"""

from __future__ import annotations

import asyncio
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wasmplug.gamebox.app import create_app
from wasmplug.gamebox.arenas.state import Arenas, Constraints
from wasmplug.gamebox.catalogue import folders as catalogue_module
from wasmplug.gamebox.catalogue.folders import DirectoryCatalogue, bundled_games_dir
from wasmplug.gamebox.errors import GameBoxError
from wasmplug.gamebox.game_session import GameLoader, GameSession

from .conftest import test_catalogue
from .test_app import create, join, new_client, play, until

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

JS_GAMES = ("event_log_js", "connect_four")


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def session(game_id: str, catalogue: DirectoryCatalogue | None = None) -> GameSession:
    info, compiled = GameLoader(catalogue or test_catalogue()).load(game_id)
    return GameSession(info, compiled, "TEST")


def event(player: str, name: str, **value: str) -> dict[str, Any]:
    return {"player_id": player, "event_name": name, "value": {**value, "value": ""}}


def drops(game: GameSession, moves: list[tuple[str, int]]) -> list[dict[str, Any]]:
    return [run(game.handle_event(event(who, "drop", column=str(column)))) for who, column in moves]


def test_the_js_games_are_in_the_catalogue_as_js_sources() -> None:
    catalogue = DirectoryCatalogue(bundled_games_dir())
    for game_id in JS_GAMES:
        assert catalogue.path(game_id).suffix == ".js"
        assert catalogue.get(game_id).title in ("Event log (JavaScript)", "Connect four")
        wasm = catalogue.load(game_id)
        assert wasm[:4] == b"\0asm"  # built into a plug-in on load
    assert not list(bundled_games_dir().glob("event_log_js.wasm"))  # never committed


def test_a_js_source_is_built_once_per_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    game = tmp_path / "mine.js"
    shutil.copy(bundled_games_dir() / "connect_four.js", game)
    builds: list[str] = []
    catalogue_module._built_js.clear()
    from wasmplug import js

    original = js.build

    def counting(source: bytes | str, **kwargs: Any) -> bytes:
        builds.append(kwargs["filename"])
        return original(source, **kwargs)

    monkeypatch.setattr(js, "build", counting)
    catalogue = DirectoryCatalogue(tmp_path)
    first = catalogue.load("mine")
    assert catalogue.load("mine") == first and builds == ["mine.js"]
    game.write_text(game.read_text().replace("Your turn", "Your move"))
    assert catalogue.load("mine") != first and builds == ["mine.js", "mine.js"]


def test_a_js_game_that_does_not_build_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "broken.js").write_text("export function render( {\n")
    (tmp_path / "nothing.js").write_text("const x = 1;\n")
    catalogue = DirectoryCatalogue(tmp_path)
    assert {game.id for game in catalogue.games()} == {"broken", "nothing"}
    with pytest.raises(GameBoxError, match=r"cannot build the JavaScript game broken\.js: .*SyntaxError"):
        catalogue.load("broken")
    with pytest.raises(GameBoxError, match=r"nothing\.js exports no functions"):
        catalogue.load("nothing")


def test_in_a_folder_the_wasm_wins_over_the_js_of_the_same_name(tmp_path: Path) -> None:
    shutil.copy(bundled_games_dir() / "tictactoe.wasm", tmp_path / "game.wasm")
    shutil.copy(bundled_games_dir() / "connect_four.js", tmp_path / "game.js")
    catalogue = DirectoryCatalogue(tmp_path)
    assert catalogue.path("game").suffix == ".wasm"
    assert catalogue.load("game") == (tmp_path / "game.wasm").read_bytes()


def test_event_log_js_shows_every_event() -> None:
    game = session("event_log_js")
    try:
        assert run(game.constraints()) == Constraints(2, 2)
        run(game.init(["ann", "bob"]))
        page = run(game.render({"player_id": "ann", "version": 0}))
        assert "<h1>Version: 0</h1>" in page and "<h2>You are ann</h2>" in page
        assert 'phx-click="cell-clicked" phx-value-cell="0"' in page
        sent = [event("ann", "cell-clicked", cell="0"), event("bob", "cell-clicked", cell="<b>")]
        assert [run(game.handle_event(e)) for e in sent] == [{"version": 1}, {"version": 2}]
        page = run(game.render({"player_id": "bob", "version": 2}))
        assert "<h1>Version: 2</h1>" in page and "<p>2 events</p>" in page
        items = page.split('<ol class="events">')[1]
        # newest first, escaped, exactly what the platform sent
        assert items.index("bob") < items.index("ann")
        assert "&#60;b&#62;" in items and "<b>" not in items
        assert "&#34;event_name&#34;: &#34;cell-clicked&#34;" in items
        for n in range(25):
            run(game.handle_event(event("ann", "cell-clicked", cell=str(n))))
        page = run(game.render({"player_id": "ann", "version": 27}))
        assert "<p>27 events</p>" in page and page.count("<li>") == 20  # the newest 20 kept
    finally:
        game.stop()


def test_connect_four_turns_columns_and_a_vertical_win() -> None:
    game = session("connect_four")
    try:
        assert run(game.constraints()) == Constraints(2, 2)
        run(game.init(["ann", "bob"]))
        first = run(game.render({"player_id": "ann", "version": 0}))
        assert "Your turn (red)" in first and first.count('phx-click="drop"') == 42
        assert "Waiting for ann (red)" in run(game.render({"player_id": "bob", "version": 0}))
        assert drops(game, [("bob", 0)]) == [{"version": 0, "notice": "It is not your turn."}]
        assert drops(game, [("ann", 9)])[0]["notice"] == "Pick a column."
        assert run(game.handle_event(event("cy", "drop", column="0")))["notice"] == \
            "You are watching this game."
        assert "Watching: ann (red) to move" in run(game.render({"player_id": "cy", "version": 0}))
        out = drops(game, [("ann", 0), ("bob", 1), ("ann", 0), ("bob", 1), ("ann", 0), ("bob", 1)])
        assert [o["version"] for o in out] == [1, 2, 3, 4, 5, 6] and all(o["notice"] == "" for o in out)
        assert drops(game, [("ann", 0)]) == [{"version": 7, "notice": ""}]  # four up column 0
        ann = run(game.render({"player_id": "ann", "version": 7}))
        bob = run(game.render({"player_id": "bob", "version": 7}))
        assert "You win!" in ann and "ann wins!" in bob
        assert ann.count('class="drop red"') == 4 and ann.count('class="drop yellow"') == 3
        assert drops(game, [("bob", 2)])[0]["notice"].startswith("The game is over")
        assert run(game.handle_event(event("bob", "reset"))) == {"version": 8, "notice": ""}
        fresh = run(game.render({"player_id": "bob", "version": 8}))
        assert "Your turn (yellow)" in fresh  # the loser begins
        assert 'class="drop red"' not in fresh and 'class="drop yellow"' not in fresh
    finally:
        game.stop()


def test_connect_four_full_column_diagonal_and_draw() -> None:
    game = session("connect_four")
    try:
        run(game.init(["ann", "bob"]))
        # A diagonal for ann: (5,0) (4,1) (3,2) (2,3), rows counted from the top.
        moves = [("ann", 0), ("bob", 1), ("ann", 1), ("bob", 2), ("ann", 2), ("bob", 3),
                 ("ann", 2), ("bob", 3), ("ann", 3), ("bob", 6)]
        assert all(o["notice"] == "" for o in drops(game, moves))
        assert "Your turn" in run(game.render({"player_id": "ann", "version": 10}))
        assert drops(game, [("ann", 3)])[0]["notice"] == ""
        assert "You win!" in run(game.render({"player_id": "ann", "version": 11}))
        run(game.handle_event(event("ann", "reset")))  # bob lost: bob begins
        # Fill the board without four in a row: columns in pairs, shifted so no line forms.
        order = [0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 2, 3, 2, 3, 2, 3, 3, 2, 3, 2, 3, 2,
                 4, 5, 4, 5, 4, 5, 5, 4, 5, 4, 5, 4, 6, 6, 6, 6, 6, 6]
        players = ["bob", "ann"]
        results = drops(game, [(players[i % 2], column) for i, column in enumerate(order)])
        assert all(o["notice"] == "" for o in results), results
        page = run(game.render({"player_id": "ann", "version": results[-1]["version"]}))
        assert "Draw!" in page and page.count('class="drop ') == 42
        assert drops(game, [("bob", 6)])[0]["notice"].startswith("The game is over")
        run(game.handle_event(event("ann", "reset")))  # after a draw, ann (who did not begin) begins
        refill = drops(game, [("ann", 6), ("bob", 6), ("ann", 6), ("bob", 6), ("ann", 6), ("bob", 6)])
        assert [o["notice"] for o in refill] == [""] * 6
        assert drops(game, [("ann", 6)])[0]["notice"] == "That column is full."
    finally:
        game.stop()


def board_at(ws: Any, version: int) -> dict[str, Any]:
    """The next board message of `version` (earlier ones are skipped)."""
    for _ in range(20):
        message = until(ws, "board")
        if message["version"] == version:
            return message
    raise AssertionError(f"no board at version {version}")


@pytest.fixture
def client() -> Iterator[Any]:
    from .test_app import Browser

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        app = create_app(test_catalogue(), arenas=Arenas(leave_after=60))
        with TestClient(app) as test_client:
            yield Browser(test_client)


def test_connect_four_over_websockets(client: Any) -> None:
    code = create(client, "ann")
    bob = new_client(client)
    join(bob, code, "bob")
    page = client.get(f"/arena/{code}").text
    for game_id in JS_GAMES:
        assert f'data-gb-game="{game_id}"' in page
    ann_ws, bob_ws = play(client, bob, code, "connect_four")
    try:
        assert "Your turn (red)" in until(ann_ws, "board", 'phx-click="drop"')["html"]
        assert "Waiting for ann (red)" in until(bob_ws, "board", 'phx-click="drop"')["html"]
        moves = [(ann_ws, 3), (bob_ws, 4)] * 3 + [(ann_ws, 3)]
        for version, (ws, column) in enumerate(moves, start=1):
            ws.send_json({"t": "event", "name": "drop", "value": {"column": str(column), "value": ""}})
            for viewer in (ann_ws, bob_ws):  # every viewer is re-rendered at the new version
                assert board_at(viewer, version)["html"].count('class="drop red"') == (version + 1) // 2
        page = bob.get(f"/arena/{code}").text  # a reload shows the end of the match
        assert "ann wins!" in page and page.count('class="drop yellow"') == 3
    finally:
        ann_ws.__exit__(None, None, None)
        bob_ws.__exit__(None, None, None)


HOG_GAME = """
export function init_game() { Var.set("n", "0"); }
export function handle_event() {
  const event = JSON.parse(Host.inputString());
  if (event.event_name === "hog") { const keep = []; for (;;) keep.push("x".repeat(1 << 16) + keep.length); }
  const n = Number(Var.getString("n")) + 1;
  Var.set("n", String(n));
  Host.outputString(JSON.stringify({version: n}));
}
export function render() { Host.outputString("<p>moves: " + Var.getString("n") + "</p>"); }
"""


@pytest.mark.timeout(60)
def test_a_js_game_that_hogs_memory_gets_a_js_error_and_stays_playable(tmp_path: Path) -> None:
    """The game's memory limit reaches the JS runtime as its heap limit (not an `oom` that
    would leave the runtime's heap full for good)."""
    (tmp_path / "hog.js").write_text(HOG_GAME)
    (tmp_path / "hog.toml").write_text('title = "Hog"\n[limits]\nmemory_mb = 16\n')
    game = session("hog", DirectoryCatalogue(tmp_path))
    run(game.init(["ann", "bob"]))
    with pytest.raises(GameBoxError, match=r'"Hog" failed in handle_event: InternalError: out of memory'):
        run(game.handle_event(event("ann", "hog")))
    assert run(game.handle_event(event("bob", "move"))) == {"version": 1}
    assert "moves: 1" in run(game.render({"player_id": "ann", "version": 1}))

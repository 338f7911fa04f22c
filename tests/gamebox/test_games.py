"""The game API through GameSession, with the bundled games and the failing one."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from wasmplug.gamebox.arenas.state import Constraints
from wasmplug.gamebox.catalogue.base import GameLimits
from wasmplug.gamebox.catalogue.folders import DirectoryCatalogue, bundled_games_dir
from wasmplug.gamebox.errors import GameFailed, UnknownGame
from wasmplug.gamebox.game_session import GameLoader, GameSession, GameSlots

from .conftest import test_catalogue


def session(game_id: str, **limits: Any) -> GameSession:
    info, compiled = GameLoader(test_catalogue(**limits)).load(game_id)
    return GameSession(info, compiled, "TEST")


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def event(player: str, name: str, **value: str) -> dict[str, Any]:
    return {"player_id": player, "event_name": name, "value": {**value, "value": ""}}


def test_catalogue_lists_the_bundled_games() -> None:
    catalogue = DirectoryCatalogue(bundled_games_dir())
    ids = {game.id for game in catalogue.games()}
    assert ids == {"event_log", "tictactoe", "trivia", "rock_paper_scissors",
                   "event_log_js", "connect_four"}  # the last two in JavaScript
    assert catalogue.get("tictactoe").title == "Tic-tac-toe"
    assert catalogue.get("trivia").limits == GameLimits()
    with pytest.raises(UnknownGame, match=r"no game 'chess'.*tictactoe"):
        catalogue.get("chess")


def test_constraints_of_each_game() -> None:
    expected = {"tictactoe": (2, 2), "trivia": (2, 8), "event_log": (2, 2),
                "rock_paper_scissors": (2, 2), "failing": (2, 2), "hostile": (1, 4)}
    for game_id, (low, high) in expected.items():
        game = session(game_id)
        try:
            assert run(game.constraints()) == Constraints(low, high), game_id
        finally:
            game.stop()


def tictactoe_moves(game: GameSession, moves: list[tuple[str, int]]) -> list[dict[str, Any]]:
    return [run(game.handle_event(event(who, "cell-clicked", cell=str(cell)))) for who, cell in moves]


def test_tictactoe_win_turns_and_reset() -> None:
    game = session("tictactoe")
    try:
        run(game.init(["ann", "bob"]))
        out = tictactoe_moves(game, [("ann", 0), ("ann", 1)])
        assert out[0] == {"version": 1, "notice": ""}
        assert out[1] == {"version": 1, "notice": "It is not your turn."}  # turn enforced
        assert tictactoe_moves(game, [("bob", 0)])[0]["notice"] == "Pick an empty cell."
        tictactoe_moves(game, [("bob", 3), ("ann", 1), ("bob", 4), ("ann", 2)])
        ann = run(game.render({"player_id": "ann", "version": 5}))
        bob = run(game.render({"player_id": "bob", "version": 5}))
        assert "You win!" in ann and "ann wins!" in bob
        assert tictactoe_moves(game, [("bob", 8)])[0]["notice"].startswith("The game is over")
        assert run(game.handle_event(event("cy", "cell-clicked", cell="8")))["notice"] == \
            "You are watching this game."
        assert run(game.handle_event(event("bob", "reset")))["version"] == 6
        fresh = run(game.render({"player_id": "bob", "version": 6}))
        assert "Your turn (O)" in fresh  # the loser begins
        assert fresh.count('phx-click="cell-clicked"') == 9
    finally:
        game.stop()


def test_tictactoe_draw() -> None:
    game = session("tictactoe")
    try:
        run(game.init(["ann", "bob"]))
        # X O X / X O O / O X X
        tictactoe_moves(game, [("ann", 0), ("bob", 1), ("ann", 2), ("bob", 4), ("ann", 3),
                               ("bob", 5), ("ann", 7), ("bob", 6), ("ann", 8)])
        assert "Draw!" in run(game.render({"player_id": "ann", "version": 9}))
    finally:
        game.stop()


def test_trivia_round_scores_and_next_by_first_player() -> None:
    game = session("trivia")
    try:
        run(game.init(["ann", "bob", "cy"]))
        run(game.handle_event(event("ann", "answer", choice="1")))  # right: Mercury
        assert run(game.handle_event(event("ann", "answer", choice="2")))["notice"] == \
            "You have already answered."
        html = run(game.render({"player_id": "bob", "version": 1}))
        assert "1 of 3 answered" in html and 'class="next"' not in html  # only ann moves on
        run(game.handle_event(event("bob", "answer", choice="0")))
        run(game.handle_event(event("cy", "answer", choice="1")))
        html = run(game.render({"player_id": "ann", "version": 3}))
        assert "The answer: Mercury" in html
        assert "<td>ann</td><td>1</td>" in html and "<td>bob</td><td>0</td>" in html
        assert run(game.handle_event(event("bob", "next")))["notice"] == "Only ann can move on."
        run(game.handle_event(event("ann", "next")))
        assert "Question 2 of 10" in run(game.render({"player_id": "cy", "version": 4}))
    finally:
        game.stop()


def test_event_log_records_events() -> None:
    game = session("event_log")
    try:
        run(game.init(["ann", "bob"]))
        assert run(game.handle_event(event("ann", "cell-clicked", cell="0"))) == {"version": 1}
        html = run(game.render({"player_id": "bob", "version": 1}))
        assert "Version: 1" in html and "You are bob" in html and "cell-clicked" in html
    finally:
        game.stop()


def test_rock_paper_scissors_hides_hands_until_both_threw() -> None:
    game = session("rock_paper_scissors")
    try:
        run(game.init(["ann", "bob"]))
        run(game.handle_event(event("ann", "throw", hand="rock")))
        assert "You threw rock" in run(game.render({"player_id": "ann", "version": 1}))
        assert "rock" not in run(game.render({"player_id": "bob", "version": 1})).split("</p>", 2)[-1] \
            .replace('phx-value-hand="rock">rock', "")
        run(game.handle_event(event("bob", "throw", hand="paper")))
        assert "bob wins the round" in run(game.render({"player_id": "ann", "version": 2}))
    finally:
        game.stop()


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("name", "reason"), [
    ("crash", "crashed on purpose"),
    ("loop", "timeout"),
    ("memory", "memory"),
    ("garbage", "not JSON"),
    ("noversion", "at least a version"),
])
def test_failures_name_the_game_and_call(name: str, reason: str, caplog: pytest.LogCaptureFixture) -> None:
    game = session("failing", timeout_ms=300, memory_mb=16)
    try:
        run(game.init(["ann", "bob"]))
        with caplog.at_level(logging.WARNING, "wasmplug.gamebox"), \
                pytest.raises(GameFailed, match=f'"failing" failed in handle_event: .*{reason}') as info:
            run(game.handle_event(event("ann", name)))
        assert info.value.function == "handle_event"
        assert any("failing" in r.getMessage() and "handle_event" in r.getMessage() for r in caplog.records)
        # the actor survives: a restart gives a working game
        run(game.restart())
        run(game.init(["ann", "bob"]))
        assert run(game.handle_event(event("ann", "ok"))) == {"version": 1}
    finally:
        game.stop()


def test_render_failures_and_size_cap() -> None:
    game = session("failing")
    try:
        run(game.init(["ann", "bob"]))
        run(game.handle_event(event("ann", "badrender")))
        results = run(game.render_many([{"player_id": "ann"}, {"player_id": "bob"}]))
        assert all(isinstance(r, GameFailed) and "render failed on purpose" in str(r) for r in results)
    finally:
        game.stop()
    hostile = session("hostile")
    try:
        run(hostile.init(["ann"]))
        run(hostile.handle_event(event("ann", "huge")))
        with pytest.raises(GameFailed, match=r"failed in render: .*(max_output_bytes|larger)"):
            run(hostile.render({"player_id": "ann"}))
    finally:
        hostile.stop()


def test_play_handles_the_event_and_renders_the_planned_viewers_in_the_games_thread() -> None:
    game = session("tictactoe")
    threads: list[str] = []

    def plan(assigns: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        threads.append(threading.current_thread().name)
        return [(name, {"player_id": name, "version": assigns["version"]}) for name in ("ann", "bob")]

    try:
        run(game.init(["ann", "bob"]))
        assigns, views, results = run(game.play(event("ann", "cell-clicked", cell="4"), plan,
                                                str.upper))
        assert assigns["version"] == 1
        assert [name for name, _ in views] == ["ann", "bob"]
        assert "WAITING FOR BOB" in results[0] and "YOUR TURN" in results[1]  # finished by str.upper
        assert threads == [game.server.name]  # no extra trip back to the event loop
        # A refused move still renders the sender (the plan decides who).
        assigns, _, results = run(game.play(event("ann", "cell-clicked", cell="0"), plan))
        assert assigns["version"] == 1 and len(results) == 2
    finally:
        game.stop()


def test_play_reports_a_failing_event_or_render_as_game_failed() -> None:
    game = session("failing")
    try:
        run(game.init(["ann", "bob"]))
        with pytest.raises(GameFailed, match=r'"failing" failed in handle_event: .*crashed on purpose'):
            run(game.play(event("ann", "crash"), lambda assigns: [("ann", {"player_id": "ann"})]))
        run(game.restart())
        run(game.init(["ann", "bob"]))
        _, _, results = run(game.play(event("ann", "badrender"),
                                      lambda assigns: [("ann", {"player_id": "ann"}),
                                                       ("bob", {"player_id": "bob"})]))
        assert all(isinstance(r, GameFailed) and "render failed on purpose" in str(r) for r in results)
    finally:
        game.stop()


def test_games_get_no_files_env_or_network() -> None:
    info, compiled = GameLoader(test_catalogue()).load("tictactoe")
    assert compiled.manifest.allowed_hosts is None and compiled.manifest.allowed_paths is None
    assert compiled.wasi is not None and not compiled.wasi.args and not compiled.wasi.env
    assert compiled.manifest.memory.max_pages == 1024  # 64 MiB
    assert compiled.manifest.timeout_ms == 1000
    assert json.loads(json.dumps(info.limits.__dict__)) == {"memory_mb": 64, "timeout_ms": 1000,
                                                             "max_render_bytes": 262144}


def test_a_game_without_get_constraints_gets_two_players() -> None:
    greet = Path(__file__).resolve().parents[2] / "plugins" / "assemblyscript" / "echo.wasm"
    info, compiled = GameLoader(DirectoryCatalogue(greet)).load("echo")
    game = GameSession(info, compiled, "TEST")
    try:
        assert not compiled.function_exists("get_constraints")
        assert run(game.constraints()) == Constraints(2, 2)
    finally:
        game.stop()


def test_game_slots_let_only_so_many_trips_run_at_once() -> None:
    slots = GameSlots(2, lease=30)
    running, most = 0, 0

    async def trip() -> None:
        nonlocal running, most
        async with slots.slot():
            running += 1
            most = max(most, running)
            await asyncio.sleep(0.01)
            running -= 1

    async def main() -> None:
        await asyncio.gather(*(trip() for _ in range(10)))

    run(main())
    assert most == 2
    with pytest.raises(ValueError, match="at least 1"):
        GameSlots(0)


@pytest.mark.timeout(30)
def test_a_slow_trip_gives_its_slot_back_after_the_lease() -> None:
    """A game that takes its time (up to its limit) must not hold up other arenas."""
    slots = GameSlots(1, lease=0.05)
    order: list[str] = []

    async def main() -> None:
        slow_has_the_slot, quick_ran = asyncio.Event(), asyncio.Event()

        async def slow() -> None:
            async with slots.slot():
                order.append("slow in")
                slow_has_the_slot.set()
                # Still running when quick gets in: only the lease can have let it.
                async with asyncio.timeout(10):
                    await quick_ran.wait()
                order.append("slow out")

        async def quick() -> None:
            await slow_has_the_slot.wait()
            async with slots.slot():
                order.append("quick")
            quick_ran.set()

        await asyncio.gather(slow(), quick())
        async with slots.slot():  # the slot was given back once, not twice
            assert slots._free.locked()

    run(main())
    assert order == ["slow in", "quick", "slow out"]

"""A game's time and its words, against a real server on loopback: a game stopped mid-call
never holds up the event loop, and what a game says reaches the log escaped and rate-limited."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from wasmplug.gamebox.app import create_app
from wasmplug.gamebox.arenas.state import Arenas
from wasmplug.gamebox.catalogue.base import GameLimits
from wasmplug.gamebox.catalogue.folders import DirectoryCatalogue

from .conftest import live_server
from .loopback import Visitor, poll, send, until
from .wat_games import game_wasm

SOLO = '{"min_players": 1, "max_players": 2}'


class Recorder(logging.Handler):
    """Every GameBox log record, in the order they were made (any thread)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self) -> list[str]:
        return [self.format(record) for record in self.records]


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    logger = logging.getLogger("wasmplug.gamebox")
    handler, level = Recorder(), logger.level
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def folder_with(tmp_path: Path, game_id: str, wasm: bytes) -> Path:
    (tmp_path / f"{game_id}.wasm").write_bytes(wasm)
    return tmp_path


def start_solo_game(ws: Any, game_id: str) -> None:
    send(ws, {"t": "action", "name": "select", "game": game_id})
    until(ws, "arena", 'id="start"')
    send(ws, {"t": "action", "name": "start"})
    until(ws, "board", "marker")


@pytest.mark.timeout(60)
def test_an_arena_torn_down_while_its_game_sleeps_does_not_freeze_the_server(
        tmp_path: Path, recorder: Recorder) -> None:
    """The game sleeps (a WASI clock wait, cut at its 4 s call limit) in handle_event; its
    arena is torn down meanwhile. The server answers another request before the call ends."""
    catalogue = DirectoryCatalogue(folder_with(tmp_path, "napper", game_wasm(
        sleep_in="handle_event", constraints=SOLO)), limits=GameLimits(timeout_ms=4000))
    app = create_app(catalogue, arenas=Arenas(leave_after=60, teardown_after=0.0), sweep_every=0.05)
    order: list[str] = []
    marks = {"torn down (empty)": "torn down", "failed in handle_event": "game call ended"}

    class Marks(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            order.extend(mark for text, mark in marks.items() if text in record.getMessage())

    logger = logging.getLogger("wasmplug.gamebox")
    mark_handler = Marks()
    logger.addHandler(mark_handler)
    try:
        with live_server(app) as url:
            ann = Visitor(url)
            code = ann.create("ann")
            with ann.socket(code) as playing:
                start_solo_game(playing, "napper")
                send(playing, {"t": "event", "name": "nap", "value": {}})
                with ann.socket(code) as second_tab:  # leaves while the first tab's event runs
                    until(second_tab, "arena")
                    send(second_tab, {"t": "action", "name": "leave"})
                    until(second_tab, "redirect")
                poll(lambda: "torn down" in order, what="the arena's teardown")
                assert "game call ended" not in order  # the game is still asleep
                assert httpx.get(url + "/", timeout=30).status_code == 200
                order.append("answered")
                poll(lambda: "game call ended" in order, what="the end of the game's call")
    finally:
        logger.removeHandler(mark_handler)
    assert order == ["torn down", "answered", "game call ended"]


def test_a_sleeping_game_is_cut_at_the_call_limit_in_an_arena(tmp_path: Path, recorder: Recorder) -> None:
    """An hour's WASI sleep in render ends at GameBox's default 1 s call limit: the arena
    shows the failure (and the host may restart) instead of waiting for an hour."""
    catalogue = DirectoryCatalogue(folder_with(tmp_path, "sleepy", game_wasm(
        sleep_in="render", constraints=SOLO)))
    app = create_app(catalogue)
    with live_server(app) as url:
        ann = Visitor(url)
        code = ann.create("ann")
        with ann.socket(code) as ws:
            send(ws, {"t": "action", "name": "select", "game": "sleepy"})
            until(ws, "arena", 'id="start"')
            send(ws, {"t": "action", "name": "start"})
            failed = until(ws, "arena", "failed in render")
            assert "timeout" in failed["html"]
            assert httpx.get(url + "/", timeout=30).status_code == 200


FORGED = "INFO wasmplug.gamebox: root banned alice"


def test_an_error_message_with_newlines_forges_no_log_line(tmp_path: Path, recorder: Recorder) -> None:
    catalogue = DirectoryCatalogue(folder_with(tmp_path, "forger", game_wasm(
        error_in="handle_event", error=f"oops\n{FORGED}\r\n\x1b[2J", constraints=SOLO)))
    with live_server(create_app(catalogue)) as url:
        ann = Visitor(url)
        code = ann.create("ann")
        with ann.socket(code) as ws:
            start_solo_game(ws, "forger")
            send(ws, {"t": "event", "name": "go", "value": {}})
            until(ws, "arena", "failed in handle_event")
    lines = "\n".join(recorder.lines()).splitlines()
    failure = [line for line in lines if "failed in handle_event" in line]
    assert len(failure) == 1
    assert failure[0].startswith("WARNING wasmplug.gamebox: arena ")
    assert f"oops\\n{FORGED}\\r\\n\\x1b[2J" in failure[0]  # escaped, on the one line
    assert not any(line.startswith(FORGED) for line in lines)
    assert not any("\x1b" in line for line in lines)


@pytest.mark.timeout(60)
def test_stderr_is_escaped_and_rate_limited(tmp_path: Path, recorder: Recorder) -> None:
    """A game writing 2,000 forged lines to stderr per call gets at most the budget's 20
    lines per 10 s into the log, each marked as the game's and escaped."""
    catalogue = DirectoryCatalogue(folder_with(tmp_path, "chatty", game_wasm(
        stderr_in="handle_event", stderr=f"\x1b[1A{FORGED}\n", stderr_times=2000, constraints=SOLO)))
    with live_server(create_app(catalogue)) as url:
        ann = Visitor(url)
        code = ann.create("ann")
        with ann.socket(code) as ws:
            start_solo_game(ws, "chatty")
            for _ in range(5):
                send(ws, {"t": "event", "name": "talk", "value": {}})
                until(ws, "board", "marker")
    lines = "\n".join(recorder.lines()).splitlines()
    game_lines = [line for line in lines if "wrote to stderr" in line]
    assert 1 <= len(game_lines) <= 20
    assert all(line == f"WARNING wasmplug.gamebox: game chatty wrote to stderr: \\x1b[1A{FORGED}"
               for line in game_lines)
    assert not any(line.startswith(FORGED) for line in lines)
    assert sum(len(line) for line in lines) < 16 * 1024  # not 10,000 lines


@pytest.mark.timeout(60)
def test_log_function_lines_are_escaped_and_rate_limited(tmp_path: Path) -> None:
    """A game calling log_warn 200 times per call with a forged line gets at most 20 lines
    per 10 s into the log, each on one line."""
    logger = logging.getLogger("wasmplug.plugin")
    handler = Recorder()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    try:
        catalogue = DirectoryCatalogue(folder_with(tmp_path, "logger", game_wasm(
            log_in="handle_event", log=f"ok\n{FORGED}", log_times=200, constraints=SOLO)))
        with live_server(create_app(catalogue)) as url:
            ann = Visitor(url)
            code = ann.create("ann")
            with ann.socket(code) as ws:
                start_solo_game(ws, "logger")
                for _ in range(3):
                    send(ws, {"t": "event", "name": "talk", "value": {}})
                    until(ws, "board", "marker")
    finally:
        logger.removeHandler(handler)
    lines = "\n".join(handler.lines()).splitlines()
    assert 1 <= len(lines) <= 20
    assert all(line == f"WARNING wasmplug.plugin: ok\\n{FORGED}" for line in lines)

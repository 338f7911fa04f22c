"""A game written in JavaScript, played to the end by two people in a real browser.

Its own module: the module-scoped browser keeps an event loop in the main
thread, which the asyncio-based tests of test_js_games.py must not meet.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from wasmplug.gamebox.app import create_app
from wasmplug.gamebox.arenas.state import Arenas

from .conftest import live_server, test_catalogue
from .test_browser import create_arena, join_arena, people  # noqa: F401 (people: a fixture)


@pytest.fixture
def server() -> Iterator[str]:
    app = create_app(test_catalogue(), arenas=Arenas(leave_after=1.0, teardown_after=5.0),
                     sweep_every=0.2)
    with live_server(app) as url:
        yield url


@pytest.mark.timeout(120)
def test_two_browsers_play_connect_four_to_the_end(server: str, people: Any,  # noqa: F811
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "wasmplug.gamebox")
    ann, bob = people(2)
    code = create_arena(ann, server, "ann")
    join_arena(bob, server, code, "bob")
    ann.wait_for_selector("#members [data-name='bob']")
    ann.click("[data-gb-action='select'][data-gb-game='connect_four']")
    # Picking a JavaScript game loads it (7.5 s seen at load 16): longer than WAIT on a busy machine.
    ann.wait_for_selector("#start", timeout=60_000)
    ann.click("#start")
    ann.wait_for_selector("#board:has-text('Your turn (red)')")
    bob.wait_for_selector("#board:has-text('Waiting for ann (red)')")
    bob.locator("#board [phx-value-column='0']").first.click()  # not bob's turn
    bob.wait_for_selector("#board .notice:has-text('It is not your turn.')")
    moves = [(ann, 3), (bob, 4), (ann, 3), (bob, 4), (ann, 3), (bob, 4)]
    for n, (page, column) in enumerate(moves, start=1):
        page.locator(f"#board [phx-value-column='{column}']").first.click()
        for viewer in (ann, bob):  # both see the disc fall
            viewer.wait_for_function(
                "n => document.querySelectorAll('#board .drop.red, #board .drop.yellow').length === n", arg=n)
    ann.locator("#board [phx-value-column='3']").first.click()
    ann.wait_for_selector("#board .result:has-text('You win!')")
    bob.wait_for_selector("#board .result:has-text('ann wins!')")
    assert ann.locator("#board .drop.red").count() == 4
    bob.click("#board .reset")
    bob.wait_for_selector("#board:has-text('Your turn (yellow)')")  # the loser begins
    ann.wait_for_selector("#board:has-text('Waiting for bob (yellow)')")
    assert not [r for r in caplog.records if "failed" in r.getMessage()]

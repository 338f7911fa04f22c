"""Arenas across machines in real browsers: two people, each on another
`wasmplug gamebox serve --ray` process, play tic-tac-toe to the end in two
Chromium contexts (the servers share the arena through its Ray actor)."""

from __future__ import annotations

from typing import Any

import pytest

from .ray_servers import ray_address, two_servers  # noqa: F401  (fixtures)
from .test_browser import WAIT, cell, create_arena, join_arena, move


@pytest.mark.timeout(300)
def test_two_browsers_on_two_servers_play_to_a_win(two_servers: list[str],  # noqa: F811
                                                   browser: Any) -> None:
    ann_url, bob_url = two_servers
    contexts = [browser.new_context(viewport={"width": 1000, "height": 760}) for _ in range(2)]
    try:
        for context in contexts:
            context.set_default_timeout(3 * WAIT)
        ann, bob = (context.new_page() for context in contexts)
        code = create_arena(ann, ann_url, "ann")
        join_arena(bob, bob_url, code, "bob")
        ann.wait_for_selector("#members [data-name='bob']")  # bob joined on the other server
        ann.click("[data-gb-action='select'][data-gb-game='tictactoe']")
        bob.wait_for_selector("#picked:has-text('Waiting for ann to start')")
        ann.click("#start")
        ann.wait_for_selector("#board:has-text('Your turn (X)')")
        bob.wait_for_selector("#board:has-text('Waiting for ann')")
        cell(bob, 0).click()  # not bob's turn
        bob.wait_for_selector("#board .notice:has-text('It is not your turn.')")
        for page, index, mark in [(ann, 0, "X"), (bob, 3, "O"), (ann, 1, "X"), (bob, 4, "O"),
                                  (ann, 2, "X")]:
            move(page, index, mark, ann if page is bob else bob)
        ann.wait_for_selector("#board .result:has-text('You win!')")
        bob.wait_for_selector("#board .result:has-text('ann wins!')")
    finally:
        for context in contexts:
            context.close()

"""In a real browser: a new user signs up, uploads a game they built, and plays it with a friend.

Debian's chromium through Playwright (the part-1 fixtures); the catalogue is
a DatabaseCatalogue on SQLite (and PostgreSQL when .ci/run provides it).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wasmplug.gamebox.app import create_app
from wasmplug.gamebox.arenas.state import Arenas
from wasmplug.gamebox.catalogue.folders import bundled_games_dir

from .conftest import live_server
from .test_browser import create_arena, join_arena, move, people, shot  # noqa: F401 - `people` is a fixture

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def site(library: Any) -> Iterator[str]:
    app = create_app(library, arenas=Arenas(leave_after=5.0, teardown_after=10.0), sweep_every=0.2,
                     session_secret="browser-test-secret-0123456789")
    with live_server(app) as url:
        yield url


def test_sign_up_upload_and_play_with_a_friend(site: str, people: Any, tmp_path: Path,  # noqa: F811
                                               library: Any) -> None:
    from PIL import Image

    game = tmp_path / "noughts.wasm"  # the game "they built": tic-tac-toe under their own name
    shutil.copy(bundled_games_dir() / "tictactoe.wasm", game)
    art = tmp_path / "art.jpg"
    Image.new("RGB", (300, 200), (20, 120, 60)).save(art, format="JPEG")

    author, friend = people(2)
    author.goto(site + "/games")
    author.click("#nav-signup")
    author.fill("#signup-username", "ada")
    author.fill("#signup-password", "correct horse battery")
    author.click("#signup-submit")
    author.wait_for_selector("#upload-wasm")
    author.set_input_files("#upload-wasm", str(game))
    author.fill("#upload-title", "Noughts & Crosses")
    author.fill("#upload-description", "The classic, **by Ada**.")
    author.set_input_files("#upload-artwork", str(art))
    author.click("#upload-submit")
    author.wait_for_selector("#game-title:has-text('Noughts & Crosses')")
    assert author.inner_text("#game-author") == "ada"
    assert author.inner_html("#game-description").strip() == "<p>The classic, <strong>by Ada</strong>.</p>"
    width = 0
    for _ in range(100):  # the page's CSP forbids wait_for_function's eval: poll the image
        width = author.evaluate("() => document.querySelector('img.artwork').naturalWidth")
        if width:
            break
        author.wait_for_timeout(100)
    assert width == 300
    shot(author, "game-page", tmp_path)

    friend.goto(site + "/games?q=noughts")  # anonymous: playing needs no account
    friend.wait_for_selector("a.game-title:has-text('Noughts & Crosses')")
    shot(friend, "catalogue", tmp_path)

    code = create_arena(author, site, "ada")
    join_arena(friend, site, code, "bo")
    author.wait_for_selector("#members [data-name='bo']")
    author.click("[data-gb-action='select'][data-gb-game='noughts']")
    author.wait_for_selector("#constraints:has-text('2 players')")
    author.click("#start")
    author.wait_for_selector("#board:has-text('Your turn (X)')")
    for page, index, mark in [(author, 0, "X"), (friend, 3, "O"), (author, 1, "X"), (friend, 4, "O"),
                              (author, 2, "X")]:
        move(page, index, mark, friend if page is author else author)
    author.wait_for_selector("#board .result:has-text('You win!')")
    friend.wait_for_selector("#board .result:has-text('ada wins!')")
    assert library.listing("noughts")[0].plays == 1

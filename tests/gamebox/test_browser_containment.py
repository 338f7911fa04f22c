"""A game's HTML and CSS stay inside its board, in Debian's chromium.

The escapes found by the audit, in one game: a `<style>` element with an
attribute, braces in a CSS comment and string, `position: fixed` overlays (a
`label for` the platform's "lobby" button and a full-page transparent link),
a negative margin and a huge z-index. The platform's header stays visible,
the page keeps its colours, and a click on the platform's own controls
reaches them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wasmplug.gamebox.app import create_app
from wasmplug.gamebox.catalogue.folders import DirectoryCatalogue

from .conftest import live_server
from .test_browser import WAIT, create_arena
from .wat_games import game_wasm

pytestmark = pytest.mark.timeout(120)

ESCAPES = (
    '</p><style class="x">header, .top { display: none !important } '
    "body { background: rgb(255, 0, 0) !important }</style>"
    "<style>/* } */ .top { visibility: hidden } .a { content: '}' } #arena-info { display: none }</style>"
    '<label for="lobby" class="overlay" style="position:fixed;inset:0;z-index:2147483647;display:block">'
    "trap</label>"
    '<a href="https://evil.example/" class="cover" style="position:fixed;top:0;left:0;width:100vw;'
    'height:100vh;z-index:2147483647;display:block;opacity:0">cover</a>'
    '<div class="pull" style="margin-top:-3000px;height:6000px;width:4000px;position:relative;'
    'z-index:99999;background:rgba(0,0,0,.01)">pull</div><p>'
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    games = tmp_path / "games"
    games.mkdir()
    (games / "escape.wasm").write_bytes(
        game_wasm(ESCAPES, constraints='{"min_players": 1, "max_players": 2}'))
    with live_server(create_app(DirectoryCatalogue(games))) as url:
        yield url


@pytest.mark.parametrize("width", [1000, 390])
def test_game_css_and_overlays_stay_in_the_board(server: str, browser: Any, width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 760})
    context.set_default_timeout(WAIT)
    try:
        page = context.new_page()
        create_arena(page, server, "ann")
        page.click("[data-gb-action='select'][data-gb-game='escape']")
        page.click("#start")
        page.wait_for_selector("#board .cover")
        assert page.is_visible("header.top") and page.is_visible("#arena-info")
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgb(255, 0, 0)"
        assert page.evaluate("getComputedStyle(document.querySelector('.top')).visibility") == "visible"
        # Whatever the game positions is clipped to the board: the platform's controls are on top.
        for selector in ("header.top .brand", "#lobby", "#arena-code"):
            assert page.evaluate(
                """(selector) => { const el = document.querySelector(selector);
                     const box = el.getBoundingClientRect();
                     const hit = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
                     return el === hit || el.contains(hit); }""", selector), selector
        board = page.evaluate("(() => { const b = document.getElementById('board').getBoundingClientRect();"
                              " return [b.top, b.bottom]; })()")
        for overlay in (".overlay", ".cover", ".pull"):
            top = page.evaluate(f"document.querySelector('#board {overlay}').getBoundingClientRect().top")
            assert top >= board[0] - 1 or overlay == ".pull", overlay
        assert page.locator("#board label.overlay").get_attribute("for") is None
        # A click on the platform's button does what it says (back to the lobby), not the game's link.
        page.click("#lobby")
        page.wait_for_selector("#games [data-game='escape']")
        assert page.url.startswith(server)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        context.close()

"""End to end in a real browser: Debian's chromium driven by Playwright.

Two and three browser contexts (separate people) create an arena, join it,
play tic-tac-toe to a win and to a draw, watch as a spectator, reload and
resume, lose the connection and get it back, and see the host role move when
the host leaves. The hostile game proves that nothing in a game's HTML runs
or loads. Set GAMEBOX_SCREENSHOTS=docs to refresh the screenshots in docs/.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wasmplug.gamebox.app import create_app
from wasmplug.gamebox.arenas.state import Arenas

from .conftest import live_server, test_catalogue

pytestmark = pytest.mark.timeout(120)
WAIT = 10_000  # ms: generous, the machine is shared


@pytest.fixture
def server() -> Iterator[tuple[str, Any]]:
    app = create_app(test_catalogue(), arenas=Arenas(leave_after=1.0, teardown_after=5.0),
                     sweep_every=0.2)
    with live_server(app) as url:
        yield url, app


@pytest.fixture
def people(browser: Any) -> Iterator[Any]:
    """people(n): n browser contexts (separate cookies: separate people), each with a page."""
    contexts: list[Any] = []

    def make(n: int) -> list[Any]:
        pages = []
        for _ in range(n):
            context = browser.new_context(viewport={"width": 1000, "height": 760})
            context.set_default_timeout(WAIT)
            contexts.append(context)
            pages.append(context.new_page())
        return pages

    yield make
    for context in contexts:
        context.close()


def shot(page: Any, name: str, tmp_path: Path) -> None:
    folder = Path(os.environ.get("GAMEBOX_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"gamebox-{name}.png"), full_page=True)


def create_arena(page: Any, base: str, name: str) -> str:
    page.goto(base + "/")
    page.fill("#create-name", name)
    page.click("#create-submit")
    page.wait_for_selector("#arena[data-live='1']")
    code: str = page.inner_text("#arena-code")
    assert re.fullmatch(r"[BCDFGHJKLMNPQRSTVWXZ]{6}", code)
    return code


def join_arena(page: Any, base: str, code: str, name: str) -> None:
    page.goto(f"{base}/?arena={code}")  # the invite link
    page.fill("#join-name", name)
    page.click("#join-submit")
    page.wait_for_selector("#arena[data-live='1']")


def start_game(host: Any, game: str) -> None:
    host.click(f"[data-gb-action='select'][data-gb-game='{game}']")
    host.click("#start")


def cell(page: Any, index: int) -> Any:
    return page.locator(f"#board [phx-value-cell='{index}']")


def move(page: Any, index: int, mark: str, *watchers: Any) -> None:
    cell(page, index).click()
    for viewer in (page, *watchers):
        viewer.wait_for_selector(f"#board [phx-value-cell='{index}']:has-text('{mark}')")


def test_two_players_play_to_a_win_and_a_draw(server: tuple[str, Any], people: Any,
                                              tmp_path: Path) -> None:
    base, _ = server
    ann, bob = people(2)
    code = create_arena(ann, base, "ann")
    assert ann.is_visible("#you-host")
    join_arena(bob, base, code, "bob")
    ann.wait_for_selector("#members [data-name='bob']")
    assert not bob.is_visible("[data-gb-action='select']")  # only the host picks
    ann.click("[data-gb-action='select'][data-gb-game='tictactoe']")
    ann.wait_for_selector("#constraints:has-text('2 players')")
    bob.wait_for_selector("#picked:has-text('Waiting for ann to start')")
    shot(ann, "lobby", tmp_path)
    ann.click("#start")
    ann.wait_for_selector("#board:has-text('Your turn (X)')")
    bob.wait_for_selector("#board:has-text('Waiting for ann')")
    cell(bob, 0).click()  # not bob's turn
    bob.wait_for_selector("#board .notice:has-text('It is not your turn.')")
    for page, index, mark in [(ann, 0, "X"), (bob, 3, "O"), (ann, 1, "X"), (bob, 4, "O"), (ann, 2, "X")]:
        move(page, index, mark, ann if page is bob else bob)
    ann.wait_for_selector("#board .result:has-text('You win!')")
    bob.wait_for_selector("#board .result:has-text('ann wins!')")
    shot(ann, "tictactoe-win", tmp_path)
    bob.click("#board .reset")
    bob.wait_for_selector("#board:has-text('Your turn (O)')")  # the loser begins
    # O X O / O X X / X O X
    for page, index, mark in [(bob, 0, "O"), (ann, 1, "X"), (bob, 2, "O"), (ann, 4, "X"), (bob, 3, "O"),
                              (ann, 5, "X"), (bob, 7, "O"), (ann, 6, "X"), (bob, 8, "O")]:
        move(page, index, mark, ann if page is bob else bob)
    ann.wait_for_selector("#board .result:has-text('Draw!')")
    bob.wait_for_selector("#board .result:has-text('Draw!')")


def test_spectator_reload_reconnect_and_the_host_leaving(server: tuple[str, Any], people: Any,
                                                         tmp_path: Path) -> None:
    base, _ = server
    ann, bob, cy = people(3)
    code = create_arena(ann, base, "ann")
    join_arena(bob, base, code, "bob")
    join_arena(cy, base, code, "cy")
    ann.wait_for_selector("#members [data-name='cy']")
    start_game(ann, "tictactoe")
    cy.wait_for_selector("#board:has-text('Watching: ann (X) to move')")
    assert cy.is_visible("#you-spectator")
    move(ann, 4, "X", bob, cy)
    cell(cy, 0).click()  # spectators cannot play
    cy.wait_for_selector("#flash:has-text('spectators cannot play')")
    shot(cy, "spectator", tmp_path)

    # Patching keeps nodes, focus and scroll: mark a cell node, scroll, let another player move.
    bob.set_viewport_size({"width": 500, "height": 300})
    move(bob, 0, "O", ann)
    bob.evaluate("document.querySelector('#board .cell').probe = 'kept'")
    bob.focus("#board [phx-value-cell='8']")
    bob.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    scroll = bob.evaluate("window.scrollY")
    assert scroll > 0
    move(ann, 1, "X", bob)  # bob's page is patched while he looks at the bottom
    assert bob.evaluate("document.querySelector('#board .cell').probe") == "kept"
    assert bob.evaluate("window.scrollY") == scroll
    assert bob.evaluate("document.activeElement.getAttribute('phx-value-cell')") == "8"

    # bob reloads mid-game and resumes where he was
    bob.reload()
    bob.wait_for_selector("#arena[data-live='1']")
    assert bob.inner_text("#board [phx-value-cell='4']") == "X"
    assert "Your turn (O)" in bob.inner_text("#board")
    move(bob, 2, "O", ann, cy)

    # the connection drops: the page reconnects by itself and gets the current state
    sockets: list[Any] = []

    def route(ws: Any) -> None:
        ws.connect_to_server()
        sockets.append(ws)

    cy.route_web_socket(re.compile(r".*/ws$"), route)
    cy.reload()
    cy.wait_for_selector("#arena[data-live='1']")
    sockets[-1].close()
    cy.wait_for_selector("#arena[data-live='0']")
    move(ann, 7, "X", bob)  # happens while cy may be away
    cy.wait_for_selector("#arena[data-live='1']")
    cy.wait_for_selector("#board [phx-value-cell='7']:has-text('X')")
    assert len(sockets) >= 2

    # the host leaves (closes the tab): after the grace period bob is the host
    ann.context.close()
    bob.wait_for_selector("#you-host")
    bob.wait_for_selector("#arena-notice:has-text('bob is the host now')")
    assert bob.is_visible("#restart") and not cy.is_visible("#restart")
    cy.wait_for_selector("#members [data-name='bob'] .host-badge")
    bob.click("#restart")  # the new host's controls work (server-side check passes)
    bob.click("#restart-confirm")  # restarting asks first
    bob.wait_for_selector("#board:has-text('Your turn (X)')")  # the players now: bob and cy
    cy.wait_for_selector("#board:has-text('Waiting for bob (X)')")
    assert not cy.is_visible("#you-spectator")
    assert bob.inner_text("#board [phx-value-cell='4']") == ""


def test_trivia_for_three(server: tuple[str, Any], people: Any, tmp_path: Path) -> None:
    base, _ = server
    ann, bob, cy = people(3)
    code = create_arena(ann, base, "ann")
    join_arena(bob, base, code, "bob")
    join_arena(cy, base, code, "cy")
    ann.wait_for_selector("#members [data-name='cy']")
    ann.click("[data-gb-action='select'][data-gb-game='trivia']")
    ann.wait_for_selector("#constraints:has-text('2-8 players')")
    ann.click("#start")
    for page, choice in [(ann, 1), (bob, 0), (cy, 1)]:
        page.click(f"#board [phx-value-choice='{choice}']")
    for page in (ann, bob, cy):
        page.wait_for_selector("#board .answer:has-text('Mercury')")
    assert "Next question" in ann.inner_text("#board") and "Next question" not in bob.inner_text("#board")
    shot(ann, "trivia", tmp_path)
    ann.click("#board .next")
    cy.wait_for_selector("#board .progress:has-text('Question 2 of 10')")


@pytest.mark.parametrize("walls", ["all", "without-sanitiser"])
def test_hostile_html_neither_runs_nor_loads(walls: str, server: tuple[str, Any], people: Any,
                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing runs or loads; without the server's sanitiser the page's CSP and client still hold."""
    base, _ = server
    if walls == "without-sanitiser":
        monkeypatch.setattr("wasmplug.gamebox.arenas.engine.sanitize", lambda html: html)
    (ann,) = people(1)
    requests: list[str] = []
    blocked: list[str] = []  # stopped by the CSP before reaching the network
    ann.on("request", lambda request: requests.append(request.url))
    ann.on("requestfailed", lambda request: request.failure == "csp" and blocked.append(request.url))
    dialogs: list[str] = []
    ann.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    code = create_arena(ann, base, "ann")
    start_game(ann, "hostile")
    ann.wait_for_selector("#board .hostile")
    board = ann.inner_html("#board")
    if walls == "without-sanitiser":  # the handlers and URLs really reach the page
        assert 'onclick="window.__pwned' in board and "url(http://evil.example/style-tag)" in board
    else:
        for gone in ["<script", "onerror=", "onload=", "onclick=", "javascript:", "data:", "<svg", "<img",
                     "<iframe", "<object", "<form", "<link", "<meta", "url(", "evil.example"]:
            assert gone not in board
    ann.click("#board a.jslink")
    ann.click("#board button.onclick")
    if ann.locator("#board button.formbtn").count():
        ann.click("#board button.formbtn")
    ann.wait_for_timeout(300)
    assert ann.evaluate("window.__pwned === undefined")
    assert dialogs == []
    assert ann.url == f"{base}/arena/{code}"
    outside = [url for url in requests if not url.startswith(base) and url not in blocked]
    assert outside == []
    if walls == "all":
        assert blocked == []  # the sanitiser left nothing for the CSP to block
    # a 10 MB render: refused, the arena stays, the host can go on
    ann.click("#board button.huge")
    ann.wait_for_selector("#arena-notice:has-text('failed in render')")
    assert "10485760 bytes" in ann.inner_text("#arena-notice")
    assert ann.is_visible("#restart")
    assert ann.evaluate("window.__pwned === undefined")
    assert [url for url in requests if not url.startswith(base) and url not in blocked] == []
    shot(ann, "failed-game", tmp_path)
    ann.click("#restart")
    ann.click("#restart-confirm")
    ann.wait_for_selector("#board .hostile")

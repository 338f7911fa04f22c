"""What a player hits, in Debian's chromium at desktop and phone (390 px) widths.

No sideways scrolling, a favicon (no 404 in the console), the invite link as a
full URL with a copy button, a mistyped arena code corrected on the error page,
a rejected upload that keeps the form, the same game count on /games as in the
picker, destructive buttons that ask first, and a styled 404 page.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wasmplug.gamebox.app import create_app
from wasmplug.gamebox.arenas.state import Arenas

from .conftest import live_server
from .test_browser import WAIT, create_arena
from .wat_games import game_wasm

pytestmark = pytest.mark.timeout(120)
PASSWORD = "correct horse battery"
WIDTHS = [pytest.param(1000, id="desktop"), pytest.param(390, id="phone")]


@pytest.fixture
def site(library: Any) -> Iterator[str]:
    app = create_app(library, arenas=Arenas(leave_after=5.0, teardown_after=10.0), sweep_every=0.2,
                     session_secret="browser-test-secret-0123456789")
    with live_server(app) as url:
        yield url


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    """open_page(width): a new person's page; what went wrong in it is in page.problems."""
    contexts: list[Any] = []

    def make(width: int = 1000) -> Any:
        context = browser.new_context(viewport={"width": width, "height": 800})
        context.set_default_timeout(WAIT)
        contexts.append(context)
        page = context.new_page()
        page.problems = []
        page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
        page.on("response", lambda r: r.status >= 400 and page.problems.append(f"{r.status} {r.url}"))
        return page

    yield make
    for context in contexts:
        context.close()


def no_sideways_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def sign_up(page: Any, base: str, username: str) -> None:
    page.goto(base + "/signup")
    page.fill("#signup-username", username)
    page.fill("#signup-password", PASSWORD)
    page.click("#signup-submit")
    page.wait_for_selector("#upload-wasm")


def log_in(page: Any, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("#login-username", username)
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#nav-my")


@pytest.mark.parametrize("width", WIDTHS)
def test_pages_fit_the_screen_and_have_a_favicon(site: str, open_page: Any, width: int,
                                                 library: Any) -> None:
    page = open_page(width)
    sign_up(page, site, "a_rather_long_username_for_you_1")  # 32 characters in the header
    for path in ("/games", "/my", "/", "/login"):
        page.goto(site + path)
        assert no_sideways_scroll(page), path
        assert page.is_visible("header.top .brand")
    create_arena(page, site, "ann")
    assert no_sideways_scroll(page)
    page.click("[data-gb-action='select'][data-gb-game='tictactoe']")
    page.wait_for_selector("#constraints")
    assert no_sideways_scroll(page)
    icon = page.evaluate("fetch('/static/favicon.svg').then(r => r.status)")
    assert icon == 200
    assert page.problems == []  # no 404 (a missing favicon) nor any error in the console


def test_the_invite_link_is_a_full_url_with_a_copy_button(site: str, open_page: Any) -> None:
    host, friend = open_page(), open_page(390)
    host.context.grant_permissions(["clipboard-read", "clipboard-write"])
    code = create_arena(host, site, "ann")
    link = host.input_value("#invite-link")
    assert link == f"{site}/?arena={code}"
    host.click("#copy-invite")
    host.wait_for_selector("#copy-invite:has-text('Copied')")
    assert host.evaluate("navigator.clipboard.readText()") == link
    friend.goto(link)
    friend.fill("#join-name", "bob")
    friend.click("#join-submit")
    friend.wait_for_selector("#arena[data-live='1']")
    host.wait_for_selector("#members [data-name='bob']")
    assert no_sideways_scroll(friend)


def test_a_mistyped_code_is_corrected_on_the_error_page(site: str, open_page: Any) -> None:
    host, friend = open_page(), open_page(390)
    code = create_arena(host, site, "ann")
    wrong = "QQQQ" if code != "QQQQ" else "ZZZZ"
    friend.goto(f"{site}/?arena={wrong}")
    friend.fill("#join-name", "bob")
    friend.click("#join-submit")
    friend.wait_for_selector(".error")
    assert friend.input_value("#join-code") == wrong and friend.input_value("#join-name") == "bob"
    friend.fill("#join-code", code.lower())
    friend.click("#join-submit")
    friend.wait_for_selector("#arena[data-live='1']")
    host.wait_for_selector("#members [data-name='bob']")


def test_a_rejected_upload_keeps_the_form(site: str, open_page: Any, tmp_path: Path) -> None:
    page = open_page()
    sign_up(page, site, "ada")
    not_wasm = tmp_path / "game.wasm"
    not_wasm.write_bytes(b"hello, not WebAssembly")
    page.set_input_files("#upload-wasm", str(not_wasm))
    page.fill("#upload-game", "space")
    page.fill("#upload-title", "Space Race")
    page.fill("#upload-description", "Fly **fast**.\n\nSecond paragraph.")
    page.click("#upload-submit")
    page.wait_for_selector("#upload-error:has-text('not WebAssembly')")
    assert page.input_value("#upload-game") == "space"
    assert page.input_value("#upload-title") == "Space Race"
    assert page.input_value("#upload-description") == "Fly **fast**.\n\nSecond paragraph."
    assert "choose the file" in page.inner_text("#upload-error")


def test_the_game_count_matches_the_picker(site: str, open_page: Any, library: Any) -> None:
    page = open_page()
    page.goto(site + "/games")
    bundled = len(library.bundled.games())
    assert bundled > 0
    assert page.inner_text("#game-count").startswith(f"{bundled} games")
    assert page.locator("#bundled-games [data-game]").count() == bundled
    create_arena(page, site, "ann")
    assert page.locator("#games [data-game]").count() == bundled
    ada = library.add_user("ada", PASSWORD)
    library.upload(ada, game_wasm(), slug="space", title="Space", description="Fly *fast*.")
    page.goto(site + "/games")
    assert page.inner_text("#game-count").startswith(f"{bundled + 1} games ({bundled} bundled, 1 uploaded)")


def test_destructive_buttons_ask_first(site: str, open_page: Any, library: Any) -> None:
    library.add_user("root", PASSWORD, admin=True)
    bob = library.add_user("bob", PASSWORD)
    library.upload(bob, game_wasm(), slug="space", title="Space")
    library.upload(bob, game_wasm("two"), slug="other", title="Other")
    author = open_page(390)
    log_in(author, site, "bob")
    author.goto(site + "/my")
    assert not author.is_visible("#delete-space-confirm")
    author.click("#delete-space")  # opens the question; nothing is deleted yet
    author.wait_for_selector("#delete-space-confirm")
    assert no_sideways_scroll(author)
    author.goto(site + "/my")
    assert author.locator("#my-space").count() == 1
    author.click("#delete-space")
    author.click("#delete-space-confirm")
    author.wait_for_url(site + "/my")
    assert author.locator("#my-space").count() == 0
    admin = open_page()
    log_in(admin, site, "root")
    admin.goto(site + "/admin")
    admin.click("#delete-other")
    admin.wait_for_selector("#delete-other-confirm")
    admin.click("#delete-other-confirm")
    admin.wait_for_url(site + "/admin")
    assert admin.locator("#delete-other").count() == 0
    admin.click("#ban-bob")
    admin.wait_for_selector("#ban-bob-confirm")
    admin.goto(site + "/admin")
    assert not any(user.banned for user in library.users())  # opening the question banned no one
    admin.click("#ban-bob")
    admin.click("#ban-bob-confirm")
    admin.wait_for_selector("#unban-bob")
    assert [user.username for user in library.users() if user.banned] == ["bob"]


@pytest.mark.parametrize("width", WIDTHS)
def test_unknown_urls_get_a_styled_404_page(site: str, open_page: Any, width: int) -> None:
    page = open_page(width)
    response = page.goto(site + "/no/such/page")
    assert response.status == 404
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert page.is_visible("#not-found") and page.is_visible("header.top")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(246, 247, 251)"
    assert no_sideways_scroll(page)
    page.click("text=browse the games")
    page.wait_for_url(site + "/games")


def test_restarting_a_game_asks_first(site: str, open_page: Any) -> None:
    host, friend = open_page(390), open_page()
    code = create_arena(host, site, "ann")
    friend.goto(f"{site}/?arena={code}")
    friend.fill("#join-name", "bob")
    friend.click("#join-submit")
    host.wait_for_selector("#members [data-name='bob']")
    host.click("[data-gb-action='select'][data-gb-game='tictactoe']")
    host.click("#start")
    host.click("#board [phx-value-cell='4']")
    friend.wait_for_selector("#board [phx-value-cell='4']:has-text('X')")
    host.click("#restart")  # opens the question only
    host.wait_for_selector("#restart-confirm")
    assert no_sideways_scroll(host)
    friend.click("#board [phx-value-cell='0']")  # the game goes on meanwhile (and the question stays open)
    host.wait_for_selector("#board [phx-value-cell='0']:has-text('O')")
    assert host.is_visible("#restart-confirm")
    assert host.inner_text("#board [phx-value-cell='4']") == "X"
    host.click("#restart-confirm")
    host.wait_for_selector("#board [phx-value-cell='4']:text-is('')")
    friend.wait_for_selector("#board [phx-value-cell='0']:text-is('')")

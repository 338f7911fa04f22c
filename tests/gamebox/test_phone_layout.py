"""On a phone (375 x 667, in Debian's chromium) no element of an arena's page reaches past the
screen's edges, and the "live" indicator has a line of its own: floated beside the invite link,
it was squeezed against the right edge and pushed the invite link about as it changed."""

from __future__ import annotations

from typing import Any

import pytest

from wasmplug.gamebox.app import create_app

from .conftest import live_server, test_catalogue
from .test_browser import WAIT, create_arena, join_arena

pytestmark = pytest.mark.timeout(120)
PHONE = {"width": 375, "height": 667}

# Every element's box (the board's insides scroll within the board, which must fit itself).
OUTSIDE = """() => {
  const width = document.documentElement.clientWidth, out = [];
  for (const el of document.querySelectorAll("body *")) {
    if (el.id !== "board" && el.closest("#board")) continue;
    const box = el.getBoundingClientRect();
    if (!box.width && !box.height) continue;
    if (box.left < -0.5 || box.right > width + 0.5) {
      const where = `${Math.round(box.left)}..${Math.round(box.right)}`;
      out.push(`${el.tagName.toLowerCase()}#${el.id}.${el.className} ${where}`);
    }
  }
  return out;
}"""


def outside(page: Any) -> list[str]:
    return list(page.evaluate(OUTSIDE))


def box(page: Any, selector: str) -> dict[str, float]:
    found = page.locator(selector).bounding_box()
    assert found is not None, selector
    return {key: round(value, 1) for key, value in found.items()}


def test_the_status_has_a_line_of_its_own_and_the_invite_link_stays_put(browser: Any) -> None:
    with live_server(create_app(test_catalogue())) as base:
        context = browser.new_context(viewport=PHONE)
        try:
            ann = context.new_page()
            ann.set_default_timeout(WAIT)
            create_arena(ann, base, "ann")
            invite, status = box(ann, ".invite-box"), box(ann, "#status")
            assert status["y"] + status["height"] <= invite["y"] + 0.5  # above it, not beside it
            content = box(ann, "#arena-info")  # the page's full content width
            assert invite["x"] + invite["width"] == pytest.approx(content["x"] + content["width"], abs=1)
            ann.evaluate("() => { document.getElementById('status').textContent = 'reconnecting...'; }")
            assert box(ann, ".invite-box") == invite  # a longer status moves nothing
            assert outside(ann) == []
        finally:
            context.close()


@pytest.mark.parametrize("status", ["live", "reconnecting..."])
def test_nothing_on_the_arena_page_reaches_past_a_phones_edges(browser: Any, status: str) -> None:
    with live_server(create_app(test_catalogue())) as base:
        contexts = [browser.new_context(viewport=PHONE) for _ in range(2)]
        try:
            ann, bob = (context.new_page() for context in contexts)
            for page in (ann, bob):
                page.set_default_timeout(WAIT)
            code = create_arena(ann, base, "ann")
            join_arena(bob, base, code, "bob")
            ann.wait_for_selector("#members [data-name='bob']:not(.away)")
            if status != "live":  # the longest status the page shows
                ann.evaluate("text => { document.getElementById('status').textContent = text; }", status)
            assert ann.inner_text("#status") == status
            assert outside(ann) == []  # the lobby: invite link, status, members, picker
            assert outside(bob) == []
            ann.click("[data-gb-action='select'][data-gb-game='tictactoe']")
            ann.click("#start")
            ann.wait_for_selector("#board:has-text('Your turn (X)')")
            assert outside(ann) == []  # a game in play
        finally:
            for context in contexts:
                context.close()

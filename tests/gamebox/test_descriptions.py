"""Descriptions: Markdown rendered once per text (not per request), a short plain summary in
the arena's picker, both kept in caches bounded by bytes."""

from __future__ import annotations

import html
import re
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from wasmplug.gamebox import descriptions
from wasmplug.gamebox.app import create_app

from .test_site import SECRET, csrf, person, sign_up, upload
from .wat_games import game_wasm

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

pytestmark = pytest.mark.timeout(60)
LONG = "**Bold** move, *then* `code`.\n\n# A title\n\n" + "Lorem ipsum dolor sit amet. " * 700


@pytest.fixture
def site(library: Any) -> Iterator[Any]:
    app = create_app(library, session_secret=SECRET)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with TestClient(app):
            yield app


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts Markdown renders (the caches start empty)."""
    descriptions.RENDERED.clear()
    descriptions.SUMMARIES.clear()
    calls: list[int] = []
    real = descriptions.render

    def counting(markdown: str) -> str:
        calls.append(len(markdown))
        return real(markdown)

    monkeypatch.setattr(descriptions, "render", counting)
    return calls


def test_a_long_description_is_rendered_once_not_per_request(site: Any, renders: list[int]) -> None:
    assert len(LONG) > 19_000
    ann = person(site)
    sign_up(ann, "ann")
    assert upload(ann, game_wasm(), game="space", description=LONG).status_code == 303
    assert renders == [len(LONG)]  # at upload
    visitor = person(site)
    for _ in range(20):
        page = visitor.get("/games/space")
        assert page.status_code == 200
        assert "<strong>Bold</strong>" in page.text and "<h1>A title</h1>" in page.text
    assert renders == [len(LONG)]
    edited = ann.post("/my/games/space/edit", data={"csrf": csrf(ann, "/my"), "title": "Space",
                                                    "description": "New *text*"})
    assert edited.status_code == 303
    assert renders == [len(LONG), len("New *text*")]  # at the edit
    for _ in range(5):
        assert "<em>text</em>" in visitor.get("/games/space").text
    assert len(renders) == 2


def test_the_picker_shows_a_short_rendered_summary(site: Any, renders: list[int]) -> None:
    ann = person(site)
    sign_up(ann, "ann")
    assert upload(ann, game_wasm(), game="space", description=LONG).status_code == 303
    created = ann.post("/arenas", data={"csrf": csrf(ann, "/"), "name": "ann"})
    assert created.status_code == 303
    page = ann.get(created.headers["location"]).text
    found = re.search(r'data-game="space">.*?<p class="summary">(.*?)</p>', page, re.DOTALL)
    assert found, page
    summary = html.unescape(found.group(1))
    assert summary.startswith("Bold move, then code. A title Lorem ipsum")
    assert "*" not in summary and "#" not in summary and "`" not in summary
    assert len(summary) <= descriptions.SUMMARY_CHARS and summary.endswith("…")
    assert len(page) < 20_000  # 20,000-character descriptions are not sent to every member


def test_summaries_of_short_and_odd_descriptions() -> None:
    assert descriptions.summary("Noughts and crosses.") == "Noughts and crosses."
    assert descriptions.summary("line one\nline two") == "line one line two"
    assert descriptions.summary("<script>x</script> [link](https://x.example/)") == "<script>x</script> link"
    assert descriptions.summary("") == ""
    assert len(descriptions.summary("x" * 50_000)) == descriptions.SUMMARY_CHARS


def test_rendered_descriptions_stay_within_the_cache_size(renders: list[int]) -> None:
    for i in range(2_000):
        descriptions.html(f"{i} " + "x" * 20_000)
    assert descriptions.RENDERED.chars <= descriptions.RENDERED.max_chars
    assert len(descriptions.RENDERED) < 2_000 and len(renders) == 2_000

"""The index page: HTML for a browser listing the public functions (exports, routes) with links to
the playground and the docs, JSON for `Accept: application/json`; never a secret, never a protected
function. One check in Debian's chromium (no console error, so no CSP violation) with a screenshot."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gamebox.conftest import browser  # noqa: F401  (a fixture)
from wasmplug.serve import ServerSettings

from .conftest import COUNT_VOWELS, Server, live_server

ROOT = Path(__file__).resolve().parents[2]
HANDLER = b"function handle() { Host.outputString(JSON.stringify({body: 'hi'})); }\n" \
          b"function helper() { Host.outputString('h'); }\nmodule.exports = { handle, helper };"
HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = ServerSettings(data_dir=tmp_path_factory.mktemp("serve"), docs_url="https://docs.example/serve")
    with live_server(settings) as srv:
        srv.deployed("vowels", COUNT_VOWELS, public=True, config={"greeting": "open-config-value"},
                     secret_config={"api_key": "sekrit-value-123"})
        srv.deployed("hello", HANDLER, public=True, route="/hello")
        srv.deployed("private-fn", HANDLER, route="/hidden-route", secret_config={"k": "hidden-secret-9"})
        yield srv


def test_a_browser_gets_html_listing_public_functions(site: Server) -> None:
    reply = site.client.get(f"{site.url}/", headers=HTML)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/html")
    page = reply.text
    assert '<code>vowels</code>' in page and "POST /f/vowels/count_vowels" in page
    assert '<a href="/hello"><code>/hello</code></a>' in page and "→ handle" in page
    assert "POST /f/hello/helper" in page
    assert 'href="/playground"' in page and 'href="https://docs.example/serve"' in page
    assert "/playground/static/playground.css" in page and "playground.js" not in page
    for hidden in ("private-fn", "hidden-route", "hidden-secret-9", "sekrit-value-123", "open-config-value"):
        assert hidden not in page, hidden


def test_json_for_api_clients(site: Server) -> None:
    for accept in ({"accept": "application/json"}, {}):
        reply = site.client.get(f"{site.url}/", headers=accept)
        assert reply.headers["content-type"] == "application/json"
        data = reply.json()
        assert data["api"] == "/api/functions" and data["playground"] == "/playground"
        assert data["docs"] == "https://docs.example/serve" and data["public_functions"] == 2
        assert [(f["name"], f["route"]) for f in data["functions"]] == [("hello", "/hello"), ("vowels", None)]
        assert data["functions"][1]["exports"] == ["count_vowels"]
        assert not {"private-fn", "sekrit-value-123", "open-config-value"} & set(str(data).split("'"))
        assert "sekrit" not in reply.text and "private-fn" not in reply.text


def test_the_listing_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wasmplug.serve.views import pages

    monkeypatch.setattr(pages, "INDEX_LIMIT", 2)
    monkeypatch.setattr(pages, "INDEX_TTL", 0.0)
    with live_server(ServerSettings(data_dir=tmp_path)) as srv:
        empty = srv.client.get(f"{srv.url}/", headers=HTML).text
        assert 'id="no-functions"' in empty
        for name in ("a1", "a2", "a3"):
            srv.deployed(name, COUNT_VOWELS, public=True)
        data = srv.client.get(f"{srv.url}/").json()
        assert [f["name"] for f in data["functions"]] == ["a1", "a2"] and data["public_functions"] == 3
        assert "and 1 more" in srv.client.get(f"{srv.url}/", headers=HTML).text


@pytest.mark.timeout(300)
def test_the_index_in_chromium(site: Server, browser: Any, tmp_path: Path) -> None:  # noqa: F811
    context = browser.new_context(viewport={"width": 1100, "height": 700})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(f"{site.url}/")
    rows = tab.locator("tr.function")
    assert rows.count() == 2 and rows.nth(0).get_attribute("data-name") == "hello"
    assert tab.locator("table.functions").evaluate("t => getComputedStyle(t).borderCollapse") == "collapse"
    shot = tmp_path / "serve-index.png"
    tab.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("WASMPLUG_DOCS_SCREENSHOTS"):  # refresh the docs' picture
        shutil.copy(shot, ROOT / "docs" / "images" / "serve-index.png")
    tab.click("text=Playground")
    tab.wait_for_url("**/playground")
    context.close()
    assert errors == []

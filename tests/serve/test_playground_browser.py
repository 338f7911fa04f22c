"""The playground in a real browser: Debian's chromium driven by Playwright, at desktop and 390 px.

Write -> run -> see output, logs, duration; a failing snippet shows its
error; a shared link restores the snippet; an uploaded .wasm lists its
exports and runs; "Deploy" sends the deploy API's request. No page may log a
console error (a CSP violation is one).

The deploy endpoint (`PUT /api/functions/{name}`) belongs to the serve API,
which is not on this branch: the deploy tests answer it with a Playwright
route handler that checks the request the page sends. (The end-to-end deploy
test against the real endpoint comes with the merge.)
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any

import pytest

from tests.gamebox.conftest import browser, live_server  # noqa: F401  (browser: a fixture)
from wasmplug.serve.app import create_app
from wasmplug.serve.settings import ServerSettings

pytestmark = pytest.mark.timeout(300)
ROOT = Path(__file__).resolve().parents[2]
COUNT_VOWELS = ROOT / "plugins" / "assemblyscript" / "count_vowels.wasm"
WAIT = 120_000  # ms: the first build of a snippet compiles the JS runtime's module on a shared machine
VIEWPORTS = {"desktop": {"width": 1200, "height": 900}, "phone": {"width": 390, "height": 844}}

SNIPPET = """export function shout() {
  const text = Host.inputString();
  console.log(`shouting ${text.length} characters`);
  console.error("a line at level error");
  Host.outputString(`${Config.get("prefix")}${text.toUpperCase()}!`);
}
export function broken() { null.boom(); }
export function raw() { return new Uint8Array([0, 1, 0xfe, 0xff]); }
"""


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with live_server(create_app(ServerSettings(data_dir=tmp_path_factory.mktemp("serve")))) as url:
        yield url


@pytest.fixture(params=list(VIEWPORTS))
def page(browser: Any, request: Any) -> Iterator[Any]:  # noqa: F811
    """A fresh browser context at each viewport; fails the test if the page logs an error."""
    context = browser.new_context(viewport=VIEWPORTS[request.param])
    context.set_default_timeout(WAIT)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.viewport_name = request.param
    tab.expected_statuses = set()  # a test that provokes an HTTP error names its status here
    yield tab
    context.close()
    expected = {f"the server responded with a status of {status} " for status in tab.expected_statuses}
    assert [e for e in errors if not any(x in e for x in expected)] == [], errors


def open_playground(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#playground[data-ready='1']")


def write(page: Any, code: str = SNIPPET, data: str = "hello", config: str = "prefix=>> ") -> None:
    page.fill("#code", code)
    page.fill("#input", data)
    page.fill("#config", config)


def pick(page: Any, export: str) -> None:
    """List the code's exports and choose `export`."""
    page.click("#build")
    page.wait_for_selector(f"#export option[value='{export}']", state="attached")
    page.select_option("#export", export)


def run(page: Any, export: str | None = None, state: str = "ok") -> None:
    if export is not None:
        pick(page, export)
    page.click("#run")
    page.wait_for_selector(f"#result[data-state='{state}']")


def test_write_run_and_see_output_logs_duration(page: Any, base: str) -> None:
    open_playground(page, base + "/playground")
    write(page)
    run(page, "shout")
    assert page.inner_text("#output") == ">> HELLO!"
    assert page.inner_text("#status") == "ok"
    logs = page.locator("#logs li").all_inner_texts()
    assert len(logs) == 2
    assert re.fullmatch(r"info\s*shouting 5 characters", logs[0])
    assert re.fullmatch(r"error\s*a line at level error", logs[1])
    assert re.fullmatch(r"\d+\.\d\d ms", page.inner_text("#duration"))
    assert re.fullmatch(r"[\d,]+", page.inner_text("#fuel"))
    assert re.fullmatch(r"\d+\.\d (KiB|MiB)", page.inner_text("#memory"))
    assert page.is_hidden("#error")
    # Everything fits the width (390 px on a phone): nothing scrolls sideways, Run is on screen.
    width = VIEWPORTS[page.viewport_name]["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    box = page.locator("#run").bounding_box()
    assert box is not None and box["x"] + box["width"] <= width


def test_a_failing_snippet_shows_its_error(page: Any, base: str) -> None:
    open_playground(page, base + "/playground")
    write(page)
    run(page, "broken", state="error")
    assert page.inner_text("#status") == "failed: js"
    error = page.inner_text("#error")
    assert error.startswith("TypeError") and "playground.js:7" in error
    assert page.is_visible("#error")


def test_code_that_does_not_build_shows_the_syntax_error(page: Any, base: str) -> None:
    page.expected_statuses = {422}  # the build fails: POST /playground/exports says so
    open_playground(page, base + "/playground")
    write(page, code="export function f( {")
    page.click("#run")
    page.wait_for_selector("#result[data-state='error']")
    assert "SyntaxError" in page.inner_text("#error")


def test_binary_output_is_shown_as_hex(page: Any, base: str) -> None:
    open_playground(page, base + "/playground")
    write(page)
    run(page, "raw")
    assert page.inner_text("#output-format") == "not UTF-8: shown as hex"
    assert page.inner_text("#output") == "00000000  00 01 fe ff"


def test_a_shared_link_restores_the_snippet(page: Any, base: str, browser: Any) -> None:  # noqa: F811
    open_playground(page, base + "/playground")
    write(page, data="shared input", config="prefix=:: ")
    pick(page, "shout")
    page.click("#share")
    page.wait_for_selector("#share-url:not([hidden])")
    link = page.input_value("#share-url")
    assert link.startswith(base + "/playground#s=") and len(link) < 4000
    # Someone else (a new context: no shared storage) opens the link.
    other = browser.new_context(viewport=VIEWPORTS[page.viewport_name])
    other.set_default_timeout(WAIT)
    try:
        tab = other.new_page()
        open_playground(tab, link)
        assert tab.input_value("#code") == SNIPPET
        assert tab.input_value("#input") == "shared input"
        assert tab.input_value("#config") == "prefix=:: "
        tab.wait_for_selector("#export option[value='shout']", state="attached")
        assert tab.input_value("#export") == "shout"
        assert tab.inner_text("#share-note") == "Snippet restored from the link."
        tab.click("#run")
        tab.wait_for_selector("#result[data-state='ok']")
        assert tab.inner_text("#output") == ":: SHARED INPUT!"
    finally:
        other.close()


def test_a_broken_or_oversized_link_is_refused(page: Any, base: str) -> None:
    open_playground(page, base + "/playground#s=bm90IGRlZmxhdGVk")
    assert page.inner_text("#share-note").startswith("This link does not hold a snippet")
    assert page.input_value("#code").startswith("export function greet()")  # the page's own example
    open_playground(page, base + "/playground#s=" + "A" * 40_000)
    assert page.inner_text("#share-note") == "This link does not hold a snippet (the link is too long)."


def test_an_uploaded_wasm_lists_its_exports_and_runs(page: Any, base: str) -> None:
    open_playground(page, base + "/playground")
    page.check("#kind-wasm")
    assert page.is_hidden("#code")
    page.set_input_files("#wasm-file", str(COUNT_VOWELS))
    page.wait_for_selector("#export option[value='count_vowels']", state="attached")
    page.fill("#input", "Hello, World!")
    page.click("#run")
    page.wait_for_selector("#result[data-state='ok']")
    assert json.loads(page.inner_text("#output"))["count"] == 3


def multipart_parts(request: Any) -> dict[str, tuple[str | None, bytes]]:
    """The parts of a multipart/form-data request: name -> (filename, bytes)."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.post_data_buffer)
    parts = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        parts[str(name)] = (part.get_filename(), payload)
    return parts


def test_deploy_sends_the_deploy_apis_request_and_shows_the_link(page: Any, base: str) -> None:
    seen: list[dict[str, Any]] = []

    def deploy_api(route: Any) -> None:
        request = route.request
        seen.append({"method": request.method, "url": request.url, "headers": request.headers,
                     "parts": multipart_parts(request)})
        route.fulfill(status=201, content_type="application/json", body=json.dumps({
            "name": "shouter", "version": 3, "sha256": "ab" * 32, "exports": ["broken", "raw", "shout"],
            "url": "/f/shouter"}))

    page.route("**/api/functions/**", deploy_api)
    open_playground(page, base + "/playground")
    write(page, config="prefix=> \nsecret=s3cr3t")
    pick(page, "shout")
    page.fill("#deploy-name", "shouter")
    page.fill("#deploy-token", "tok_123")
    page.check("#deploy-public")
    page.click("#deploy-submit")
    page.wait_for_selector("#deploy-result.deployed")
    assert len(seen) == 1
    sent = seen[0]
    assert sent["method"] == "PUT"
    assert sent["url"] == base + "/api/functions/shouter"
    assert sent["headers"]["authorization"] == "Bearer tok_123"
    assert sent["headers"]["content-type"].startswith("multipart/form-data; boundary=")
    parts = sent["parts"]
    assert set(parts) == {"module", "settings"}
    assert parts["module"] == ("function.js", SNIPPET.encode())
    assert json.loads(parts["settings"][1]) == {"config": {"prefix": "> ", "secret": "s3cr3t"},
                                                "public": True}
    link = page.locator("#deploy-link")
    assert link.get_attribute("href") == "/f/shouter/shout"
    assert "version 3" in page.inner_text("#deploy-result")


def test_a_deployed_wasm_is_sent_as_its_bytes_and_a_refusal_is_shown(page: Any, base: str) -> None:
    sent: list[dict[str, tuple[str | None, bytes]]] = []

    def refuse(route: Any) -> None:
        sent.append(multipart_parts(route.request))
        route.fulfill(status=401, content_type="application/json",
                      body=json.dumps({"error": "the token is not valid", "kind": "auth"}))

    page.route("**/api/functions/**", refuse)
    page.expected_statuses = {401}
    open_playground(page, base + "/playground")
    page.check("#kind-wasm")
    page.set_input_files("#wasm-file", str(COUNT_VOWELS))
    page.wait_for_selector("#export option[value='count_vowels']", state="attached")
    page.fill("#deploy-name", "vowels")
    page.fill("#deploy-token", "wrong")
    page.click("#deploy-submit")
    page.wait_for_selector("#deploy-result.error")
    assert page.inner_text("#deploy-result") == "Not deployed: the token is not valid"
    assert sent[0]["module"][1] == COUNT_VOWELS.read_bytes()
    assert json.loads(sent[0]["settings"][1]) == {"config": {}, "public": False}


def test_the_screenshot_script_shoots_desktop_and_phone(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "playground_screenshots.py"),
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    from PIL import Image

    sizes = {name: Image.open(tmp_path / f"playground-{name}.png").size for name in ("desktop", "phone")}
    assert sizes["desktop"][0] == 1200 and sizes["phone"][0] == 390


def test_deploy_from_the_playground_makes_a_function_that_answers(browser: Any, server: Any  # noqa: F811
                                                                   ) -> None:
    """End to end: the page's Deploy goes to the real deploy API, as the token's owner; the function
    then answers at its link, with the config given in the page."""
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    context.set_default_timeout(WAIT)
    ada = server.token_for("ada")
    try:
        page = context.new_page()
        open_playground(page, server.url + "/playground")
        write(page, config="prefix=> ")
        pick(page, "shout")
        page.fill("#deploy-name", "shouter")
        page.fill("#deploy-token", ada)
        page.check("#deploy-public")
        page.click("#deploy-submit")
        page.wait_for_selector("#deploy-result.deployed, #deploy-result.error")
        assert "deployed" in (page.get_attribute("#deploy-result", "class") or ""), \
            page.inner_text("#deploy-result")
        link = page.locator("#deploy-link").get_attribute("href")
        assert link == "/f/shouter/shout"
    finally:
        context.close()
    answer = server.client.post(server.url + link, content=b"hi there")
    assert answer.status_code == 200, answer.text
    assert answer.content == b"> HI THERE!"
    shown = server.client.get(f"{server.url}/api/functions/shouter", headers=server.auth(ada)).json()
    assert shown["settings"]["config"] == {"prefix": "> "}
    assert shown["settings"]["public"] is True

"""Screenshots of the `wasmplug serve` playground for docs/playground.md: desktop and phone (390 px).

    python scripts/playground_screenshots.py              # docs/images/playground-{desktop,phone}.png
    python scripts/playground_screenshots.py --out DIR

Starts the app on a random loopback port, drives Debian's chromium
(/usr/bin/chromium) with Playwright, writes a snippet, runs it and shoots the
page. tests/serve/test_playground_browser.py runs this script too.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from wasmplug.serve.app import create_app
from wasmplug.serve.settings import ServerSettings
from wasmplug.web.server import serve_in_thread

CHROMIUM = "/usr/bin/chromium"
DOCS_IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"
SNIPPET = """// Count the vowels of the input; the config picks which letters count.
export function count_vowels() {
  const text = Host.inputString();
  const vowels = Config.get("vowels") || "aeiouAEIOU";
  let count = 0;
  for (const ch of text) if (vowels.includes(ch)) count++;
  console.log(`counted ${count} vowels in ${text.length} characters`);
  Host.outputString(JSON.stringify({ count, vowels }));
}
"""


@contextmanager
def serving() -> Iterator[str]:
    """The app on 127.0.0.1 (a free port), in a thread, with a data folder of its own; yields its URL."""
    with tempfile.TemporaryDirectory(prefix="wasmplug-playground-shots-") as data:
        app = create_app(ServerSettings(data_dir=Path(data)))
        with serve_in_thread(uvicorn.Config(app, log_level="warning")) as url:
            yield url


def shoot(out: Path) -> list[Path]:
    """Write the two screenshots into `out`; their paths."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    shots = []
    with serving() as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        for name, width, height in (("desktop", 1200, 900), ("phone", 390, 844)):
            page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1)
            page.set_default_timeout(120_000)  # the first build of the JS runtime can be slow
            page.goto(url + "/playground")
            page.wait_for_selector("#playground[data-ready='1']")
            page.fill("#code", SNIPPET)
            page.fill("#input", "Hello from the wasmplug playground")
            page.fill("#config", "vowels=aeiou")
            page.click("#run")
            page.wait_for_selector("#result[data-state='ok']")
            path = out / f"playground-{name}.png"
            page.screenshot(path=str(path), full_page=True)
            shots.append(path)
            page.close()
        browser.close()
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DOCS_IMAGES, help="folder for the PNG files")
    for path in shoot(parser.parse_args().out):
        print(path)


if __name__ == "__main__":
    main()

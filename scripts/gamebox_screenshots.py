"""Screenshots of GameBox on a phone (375 x 667) and a desktop, for docs/gamebox.md.

    .venv/bin/python scripts/gamebox_screenshots.py            # writes docs/images/gamebox-*.png
    .venv/bin/python scripts/gamebox_screenshots.py --out DIR

Starts a real server (SQLite in a temporary folder, one uploaded game) on
127.0.0.1 and drives Debian's chromium (/usr/bin/chromium) through
Playwright: the catalogue, an arena's lobby with the picker, and a game of
tic-tac-toe between two people, at both widths.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from wasmplug.web.server import serve_in_thread

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
WIDTHS = {"phone": (375, 667), "desktop": (1100, 800)}
PASSWORD = "correct horse battery"


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """`app` served by uvicorn on 127.0.0.1 (a free port) in a thread; yields its URL."""
    import uvicorn

    with serve_in_thread(uvicorn.Config(app, log_level="warning")) as url:
        yield url


def site(data: Path) -> Any:
    from wasmplug.gamebox import create_app
    from wasmplug.gamebox.catalogue.database import DatabaseCatalogue
    from wasmplug.gamebox.catalogue.folders import DirectoryCatalogue, bundled_games_dir
    from wasmplug.gamebox.database import GameBoxDatabase

    db = GameBoxDatabase.in_dir(data)
    db.upgrade()
    library = DatabaseCatalogue(db, bundled=DirectoryCatalogue(bundled_games_dir()))
    ada = library.add_user("ada", PASSWORD)
    library.upload(ada, (bundled_games_dir() / "tictactoe.wasm").read_bytes(), slug="noughts",
                   title="Noughts & Crosses", description="The classic, **by Ada**: three in a row wins.")
    return create_app(library, session_secret="screenshots-" + "x" * 24)


def shoot(base: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    made: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for kind, (width, height) in WIDTHS.items():
            contexts = [browser.new_context(viewport={"width": width, "height": height}) for _ in range(2)]
            ann, bob = (context.new_page() for context in contexts)

            def save(page: Any, name: str, kind: str = kind) -> None:
                path = out / f"gamebox-{kind}-{name}.png"
                page.screenshot(path=str(path), full_page=True)
                made.append(path)

            ann.goto(base + "/games")
            save(ann, "catalogue")
            ann.goto(base + "/")
            ann.fill("#create-name", "ann")
            ann.click("#create-submit")
            ann.wait_for_selector("#arena[data-live='1']")
            code = ann.inner_text("#arena-code")
            bob.goto(f"{base}/?arena={code}")
            bob.fill("#join-name", "bob")
            bob.click("#join-submit")
            bob.wait_for_selector("#arena[data-live='1']")
            ann.wait_for_selector("#members [data-name='bob']")
            ann.click("[data-gb-action='select'][data-gb-game='noughts']")
            ann.wait_for_selector("#start")
            save(ann, "lobby")
            ann.click("#start")
            for page, cell in [(ann, 4), (bob, 0), (ann, 2)]:
                page.click(f"#board [phx-value-cell='{cell}']")
                page.wait_for_selector(f"#board [phx-value-cell='{cell}']:not(:empty)")
            bob.wait_for_selector("#board:has-text('Your turn')")
            save(bob, "game")
            for context in contexts:
                context.close()
        browser.close()
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as data, serve(site(Path(data))) as base:
        for path in shoot(base, args.out):
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()

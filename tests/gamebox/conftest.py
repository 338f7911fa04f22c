"""GameBox test helpers: catalogues with the test games, a real server, a real browser."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from wasmplug.gamebox.arenas.state import Arenas
from wasmplug.gamebox.catalogue.base import GameLimits
from wasmplug.gamebox.catalogue.folders import DirectoryCatalogue, bundled_games_dir
from wasmplug.web.server import serve_in_thread

ROOT = Path(__file__).resolve().parents[2]
TEST_GAMES = ROOT / "plugins" / "games"  # hostile.wasm, failing.wasm: never in the real catalogue
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def test_catalogue(**limits: Any) -> DirectoryCatalogue:
    """The bundled games plus the test-only ones (hostile, failing)."""
    return DirectoryCatalogue(bundled_games_dir(), TEST_GAMES, limits=GameLimits(**limits))


test_catalogue.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@contextmanager
def live_server(app: Any) -> Iterator[str]:
    """Serve `app` with uvicorn on 127.0.0.1 (a random free port) in a thread; yields its URL."""
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", ws="websockets-sansio", ws_per_message_deflate=False)
    with serve_in_thread(config) as url:
        yield url


@pytest.fixture
def fast_arenas() -> Arenas:
    """Members leave 1 s after their last tab closed; empty arenas go after 2 s."""
    return Arenas(leave_after=1.0, teardown_after=2.0)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright (never a downloaded browser).

    Module-scoped: Playwright's sync API keeps an event loop running in the
    main thread while it is open, which later tests' asyncio.run would trip on.
    """
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium); "
                    "scripts/test.sh does this")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# -- uploaded games: the database ---------------------------------------------------
# The catalogue tests run against SQLite, and against PostgreSQL when
# GAMEBOX_TEST_POSTGRES_URL names a server (scripts/test.sh starts one and sets
# it); without one the PostgreSQL variants are skipped, with the reason.
DATABASE_URLS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not os.environ.get("GAMEBOX_TEST_POSTGRES_URL"),
    reason="no PostgreSQL server: set GAMEBOX_TEST_POSTGRES_URL (scripts/test.sh starts one)"))]


def fresh_database(kind: str, tmp_path: Path) -> Any:
    from sqlalchemy import text

    from wasmplug.gamebox.database import GameBoxDatabase

    if kind == "sqlite":
        db = GameBoxDatabase.in_dir(tmp_path / "data")
    else:
        db = GameBoxDatabase(os.environ["GAMEBOX_TEST_POSTGRES_URL"])
        with db.engine.begin() as connection:  # an empty schema for every test
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    db.upgrade()
    return db


@pytest.fixture(params=DATABASE_URLS)
def database(request: Any, tmp_path: Path) -> Iterator[Any]:
    db = fresh_database(request.param, tmp_path)
    yield db
    db.close()


@pytest.fixture
def library(database: Any) -> Any:
    """A DatabaseCatalogue on a fresh database, with the bundled games listed first; fast test limits."""
    from wasmplug.gamebox.catalogue.database import DatabaseCatalogue
    from wasmplug.gamebox.uploads import UploadPolicy

    return DatabaseCatalogue(database, bundled=DirectoryCatalogue(bundled_games_dir()),
                             policy=UploadPolicy(max_bytes=2 * 1024 * 1024,
                                                 limits=GameLimits(timeout_ms=300), trial_seconds=5.0))

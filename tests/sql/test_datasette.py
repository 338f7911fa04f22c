"""The Datasette and sqlite-utils plug-ins, through Datasette's real ASGI app and the real
`sqlite-utils` command; Datasette's page once in chromium (SQL_SCREENSHOTS=docs refreshes
docs/sql-datasette.png)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from datasette.app import Datasette

from wasmplug.sql import FunctionsFileError

from .conftest import STATS, TEXT, misbehaving

FUNCTIONS = """
[[plugin]]
path = "text.wasm"
[[plugin.function]]
name = "count_vowels"
returns = "INTEGER"
deterministic = true

[[plugin]]
path = "{stats}"
[[plugin.function]]
name = "median"
kind = "aggregate"
returns = "REAL"

[[plugin]]
path = "bad.wat"
timeout_ms = 50
[[plugin.function]]
name = "spin"
export = "forever"
"""


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, Path]:
    """A database of users and the functions file beside it."""
    shutil.copy(TEXT, tmp_path / "text.wasm")
    shutil.copy(misbehaving(tmp_path), tmp_path / "bad.wat")
    functions = tmp_path / "wasmplug-sql.toml"
    functions.write_text(FUNCTIONS.format(stats=STATS))
    db = tmp_path / "data.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE users(name TEXT, age INTEGER)")
        conn.executemany("INSERT INTO users VALUES (?, ?)",
                         [("Ada Lovelace", 36), ("Grace Hopper", 85), ("Alan Turing", 41)])
    return db, functions


def datasette(db: Path, functions: Path) -> Any:
    return Datasette([str(db)], metadata={"plugins": {"wasmplug": {"functions": str(functions)}}})


def test_datasette_queries_call_the_plugins(site: tuple[Path, Path]) -> None:
    async def scenario() -> None:
        ds = datasette(*site)
        await ds.invoke_startup()
        plugins = (await ds.client.get("/-/plugins.json")).json()
        assert any(p["name"] == "wasmplug" and "prepare_connection" in p["hooks"] for p in plugins)
        response = await ds.client.get("/data.json", params={
            "sql": "SELECT name, count_vowels(name) AS vowels FROM users ORDER BY name",
            "_shape": "array"})
        assert response.status_code == 200, response.text
        assert response.json() == [{"name": "Ada Lovelace", "vowels": 6},
                                   {"name": "Alan Turing", "vowels": 4},
                                   {"name": "Grace Hopper", "vowels": 4}]
        response = await ds.client.get("/data.json", params={"sql": "SELECT median(age) AS m FROM users",
                                                             "_shape": "array"})
        assert response.json() == [{"m": 41.0}]
        # A plug-in that hangs: the query fails with the function's name and reason, Datasette goes on.
        response = await ds.client.get("/data.json", params={"sql": "SELECT spin(name) FROM users"})
        assert response.status_code == 400
        assert "spin: timeout: the call ran longer than timeout_ms (50 ms)" in response.json()["error"]
        response = await ds.client.get("/data.json", params={"sql": "SELECT count_vowels('ok')",
                                                             "_shape": "array"})
        assert response.json() == [{"count_vowels('ok')": 1}]

    asyncio.run(scenario())


def test_datasette_refuses_to_start_with_a_bad_functions_file(site: tuple[Path, Path]) -> None:
    db, functions = site
    functions.write_text('[[plugin]]\nurl = "https://example.com/x.wasm"\n[[plugin.function]]\nname = "f"\n')

    async def scenario() -> None:
        await datasette(db, functions).invoke_startup()

    with pytest.raises(FunctionsFileError, match="a 'url' needs its 'hash'"):
        asyncio.run(scenario())


def sqlite_utils(*args: str, cwd: Path,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).parent / "sqlite-utils"
    return subprocess.run([str(command), *args], capture_output=True, text=True, timeout=60, cwd=cwd,
                          env={**os.environ, **(env or {})}, check=False)


def test_sqlite_utils_query_calls_the_plugins(site: tuple[Path, Path]) -> None:
    db, functions = site
    done = sqlite_utils("query", str(db), "SELECT count_vowels(name) AS n FROM users ORDER BY name",
                        cwd=db.parent)  # ./wasmplug-sql.toml
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ['[{"n":', "6},", '{"n":', "4},", '{"n":', "4}]"]
    elsewhere = db.parent / "elsewhere"
    elsewhere.mkdir()
    done = sqlite_utils("query", str(db), "SELECT spin('x')", cwd=elsewhere,
                        env={"WASMPLUG_SQL_FUNCTIONS": str(functions)})
    assert done.returncode != 0
    assert "spin: timeout:" in done.stderr
    functions.write_text("[[plugin]]\npath = 'gone.wasm'\n[[plugin.function]]\nname = 'f'\n")
    done = sqlite_utils("query", str(db), "SELECT 1", cwd=db.parent)
    assert done.returncode == 1
    assert "Error: wasmplug: " in done.stderr and "gone.wasm" in done.stderr


def test_sqlite_utils_python_api_gets_the_functions(site: tuple[Path, Path],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite_utils

    db, functions = site
    monkeypatch.setenv("WASMPLUG_SQL_FUNCTIONS", str(functions))
    database = sqlite_utils.Database(db)
    assert next(database.query("SELECT median(age) AS m FROM users")) == {"m": 41.0}
    database.close()


@pytest.mark.timeout(120)
def test_datasette_page_in_chromium(site: tuple[Path, Path], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from ..gamebox.conftest import CHROMIUM, CHROMIUM_ARGS, live_server

    ds = datasette(*site)
    asyncio.run(ds.invoke_startup())
    sql = ("SELECT name, count_vowels(name) AS vowels, age FROM users\n"
           "UNION ALL SELECT 'median age', NULL, median(age) FROM users")
    with live_server(ds.app()) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 560})
            page.set_default_timeout(15_000)
            page.goto(f"{base}/data?" + __import__("urllib.parse").parse.urlencode({"sql": sql}))
            page.wait_for_selector("table.rows-and-columns")
            cells = page.locator("table.rows-and-columns td.col-vowels").all_inner_texts()
            assert [c.strip() for c in cells][:3] == ["6", "4", "4"]
            assert "41.0" in page.locator("table.rows-and-columns").inner_text()
            folder = Path(os.environ.get("SQL_SCREENSHOTS") or tmp_path)
            page.screenshot(path=str(folder / "sql-datasette.png"), full_page=True)
        finally:
            browser.close()

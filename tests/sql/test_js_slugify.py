"""The JavaScript example (plugins/sql/slugify.js, built with `wasmplug js build`) as a SQL scalar
on SQLite and DuckDB. (The file name has `test_js_` so the suite builds the JS runtime first.)"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb

from wasmplug import js
from wasmplug.sql import SQLFunction, register

from .conftest import SLUGIFY_JS

TITLES = ["Crème Brûlée, 2 ways!", "  Hello   World  ", "Ünïcödé — and ASCII", ""]
SLUGS = ["creme-brulee-2-ways", "hello-world", "unicode-and-ascii", ""]


def test_slugify_in_sqlite_and_duckdb(tmp_path: Path) -> None:
    wasm = js.build_file(SLUGIFY_JS, tmp_path / "slugify.wasm")
    conn = sqlite3.connect(":memory:")
    register(conn, wasm, SQLFunction("slugify", deterministic=True), wasi=True)
    conn.execute("CREATE TABLE posts(title TEXT)")
    conn.executemany("INSERT INTO posts VALUES (?)", [(t,) for t in TITLES])
    assert [r[0] for r in conn.execute("SELECT slugify(title) FROM posts ORDER BY rowid")] == SLUGS
    ddb = duckdb.connect()
    register(ddb, wasm, SQLFunction("slugify"), wasi=True)
    assert ddb.execute("SELECT slugify(?)", [TITLES[0]]).fetchall() == [(SLUGS[0],)]

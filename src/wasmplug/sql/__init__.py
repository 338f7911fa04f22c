"""Plug-ins as SQL functions: SQLite (scalar, aggregate, window) and DuckDB (row, batch).

    import sqlite3
    from wasmplug.sql import SQLFunction, register

    conn = sqlite3.connect("data.db")
    register(conn, "plugins/sql/text.wasm", SQLFunction("count_vowels", returns="INTEGER"))
    conn.execute("SELECT count_vowels(name) FROM users")

`register` takes a `sqlite3` or `duckdb` connection, a plug-in (path, bytes,
manifest, `CompiledPlugin` or `Plugin`) and the functions to make of its
exports. Every function runs under limits (`timeout_ms`, `max_pages`,
`fuel_limit`, `max_output_bytes`; wasmplug.sql's defaults where the manifest
sets none), and a plug-in that traps, times out, runs out of memory or
answers with the wrong type fails the statement with a SQL error naming the
function and the reason; the connection, its transaction and the plug-in
stay usable. docs/sql.md has the value mapping and every integration; the
TOML file of plug-ins the Datasette and sqlite-utils plug-ins read is
described in `config.py`. Needs `pip install "wasmplug[sql]"` for DuckDB.
"""

from __future__ import annotations

from .config import FunctionsFile, FunctionsFileError, load_file, parse_file
from .functions import (
    DEFAULT_MAX_INSTANCES,
    DEFAULT_MAX_OUTPUT_BYTES,
    DEFAULT_MAX_PAGES,
    DEFAULT_TIMEOUT_MS,
    Limits,
    SQLFunction,
    SQLFunctionError,
)
from .registration import Registration, register
from .sqlite import last_error
from .values import ResultType, WrongResultType

__all__ = [
    "DEFAULT_MAX_INSTANCES",
    "DEFAULT_MAX_OUTPUT_BYTES",
    "DEFAULT_MAX_PAGES",
    "DEFAULT_TIMEOUT_MS",
    "FunctionsFile",
    "FunctionsFileError",
    "Limits",
    "Registration",
    "ResultType",
    "SQLFunction",
    "SQLFunctionError",
    "WrongResultType",
    "last_error",
    "load_file",
    "parse_file",
    "register",
]

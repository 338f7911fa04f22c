"""`wasmplug sql`: run a query on SQLite or DuckDB with plug-in exports as SQL functions.

    wasmplug sql data.db "SELECT name, count_vowels(name) FROM users" \\
        --function count_vowels=plugins/sql/text.wasm --returns count_vowels=INTEGER

A shell over `wasmplug.sql.register`: `--function`, `--aggregate`, `--window`
and `--batch` take NAME=PLUGIN[:EXPORT] (PLUGIN as for `wasmplug call`: a
.wasm/.wat/.js file, a URL, a manifest), `--functions` a TOML file of
plug-ins; the result prints as a table, or with `--json` / `--csv`.
"""

from __future__ import annotations

import base64
import csv
import json
import re
import sys
from typing import Any

import click

from .. import Error
from .exit_codes import INTERRUPTED, LOAD_FAILED, PLUGIN_FAILED, USAGE, fail
from .plugin_source import manifest_for, needs_wasi

_EXPORT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
EPILOG = """\b
Exit status:
  0    success
  1    the query failed (a plug-in function's error names the function
       and the reason: trap, timeout, oom, limit, wrong result type)
  2    usage error
  3    a plug-in or the functions file could not be loaded
  130  interrupted (Ctrl-C)
"""


def _split(item: str, option: str) -> tuple[str, str, str | None]:
    """NAME=PLUGIN[:EXPORT] -> (name, plugin, export)."""
    name, sep, rest = item.partition("=")
    if not sep or not name or not rest:
        raise click.BadParameter(f"expected NAME=PLUGIN[:EXPORT], got {item!r}", param_hint=option)
    plugin, colon, export = rest.rpartition(":")
    if colon and plugin and _EXPORT.fullmatch(export):
        return name, plugin, export
    return name, rest, None


def _cell(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        return "x'" + bytes(value).hex() + "'"
    return str(value)


def _print(columns: list[str], rows: list[tuple[Any, ...]], out_format: str) -> None:
    if out_format == "json":
        click.echo(json.dumps([{c: _cell(v) for c, v in zip(columns, row, strict=False)} for row in rows],
                              ensure_ascii=False, default=str))
    elif out_format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_text(v) for v in row] for row in rows)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(*columns)
        for row in rows:
            table.add_row(*(_text(v) if v is not None else "[dim]NULL[/dim]" for v in row))
        Console(highlight=False).print(table)


@click.command("sql", epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("database")
@click.argument("query")
@click.option("--function", "-f", "scalars", multiple=True, metavar="NAME=PLUGIN[:EXPORT]",
              help="A scalar SQL function NAME calling EXPORT (default NAME) once per row (repeatable).")
@click.option("--aggregate", "aggregates", multiple=True, metavar="NAME=PLUGIN[:EXPORT]",
              help="An aggregate: EXPORT_step per row, EXPORT_final per group (SQLite).")
@click.option("--window", "windows", multiple=True, metavar="NAME=PLUGIN[:EXPORT]",
              help="A window function: EXPORT_step, _inverse, _value, _final (SQLite).")
@click.option("--batch", "batches", multiple=True, metavar="NAME=PLUGIN[:EXPORT]",
              help="A vectorised function: one call per DuckDB vector (DuckDB).")
@click.option("--returns", "returns", multiple=True, metavar="NAME=TYPE",
              help="Result type of NAME: TEXT (default), BLOB, INTEGER, REAL or JSON.")
@click.option("--args", "nargs", multiple=True, metavar="NAME=N",
              help="Number of arguments of NAME (default 1; -1 any, SQLite).")
@click.option("--functions", "functions_file", metavar="FILE.toml",
              help="Also register the functions of a TOML file of plug-ins (format: wasmplug.sql.config).")
@click.option("--engine", type=click.Choice(["sqlite", "duckdb"]), default="sqlite", show_default=True)
@click.option("--json", "out_format", flag_value="json", help="Print the rows as a JSON array of objects.")
@click.option("--csv", "out_format", flag_value="csv", help="Print the rows as CSV.")
@click.option("--timeout", "timeout_ms", type=click.IntRange(1), metavar="MS",
              help="Per-call time limit of every function (default 1000).")
@click.option("--memory-max", "max_pages", type=click.IntRange(1), metavar="PAGES",
              help="Memory limit of every function, in 64 KiB pages (default 1024).")
@click.option("--fuel", "fuel_limit", type=click.IntRange(1), metavar="N",
              help="Wasm instructions per call.")
@click.option("--wasi", is_flag=True, help="Grant WASI (no files) to the plug-ins (.js ones get it anyway).")
@click.option("--read-only", is_flag=True, help="Open the database read-only.")
def command(database: str, query: str, scalars: tuple[str, ...], aggregates: tuple[str, ...],
            windows: tuple[str, ...], batches: tuple[str, ...], returns: tuple[str, ...],
            nargs: tuple[str, ...], functions_file: str | None, engine: str, out_format: str | None,
            timeout_ms: int | None, max_pages: int | None, fuel_limit: int | None, wasi: bool,
            read_only: bool) -> None:
    """Run QUERY on DATABASE (a file, or :memory:) with plug-in functions, and print the rows."""
    from ..sql import SQLFunction, load_file, register

    types = dict(_pair(r, "--returns") for r in returns)
    counts = {name: _int(n, "--args") for name, n in (_pair(a, "--args") for a in nargs)}
    wanted: list[tuple[str, str, str, str | None]] = []
    for kind, items, option in (("scalar", scalars, "--function"), ("aggregate", aggregates, "--aggregate"),
                                ("window", windows, "--window"), ("batch", batches, "--batch")):
        wanted += [(kind, *_split(item, option)) for item in items]
    names = [name for _, name, _, _ in wanted]
    for name in set(types) | set(counts):
        if name not in names:
            raise click.BadParameter(f"{name} is not a function given with --function, --aggregate, "
                                     "--window or --batch", param_hint="--returns/--args")
    conn = _connect(engine, database, read_only)
    try:
        try:
            for kind, name, plugin, export in wanted:
                function = SQLFunction(name, export=export, kind=kind,  # type: ignore[arg-type]
                                       returns=types.get(name, "TEXT"), nargs=counts.get(name, 1))
                register(conn, manifest_for(plugin), function, wasi=wasi or needs_wasi(plugin),
                         timeout_ms=timeout_ms, max_pages=max_pages, fuel_limit=fuel_limit)
            if functions_file is not None:
                load_file(functions_file).register(conn)
        except Error as exc:
            fail(LOAD_FAILED, str(exc))
        try:
            cursor = conn.execute(query)
            columns = [d[0] for d in cursor.description or []]
            rows = cursor.fetchall()
        except KeyboardInterrupt:
            fail(INTERRUPTED, "interrupted")
        except Exception as exc:  # the engines' own errors: sqlite3.Error, duckdb.Error
            from ..sql import last_error

            text = str(exc).strip()
            last = last_error()
            if ": interrupted: " in text or (last is not None and last.reason == "interrupted"):
                fail(INTERRUPTED, text)
            fail(PLUGIN_FAILED, text)
        _print(columns, rows, out_format or "table")
        if engine == "sqlite":
            conn.commit()
    finally:
        conn.close()


def _pair(item: str, option: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name or not value:
        raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint=option)
    return name, value


def _int(text: str, option: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise click.BadParameter(f"expected a number, got {text!r}", param_hint=option) from None


def _connect(engine: str, database: str, read_only: bool) -> Any:
    try:
        if engine == "duckdb":
            try:
                import duckdb
            except ImportError:
                fail(USAGE, 'the DuckDB engine needs duckdb: pip install "wasmplug[sql]"')
            return duckdb.connect(database, read_only=read_only)
        import sqlite3
        from pathlib import Path

        if read_only:
            if database == ":memory:":
                fail(USAGE, "--read-only needs a database file")
            return sqlite3.connect(f"{Path(database).resolve().as_uri()}?mode=ro", uri=True)
        return sqlite3.connect(database)
    except Exception as exc:  # sqlite3.Error, duckdb.Error, OSError
        fail(LOAD_FAILED, f"cannot open {database}: {exc}")

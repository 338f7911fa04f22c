"""The sqlite-utils plug-in: plug-in functions in `sqlite-utils query` and `sqlite_utils.Database`.

Registered through the `sqlite_utils` entry point. The functions file is
$WASMPLUG_SQL_FUNCTIONS, else ./wasmplug-sql.toml; with neither, the plug-in
does nothing. A bad file or plug-in is a `click.ClickException` naming the
problem (the sqlite-utils command prints it and exits 1).
"""

from __future__ import annotations

import sqlite3

import click
import sqlite_utils

from wasmplug import Error

from .config import find_file, shared_file


@sqlite_utils.hookimpl
def prepare_connection(conn: sqlite3.Connection) -> None:
    path = find_file()
    if path is None:
        return
    try:
        shared_file(path).register(conn)
    except Error as exc:  # `sqlite-utils` prints "Error: wasmplug: ..." and exits 1
        raise click.ClickException(f"wasmplug: {exc}") from None

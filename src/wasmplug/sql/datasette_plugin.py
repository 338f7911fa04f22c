"""The Datasette plug-in: plug-in functions in every database Datasette opens.

Registered through the `datasette` entry point. The functions file is
Datasette's plug-in setting `functions` (metadata or datasette.yaml:
`plugins: {wasmplug: {functions: sql-functions.toml}}`), else
$WASMPLUG_SQL_FUNCTIONS, else ./wasmplug-sql.toml. It is read and every
plug-in compiled when Datasette starts (a bad file stops it with the
file's error); each connection then gets its own instances.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datasette import hookimpl  # type: ignore[import-untyped]

from .config import FunctionsFile, find_file, shared_file


def _functions(datasette: Any) -> FunctionsFile | None:
    settings = datasette.plugin_config("wasmplug") or {}
    explicit = settings.get("functions") if isinstance(settings, dict) else None
    path = find_file(explicit)
    return None if path is None else shared_file(Path(path))


@hookimpl  # type: ignore[untyped-decorator]
def startup(datasette: Any) -> None:
    functions = _functions(datasette)
    if functions is not None:
        for index in range(len(functions.plugins)):
            functions.source(index).compiled(functions.plugins[index].limits)


@hookimpl  # type: ignore[untyped-decorator]
def prepare_connection(conn: Any, database: str, datasette: Any) -> None:
    functions = _functions(datasette)
    if functions is not None:
        functions.register(conn)

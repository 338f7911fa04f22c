"""`register`: plug-in exports attached to a sqlite3 or duckdb connection as SQL functions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wasmplug import Error

from . import duck, sqlite
from .functions import Bound, Limits, PluginSource, SQLFunction, as_function


class Registration:
    """What `register` attached to a connection: the bound functions, to close when done."""

    def __init__(self, source: PluginSource, functions: list[Bound], apis: dict[str, str]) -> None:
        self.source = source
        self.functions = functions
        self.apis = apis  # function name -> "c" / "python" (SQLite), "row" / "batch" (DuckDB)

    def close(self) -> None:
        """Free the plug-in instances (the SQL functions fail after this; close the connection first)."""
        for bound in self.functions:
            bound.close()
        self.source.close()

    def __enter__(self) -> Registration:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def register(conn: Any, plugin: Any, *functions: SQLFunction | str, wasi: bool = False,
             config: Mapping[str, str] | None = None, timeout_ms: int | None = None,
             max_pages: int | None = None, fuel_limit: int | None = None,
             max_output_bytes: int | None = None, max_instances: int | None = None,
             source: PluginSource | None = None, c_api: bool | None = None) -> Registration:
    """Register `functions` (SQLFunction, or an export name for a TEXT scalar) of `plugin` on `conn`.

    `conn` is a `sqlite3.Connection` or a `duckdb.DuckDBPyConnection`. Limits
    given here apply to every function unless its `SQLFunction.limits` says
    otherwise; a `Plugin` keeps its own (its manifest's) limits. `source`
    shares compiled code between connections (the Datasette plug-in passes one).
    """
    if not functions:
        raise Error("register: name at least one function (SQLFunction or export name)")
    specs = [as_function(f) for f in functions]
    limits = Limits(timeout_ms=timeout_ms, max_pages=max_pages, fuel_limit=fuel_limit,
                    max_output_bytes=max_output_bytes, max_instances=max_instances)
    if source is None:
        from wasmplug import Plugin

        if isinstance(plugin, Plugin) and (limits != Limits() or wasi or config
                                           or any(f.limits != Limits() for f in specs)):
            raise Error("register: a Plugin instance keeps its own limits, WASI and config; "
                        "pass its manifest (or a CompiledPlugin's source) to set them here")
        source = PluginSource(plugin, wasi=wasi, config=dict(config or {}), limits=limits)
    bound = [Bound(spec, source) for spec in specs]
    apis: dict[str, str] = {}
    if duck.is_duckdb(conn):
        for b in bound:
            apis[b.name] = duck.register(conn, b)
    else:
        import sqlite3

        if not isinstance(conn, sqlite3.Connection):
            raise Error(f"register: expected a sqlite3 or duckdb connection, got {type(conn).__name__}")
        for b in bound:
            apis[b.name] = sqlite.register(conn, b, c_api)
    return Registration(source, bound, apis)

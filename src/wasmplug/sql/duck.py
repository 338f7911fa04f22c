"""Plug-in functions in DuckDB: row by row, or one plug-in call per vector (batch).

A "scalar" function is a DuckDB native Python UDF calling the export once per
row, with the same value mapping as SQLite. A "batch" function is an Arrow
UDF: DuckDB hands over a vector (up to 2,048 rows), `batch.py` passes its
Arrow buffers to the export in one call and checks the column that comes
back. A failure raises a DuckDB error whose message names the function and
the reason. DuckDB has no Python aggregate or window UDFs, so those kinds are
SQLite only.
"""

from __future__ import annotations

import contextlib
from typing import Any

from wasmplug import Error

from . import batch
from .functions import Bound, failure
from .values import ResultType

_DUCK_TYPES = {ResultType.TEXT: "VARCHAR", ResultType.BLOB: "BLOB", ResultType.INTEGER: "BIGINT",
               ResultType.REAL: "DOUBLE", ResultType.JSON: "VARCHAR"}


def is_duckdb(conn: Any) -> bool:
    return type(conn).__module__.split(".")[0] in ("duckdb", "_duckdb")


def register(conn: Any, bound: Bound) -> str:
    """Make `bound` a DuckDB function of `conn`; returns "row" or "batch"."""
    import duckdb

    function = bound.function
    if function.kind in ("aggregate", "window"):
        raise Error(f"{bound.name}: DuckDB has no Python {function.kind} functions; "
                    "register it on a SQLite connection, or use a batch function")
    if function.nargs < 0:
        raise Error(f"{bound.name}: DuckDB functions need a fixed number of arguments (nargs >= 0)")
    arg_types = function.arg_types or ("VARCHAR",) * function.nargs
    try:
        parameters = [duckdb.sqltype(t) for t in arg_types]
        returns = duckdb.sqltype(_DUCK_TYPES[bound.returns])
    except (duckdb.Error, RuntimeError, TypeError) as exc:
        raise Error(f"{bound.name}: bad DuckDB type in {arg_types}: {exc}") from None
    null_handling = "default" if function.strict else "special"
    side_effects = not function.deterministic
    with contextlib.suppress(duckdb.Error, RuntimeError):
        conn.remove_function(bound.name)
    if function.kind == "batch":
        conn.create_function(bound.name, _batch_callable(bound), parameters, returns, type="arrow",
                             null_handling=null_handling, side_effects=side_effects)
        return "batch"
    conn.create_function(bound.name, _row_callable(bound), parameters, returns, type="native",
                         null_handling=null_handling, side_effects=side_effects)
    return "row"


def _row_callable(bound: Bound) -> Any:
    scalar = bound.scalar
    if bound.returns is ResultType.JSON:
        import json

        def call_json(*args: Any) -> Any:
            value = scalar(*args)
            return value if value is None or isinstance(value, str) else json.dumps(value)

        return call_json
    return scalar


def _batch_callable(bound: Bound) -> Any:
    name, returns = bound.name, bound.returns

    def call(*columns: Any) -> Any:
        rows = len(columns[0]) if columns else 0
        try:
            data = batch.encode(list(columns))
        except Error as exc:
            raise failure(name, exc) from None
        output = bound.call_pooled(data)
        try:
            return batch.decode(output, rows, returns)
        except Error as exc:
            raise failure(name, exc) from None

    return call

"""Plug-in functions in SQLite (the standard library's `sqlite3`).

Scalars become `create_function`, aggregates `create_aggregate` and window
functions `create_window_function`. Through SQLite's C API (`sqlite_capi.py`)
when the connection's handle can be reached, so a failure's SQL error says
which function failed and why; otherwise through the public `sqlite3` API,
where SQLite's message is the module's generic "user-defined function raised
exception" and the reason goes to the `wasmplug.sql` logger and to
`last_error()`.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from wasmplug import Error

from . import sqlite_capi
from .functions import Accumulator, Bound, SQLFunctionError, failure
from .values import ResultType, SQLValue, decode, encode_one

log = logging.getLogger("wasmplug.sql")

_last = threading.local()


def last_error() -> SQLFunctionError | None:
    """The last plug-in failure in this thread (for the public-API path, whose SQL error only
    says "user-defined function raised exception")."""
    error: SQLFunctionError | None = getattr(_last, "error", None)
    return error


def register(conn: sqlite3.Connection, bound: Bound, c_api: bool | None = None) -> str:
    """Make `bound` a SQL function of `conn`; returns which API registered it ("c" or "python").

    `c_api`: None picks the C API when available, True requires it, False uses the public API.
    """
    kind = bound.function.kind
    if kind == "batch":
        raise Error(f"{bound.name}: batch functions are for DuckDB; SQLite calls functions row by row "
                    "(register the plug-in's scalar export instead)")
    db = sqlite_capi.handle(conn) if c_api is not False else None
    if c_api and db is None:
        raise Error("SQLite's C API cannot be reached from this Python (needs CPython 3.11-3.13 "
                    "with the sqlite3 module linked to a shared SQLite)")
    if db is not None:
        if kind == "scalar":
            sqlite_capi.register_scalar(conn, db, bound)
        else:
            sqlite_capi.register_aggregate(conn, db, bound)
        return "c"
    _register_python(conn, bound)
    bound.callback = "python"
    return "python"


def _recorded(error: SQLFunctionError) -> SQLFunctionError:
    _last.error = error
    log.warning("SQL function failed: %s", error)
    return error


def _register_python(conn: sqlite3.Connection, bound: Bound) -> None:
    function = bound.function
    if function.kind == "scalar" and function.nargs == 1 and function.args == "auto":
        conn.create_function(bound.name, 1, _one_argument(bound), deterministic=function.deterministic)
        return
    if function.kind == "scalar":
        scalar = bound.scalar

        def call(*args: Any) -> Any:
            try:
                return scalar(*args)
            except SQLFunctionError as exc:
                raise _recorded(exc) from None
            except KeyboardInterrupt:
                raise _recorded(sqlite_capi.interrupted(bound.name)) from None

        conn.create_function(bound.name, function.nargs, call, deterministic=function.deterministic)
        return

    class Group:
        """One group: the sqlite3 module makes one per group and calls step/finalize."""

        def __init__(self) -> None:
            self.accumulator: Accumulator = _guard(bound.accumulator)

        def step(self, *args: Any) -> None:
            _guard(self.accumulator.step, *args)

        def inverse(self, *args: Any) -> None:
            _guard(self.accumulator.inverse, *args)

        def value(self) -> Any:
            return _guard(self.accumulator.value)

        def finalize(self) -> Any:
            return _guard(self.accumulator.finalize)

    def _guard(method: Callable[..., Any], *args: Any) -> Any:
        try:
            return method(*args)
        except SQLFunctionError as exc:
            raise _recorded(exc) from None
        except KeyboardInterrupt:
            raise _recorded(sqlite_capi.interrupted(bound.name)) from None

    if function.kind == "window":
        conn.create_window_function(bound.name, function.nargs, Group)  # type: ignore[arg-type]
    else:
        conn.create_aggregate(bound.name, function.nargs, Group)


def _one_argument(bound: Bound) -> Callable[[SQLValue], SQLValue]:
    """The common case, kept short: one argument through a prepared call (values.py's mapping)."""
    prepared, returns, strict, name = bound.prepared(), bound.returns, bound.function.strict, bound.name
    integer = returns is ResultType.INTEGER

    def call(value: SQLValue) -> SQLValue:
        try:
            if type(value) is str:
                data = value.encode("utf-8", "surrogatepass")
            elif value is None and strict:
                return None
            else:
                data = encode_one(value)
            try:
                output = prepared(data)
                if integer and 0 < len(output) < 19 and output.isdigit():
                    return int(output)  # the usual INTEGER answer, without decode()
                return decode(output, returns)
            except Error as exc:
                raise failure(name, exc) from None
        except SQLFunctionError as exc:
            raise _recorded(exc) from None
        except KeyboardInterrupt:
            raise _recorded(sqlite_capi.interrupted(name)) from None

    return call

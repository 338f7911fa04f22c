"""SQLite functions through SQLite's C API (ctypes), so a failure's message reaches SQL.

Python's `sqlite3` module reports every exception raised in a user function as
"user-defined function raised exception"; the reason (which function, trap,
timeout, oom) is lost. This module registers the same callbacks with
`sqlite3_create_function_v2` / `sqlite3_create_window_function` on the
connection's own `sqlite3*` handle and fails a row with
`sqlite3_result_error(ctx, "<function>: <reason>: ...")`, which SQLite raises
as `sqlite3.OperationalError` with that text.

The handle is the first field after the object header of CPython's
`pysqlite_Connection` (3.11 to 3.13) and the library is the one `_sqlite3` is
linked with; `handle()` checks both against the connection before trusting
them and returns None when it cannot, and `sqlite.py` then uses the public
`create_function` API (same behaviour, generic error text).

One-argument scalars (the common case, one callback per row) use the compiled
callback of the C extension `_scalar_callback` when it was built at install
(`compiled()`); without it, and for every other function, the callbacks are
ctypes callbacks. Both give the same answers and the same errors.
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import itertools
import sqlite3
import sys
import threading
from collections.abc import Callable
from typing import Any

from wasmplug import Error

from .functions import Accumulator, Bound, SQLFunctionError, failure
from .values import ResultType, SQLValue, decode

SQLITE_UTF8 = 1
SQLITE_DETERMINISTIC = 0x800
SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB, SQLITE_NULL = 1, 2, 3, 4, 5
SQLITE_TRANSIENT = ctypes.c_void_p(-1)

_p = ctypes.c_void_p
_FUNC = ctypes.CFUNCTYPE(None, _p, ctypes.c_int, ctypes.POINTER(_p))
_FINAL = ctypes.CFUNCTYPE(None, _p)
_DESTROY = ctypes.CFUNCTYPE(None, _p)


class _Library:
    """The SQLite functions this module calls, with their C signatures."""

    def __init__(self, lib: ctypes.PyDLL) -> None:
        def fn(name: str, restype: Any, *argtypes: Any) -> Any:
            f = getattr(lib, name)
            f.restype, f.argtypes = restype, list(argtypes)
            return f

        c_int, c_i64, c_dbl, c_str = ctypes.c_int, ctypes.c_int64, ctypes.c_double, ctypes.c_char_p
        self.libversion = fn("sqlite3_libversion", c_str)
        self.db_filename = fn("sqlite3_db_filename", c_str, _p, c_str)
        self.total_changes = fn("sqlite3_total_changes", c_int, _p)
        self.get_autocommit = fn("sqlite3_get_autocommit", c_int, _p)
        self.create_function = fn("sqlite3_create_function_v2", c_int, _p, c_str, c_int, c_int, _p,
                                  _FUNC, _FUNC, _FINAL, _DESTROY)
        self.create_window = fn("sqlite3_create_window_function", c_int, _p, c_str, c_int, c_int, _p,
                                _FUNC, _FINAL, _FINAL, _FUNC, _DESTROY)
        self.value_type = fn("sqlite3_value_type", c_int, _p)
        self.value_bytes = fn("sqlite3_value_bytes", c_int, _p)
        self.value_text = fn("sqlite3_value_text", _p, _p)
        # The same function, its text as bytes up to the first NUL (one C call for most TEXT).
        self.value_text_bytes = ctypes.PYFUNCTYPE(c_str, _p)(("sqlite3_value_text", lib))
        self.value_blob = fn("sqlite3_value_blob", _p, _p)
        self.value_int64 = fn("sqlite3_value_int64", c_i64, _p)
        self.value_double = fn("sqlite3_value_double", c_dbl, _p)
        self.result_text = fn("sqlite3_result_text", None, _p, c_str, c_int, _p)
        self.result_blob = fn("sqlite3_result_blob", None, _p, c_str, c_int, _p)
        self.result_int64 = fn("sqlite3_result_int64", None, _p, c_i64)
        self.result_double = fn("sqlite3_result_double", None, _p, c_dbl)
        self.result_null = fn("sqlite3_result_null", None, _p)
        self.result_error = fn("sqlite3_result_error", None, _p, c_str, c_int)
        self.aggregate_context = fn("sqlite3_aggregate_context", _p, _p, c_int)
        self.errstr = fn("sqlite3_errstr", c_str, c_int)
        # What the compiled callback (_scalar_callback.c) calls, in the order its bind() takes.
        self.addresses = tuple(ctypes.cast(getattr(lib, name), _p).value or 0 for name in (
            "sqlite3_value_type", "sqlite3_value_bytes", "sqlite3_value_text", "sqlite3_value_blob",
            "sqlite3_value_int64", "sqlite3_value_double", "sqlite3_result_null", "sqlite3_result_int64",
            "sqlite3_result_double", "sqlite3_result_text", "sqlite3_result_blob", "sqlite3_result_error",
            "sqlite3_user_data", "sqlite3_create_function_v2"))


_library: _Library | None = None
_library_checked = False
_library_lock = threading.Lock()


def library() -> _Library | None:
    """The SQLite library `sqlite3` uses, or None when it cannot be reached safely."""
    global _library, _library_checked
    with _library_lock:
        if not _library_checked:
            _library_checked = True
            try:
                import _sqlite3

                if sys.implementation.name == "cpython" and sys.version_info[:2] <= (3, 13):
                    # PyDLL: these calls are short, so they keep the GIL (a CDLL call
                    # would release and take it back, several times per row).
                    found = _Library(ctypes.PyDLL(_sqlite3.__file__))
                    if found.libversion().decode() == sqlite3.sqlite_version:
                        _library = found
            except (ImportError, OSError, AttributeError):
                _library = None
        return _library


_compiled: Any = None
_compiled_checked = False


def compiled() -> Any:
    """The compiled per-row callback (`_scalar_callback`, bound to `library()`), or None when it
    was not built (no C compiler at install) or SQLite's C API cannot be reached."""
    global _compiled, _compiled_checked
    lib = library()
    with _library_lock:
        if not _compiled_checked:
            _compiled_checked = True
            try:  # (by name: `from . import` would read as importing wasmplug.sql, a circle)
                native = importlib.import_module(f"{__package__}._scalar_callback")
            except ImportError:
                native = None
            if lib is not None and native is not None and all(lib.addresses):
                native.bind(lib.addresses)
                _compiled = native
        return _compiled


def handle(conn: sqlite3.Connection) -> int | None:
    """The connection's `sqlite3*`, checked against what the connection reports, or None."""
    lib = library()
    if lib is None or not isinstance(conn, sqlite3.Connection):
        return None
    conn.total_changes  # noqa: B018 - raises ProgrammingError on a closed connection
    db = ctypes.c_void_p.from_address(id(conn) + object.__basicsize__).value
    if not db:
        return None
    main = [row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main"]
    filename = (lib.db_filename(db, b"main") or b"").decode("utf-8", "replace")
    if (main != [filename] or lib.total_changes(db) != conn.total_changes
            or bool(lib.get_autocommit(db)) == conn.in_transaction):
        return None
    return db


class _KeepAlive:
    """Holds a function's ctypes callbacks for as long as the connection may call them.

    `sqlite3.Connection` takes no weak references and no attributes, so the
    holder is handed to the connection itself, as a (do-nothing) function
    registered through the public API: the sqlite3 module frees it when the
    connection is closed or the name is registered again, which is exactly
    when SQLite stops calling the callbacks. No xDestroy is given to SQLite.
    """

    def __init__(self, callbacks: tuple[Any, ...]) -> None:
        self.callbacks = callbacks

    def __call__(self, *args: Any) -> None:
        return None


KEEPALIVE_NARGS = 127  # the most SQLite allows: a distinct (name, nargs) no one calls by chance


def interrupted(name: str) -> SQLFunctionError:
    """Ctrl-C stopped a plug-in inside SQL. SQLite can only be handed an error, and a
    KeyboardInterrupt raised again here would land in the next callback, so the statement
    fails with reason "interrupted" (`wasmplug sql` exits 130 for it)."""
    return SQLFunctionError(name, "interrupted", "interrupted: Ctrl-C (SIGINT) stopped the call")


class _Values:
    """Reading arguments and setting results for one function."""

    def __init__(self, lib: _Library, bound: Bound) -> None:
        self.lib = lib
        self.bound = bound

    def args(self, argc: int, argv: Any, raw_text: bool) -> list[SQLValue]:
        lib = self.lib
        out: list[SQLValue] = []
        for i in range(argc):
            value = argv[i]
            kind = lib.value_type(value)
            if kind == SQLITE_TEXT:
                text = ctypes.string_at(lib.value_text(value), lib.value_bytes(value))
                out.append(text if raw_text else text.decode("utf-8", "surrogateescape"))
            elif kind == SQLITE_INTEGER:
                out.append(lib.value_int64(value))
            elif kind == SQLITE_FLOAT:
                out.append(lib.value_double(value))
            elif kind == SQLITE_BLOB:
                size = lib.value_bytes(value)
                out.append(ctypes.string_at(lib.value_blob(value), size) if size else b"")
            else:
                out.append(None)
        return out

    def result(self, ctx: int, value: SQLValue) -> None:
        lib = self.lib
        if value is None:
            lib.result_null(ctx)
        elif isinstance(value, str):
            data = value.encode("utf-8", "surrogatepass")
            lib.result_text(ctx, data, len(data), SQLITE_TRANSIENT)
        elif isinstance(value, bytes):
            lib.result_blob(ctx, value, len(value), SQLITE_TRANSIENT)
        elif isinstance(value, int):
            lib.result_int64(ctx, value)
        else:
            lib.result_double(ctx, value)

    def message(self, error: BaseException) -> SQLFunctionError:
        """Any exception in a row as the SQL error: `<function>: <reason>: ...`."""
        if isinstance(error, KeyboardInterrupt):
            return interrupted(self.bound.name)
        if isinstance(error, Error):
            return failure(self.bound.name, error)
        return SQLFunctionError(self.bound.name, "error", f"error: {type(error).__name__}: {error}")

    def error(self, ctx: int, error: BaseException) -> None:
        message = str(self.message(error)).encode("utf-8", "replace")
        self.lib.result_error(ctx, message, len(message))


def _check(lib: _Library, rc: int, name: str) -> None:
    if rc != 0:
        raise SQLFunctionError(name, "error", f"error: SQLite refused the function: "
                               f"{lib.errstr(rc).decode()}")


def register_scalar(conn: sqlite3.Connection, db: int, bound: Bound) -> None:
    lib = library()
    assert lib is not None
    io = _Values(lib, bound)
    function = bound.function
    flags = SQLITE_UTF8 | (SQLITE_DETERMINISTIC if function.deterministic else 0)
    native = compiled()
    if function.args == "auto" and function.nargs == 1 and native is not None:
        _create_compiled(native, conn, db, bound, flags, io)
        bound.callback = "compiled"
        return
    bound.callback = "ctypes"
    if function.args == "auto" and function.nargs == 1:
        call = _one_argument(lib, io, bound)
    else:
        scalar = bound.scalar

        def call(ctx: int, argc: int, argv: Any) -> None:
            try:
                io.result(ctx, scalar(*io.args(argc, argv, False)))
            except BaseException as exc:  # nothing may escape into C
                io.error(ctx, exc)

    _create(lib, conn, db, bound, flags, (_FUNC(call),), window=False)


def _create_compiled(native: Any, conn: sqlite3.Connection, db: int, bound: Bound, flags: int,
                     io: _Values) -> None:
    """A one-argument scalar with the compiled per-row callback: it does what `_one_argument`
    does, in C; `decode` and `fail` are called only for answers that are not plain digits,
    and for failures."""
    name, returns = bound.name, bound.returns

    def fail(error: BaseException) -> str:
        return str(io.message(error))

    rc, capsule = native.create(db, name.encode(), flags, bound.prepared().__call__,
                                functools.partial(decode, returns=returns), fail,
                                bound.function.strict, returns is ResultType.INTEGER)
    # Kept alive (with the prepared call) by the connection, as `_create` keeps ctypes callbacks.
    conn.create_function(f"wasmplug_keepalive_{name}", KEEPALIVE_NARGS, _KeepAlive((bound, capsule)))
    lib = library()
    assert lib is not None
    _check(lib, rc, name)


def _one_argument(lib: _Library, io: _Values, bound: Bound) -> Callable[[int, int, Any], None]:
    """The common case, kept short (one C call costs ~0.3 µs): one argument, its bytes
    straight to the plug-in through a prepared call (values.py has the mapping)."""
    value_type, value_bytes, value_text, value_blob = (
        lib.value_type, lib.value_bytes, lib.value_text, lib.value_blob)
    value_text_bytes, value_int64, value_double = lib.value_text_bytes, lib.value_int64, lib.value_double
    result_null, result_int64 = lib.result_null, lib.result_int64
    string_at = ctypes.string_at
    strict = bound.function.strict
    plugin_call = bound.prepared()
    name, returns, result = bound.name, bound.returns, io.result
    integer = returns is ResultType.INTEGER

    def call(ctx: int, argc: int, argv: Any) -> None:
        try:
            value = argv[0]
            kind = value_type(value)
            if kind == SQLITE_TEXT:
                data = value_text_bytes(value)  # (before value_bytes: SQLite's order)
                size = value_bytes(value)
                if len(data) != size:  # a NUL inside the text
                    data = string_at(value_text(value), size)
            elif kind == SQLITE_NULL:
                if strict:
                    result_null(ctx)
                    return
                data = b""
            elif kind == SQLITE_BLOB:
                size = value_bytes(value)
                data = string_at(value_blob(value), size) if size else b""
            elif kind == SQLITE_INTEGER:
                data = str(value_int64(value)).encode()
            else:
                data = repr(value_double(value)).encode()
            try:
                output = plugin_call(data)
                if integer and 0 < len(output) < 19 and output.isdigit():
                    result_int64(ctx, int(output))  # the usual INTEGER answer, without decode()
                    return
                answer = decode(output, returns)
            except Error as exc:
                raise failure(name, exc) from None
            result(ctx, answer)
        except BaseException as exc:  # nothing may escape into C
            io.error(ctx, exc)

    return call


def _create(lib: _Library, conn: sqlite3.Connection, db: int, bound: Bound, flags: int,
            callbacks: tuple[Any, ...], window: bool) -> None:
    conn.create_function(f"wasmplug_keepalive_{bound.name}", KEEPALIVE_NARGS,
                         _KeepAlive((bound, *callbacks)))
    name = bound.name.encode()
    if window:
        step, final, value, inverse = callbacks
        rc = lib.create_window(db, name, bound.function.nargs, flags, None, step, final, value, inverse,
                               _DESTROY())
    elif len(callbacks) == 1:
        rc = lib.create_function(db, name, bound.function.nargs, flags, None, callbacks[0],
                                 _FUNC(), _FINAL(), _DESTROY())
    else:
        step, final = callbacks
        rc = lib.create_function(db, name, bound.function.nargs, flags, None, _FUNC(), step, final,
                                 _DESTROY())
    _check(lib, rc, bound.name)


def register_aggregate(conn: sqlite3.Connection, db: int, bound: Bound) -> None:
    """An aggregate (or, with `window`, a window function): one Accumulator per group."""
    lib = library()
    assert lib is not None
    bound.callback = "ctypes"
    io = _Values(lib, bound)
    groups: dict[int, Accumulator] = {}
    ids = itertools.count(1)
    slot_type = ctypes.c_int64

    def group(ctx: int, create: bool) -> tuple[int, Accumulator | None]:
        slot = lib.aggregate_context(ctx, ctypes.sizeof(slot_type) if create else 0)
        if not slot:
            return 0, None
        cell = slot_type.from_address(slot)
        if cell.value == 0:
            if not create:
                return 0, None
            accumulator = bound.accumulator()
            cell.value = next(ids)
            groups[cell.value] = accumulator
        return cell.value, groups.get(cell.value)

    def stepper(role: str) -> Callable[[int, int, Any], None]:
        def step(ctx: int, argc: int, argv: Any) -> None:
            try:
                _, accumulator = group(ctx, True)
                if accumulator is None:
                    raise SQLFunctionError(bound.name, "error", "error: this group already failed")
                getattr(accumulator, role)(*io.args(argc, argv, False))
            except BaseException as exc:
                io.error(ctx, exc)
        return step

    def final(ctx: int) -> None:
        try:
            key, accumulator = group(ctx, False)
            if accumulator is None:  # no row in the group: a fresh instance answers
                accumulator = bound.accumulator()
            else:
                del groups[key]
            io.result(ctx, accumulator.finalize())
        except BaseException as exc:
            io.error(ctx, exc)

    def value(ctx: int) -> None:
        try:
            _, accumulator = group(ctx, False)
            if accumulator is None:
                accumulator = bound.accumulator()
                try:
                    io.result(ctx, accumulator.value())
                finally:
                    accumulator.discard()
            else:
                io.result(ctx, accumulator.value())
        except BaseException as exc:
            io.error(ctx, exc)

    flags = SQLITE_UTF8 | (SQLITE_DETERMINISTIC if bound.function.deterministic else 0)
    if bound.function.kind == "window":
        callbacks = (_FUNC(stepper("step")), _FINAL(final), _FINAL(value), _FUNC(stepper("inverse")))
        _create(lib, conn, db, bound, flags, callbacks, window=True)
    else:
        _create(lib, conn, db, bound, flags, (_FUNC(stepper("step")), _FINAL(final)), window=False)

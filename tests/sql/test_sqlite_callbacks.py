"""The three ways SQLite calls a one-argument scalar row by row give the same answers.

"compiled" (the default where the C extension `_scalar_callback` was built: the
per-row callback in C), "ctypes" (the same callback through ctypes: the
fall-back without a compiler) and "python" (the sqlite3 module's
`create_function`, `c_api=False`). The first two fail a row with a SQL error
naming the function and the reason; the third with the sqlite3 module's
generic message.
"""

from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wasmplug.sql import SQLFunction, register, sqlite_capi

from .conftest import MISBEHAVING_WAT, TEXT
from .test_sqlite_errors import FAILURES

PATHS = ("compiled", "ctypes", "python")
RESULT_TYPES = ("TEXT", "BLOB", "INTEGER", "REAL", "JSON")


def registered(conn: sqlite3.Connection, path: str, plugin: Any, *functions: SQLFunction,
               **options: Any) -> None:
    """Register `functions` so SQLite calls them through `path`, and check that it does."""
    if path == "compiled" and sqlite_capi.compiled() is None:
        if os.environ.get("WASMPLUG_TEST_REQUIRE_ALL"):
            pytest.fail("wasmplug.sql._scalar_callback was not built (no C compiler at install?)")
        pytest.skip("the C extension was not built here")
    if path == "ctypes":
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(sqlite_capi, "compiled", lambda: None)
            registration = register(conn, plugin, *functions, **options, c_api=True)
    else:
        registration = register(conn, plugin, *functions, **options, c_api=path != "python")
    assert {bound.callback for bound in registration.functions} == {path}


@pytest.fixture(scope="module")
def echo_wat(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wat") / "misbehaving.wat"
    path.write_text(MISBEHAVING_WAT)
    return path


@pytest.fixture(scope="module")
def conns(echo_wat: Path) -> Iterator[dict[str, sqlite3.Connection]]:
    """One connection per path, each with `echo_<type>` (strict) and `lenient_<type>` functions."""
    made = {}
    for path in PATHS:
        conn = sqlite3.connect(":memory:")
        functions = [SQLFunction(f"echo_{t.lower()}", export="echo", returns=t) for t in RESULT_TYPES]
        functions += [SQLFunction(f"lenient_{t.lower()}", export="echo", returns=t, strict=False)
                      for t in RESULT_TYPES]
        registered(conn, path, echo_wat, *functions)
        registered(conn, path, TEXT, SQLFunction("count_vowels", returns="INTEGER"))
        made[path] = conn
    yield made
    for conn in made.values():
        conn.close()


def answer(conn: sqlite3.Connection, sql: str, value: object) -> tuple[str, object]:
    try:
        (result,) = conn.execute(sql, (value,)).fetchone()
    except sqlite3.OperationalError as exc:
        return "error", str(exc)
    if isinstance(result, float) and math.isnan(result):
        return "nan", None
    return type(result).__name__, result


VALUES = st.one_of(
    st.none(), st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False), st.text(st.characters(exclude_categories=["Cs"]), max_size=40),
    st.sampled_from(["12", " -7 ", "99999999999999999999", "1.5e3", "inf", '"str"', "[1, 2]", "true",
                     "null", "", "a\x00b", "0012", "123456789012345678"]),
    st.binary(max_size=40), st.sampled_from([b"", b"\xff\xfe", b"42", b"a\x00b"]))


# With sqlite3.enable_callback_tracebacks(True) (Datasette turns it on when imported), the
# sqlite3 module also hands the "python" path's exceptions to sys.unraisablehook: expected.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=VALUES, returns=st.sampled_from(RESULT_TYPES), strict=st.booleans())
def test_every_path_answers_alike(conns: dict[str, sqlite3.Connection], value: object, returns: str,
                                  strict: bool) -> None:
    sql = f"SELECT {'echo' if strict else 'lenient'}_{returns.lower()}(?)"
    answers = {path: answer(conn, sql, value) for path, conn in conns.items()}
    assert answers["compiled"] == answers["ctypes"], answers
    if answers["compiled"][0] != "error":
        assert answers["python"] == answers["compiled"], answers
    else:  # the sqlite3 module's own text: it cannot carry the reason
        assert answers["python"] == ("error", "user-defined function raised exception"), answers
        assert str(answers["compiled"][1]).startswith(f"{sql[7:sql.index('(')]}: "), answers


def test_count_vowels_on_every_path(conns: dict[str, sqlite3.Connection]) -> None:
    words = ["", "aeiou", "Ünïcode AEIOU", "x" * 1000 + "a", "a\x00e"]
    for conn in conns.values():
        got = [conn.execute("SELECT count_vowels(?)", (w,)).fetchone()[0] for w in words]
        assert got == [sum(c in "aeiouAEIOU" for c in w) for w in words]


@pytest.mark.parametrize("path", ["compiled", "ctypes"])
@pytest.mark.parametrize(("name", "export", "returns", "argument", "reason", "detail"), FAILURES)
def test_both_c_api_callbacks_name_the_function_and_reason(
        tmp_path: Path, echo_wat: Path, path: str, name: str, export: str, returns: str, argument: str,
        reason: str, detail: str) -> None:
    conn = sqlite3.connect(str(tmp_path / "data.db"))
    registered(conn, path, echo_wat, SQLFunction(name, export=export, returns=returns),
               SQLFunction("echo", returns="TEXT"), timeout_ms=50, max_pages=4)
    conn.execute("CREATE TABLE t(v TEXT)")
    conn.execute("INSERT INTO t VALUES ('kept')")
    conn.commit()  # the next INSERT opens a transaction (the sqlite3 module does)
    conn.execute("INSERT INTO t VALUES ('in the transaction')")
    with pytest.raises(sqlite3.OperationalError) as caught:
        conn.execute(f"INSERT INTO t SELECT {name}({argument})")
    message = str(caught.value)
    assert message.startswith(f"{name}: {reason}: ") and detail in message, message
    assert conn.in_transaction  # the transaction stays open, with what it had
    assert conn.execute("SELECT echo(v) FROM t ORDER BY rowid").fetchall() == [
        ("kept",), ("in the transaction",)]
    conn.close()


def test_the_default_is_the_compiled_callback(tmp_path: Path) -> None:
    conn = sqlite3.connect(":memory:")
    registered(conn, "compiled", TEXT, SQLFunction("count_vowels", returns="INTEGER"))
    registration = register(conn, TEXT, SQLFunction("cv", export="count_vowels", returns="INTEGER"))
    assert registration.functions[0].callback == "compiled"
    # several arguments, JSON arguments and aggregates keep the ctypes callbacks
    registration = register(conn, TEXT, SQLFunction("cv2", export="count_vowels", nargs=2, returns="JSON"))
    assert registration.functions[0].callback == "ctypes"
    conn.close()

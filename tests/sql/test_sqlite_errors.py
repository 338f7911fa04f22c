"""Misbehaving plug-ins in SQLite: each failure is a SQL error naming the function and the
reason, and the connection, its transaction and the plug-in stay usable; nothing is half written."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

import wasmplug
from wasmplug.sql import Limits, SQLFunction, last_error, register

from .conftest import STATS, misbehaving


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(str(tmp_path / "data.db"))
    yield connection
    connection.close()


FAILURES = [
    # (SQL function, export, result type, argument, reason, detail in the message)
    ("f_trap", "trap", "TEXT", "'x'", "trap", "unreachable"),
    ("f_timeout", "forever", "TEXT", "'x'", "timeout", "timeout_ms (50 ms)"),
    ("f_oom", "hog", "TEXT", "'x'", "oom", "max_pages"),
    ("f_type", "echo", "INTEGER", "'twelve'", "wrong result type", "expected an INTEGER"),
    ("f_utf8", "echo", "TEXT", "x'c328'", "wrong result type", "not UTF-8"),
]


@pytest.mark.parametrize(("name", "export", "returns", "argument", "reason", "detail"), FAILURES)
def test_a_failure_is_a_sql_error_naming_function_and_reason(
        conn: sqlite3.Connection, tmp_path: Path, name: str, export: str, returns: str, argument: str,
        reason: str, detail: str) -> None:
    register(conn, misbehaving(tmp_path), SQLFunction(name, export=export, returns=returns),
             SQLFunction("echo", returns="TEXT"), timeout_ms=50, max_pages=4)
    with pytest.raises(sqlite3.OperationalError) as caught:
        conn.execute(f"SELECT {name}({argument})").fetchall()
    message = str(caught.value)
    assert message.startswith(f"{name}: {reason}: "), message
    assert detail in message
    # The plug-in, and the connection, go on working.
    assert conn.execute("SELECT echo('still here')").fetchone() == ("still here",)
    if export == "echo":
        assert conn.execute(f"SELECT {name}('12')").fetchone() == ("12" if returns == "TEXT" else 12,)


# With sqlite3.enable_callback_tracebacks(True) (Datasette turns it on when imported), the
# sqlite3 module also hands the exception to sys.unraisablehook: expected in this mode.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_the_public_api_path_keeps_the_reason_for_last_error(conn: sqlite3.Connection,
                                                             tmp_path: Path) -> None:
    register(conn, misbehaving(tmp_path), SQLFunction("f_trap", export="trap"), c_api=False)
    with pytest.raises(sqlite3.OperationalError, match="user-defined function raised exception"):
        conn.execute("SELECT f_trap('x')").fetchall()
    error = last_error()
    assert error is not None and error.function == "f_trap" and error.reason == "trap"


def test_a_failing_update_writes_nothing_and_keeps_the_transaction(conn: sqlite3.Connection,
                                                                   tmp_path: Path) -> None:
    register(conn, misbehaving(tmp_path), SQLFunction("shout", export="trap_on_4"))
    conn.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, s TEXT)")
    conn.executemany("INSERT INTO t(s) VALUES (?)", [("a",), ("bb",), ("ccc",), ("dddd",), ("e",)])
    conn.commit()
    conn.execute("BEGIN")
    conn.execute("INSERT INTO t(s) VALUES ('new')")
    with pytest.raises(sqlite3.OperationalError, match=r"^shout: trap: "):
        conn.execute("UPDATE t SET s = shout(s) || '!'")  # row 4 traps, after rows 1-3 were updated
    assert conn.in_transaction
    unchanged = ["a", "bb", "ccc", "dddd", "e", "new"]
    assert [r[0] for r in conn.execute("SELECT s FROM t ORDER BY id")] == unchanged
    conn.execute("UPDATE t SET s = shout(s) || '!' WHERE length(s) != 4")  # the plug-in still works
    conn.commit()
    with sqlite3.connect(conn.execute("PRAGMA database_list").fetchone()[2]) as other:
        assert [r[0] for r in other.execute("SELECT s FROM t ORDER BY id")] == [
            "a!", "bb!", "ccc!", "dddd", "e!", "new!"]


def test_a_failed_group_does_not_leak_into_the_next(conn: sqlite3.Connection, tmp_path: Path) -> None:
    register(conn, STATS, SQLFunction("median", kind="aggregate", returns="REAL"))
    register(conn, misbehaving(tmp_path), SQLFunction("bad", kind="aggregate"))
    conn.execute("CREATE TABLE t(x)")
    conn.executemany("INSERT INTO t VALUES (?)", [(1,), (2,), ("two and a half",), (100,)])
    with pytest.raises(sqlite3.OperationalError, match=r"^median: error: median: expects a number"):
        conn.execute("SELECT median(x) FROM t").fetchall()
    # The instance that saw 1 and 2 was renewed: a new group starts empty.
    assert conn.execute("SELECT median(x) FROM t WHERE x = 100").fetchone() == (100.0,)
    with pytest.raises(sqlite3.OperationalError, match=r"^bad: trap: "):
        conn.execute("SELECT bad('four') FROM t").fetchall()
    assert conn.execute("SELECT bad('ok') FROM t").fetchone() == ("",)


def test_groups_in_flight_are_bounded(conn: sqlite3.Connection) -> None:
    register(conn, STATS, SQLFunction("median", kind="aggregate", returns="REAL",
                                      limits=Limits(max_instances=2)))
    conn.execute("CREATE TABLE t(a, b, c)")
    conn.execute("INSERT INTO t VALUES (1, 2, 3)")
    assert conn.execute("SELECT median(a), median(b) FROM t").fetchone() == (1.0, 2.0)
    with pytest.raises(sqlite3.OperationalError, match=r"^median: limit: more than 2 groups at once"):
        conn.execute("SELECT median(a), median(b), median(c) FROM t").fetchall()
    assert conn.execute("SELECT median(a), median(c) FROM t").fetchone() == (1.0, 3.0)


def test_limits_are_per_function(conn: sqlite3.Connection, tmp_path: Path) -> None:
    wat = misbehaving(tmp_path)
    register(conn, wat, SQLFunction("quick", export="forever", limits=Limits(timeout_ms=20)),
             SQLFunction("slow", export="forever", limits=Limits(timeout_ms=300)),
             SQLFunction("counted", export="forever", limits=Limits(fuel_limit=10_000)))
    for name, ms in (("quick", 20), ("slow", 300)):
        with pytest.raises(sqlite3.OperationalError, match=re.escape(f"timeout_ms ({ms} ms)")):
            conn.execute(f"SELECT {name}('x')").fetchall()
    with pytest.raises(sqlite3.OperationalError, match=r"^counted: limit: .*fuel"):
        conn.execute("SELECT counted('x')").fetchall()


def test_outputs_are_bounded(conn: sqlite3.Connection, tmp_path: Path) -> None:
    register(conn, misbehaving(tmp_path), SQLFunction("echo"), max_output_bytes=1000)
    assert conn.execute("SELECT length(echo(hex(zeroblob(400))))").fetchone() == (800,)
    with pytest.raises(sqlite3.OperationalError, match=r"^echo: limit: .*max_output_bytes"):
        conn.execute("SELECT echo(hex(zeroblob(600)))").fetchall()


def test_defaults_bound_an_unlimited_manifest(conn: sqlite3.Connection, tmp_path: Path) -> None:
    from wasmplug.sql import DEFAULT_TIMEOUT_MS

    manifest = {"wasm": [{"path": str(misbehaving(tmp_path))}]}
    registration = register(conn, manifest, SQLFunction("forever"))
    assert registration.functions[0].plugin().compiled_plugin.manifest.timeout_ms == DEFAULT_TIMEOUT_MS
    with pytest.raises(sqlite3.OperationalError, match=rf"^forever: timeout: .*\({DEFAULT_TIMEOUT_MS} ms\)"):
        conn.execute("SELECT forever('x')").fetchall()
    assert isinstance(registration.functions[0].plugin(), wasmplug.Plugin)


def test_a_manifests_own_limits_are_kept_and_can_be_overridden(conn: sqlite3.Connection,
                                                              tmp_path: Path) -> None:
    manifest = {"wasm": [{"path": str(misbehaving(tmp_path))}], "timeout_ms": 30}
    register(conn, manifest, SQLFunction("own", export="forever"),
             SQLFunction("overridden", export="forever", limits=Limits(timeout_ms=60)))
    with pytest.raises(sqlite3.OperationalError, match=r"^own: timeout: .*\(30 ms\)"):
        conn.execute("SELECT own('x')").fetchall()
    with pytest.raises(sqlite3.OperationalError, match=r"^overridden: timeout: .*\(60 ms\)"):
        conn.execute("SELECT overridden('x')").fetchall()

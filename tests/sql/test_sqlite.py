"""wasmplug.sql on real SQLite: scalar, aggregate and window functions, the value mapping."""

from __future__ import annotations

import json
import sqlite3
import statistics
from collections.abc import Iterator
from pathlib import Path

import pytest

import wasmplug
from wasmplug.sql import SQLFunction, register

from .conftest import STATS, TEXT, misbehaving


@pytest.fixture(params=["c", "python"])
def api(request: pytest.FixtureRequest) -> str:
    """Both registration paths: SQLite's C API and the public sqlite3 API."""
    return str(request.param)


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    yield connection
    connection.close()


def test_scalar_counts_vowels_row_by_row(conn: sqlite3.Connection, api: str) -> None:
    done = register(conn, TEXT, SQLFunction("count_vowels", returns="INTEGER"), c_api=api == "c")
    assert done.apis == {"count_vowels": api}
    conn.execute("CREATE TABLE users(name TEXT)")
    names = ["Ada Lovelace", "Grace Hopper", "", "Édouard", "Alan Turing"]
    conn.executemany("INSERT INTO users VALUES (?)", [(n,) for n in names])
    got = [row[0] for row in conn.execute("SELECT count_vowels(name) FROM users ORDER BY rowid")]
    assert got == [sum(c in "aeiouAEIOU" for c in n) for n in names]
    # NULL in -> NULL out (strict); an INTEGER argument arrives as its decimal text.
    assert conn.execute("SELECT count_vowels(NULL), count_vowels(4242), typeof(count_vowels('a'))"
                        ).fetchone() == (None, 0, "integer")


def test_deterministic_functions_can_be_indexed(conn: sqlite3.Connection, api: str) -> None:
    register(conn, TEXT, SQLFunction("cv_det", export="count_vowels", returns="INTEGER",
                                     deterministic=True),
             SQLFunction("cv_any", export="count_vowels", returns="INTEGER"), c_api=api == "c")
    conn.execute("CREATE TABLE t(s TEXT)")
    conn.execute("CREATE INDEX by_vowels ON t(cv_det(s))")
    with pytest.raises(sqlite3.OperationalError, match="non-deterministic"):
        conn.execute("CREATE INDEX by_vowels_2 ON t(cv_any(s))")
    conn.executemany("INSERT INTO t VALUES (?)", [("aaa",), ("b",), ("ee",)])
    assert conn.execute("SELECT s FROM t WHERE cv_det(s) = 2").fetchall() == [("ee",)]


def test_arguments_and_results_follow_the_documented_mapping(conn: sqlite3.Connection, tmp_path: Path,
                                                            api: str) -> None:
    wat = misbehaving(tmp_path)
    register(conn, wat, SQLFunction("echo_text", export="echo", nargs=-1, strict=False),
             SQLFunction("echo_blob", export="echo", returns="BLOB"),
             SQLFunction("echo_int", export="echo", returns="INTEGER"),
             SQLFunction("echo_real", export="echo", returns="REAL"),
             SQLFunction("echo_json", export="echo", returns="JSON", nargs=-1, strict=False),
             SQLFunction("echo_args", export="echo", args="json", strict=False),
             c_api=api == "c")
    one = conn.execute("SELECT echo_text('héllo'), echo_text(x'6869'), echo_text(12), echo_text(2.5), "
                       "echo_text(NULL), echo_text()").fetchone()
    assert one == ("héllo", "hi", "12", "2.5", "", "")
    assert conn.execute("SELECT echo_blob(x'00ff')").fetchone() == (b"\x00\xff",)
    several = conn.execute("SELECT echo_text('a', 1, 1.5, NULL, x'0102')").fetchone()[0]
    assert json.loads(several) == ["a", 1, 1.5, None, {"base64": "AQI="}]
    assert conn.execute("SELECT echo_args('solo')").fetchone() == ('["solo"]',)
    assert conn.execute("SELECT echo_int(' -42 '), echo_real('1e3'), echo_int(''), echo_real('')"
                        ).fetchone() == (-42, 1000.0, None, None)
    typed = conn.execute("SELECT echo_json('null'), echo_json('true'), echo_json('7'), "
                         "echo_json('7.5'), echo_json('\"s\"'), echo_json('[1, 2]'), "
                         "typeof(echo_json('7'))").fetchone()
    assert typed == (None, 1, 7, 7.5, "s", "[1, 2]", "integer")


def test_one_argument_fast_paths_keep_the_mapping(conn: sqlite3.Connection, tmp_path: Path,
                                                   api: str) -> None:
    """The one-argument paths read TEXT in one C call up to a NUL and read a decimal answer
    without decode(): a NUL inside the text, and answers that are not plain digits, still map
    as documented."""
    register(conn, misbehaving(tmp_path), SQLFunction("echo_blob", export="echo", returns="BLOB"),
             SQLFunction("echo_int", export="echo", returns="INTEGER"), c_api=api == "c")
    assert conn.execute("SELECT echo_blob(char(97, 0, 98)), echo_blob('héllo'), echo_blob(x'')"
                        ).fetchone() == (b"a\x00b", "héllo".encode(), b"")
    assert conn.execute("SELECT echo_int('123456789012345678'), echo_int('0042'), "
                        "echo_int('9223372036854775807'), echo_int('+5'), echo_int('-0')"
                        ).fetchone() == (123456789012345678, 42, 2**63 - 1, 5, 0)
    for bad in ("9223372036854775808", "٣", "1_000", "4 2"):
        with pytest.raises(sqlite3.OperationalError):
            conn.execute("SELECT echo_int(?)", (bad,)).fetchone()


def test_aggregate_keeps_its_state_in_the_plugin_per_group(conn: sqlite3.Connection, api: str) -> None:
    register(conn, STATS, SQLFunction("median", kind="aggregate", returns="REAL"), c_api=api == "c")
    conn.execute("CREATE TABLE t(g INTEGER, x REAL, y REAL)")
    rows = [(i % 3, (i * 37) % 101, i * 0.5) for i in range(60)]
    conn.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    by_group = dict(conn.execute("SELECT g, median(x) FROM t GROUP BY g").fetchall())
    assert by_group == {g: statistics.median(x for gg, x, _ in rows if gg == g) for g in range(3)}
    # Two groups in flight at once (two aggregates in one row) do not mix.
    assert conn.execute("SELECT median(x), median(y) FROM t").fetchone() == (
        statistics.median(r[1] for r in rows), statistics.median(r[2] for r in rows))
    assert conn.execute("SELECT median(x) FROM t WHERE x < 0").fetchone() == (None,)
    # The same function again: the instances were handed back ready for new groups.
    assert conn.execute("SELECT median(x) FROM t WHERE g = 1").fetchone() == (by_group[1],)


def test_window_function_moving_average(conn: sqlite3.Connection, api: str) -> None:
    register(conn, STATS, SQLFunction("moving_avg", kind="window", returns="REAL"), c_api=api == "c")
    conn.execute("CREATE TABLE prices(day INTEGER, sym TEXT, price REAL)")
    data = [(d, s, float((d * 7 + len(s)) % 13)) for s in ("AB", "XYZ") for d in range(20)]
    conn.executemany("INSERT INTO prices VALUES (?, ?, ?)", data)
    got = conn.execute("SELECT sym, day, moving_avg(price) OVER (PARTITION BY sym ORDER BY day "
                       "ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM prices ORDER BY sym, day").fetchall()
    expected = []
    for sym in ("AB", "XYZ"):
        prices = [p for _, s, p in data if s == sym]
        for day in range(20):
            frame = prices[max(0, day - 2):day + 1]
            expected.append((sym, day, sum(frame) / len(frame)))
    assert [(s, d, pytest.approx(v)) for s, d, v in got] == expected
    # As a plain aggregate too (step + final).
    assert conn.execute("SELECT moving_avg(price) FROM prices").fetchone()[0] == pytest.approx(
        statistics.mean(p for *_, p in data))


def test_register_refuses_what_cannot_work(conn: sqlite3.Connection, tmp_path: Path) -> None:
    with pytest.raises(wasmplug.Error, match="does not export median_inverse, median_value"):
        register(conn, STATS, SQLFunction("median", kind="window"))
    with pytest.raises(wasmplug.Error, match="batch functions are for DuckDB"):
        register(conn, TEXT, SQLFunction("count_vowels_batch", kind="batch", returns="INTEGER"))
    with pytest.raises(wasmplug.Error, match="not a plain SQL identifier"):
        SQLFunction("drop table x; --")
    with pytest.raises(wasmplug.Error, match="unknown result type"):
        SQLFunction("f", returns="DATE")
    with pytest.raises(wasmplug.Error, match="keeps its own limits"):
        register(conn, wasmplug.Plugin(TEXT), "count_vowels", timeout_ms=5)
    with pytest.raises(wasmplug.Error, match="expected a sqlite3 or duckdb connection"):
        register(object(), TEXT, "count_vowels")


def test_a_given_plugin_instance_is_used_as_is(conn: sqlite3.Connection) -> None:
    plugin = wasmplug.Plugin(TEXT)
    register(conn, plugin, SQLFunction("count_vowels", returns="INTEGER"))
    assert conn.execute("SELECT count_vowels('aeiou')").fetchone() == (5,)
    assert plugin.call("count_vowels", "oo") == b"2"


def test_functions_outlive_nothing_after_the_connection_closes(tmp_path: Path) -> None:
    # Registration ties the callbacks to the connection: closing and collecting it is safe,
    # and a new connection can register the same names again.
    import gc

    for _ in range(20):
        connection = sqlite3.connect(str(tmp_path / "db.sqlite"))
        register(connection, TEXT, SQLFunction("count_vowels", returns="INTEGER"))
        register(connection, TEXT, SQLFunction("count_vowels", returns="INTEGER"))  # replaced
        assert connection.execute("SELECT count_vowels('abc')").fetchone() == (1,)
        connection.close()
        del connection
        gc.collect()

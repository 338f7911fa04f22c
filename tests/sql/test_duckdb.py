"""wasmplug.sql on real DuckDB: row-by-row functions and batch (vectorised) functions."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wasmplug
from wasmplug.sql import Limits, SQLFunction, WrongResultType, register
from wasmplug.sql import batch as batch_format
from wasmplug.sql.values import ResultType

from .conftest import STATS, TEXT, misbehaving


def vowels(text: str) -> int:
    return sum(c in "aeiouAEIOU" for c in text)


@pytest.fixture
def conn() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


def test_row_and_batch_functions_agree_with_python(conn: duckdb.DuckDBPyConnection) -> None:
    done = register(conn, TEXT, SQLFunction("count_vowels", returns="INTEGER"),
                    SQLFunction("count_vowels_batch", kind="batch", returns="INTEGER"))
    assert done.apis == {"count_vowels": "row", "count_vowels_batch": "batch"}
    conn.execute("CREATE TABLE users AS SELECT CASE WHEN i % 7 = 0 THEN NULL "
                 "ELSE 'user ' || i || ' Ünïcode aeiou' END AS name FROM range(10000) t(i)")
    names = [r[0] for r in conn.execute("SELECT name FROM users ORDER BY rowid").fetchall()]
    expected = [None if n is None else vowels(n) for n in names]
    rows = conn.execute("SELECT count_vowels(name), count_vowels_batch(name) FROM users ORDER BY rowid"
                        ).fetchall()
    assert [r[0] for r in rows] == expected
    assert [r[1] for r in rows] == expected


def test_a_batch_is_one_call_per_vector(conn: duckdb.DuckDBPyConnection) -> None:
    registration = register(conn, TEXT, SQLFunction("count_vowels_batch", kind="batch", returns="INTEGER"))
    source = registration.functions[0].source
    calls = []
    new_plugin = source.new_plugin

    def counted_plugin(limits: Limits) -> wasmplug.Plugin:  # the instances batches run on
        plugin = new_plugin(limits)
        original = plugin.prepare

        def prepare(name: str) -> Callable[[bytes], bytes]:  # batches go through a prepared call
            call = original(name)

            def counting(data: bytes) -> bytes:
                calls.append(struct.unpack_from("<I", data)[0])
                return call(data)
            return counting

        plugin.prepare = prepare  # type: ignore[method-assign,assignment]
        return plugin

    source.new_plugin = counted_plugin  # type: ignore[method-assign]
    total = conn.execute("SELECT sum(count_vowels_batch('ab' || i)) FROM range(100000) t(i)").fetchone()
    assert total == (100000,)
    assert sum(calls) == 100000
    assert len(calls) <= 100000 // 2048 + 2  # thousands of rows per plug-in call, not one


def test_failures_are_duckdb_errors_naming_function_and_reason(conn: duckdb.DuckDBPyConnection,
                                                               tmp_path: Path) -> None:
    register(conn, misbehaving(tmp_path), SQLFunction("f_trap", export="trap"),
             SQLFunction("f_timeout", export="forever", kind="batch"),
             SQLFunction("f_echo_batch", export="echo", kind="batch", returns="INTEGER"),
             SQLFunction("f_int", export="echo", returns="INTEGER"), SQLFunction("echo"),
             timeout_ms=50)
    cases = [("f_trap('x')", "f_trap: trap: wasm trap: wasm `unreachable`"),
             ("f_timeout('x')", "f_timeout: timeout: "),
             ("f_echo_batch('x')", "f_echo_batch: wrong result type: "),
             ("f_int('eleven')", "f_int: wrong result type: expected an INTEGER")]
    for expression, message in cases:
        with pytest.raises(duckdb.Error, match=message.replace("(", r"\(")):
            conn.execute(f"SELECT {expression}").fetchall()
        assert conn.execute("SELECT echo('still fine')").fetchall() == [("still fine",)]


def test_duckdb_refuses_aggregates_with_a_clear_error(conn: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(wasmplug.Error, match="DuckDB has no Python aggregate functions"):
        register(conn, STATS, SQLFunction("median", kind="aggregate"))


def test_numbers_and_blobs_travel_in_batches(conn: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    # The batch encoding of every column type, checked against a plug-in that echoes
    # its input: the answer to an int64 column is read back as the same column.
    ints = pa.array([1, None, -(2**63), 2**63 - 1], pa.int64())
    data = batch_format.encode([ints])
    n, columns = struct.unpack_from("<II", data)
    assert (n, columns) == (4, 1)
    echoed = batch_format.decode(struct.pack("<I", 4) + data[8:], 4, ResultType.INTEGER)
    assert echoed.to_pylist() == [1, None, -(2**63), 2**63 - 1]
    floats = pa.array([0.5, 1e300], pa.float64()).slice(1)  # an offset into the buffer
    echoed = batch_format.decode(struct.pack("<I", 1) + batch_format.encode([floats])[8:], 1,
                                 ResultType.REAL)
    assert echoed.to_pylist() == [1e300]
    texts = pa.array(["skip", "héllo", None, ""]).slice(1)
    echoed = batch_format.decode(struct.pack("<I", 3) + batch_format.encode([texts])[8:], 3,
                                 ResultType.TEXT)
    assert echoed.to_pylist() == ["héllo", None, ""]


BAD_ANSWERS = [
    (b"", "at least 12 bytes"),
    (struct.pack("<III", 3, 1, 0) + bytes(16), "has 3 rows for 2"),
    (struct.pack("<III", 2, 2, 0) + bytes(16), "type 2, expected 1"),
    (struct.pack("<III", 2, 1, 5) + bytes(21), "validity of 5 bytes"),
    (struct.pack("<III", 2, 1, 0) + bytes(15), "15 bytes of values for 2 rows"),
]
BAD_TEXT_ANSWERS = [
    (struct.pack("<III", 2, 3, 0) + struct.pack("<iii", 0, 1, 9) + struct.pack("<I", 2) + b"ab",
     "not a valid column"),
    (struct.pack("<III", 2, 3, 0) + struct.pack("<iii", 0, 1, 2) + struct.pack("<I", 2) + b"a\xff",
     "not a valid column"),
    (struct.pack("<III", 2, 3, 0) + struct.pack("<iii", 0, 1, 2) + struct.pack("<I", 7) + b"ab",
     "does not match"),
]


@pytest.mark.parametrize(("answer", "message"), BAD_ANSWERS)
def test_a_hostile_batch_answer_is_refused(answer: bytes, message: str) -> None:
    with pytest.raises(WrongResultType, match=message):
        batch_format.decode(answer, 2, ResultType.INTEGER)


@pytest.mark.parametrize(("answer", "message"), BAD_TEXT_ANSWERS)
def test_a_hostile_text_batch_answer_is_refused(answer: bytes, message: str) -> None:
    with pytest.raises(WrongResultType, match=message):
        batch_format.decode(answer, 2, ResultType.TEXT)


def test_null_handling_follows_strict(conn: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    register(conn, misbehaving(tmp_path), SQLFunction("echo_strict", export="echo"),
             SQLFunction("echo_lenient", export="echo", strict=False))
    assert conn.execute("SELECT echo_strict(NULL), echo_lenient(NULL), echo_lenient('x')").fetchall() == [
        (None, "", "x")]


def test_chunked_columns_encode_as_their_values() -> None:
    """DuckDB hands over one-chunk ChunkedArrays (taken without a copy); several chunks, and a
    chunk that is a slice of a larger array, encode the same values."""
    values = ["ab", None, "Ünï", "", "xyz"] * 3
    plain = batch_format.encode([pa.array(values)])
    assert batch_format.encode([pa.chunked_array([pa.array(values)])]) == plain
    assert batch_format.encode([pa.chunked_array([pa.array(values[:4]), pa.array(values[4:])])]) == plain
    sliced = batch_format.encode([pa.chunked_array([pa.array(["pad", *values])[1:]])])
    assert sliced != plain  # Arrow's offsets as they are (they start at 3 here): same values
    with wasmplug.Plugin(TEXT) as plugin:
        answers = [batch_format.decode(plugin.call("count_vowels_batch", data), len(values),
                                       ResultType.INTEGER).to_pylist() for data in (plain, sliced)]
    assert answers[0] == answers[1] == [None if v is None else vowels(v) for v in values]


_texts = st.lists(st.one_of(st.none(), st.text(max_size=200),
                            st.text(alphabet="aeiouAEIOUxyz \u00e9\u00dc\x00", max_size=150)),
                  min_size=1, max_size=300)


@settings(max_examples=60, deadline=None, database=None)
@given(values=_texts, pad=st.integers(0, 70))
def test_the_batch_counter_agrees_with_python_on_any_text(values: list[str | None], pad: int) -> None:
    """text.wasm's batch export counts a whole vector with SIMD and population counts over
    word-aligned bitmaps: rows that start and end anywhere in a word, span several words,
    sit in the data's unaligned tail, are empty or NULL, all count as Python counts them
    (`pad` shifts the data's start: Arrow offsets need not begin at 0)."""
    column = pa.array(["p" * pad, *values])[1:]
    with wasmplug.Plugin(TEXT) as plugin:
        answer: bytes = plugin.call("count_vowels_batch", batch_format.encode([column]))
    counts = batch_format.decode(answer, len(values), ResultType.INTEGER).to_pylist()
    assert counts == [None if v is None else vowels(v) for v in values]


def test_concurrent_batch_calls_share_at_most_max_instances(conn: duckdb.DuckDBPyConnection) -> None:
    """Calls from many threads at once each get an instance of their own, never more than
    `max_instances` (the others wait for one to come back), and all answer right."""
    import threading

    registration = register(conn, TEXT, SQLFunction("count_vowels_batch", kind="batch", returns="INTEGER"),
                            max_instances=3)
    bound = registration.functions[0]
    most = 0
    busy = 0
    lock = threading.Lock()
    original = bound.checkout

    def counting_checkout() -> wasmplug.PreparedCall:
        nonlocal busy, most
        call = original()
        with lock:
            busy += 1
            most = max(most, busy)
        return call

    def counting_checkin(call: wasmplug.PreparedCall) -> None:
        nonlocal busy
        with lock:
            busy -= 1
        type(bound).checkin(bound, call)

    bound.checkout = counting_checkout  # type: ignore[method-assign]
    bound.checkin = counting_checkin  # type: ignore[method-assign]
    column = pa.array([f"row {i} aeiou" * (i % 5) for i in range(300)])
    data = batch_format.encode([column])
    expected = [vowels(v) for v in column.to_pylist()]
    failures: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(40):
                answer = bound.call_pooled(data)
                assert batch_format.decode(answer, 300, ResultType.INTEGER).to_pylist() == expected
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures[0]
    assert not any(thread.is_alive() for thread in threads)
    assert most <= 3 and bound._instances <= 3
    # With all three busy, a fourth caller waits for one to come back, and gets that one.
    del bound.checkout, bound.checkin  # (the counting wrappers)
    held = [bound.checkout() for _ in range(3)]
    assert bound._instances == 3 and len({id(call) for call in held}) == 3
    got: list[wasmplug.PreparedCall] = []
    waiter = threading.Thread(target=lambda: got.append(bound.checkout()))
    waiter.start()
    bound.checkin(held[0])
    waiter.join(timeout=60)
    assert got == [held[0]] and bound._instances == 3

"""Plug-in instances running at once on DuckDB's own worker threads: a standalone reproducer.

    python tests/sql/duckdb_threads.py [--threads N] [--rows N] [--rounds N] [--thread-local]

DuckDB runs a query's vectors on its worker threads (C++ threads Python never
started). This script registers `count_vowels_batch` (one call per vector) and
`count_vowels` (one call per row) from plugins/sql/text.wasm on a table large
enough to be split, runs them `--rounds` times with `SET threads = N`, checks
every sum against DuckDB's own count, and makes plug-ins trap on those threads
(an out-of-bounds load, caught through wasmtime's signal handler, and a stack
overflow). It prints one JSON line: the sums, how many instances the batch
function made (more than one means two calls overlapped: a new instance is
made only while every existing one is busy), which threads ran the calls, and
the trap messages. Exit status 0 when everything is right.

`--thread-local` runs the pattern that crashed instead: an Arrow UDF keeping a
plug-in per thread in a `threading.local`. On a DuckDB thread each call gets a
new Python thread state that is cleared when the call returns, so the plug-in
is freed inside `PyThreadState_Clear`; freeing its wasmtime store calls back
into Python (a ctypes callback: a nested PyGILState_Ensure/Release on the
thread state being cleared), and CPython 3.11 dies of SIGSEGV.
`--thread-local-ctypes` shows the same without wasmplug: a thread-local whose
`__del__` sorts three numbers with libc's `qsort` and a ctypes comparison.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import sys
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TEXT = ROOT / "plugins" / "sql" / "text.wasm"
TRAPS = """
(module
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (memory 1)
  (func (export "oob") (result i32) (i32.load (i32.const 0x7ffffff0)))
  (func $deep (param i64) (result i64) (i64.add (call $deep (i64.add (local.get 0) (i64.const 1)))
                                               (local.get 0)))
  (func (export "deep") (result i32) (drop (call $deep (call $input_length))) (i32.const 0)))
"""
VOWELS = "length(s) - length(regexp_replace(s, '[aeiouAEIOU]', '', 'g'))"


def table(conn: Any, rows: int) -> None:
    conn.execute(f"CREATE TABLE t AS SELECT 'user ' || i || ' ' || (['Ada Lovelace', 'Grace Hopper', "
                 f"'Ünïcödé'])[i % 3 + 1] AS s FROM range({rows}) r(i)").fetchall()


def thread_local_pattern(conn: Any, rounds: int) -> dict[str, Any]:
    """The crashing pattern: a plug-in per thread in a threading.local."""
    import duckdb

    from wasmplug import Plugin
    from wasmplug.sql import batch
    from wasmplug.sql.values import ResultType

    local = threading.local()

    def count(column: Any) -> Any:
        call = getattr(local, "call", None)
        if call is None:
            call = local.call = Plugin(TEXT).prepare("count_vowels_batch")
        return batch.decode(call(batch.encode([column])), len(column), ResultType.INTEGER)

    conn.create_function("cv", count, [duckdb.sqltype("VARCHAR")], duckdb.sqltype("BIGINT"), type="arrow")
    return {"sums": [conn.execute("SELECT sum(cv(s)) FROM t").fetchall()[0][0] for _ in range(rounds)]}


def thread_local_ctypes(conn: Any, rounds: int) -> dict[str, Any]:
    """The same crash without wasmplug or wasmtime: a ctypes callback in a thread-local's `__del__`."""
    import ctypes

    import duckdb
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    libc = ctypes.CDLL(None)
    compare = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))(
        lambda a, b: a[0] - b[0])
    local = threading.local()

    class Held:
        def __del__(self) -> None:
            numbers = (ctypes.c_int * 3)(3, 1, 2)
            libc.qsort(numbers, 3, ctypes.sizeof(ctypes.c_int), compare)

    def count(column: Any) -> Any:
        if getattr(local, "held", None) is None:
            local.held = Held()
        return pc.utf8_length(column).cast(pa.int64())

    conn.create_function("n", count, [duckdb.sqltype("VARCHAR")], duckdb.sqltype("BIGINT"), type="arrow")
    return {"sums": [conn.execute("SELECT sum(n(s)) FROM t").fetchall()[0][0] for _ in range(rounds)]}


def pooled(conn: Any, rounds: int, tmp: Path, max_instances: int | None) -> dict[str, Any]:
    """wasmplug.sql's functions: an instance per concurrent call, from a free list."""
    import duckdb

    from wasmplug.sql import SQLFunction, functions, register

    threads: set[str] = set()
    trapped_on: set[str] = set()
    original = functions.Bound.call_pooled

    def noting(self: functions.Bound, data: bytes) -> bytes:  # which threads call (main or DuckDB's)
        thread = "main" if threading.current_thread() is threading.main_thread() else "duckdb"
        threads.add(thread)
        try:
            return original(self, data)
        except functions.SQLFunctionError:
            trapped_on.add(thread)
            raise

    functions.Bound.call_pooled = noting  # type: ignore[method-assign]
    registration = register(conn, TEXT, SQLFunction("cv_batch", export="count_vowels_batch", kind="batch",
                                                    returns="INTEGER"),
                            SQLFunction("cv_row", export="count_vowels", returns="INTEGER"),
                            max_instances=max_instances)
    sums = [list(conn.execute("SELECT sum(cv_batch(s)), sum(cv_row(s)) FROM t").fetchall()[0])
            for _ in range(rounds)]
    wat = tmp / "traps.wat"
    wat.write_text(TRAPS)
    register(conn, wat, SQLFunction("oob", kind="batch"), SQLFunction("deep", kind="batch"), timeout_ms=5000)
    traps: dict[str, list[str]] = {"oob": [], "deep": []}
    trapped_on_duckdb: dict[str, bool] = {}
    for name, messages in traps.items():  # until one of DuckDB's threads has trapped (at most 40 tries)
        trapped_on.clear()
        while len(messages) < 40 and not (len(messages) >= 3 and "duckdb" in trapped_on):
            try:
                conn.execute(f"SELECT count({name}(s)) FROM t").fetchall()
                messages.append("no error")
            except duckdb.Error as exc:
                message = str(exc).splitlines()[0]
                messages.append(message[message.index(f"{name}: "):] if f"{name}: " in message else message)
        trapped_on_duckdb[name] = "duckdb" in trapped_on
    return {"sums": sums, "instances": registration.functions[0]._instances,
            "row_instances": registration.functions[1]._instances, "threads": sorted(threads),
            "traps": traps, "trapped_on_duckdb": trapped_on_duckdb,
            "still_works": conn.execute("SELECT cv_batch('aeiou')").fetchall()[0][0]}


def main() -> int:
    import tempfile

    import duckdb

    faulthandler.enable()
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--max-instances", type=int, default=None)
    parser.add_argument("--thread-local", action="store_true")
    parser.add_argument("--thread-local-ctypes", action="store_true")
    args = parser.parse_args()
    conn = duckdb.connect()
    conn.execute(f"SET threads = {args.threads}").fetchall()
    table(conn, args.rows)
    ((expected,),) = conn.execute(f"SELECT sum({VOWELS}) FROM t").fetchall()
    if args.thread_local_ctypes:
        report = thread_local_ctypes(conn, args.rounds)
        ok = len(set(report["sums"])) == 1
    elif args.thread_local:
        report = thread_local_pattern(conn, args.rounds)
        ok = report["sums"] == [expected] * args.rounds
    else:
        with tempfile.TemporaryDirectory() as tmp:
            report = pooled(conn, args.rounds, Path(tmp), args.max_instances)
        ok = (report["sums"] == [[expected, expected]] * args.rounds and report["still_works"] == 5
              and all(m.startswith(f"{name}: trap: wasm trap: ") for name in ("oob", "deep")
                      for m in report["traps"][name]))
    report["expected"] = expected
    print(json.dumps(report), flush=True)
    conn.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

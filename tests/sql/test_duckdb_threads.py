"""Plug-in functions on DuckDB's own worker threads, several instances at once.

DuckDB runs a query's vectors on its C++ worker threads. Keeping a plug-in per
thread in a `threading.local` crashed the process (SIGSEGV: on those threads a
Python thread state lives for one call, and the plug-in was freed inside its
`PyThreadState_Clear`); `tests/sql/duckdb_threads.py` reproduces both. These
tests run it in a subprocess (a crash must fail the test, not kill pytest).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).with_name("duckdb_threads.py")


def run(*args: str, timeout: float = 240) -> tuple[int, dict[str, Any] | None, str]:
    done = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=timeout)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return done.returncode, json.loads(lines[-1]) if lines else None, done.stderr[-3000:]


@pytest.mark.timeout(300)
def test_instances_run_at_once_on_duckdbs_threads_and_trap_safely() -> None:
    rc, report, stderr = run("--threads", "2", "--rows", "400000", "--rounds", "2")
    assert rc == 0, f"exit status {rc}; report {report}; stderr:\n{stderr}"
    assert report is not None
    expected = report["expected"]
    assert expected == 2_133_336  # the table's vowels, as DuckDB counts them itself
    assert report["sums"] == [[expected, expected]] * 2  # batch and row functions, each round
    assert "duckdb" in report["threads"]  # calls came from DuckDB's worker threads
    assert report["instances"] >= 2  # a second instance is made only while the first is busy
    # Traps caught by wasmtime's signal handler (an out-of-bounds load) and its stack check
    # work on DuckDB's threads too: SQL errors naming the function, the process goes on.
    assert report["trapped_on_duckdb"] == {"oob": True, "deep": True}
    assert set(report["traps"]["oob"]) == {"oob: trap: wasm trap: out of bounds memory access"}
    assert set(report["traps"]["deep"]) == {"deep: trap: wasm trap: call stack exhausted"}
    assert report["still_works"] == 5


@pytest.mark.timeout(300)
def test_max_instances_bounds_the_instances_duckdbs_threads_make() -> None:
    rc, report, stderr = run("--threads", "2", "--rows", "400000", "--rounds", "1", "--max-instances", "1")
    assert rc == 0, f"exit status {rc}; report {report}; stderr:\n{stderr}"
    assert report is not None
    assert report["sums"] == [[report["expected"]] * 2]
    assert report["instances"] == 1  # the other thread waited for it

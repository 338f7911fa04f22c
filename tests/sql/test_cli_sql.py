"""`wasmplug sql`: queries with plug-in functions from the shell, on real SQLite and DuckDB files."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from .conftest import STATS, TEXT, misbehaving


def wasmplug_sql(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmplug", "sql", *args], capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.fixture
def users(tmp_path: Path) -> Path:
    path = tmp_path / "users.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users(name TEXT, age INTEGER)")
        conn.executemany("INSERT INTO users VALUES (?, ?)",
                         [("Ada", 36), ("Grace", 85), ("Alan", 41), ("Edsger", 72)])
    return path


def test_a_table_of_results(users: Path) -> None:
    done = wasmplug_sql(str(users), "SELECT name, count_vowels(name) AS vowels FROM users ORDER BY name",
                        "--function", f"count_vowels={TEXT}", "--returns", "count_vowels=INTEGER")
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if "Grace" in line or "vowels" in line]
    assert "vowels" in lines[0] and "Grace" in lines[1] and "2" in lines[1]


def test_json_and_csv_with_an_aggregate_and_a_named_export(users: Path) -> None:
    query = "SELECT median(age) AS m, vowels(min(name)) AS v FROM users"
    common = ["--aggregate", f"median={STATS}", "--returns", "median=REAL",
              "--function", f"vowels={TEXT}:count_vowels", "--returns", "vowels=INTEGER"]
    done = wasmplug_sql(str(users), query, *common, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"m": 56.5, "v": 2}]
    done = wasmplug_sql(str(users), query, *common, "--csv")
    assert list(csv.reader(io.StringIO(done.stdout))) == [["m", "v"], ["56.5", "2"]]


def test_duckdb_engine_with_a_batch_function(tmp_path: Path) -> None:
    path = tmp_path / "data.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE words AS SELECT 'word ' || i AS w FROM range(5000) t(i)")
    done = wasmplug_sql(str(path), "SELECT sum(cv(w)) AS total FROM words", "--engine", "duckdb",
                        "--batch", f"cv={TEXT}:count_vowels_batch", "--returns", "cv=INTEGER", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"total": 5000}]


def test_a_failing_function_exits_1_naming_it_and_the_reason(users: Path, tmp_path: Path) -> None:
    done = wasmplug_sql(str(users), "SELECT spin(name) FROM users", "--function",
                        f"spin={misbehaving(tmp_path)}:forever", "--timeout", "30")
    assert done.returncode == 1
    assert "spin: timeout: the call ran longer than timeout_ms (30 ms)" in done.stderr


def test_usage_and_load_errors(users: Path, tmp_path: Path) -> None:
    done = wasmplug_sql(str(users), "SELECT 1", "--function", "no-plugin-given")
    assert done.returncode == 2 and "NAME=PLUGIN[:EXPORT]" in done.stderr
    done = wasmplug_sql(str(users), "SELECT 1", "--returns", "ghost=TEXT")
    assert done.returncode == 2 and "ghost is not a function" in done.stderr
    done = wasmplug_sql(str(users), "SELECT 1", "--function", f"f={tmp_path / 'missing.wasm'}")
    assert done.returncode == 3 and "missing.wasm" in done.stderr
    done = wasmplug_sql(str(users), "SELECT 1", "--function", f"f={TEXT}:no_such_export")
    assert done.returncode == 3 and "does not export no_such_export" in done.stderr


def test_read_only_refuses_writes(users: Path) -> None:
    done = wasmplug_sql(str(users), "DELETE FROM users", "--read-only")
    assert done.returncode == 1 and "readonly" in done.stderr
    with sqlite3.connect(users) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (4,)

"""The TOML file of SQL plug-ins: what it registers, and how it refuses a hostile file."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

import wasmplug
from wasmplug.sql import FunctionsFileError, load_file, parse_file
from wasmplug.sql.config import MAX_FILE_BYTES, MAX_FUNCTIONS, MAX_PLUGINS

from ..http_server import serve
from .conftest import STATS, TEXT, misbehaving

TEXT_SHA = hashlib.sha256(TEXT.read_bytes()).hexdigest()


def functions_file(tmp_path: Path) -> Path:
    shutil.copy(TEXT, tmp_path / "text.wasm")
    path = tmp_path / "wasmplug-sql.toml"
    path.write_text(f"""
[[plugin]]
path = "text.wasm"            # next to this file
hash = "{TEXT_SHA}"
timeout_ms = 500

[[plugin.function]]
name = "count_vowels"
returns = "INTEGER"
deterministic = true

[[plugin]]
path = "{STATS}"
[[plugin.function]]
name = "median"
kind = "aggregate"
returns = "REAL"
[[plugin.function]]
name = "moving_avg"
kind = "window"
returns = "REAL"
max_instances = 4
""")
    return path


def test_a_file_registers_its_functions_on_sqlite_and_duckdb(tmp_path: Path) -> None:
    functions = load_file(functions_file(tmp_path))
    assert functions.function_names == ["count_vowels", "median", "moving_avg"]
    conn = sqlite3.connect(":memory:")
    functions.register(conn)
    assert conn.execute("SELECT count_vowels('banana'), median(x) FROM (SELECT 1 x UNION SELECT 9)"
                        ).fetchone() == (3, 5.0)
    other = sqlite3.connect(":memory:")  # a second connection reuses the compiled plug-ins
    functions.register(other)
    assert other.execute("SELECT count_vowels('ee')").fetchone() == (2,)
    ddb = duckdb.connect()
    registered = functions.register(ddb)  # DuckDB takes the scalar; aggregates are SQLite's
    assert [list(r.apis) for r in registered] == [["count_vowels"]]
    assert ddb.execute("SELECT count_vowels('aaa')").fetchall() == [(3,)]


def test_limits_from_the_file_apply(tmp_path: Path) -> None:
    shutil.copy(misbehaving(tmp_path), tmp_path / "bad.wat")
    path = tmp_path / "f.toml"
    path.write_text('[[plugin]]\npath = "bad.wat"\ntimeout_ms = 40\n'
                    '[[plugin.function]]\nname = "spin"\nexport = "forever"\n'
                    '[[plugin.function]]\nname = "spin_briefly"\nexport = "forever"\ntimeout_ms = 15\n')
    conn = sqlite3.connect(":memory:")
    load_file(path).register(conn)
    with pytest.raises(sqlite3.OperationalError, match=r"^spin: timeout: .*\(40 ms\)"):
        conn.execute("SELECT spin('x')").fetchall()
    with pytest.raises(sqlite3.OperationalError, match=r"^spin_briefly: timeout: .*\(15 ms\)"):
        conn.execute("SELECT spin_briefly('x')").fetchall()


def test_a_url_is_fetched_only_with_the_right_hash(tmp_path: Path) -> None:
    shutil.copy(TEXT, tmp_path / "text.wasm")
    with serve(tmp_path) as base:
        good = parse_file(f'[[plugin]]\nurl = "{base}/file/text.wasm"\nhash = "{TEXT_SHA}"\n'
                          '[[plugin.function]]\nname = "count_vowels"\nreturns = "INTEGER"\n')
        conn = sqlite3.connect(":memory:")
        good.register(conn)
        assert conn.execute("SELECT count_vowels('queue')").fetchone() == (4,)
        wrong = parse_file(f'[[plugin]]\nurl = "{base}/file/text.wasm"\nhash = "{"0" * 64}"\n'
                           '[[plugin.function]]\nname = "count_vowels"\n')
        with pytest.raises(wasmplug.Error, match=r"(?i)hash"):
            wrong.register(sqlite3.connect(":memory:"))


def _plugin(extra: str = "", function: str = 'name = "f"') -> str:
    return f'[[plugin]]\npath = "x.wasm"\n{extra}\n[[plugin.function]]\n{function}\n'


HOSTILE = [
    ("[[plugin]]\npath = 'x.wasm'\nurl = 'https://e.com/x.wasm'\n[[plugin.function]]\nname='f'",
     "exactly one of 'path'"),
    ("[[plugin]]\nurl = 'https://example.com/x.wasm'\n[[plugin.function]]\nname='f'",
     "a 'url' needs its 'hash'"),
    ("[[plugin]]\nurl = 'file:///etc/passwd'\nhash = '" + "a" * 64 + "'\n[[plugin.function]]\nname='f'",
     "only http:// and https://"),
    (_plugin('hash = "abc"'), "64 lower-case hex digits"),
    (_plugin("timeout_ms = 0"), "timeout_ms: must be between 1 and"),
    (_plugin("max_pages = 10000000"), "max_pages: must be between 1 and"),
    (_plugin("fuel_limit = true"), "fuel_limit: expected int, got bool"),
    (_plugin("allowed_hosts = ['*']"), "unknown key 'allowed_hosts'"),
    (_plugin("config = { a = 1 }"), "string keys with string values"),
    (_plugin(function='name = "f; DROP TABLE users"'), "not a plain SQL identifier"),
    (_plugin(function='name = "f"\nkind = "trigger"'), "kind: must be one of"),
    (_plugin(function='name = "f"\nreturns = "DATE"'), "unknown result type"),
    (_plugin(function='name = "f"\nshell = "rm -rf /"'), "unknown key 'shell'"),
    (_plugin(function='export = "f"'), "missing 'name'"),
    ("[[plugin]]\npath = 'x.wasm'\n", "no [[plugin.function]]"),
    ("[[plugin]]\npath = 'x.wasm'\n[[plugin.function]]\nname='f'\n[[plugin.function]]\nname='F'",
     "function 'f' is defined twice"),
    ("plugins = 1", "unknown key 'plugins'"),
    ("[[plugin]\n", "not valid TOML"),
    ("[[plugin]]\npath = 'x.wasm'\n" * (MAX_PLUGINS + 1), f"at most {MAX_PLUGINS}"),
    ("[[plugin]]\npath = 'x.wasm'\n" + "".join(f"[[plugin.function]]\nname = 'f{i}'\n"
                                               for i in range(MAX_FUNCTIONS + 1)),
     f"at most {MAX_FUNCTIONS}"),
    ("# " + "x" * MAX_FILE_BYTES, f"at most {MAX_FILE_BYTES:,} are read"),
    (b"\xff\xfe", "not UTF-8"),
]


@pytest.mark.parametrize(("text", "message"), HOSTILE)
def test_a_hostile_file_is_refused_with_a_clear_error(text: str | bytes, message: str) -> None:
    with pytest.raises(FunctionsFileError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_file(text, "evil.toml")


def test_an_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FunctionsFileError, match="cannot read the functions file"):
        load_file(tmp_path / "absent.toml")


def test_the_cli_registers_a_functions_file(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "wasmplug", "sql", ":memory:",
                           "SELECT count_vowels('functions file') AS n", "--functions",
                           str(functions_file(tmp_path)), "--json"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == '[{"n": 5}]'


def test_shared_files_are_parsed_once_per_version_and_bounded(tmp_path: Path) -> None:
    import os

    from wasmplug.sql import config

    path = functions_file(tmp_path)
    first = config.shared_file(path)
    assert config.shared_file(path) is first  # connections share one parse (and its compiled code)
    path.write_text(path.read_text().replace('name = "median"', 'name = "mediane"'))
    os.utime(path, ns=(1, 10**18))  # a new version, whatever the clock's resolution
    second = config.shared_file(path)
    assert second is not first and "mediane" in second.function_names
    for i in range(config.MAX_SHARED_FILES + 5):
        other = tmp_path / f"f{i}.toml"
        other.write_text(f'[[plugin]]\npath = "{TEXT}"\n[[plugin.function]]\nname = "f{i}"\n')
        config.shared_file(other)
    assert len(config._loaded) <= config.MAX_SHARED_FILES


@pytest.mark.timeout(120)
def test_connections_in_threads_share_one_file(tmp_path: Path) -> None:
    # As Datasette does: one parsed file, a connection per thread, all querying at once.
    from concurrent.futures import ThreadPoolExecutor

    functions = load_file(functions_file(tmp_path))
    db = tmp_path / "shared.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t(g INTEGER, s TEXT, x REAL)")
        conn.executemany("INSERT INTO t VALUES (?, ?, ?)",
                         [(i % 5, f"row {i} aeiou", float(i)) for i in range(200)])
    query = ("SELECT g, sum(count_vowels(s)), median(x) FROM t GROUP BY g "
             "UNION ALL SELECT -1, count(*), max(m) FROM (SELECT moving_avg(x) OVER "
             "(PARTITION BY g ORDER BY x ROWS 2 PRECEDING) AS m FROM t) ORDER BY 1")

    def worker(_: int) -> list[list[tuple[object, ...]]]:
        conn = sqlite3.connect(db)
        functions.register(conn)
        results = [conn.execute(query).fetchall() for _ in range(40)]
        conn.close()
        return results

    with ThreadPoolExecutor(4) as pool:
        outcomes = [result for results in pool.map(worker, range(4)) for result in results]
    expected = [(-1, 200, (199 + 194 + 189) / 3)]
    for g in range(5):
        xs = [float(i) for i in range(g, 200, 5)]
        vowels = 6 * len(xs)  # "row N aeiou": o, a, e, i, o, u
        expected.append((g, vowels, (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2))
    assert all(outcome == expected for outcome in outcomes), outcomes[0]

"""Ctrl-C during a plug-in call inside SQL: the Wasm stops at once and the statement fails with
reason "interrupted" (SQLite can only be handed an error), on both registration paths; the
connection goes on working, and `wasmplug sql` exits 130."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import MISBEHAVING_WAT

# Sends SIGINT to itself once a plug-in call is running (polled), from a helper thread.
INTERRUPTER = """
import gc, os, signal, threading, time
import wasmplug

def interrupt_when_running() -> None:
    deadline = time.monotonic() + 30
    while not any(isinstance(o, wasmplug.Plugin) and o._running for o in gc.get_objects()):
        if time.monotonic() > deadline:
            os._exit(3)
        time.sleep(0.01)
    os.kill(os.getpid(), signal.SIGINT)

threading.Thread(target=interrupt_when_running, daemon=True).start()
"""

SCRIPT = INTERRUPTER + """
import sqlite3, sys
from wasmplug.sql import SQLFunction, last_error, register

conn = sqlite3.connect(":memory:")
register(conn, sys.argv[1], SQLFunction("spin", export="forever"), timeout_ms=60_000,
         c_api=sys.argv[2] == "c")
started = time.monotonic()
try:
    conn.execute("SELECT spin('x')").fetchall()
except sqlite3.OperationalError as exc:
    print("sql error:", exc, "| reason:", last_error().reason if last_error() else None)
print(f"after {time.monotonic() - started:.1f} s; next:", conn.execute("SELECT 1").fetchone())
"""

CLI = INTERRUPTER + """
import sys
from wasmplug.cli import main
sys.argv = ["wasmplug", "sql", ":memory:", "SELECT spin('x')", "-f", f"spin={sys.argv[1]}:forever",
            "--timeout", "60000"]
main()
"""


@pytest.mark.parametrize("api", ["c", "python"])
def test_ctrl_c_fails_the_statement_and_keeps_the_connection(tmp_path: Path, api: str) -> None:
    wat = tmp_path / "bad.wat"
    wat.write_text(MISBEHAVING_WAT)
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(wat), api], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    if api == "c":
        assert "sql error: spin: interrupted: Ctrl-C (SIGINT) stopped the call" in done.stdout
    else:
        assert "sql error: user-defined function raised exception | reason: interrupted" in done.stdout
    assert "next: (1,)" in done.stdout
    seconds = float(done.stdout.split("after ")[1].split(" s")[0])
    assert seconds < 30  # stopped long before its 60 s timeout


def test_ctrl_c_in_wasmplug_sql_exits_130(tmp_path: Path) -> None:
    wat = tmp_path / "bad.wat"
    wat.write_text(MISBEHAVING_WAT)
    done = subprocess.run([sys.executable, "-c", CLI, str(wat)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 130, done.stdout + done.stderr
    assert "spin: interrupted" in done.stderr

"""Two `wasmplug gamebox serve --ray` processes on one local Ray instance (test fixtures).

The Ray instance is started by `ray.init()` in a process of its own, in a
temporary folder, with a token of the test's own; the catalogue is in a
shared database (PostgreSQL when GAMEBOX_TEST_POSTGRES_URL is set, else one
SQLite file). Ray only ever runs in those processes, never in pytest's
(docs/concurrency.md, "Ray"): a trap after Ray's faulthandler would kill pytest.
"""

from __future__ import annotations

import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import fresh_database

RAY_HEAD = """
import signal, sys, ray
ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
         _temp_dir=sys.argv[1])
print(ray.get_runtime_context().gcs_address, flush=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
try:
    sys.stdin.read()  # until the test closes our stdin (or terminates us)
finally:
    ray.shutdown()
"""


def _first_line(process: subprocess.Popen[str], what: str, pattern: str, seconds: float) -> str:
    """The first match of `pattern` in `process`'s output (fails after `seconds`).

    A thread keeps reading the output afterwards, so the process never blocks on a full pipe.
    """
    found: queue.Queue[str | None] = queue.Queue()
    lines = OUTPUT.setdefault(process.pid, [])

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            match = re.search(pattern, line)
            if match and not found.qsize():
                found.put(match.group(1))
        found.put(None)

    threading.Thread(target=read, daemon=True).start()
    try:
        result = found.get(timeout=seconds)
    except queue.Empty:
        result = None
    if result is None:
        raise AssertionError(f"{what} did not start (exit code {process.poll()}): "
                             f"{''.join(lines)[-3000:]}")
    return result


OUTPUT: dict[int, list[str]] = {}  # each process's output, shown when a test fails


def _stop(process: subprocess.Popen[str]) -> None:
    print(f"--- output of {process.args[:6]}:\n{''.join(OUTPUT.pop(process.pid, []))[-5000:]}")
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


# Ray's token authentication, with a token of the test's own (never ~/.ray/auth_token).
RAY_ENV = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
           "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def ray_address() -> Iterator[str]:
    temp = tempfile.mkdtemp(prefix="wpray", dir="/tmp")  # short: Ray's socket paths must fit
    head = subprocess.Popen([sys.executable, "-c", RAY_HEAD, temp], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **RAY_ENV})
    try:
        yield _first_line(head, "the Ray head", r"(\d+\.\d+\.\d+\.\d+:\d+)", 90)
    finally:
        assert head.stdin is not None
        head.stdin.close()
        try:
            head.wait(45)
        except subprocess.TimeoutExpired:
            _stop(head)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture
def two_servers(ray_address: str, tmp_path: Path) -> Iterator[list[str]]:
    kind = "postgresql" if os.environ.get("GAMEBOX_TEST_POSTGRES_URL") else "sqlite"
    db = fresh_database(kind, tmp_path)
    url = db.url
    db.close()
    env = {**os.environ, **RAY_ENV}
    servers: list[subprocess.Popen[str]] = []
    urls = []
    try:
        for _ in range(2):  # one after the other: each migrates the database first
            server = subprocess.Popen(
                [sys.executable, "-m", "wasmplug", "gamebox", "serve", "--port", "0",
                 "--database-url", url, "--ray", ray_address, "--session-secret", "test-secret"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
            servers.append(server)
            urls.append(_first_line(server, "a GameBox server", r"serving on (http://\S+?)/?\s", 90))
        yield urls
    finally:
        for server in servers:
            _stop(server)

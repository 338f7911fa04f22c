"""Arenas across machines: two `wasmplug gamebox serve --ray` processes share arenas.

One local Ray instance (started by `ray.init()` in a process of its own, in a
temporary folder), the catalogue in a shared database (PostgreSQL when
GAMEBOX_TEST_POSTGRES_URL is set, else one SQLite file), two servers on two
loopback ports: a player on each plays tic-tac-toe to the end. Ray only ever
runs in those processes, never in pytest's (README, "Ray").
"""

from __future__ import annotations

import asyncio
import json
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
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from .conftest import fresh_database

pytest.importorskip("ray")  # the [ray] extra: installed in CI (pip install -e ".[test,ray]")

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
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


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


async def _enter(client: httpx.AsyncClient, path: str, **form: str) -> tuple[str, str]:
    """Post an arena form like a browser (CSRF token from the home page): (code, token)."""
    home = await client.get("/")
    csrf = CSRF.search(home.text)
    assert csrf is not None
    response = await client.post(path, data={**form, "csrf": csrf.group(1)})
    assert response.status_code == 303, response.text
    code = response.headers["location"].rsplit("/", 1)[-1]
    return code, response.cookies[f"gamebox_{code}"]


async def _until(ws: ClientConnection, kind: str, contains: str) -> dict[str, Any]:
    async with asyncio.timeout(60):
        while True:
            message: dict[str, Any] = json.loads(await ws.recv())
            if message["t"] == kind and contains in message.get("html", message.get("text", "")):
                return message


async def _play(ann_url: str, bob_url: str) -> None:
    async with httpx.AsyncClient(base_url=ann_url, timeout=60) as ann, \
            httpx.AsyncClient(base_url=bob_url, timeout=60) as bob:
        code, ann_token = await _enter(ann, "/arenas", name="ann")
        bob_code, bob_token = await _enter(bob, "/join", code=code.lower(), name="bob")
        assert bob_code == code
        page = await bob.get(f"/arena/{code}")  # the cookie from the join
        assert page.status_code == 200 and "ann" in page.text and "bob" in page.text

        def socket(url: str, token: str) -> Any:
            return connect(url.replace("http", "ws", 1) + f"/arena/{code}/ws",
                           additional_headers={"cookie": f"gamebox_{code}={token}"})

        async with socket(ann_url, ann_token) as ann_ws, socket(bob_url, bob_token) as bob_ws:
            await ann_ws.send(json.dumps({"t": "action", "name": "select", "game": "tictactoe"}))
            await _until(bob_ws, "arena", "<b>Tic-tac-toe</b>")  # the host's pick reaches the other server
            await _until(ann_ws, "arena", 'id="start"')
            await bob_ws.send(json.dumps({"t": "action", "name": "start"}))
            assert "Only the host (ann) can" in (await _until(bob_ws, "flash", ""))["text"]
            await ann_ws.send(json.dumps({"t": "action", "name": "start"}))
            await _until(ann_ws, "board", "Your turn (X)")
            await _until(bob_ws, "board", "Waiting for ann")
            moves = [(ann_ws, "0"), (bob_ws, "3"), (ann_ws, "1"), (bob_ws, "4"), (ann_ws, "2")]
            for turn, (ws, cell) in enumerate(moves, start=1):
                mark = "X" if ws is ann_ws else "O"
                await ws.send(json.dumps({"t": "event", "name": "cell-clicked",
                                          "value": {"cell": cell, "value": ""}}))
                other = bob_ws if ws is ann_ws else ann_ws
                board = await _until(other, "board", f'phx-value-cell="{cell}">{mark}</button>')
                assert board["version"] == turn
            assert "ann wins!" in board["html"]  # bob's board after the last move
            assert "You win!" in (await _until(ann_ws, "board", "win"))["html"]
        # a reload on either server shows the finished game
        page = await ann.get(f"/arena/{code}")
        assert "You win!" in page.text
        csrf = CSRF.search((await bob.get("/")).text)
        assert csrf is not None
        refused = await bob.post("/join", data={"code": "zzzz", "name": "cy", "csrf": csrf.group(1)})
        assert refused.status_code == 400 and "there is no arena &#39;ZZZZ&#39;" in refused.text


@pytest.mark.timeout(300)
def test_two_servers_share_an_arena_on_ray(two_servers: list[str]) -> None:
    asyncio.run(_play(*two_servers))

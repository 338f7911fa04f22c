"""serve test helpers: a real server (uvicorn on a random loopback port, real SQLite or PostgreSQL),
API tokens, deploying a module, and a loopback HTTP server whose answers a test releases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from wasmplug.serve import ServerSettings, create_app
from wasmplug.web.server import serve_in_thread

from ..waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
AS = ROOT / "plugins" / "assemblyscript"
COUNT_VOWELS = AS / "count_vowels.wasm"
ECHO = AS / "echo.wasm"
HOSTILE = ROOT / "plugins" / "hostile"


@dataclass
class Server:
    url: str
    app: Any
    token: str  # an admin's
    client: httpx.Client

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"authorization": f"Bearer {token or self.token}"}

    def deploy(self, name: str, module: bytes | Path, token: str | None = None,
               **settings: Any) -> httpx.Response:
        data = module.read_bytes() if isinstance(module, Path) else module
        files: dict[str, tuple[str | None, bytes, str]] = {
            "module": ("module", data, "application/octet-stream"),
            "settings": (None, json.dumps(settings).encode(), "application/json")}
        return self.client.put(f"{self.url}/api/functions/{name}", files=files, headers=self.auth(token),
                               timeout=120)

    def deployed(self, name: str, module: bytes | Path, **settings: Any) -> dict[str, Any]:
        response = self.deploy(name, module, **settings)
        assert response.status_code in (200, 201), response.text
        result: dict[str, Any] = response.json()
        return result

    def call(self, name: str, export: str, body: bytes | str | Iterator[bytes] = b"",
             **kwargs: Any) -> httpx.Response:
        return self.client.post(f"{self.url}/f/{name}/{export}", content=body, **kwargs)

    def token_for(self, username: str, admin: bool = False) -> str:
        token: str = self.app.state.store.create_token(username, admin=admin)
        return token


@contextmanager
def serve_process(*args: str) -> Iterator[str]:
    """`wasmplug serve --port 0 ARGS` in a process of its own; yields its URL once it is ready."""
    with tempfile.TemporaryFile("w+") as log:  # its log: shown if it does not start
        process = subprocess.Popen([sys.executable, "-m", "wasmplug", "serve", "--port", "0", *args],
                                   stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            if "serving on http://127.0.0.1:" not in line:
                log.seek(0)
                raise AssertionError(f"wasmplug serve did not start: {line}{log.read()[-2000:]}")
            url = line.split("serving on ")[1].strip().rstrip("/")
            wait_until(lambda: httpx.get(f"{url}/readyz").status_code == 200, "the server to be ready", 120)
            yield url
        finally:
            process.terminate()
            process.wait(60)
            if process.stdout:
                process.stdout.close()


@contextmanager
def live_server(settings: ServerSettings) -> Iterator[Server]:
    """`create_app(settings)` served by uvicorn on 127.0.0.1 (a random free port) in a thread."""
    import uvicorn

    app = create_app(settings)
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    with serve_in_thread(config) as url, httpx.Client(timeout=60) as client:
        admin = app.state.store.create_token("admin", admin=True)
        yield Server(url, app, admin, client)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    # (loopback hosts allowed: the gate is on 127.0.0.1)
    with live_server(ServerSettings(data_dir=tmp_path, queue_timeout=10.0, allow_private_hosts=True)
                     ) as running:
        yield running


@pytest.fixture
def postgres_url() -> str:
    """A fresh database of our own on the test PostgreSQL server (other tests' tables left alone)."""
    url = os.environ.get("GAMEBOX_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("GAMEBOX_TEST_POSTGRES_URL is not set: scripts/test.sh starts PostgreSQL and sets it")
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("DROP DATABASE IF EXISTS wasmplug_serve_test WITH (FORCE)"))
        connection.execute(text("CREATE DATABASE wasmplug_serve_test"))
    engine.dispose()
    return url.rsplit("/", 1)[0] + "/wasmplug_serve_test"


class Gate:
    """A loopback HTTP server whose GET /wait answers only once the test opens the gate.

    A plug-in allowed to reach it becomes a function whose calls run exactly as long as the test
    wants (an event-controlled slow plug-in). `arrived` counts requests that reached it.
    """

    def __init__(self) -> None:
        self.open = threading.Event()
        self.arrived = 0
        self._lock = threading.Lock()
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with gate._lock:
                    gate.arrived += 1
                gate.open.wait(60)
                body = b"opened"
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.open.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def gate() -> Iterator[Gate]:
    g = Gate()
    try:
        yield g
    finally:
        g.close()


def gated_js(port: int, tag: str) -> bytes:
    """A JS function whose `run` waits at the gate, then outputs `tag`; `quick` answers at once."""
    return f"""
function run() {{
  const r = Http.request({{ url: "http://127.0.0.1:{port}/wait", method: "GET" }});
  Host.outputString("{tag}:" + r.body);
}}
function quick() {{ Host.outputString("{tag}"); }}
module.exports = {{ run, quick }};
""".encode()

"""A real HTTP server on 127.0.0.1 for the tests, in a background thread."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class Handler(BaseHTTPRequestHandler):
    """Paths: /echo (JSON of the request), /bytes/N, /slow/SECONDS, /status/N,
    /redirect, /file/NAME (a file of `files_dir`)."""

    files_dir: Path = Path(".")

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json",
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Test", "yes")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = self.path.strip("/").split("/")
        if parts[0] == "bytes":
            self._send(200, b"x" * int(parts[1]), "application/octet-stream")
        elif parts[0] == "slow":
            time.sleep(float(parts[1]))
            self._send(200, b"late")
        elif parts[0] == "status":
            self._send(int(parts[1]), b"status body")
        elif parts[0] == "redirect":
            self._send(302, b"", extra={"Location": "/echo"})
        elif parts[0] == "file":
            path = self.files_dir / parts[1]
            if path.is_file():
                self._send(200, path.read_bytes(), "application/wasm")
            else:
                self._send(404, b"no such file")
        else:
            echo = {"method": self.command, "path": self.path, "body": body.decode("latin-1"),
                    "headers": {k.lower(): v for k, v in self.headers.items()}}
            self._send(200, json.dumps(echo).encode())

    do_GET = do_POST = do_PUT = do_DELETE = _handle


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up (e.g. on a response bomb) are expected


@contextmanager
def serve(files_dir: Path) -> Iterator[str]:
    """The echo/bytes/slow/status/redirect/file server above, on 127.0.0.1."""
    with serve_handler(type("BoundHandler", (Handler,), {"files_dir": files_dir})) as url:
        yield url


@contextmanager
def serve_handler(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Run `handler` on 127.0.0.1 in a background thread; yields the base URL."""
    server = QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()

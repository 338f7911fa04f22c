"""`wasmplug deploy` and `wasmplug gamebox upload` share one client of a server's API
(`wasmplug/cli/api_client.py`): the same checks of --server, the same clear errors for a server that
cannot be reached or answers something that is not the API's JSON."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from wasmplug.cli import main

ROOT = Path(__file__).resolve().parents[1]
WASM = ROOT / "plugins" / "assemblyscript" / "count_vowels.wasm"
COMMANDS = {"deploy": ["deploy", "fn", str(WASM)], "upload": ["gamebox", "upload", str(WASM)]}


@pytest.fixture(scope="module")
def odd_server() -> Iterator[str]:
    """Answers every request 502 with an HTML page (a proxy in front of a dead server), or, under
    /list/, 400 with a JSON list."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            listed = self.path.startswith("/list/")
            body = b'["not", "an", "object"]' if listed else b"<html>Bad Gateway" + b"!" * 5000
            self.send_response(400 if listed else 502)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_PUT = do_POST = _answer

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def run(command: str, server: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*COMMANDS[command], "--server", server, "--token", "t0ken"])
    return result.exit_code, result.output


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_server_that_is_not_an_http_url_is_refused(command: str) -> None:
    code, output = run(command, "ftp://example.com")
    assert code == 2 and "'ftp://example.com' is not an http:// or https:// URL" in output, output


@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_unreachable_server_is_named(command: str) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, output = run(command, f"http://127.0.0.1:{port}/")
    assert code == 1 and f"Error: cannot reach http://127.0.0.1:{port}:" in output, output


@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_answer_that_is_not_the_apis_json_is_shown_cut_short(command: str, odd_server: str) -> None:
    code, output = run(command, odd_server)
    assert code == 1 and "Error: <html>Bad Gateway!!" in output, output
    assert len(output) < 500  # the first 300 characters, not the 5000-character page
    code, output = run(command, odd_server + "/list")
    assert code == 1 and 'Error: ["not", "an", "object"]' in output, output

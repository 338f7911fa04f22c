"""`wasmplug gamebox serve` under attack: streamed bodies, slowloris, huge WebSocket frames.

Each test runs the real command in a subprocess and attacks it with raw sockets
on loopback, bounded in time; memory is the server process's RSS.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import select
import selectors
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from .test_cli import member

pytestmark = pytest.mark.timeout(120)
MB = 1024 * 1024


@contextmanager
def server(*args: str) -> Iterator[tuple[str, int]]:
    """`wasmplug gamebox serve --port 0 ARGS` running; yields (its URL, its pid)."""
    process = subprocess.Popen([sys.executable, "-m", "wasmplug", "gamebox", "serve", "--port", "0",
                                *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert found, f"no URL in {line!r}"
        yield found.group(0), process.pid
    finally:
        process.terminate()
        process.wait(15)


def rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024  # type: ignore[union-attr]


def address(base: str) -> tuple[str, int]:
    host, port = base.removeprefix("http://").split(":")
    return host, int(port)


def stream_chunked(base: str, path: str, headers: dict[str, str], claimed: int,
                   first: bytes = b"", block: bytes = bytes(256 * 1024)) -> tuple[int, bytes]:
    """POST a chunked body of `claimed` bytes (`first`, then `block` again and again) until the
    server answers; (bytes sent, the answer's head and body)."""
    sock = socket.create_connection(address(base), timeout=30)
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    sock.sendall(head.encode())
    sent = 0
    payload = first
    try:
        while sent < claimed:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            chunk = payload or block
            payload = b""
            sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = b""
    try:
        while not _complete(answer):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    except (ConnectionResetError, TimeoutError):
        pass
    sock.close()
    return sent, answer


def _complete(answer: bytes) -> bool:
    head, sep, body = answer.partition(b"\r\n\r\n")
    length = re.search(rb"content-length: (\d+)", head, re.IGNORECASE)
    return bool(sep) and length is not None and len(body) >= int(length.group(1))


def test_streamed_bodies_are_counted_and_refused_past_their_cap(tmp_path: Path) -> None:
    """/login held a 120 MB body before refusing it; a chunked 200 MB upload skipped the cap."""
    from wasmplug.gamebox.catalogue.database import DatabaseCatalogue
    from wasmplug.gamebox.database import GameBoxDatabase

    db = GameBoxDatabase.in_dir(tmp_path)
    db.upgrade()
    accounts = DatabaseCatalogue(db)
    token = accounts.new_token(accounts.add_user("alice", "correct horse"))
    db.close()
    with server("--data-dir", str(tmp_path), "--max-upload-mb", "2") as (base, pid):
        assert httpx.get(base + "/login").status_code == 200
        before = rss(pid)
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        sent, answer = stream_chunked(base, "/login", form, 120 * MB, b"username=a",
                                      b"&f=" + b"a" * 60_000)  # fields under the form's 64 KB each
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
        assert b"the request body is over 8192 bytes" in answer  # a sign-in form is small
        assert sent < 20 * MB  # it stopped reading long before the end
        sent, answer = stream_chunked(base, "/login", form, 120 * MB, b"username=" + b"a" * 1000)
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]  # one endless field: the same
        assert sent < 20 * MB
        with socket.create_connection(address(base), timeout=10) as sock:  # a declared 120 MB
            sock.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 125829120\r\n"
                         b"Content-Type: application/x-www-form-urlencoded\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 413 ")  # refused before any byte
        boundary = "b0undary"
        file_part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n").encode()
        sent, answer = stream_chunked(base, "/login", {
            "Content-Type": f"multipart/form-data; boundary={boundary}"}, 400 * MB, file_part)
        # a sign-in form takes no file (400) and no body past 8 KiB (413): whichever the
        # server meets first, depending on how many chunks arrived before it read the body
        assert answer.startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 413 ")), answer[:200]
        assert sent < 20 * MB
        sent, answer = stream_chunked(base, "/api/games", {
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}"},
            200 * MB, file_part.replace(b'name="f"', b'name="wasm"'))
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
        assert b"the request body is over 5242880 bytes" in answer  # 2 MB of game, 3 of artwork
        assert sent < 30 * MB
        grown = rss(pid) - before
        assert grown < 8 * MB, grown
        assert httpx.get(base + "/games").status_code == 200  # and it still serves


def test_slowloris_connections_are_closed_and_the_server_still_answers() -> None:
    """2,000 partial-header connections were never timed out."""
    with server("--header-timeout", "1") as (base, _pid):
        socks = []
        for n in range(2000):
            sock = socket.create_connection(address(base), timeout=10)
            sock.sendall(f"GET /?n={n} HTTP/1.1\r\nHost: x\r\nX-Slow: ".encode())
            socks.append(sock)
        open_socks = set(socks)
        waiting = selectors.DefaultSelector()  # epoll: more than select()'s 1,024 descriptors
        for sock in socks:
            waiting.register(sock, selectors.EVENT_READ, sock)
        deadline = time.monotonic() + 60
        while open_socks and time.monotonic() < deadline:
            for key, _ in waiting.select(1.0):
                sock = key.data
                try:
                    data = sock.recv(1024)
                except ConnectionResetError:
                    data = b""
                if not data:
                    open_socks.discard(sock)
                    waiting.unregister(sock)
        waiting.close()
        for sock in socks:
            sock.close()
        assert not open_socks, f"{len(open_socks)} slow connections were never closed"
        response = httpx.get(base + "/", timeout=10)
        assert response.status_code == 200 and "GameBox" in response.text


def test_a_huge_websocket_frame_is_refused_from_its_header() -> None:
    """16 MiB frames were read whole before the 16 KiB check (uvicorn's ws_max_size)."""
    with server() as (base, _pid):
        code, cookie = member(base, None, "ann")
        sock = socket.create_connection(address(base), timeout=15)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET /arena/{code}/ws HTTP/1.1\r\nHost: {base[7:]}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                      f"Origin: {base}\r\nCookie: {cookie}\r\n\r\n").encode())
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"HTTP/1.1 101"), "no WebSocket"
        while reader.readline() not in (b"\r\n", b""):
            pass
        mask = os.urandom(4)
        sock.sendall(bytes([0x81, 0x80 | 127]) + struct.pack("!Q", 16 * MB) + mask + bytes(64 * 1024))
        while True:  # the server's frames: board renders, then the close
            first, second = reader.read(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack("!H", reader.read(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", reader.read(8))[0]
            payload = reader.read(length)
            if first & 0x0F == 0x8:
                break
        assert struct.unpack("!H", payload[:2])[0] == 1009  # "message too big", 64 KiB of 16 MiB sent
        sock.close()


def test_serve_https_only_sends_secure_cookies_and_hsts(tmp_path: Path) -> None:
    with server("--data-dir", str(tmp_path), "--https-only") as (base, _pid):
        response = httpx.get(base + "/login")
        assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
        assert "; secure" in response.headers["set-cookie"].lower()


def test_serve_limit_concurrency_answers_503_past_it() -> None:
    with server("--limit-concurrency", "3") as (base, _pid):
        idle = [socket.create_connection(address(base), timeout=10) for _ in range(3)]
        try:
            deadline = time.monotonic() + 20
            while (response := httpx.get(base + "/", timeout=10)).status_code != 503:
                assert time.monotonic() < deadline, "the connections were never counted"
            assert response.text == "Service Unavailable"
        finally:
            for sock in idle:
                sock.close()
        deadline = time.monotonic() + 20
        while (response := httpx.get(base + "/", timeout=10)).status_code != 200:
            assert time.monotonic() < deadline, "the server never took requests again"


def test_an_endless_request_head_is_cut_off() -> None:
    """With httptools uvicorn does not cap a request head: it gathered headers until the
    header timeout, at the sender's speed."""
    with server("--header-timeout", "60") as (base, pid):
        before = rss(pid)
        with socket.create_connection(address(base), timeout=30) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            sent = 0
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                while sent < 50 * MB:
                    sock.sendall(b"X-Pad: " + b"a" * 4089 + b"\r\n")
                    sent += 4098
            assert sent < 16 * MB, sent  # the server hung up (socket buffers hold a few MB)
        assert rss(pid) - before < 8 * MB
        assert httpx.get(base + "/", timeout=10).status_code == 200

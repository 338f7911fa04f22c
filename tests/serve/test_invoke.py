"""Invoking functions on a real server: errors and their statuses, limits (timeout, fuel, memory),
body caps (declared and chunked), per-token rate limits, fresh instances, saturation with
Retry-After, and a flooded function not starving a quiet one."""

from __future__ import annotations

import json
import select
import socket
import struct
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from wasmplug.serve import ServerSettings

from ..waiting import wait_until
from .conftest import AS, COUNT_VOWELS, ECHO, HOSTILE, Gate, Server, gated_js, live_server

ROOT = Path(__file__).resolve().parents[2]


def test_unknown_function_and_export_are_404(server: Server) -> None:
    server.deployed("cv", COUNT_VOWELS, public=True)
    for name, export, kind in (("nope", "count_vowels", "not_found"), ("cv", "missing", "no_such_export"),
                               ("cv", "_start", "no_such_export"), ("NOPE!", "x", "not_found")):
        reply = server.call(name, export, "x")
        assert reply.status_code == 404, (name, export)
        assert reply.json()["kind"] == kind


def test_plugin_error_is_502_with_its_message(server: Server) -> None:
    server.deployed("errs", AS / "errors.wasm", public=True)
    reply = server.call("errs", "fail_with_message", "the plug-in says no")
    assert reply.status_code == 502
    assert reply.json() == {"error": "the plug-in says no", "kind": "plugin_error"}
    assert server.call("errs", "ok").status_code == 200  # the server and the function carry on


def test_timeout_is_504_and_the_function_recovers(server: Server) -> None:
    server.deployed("loop", HOSTILE / "endless_loop.wasm", public=True, timeout_ms=200, max_instances=1)
    started = time.monotonic()
    reply = server.call("loop", "run")
    assert reply.status_code == 504 and reply.json()["kind"] == "timeout"
    assert time.monotonic() - started < 10
    assert server.call("loop", "ok").status_code == 200


def test_fuel_and_memory_limits_are_502_with_their_kind(server: Server) -> None:
    server.deployed("burn", HOSTILE / "fuel_burner.wasm", public=True, fuel=100_000)
    reply = server.call("burn", "forever")
    assert reply.status_code == 502 and reply.json()["kind"] == "fuel_exhausted", reply.text
    assert server.call("burn", "ok").status_code == 200
    server.deployed("grow", HOSTILE / "memory_grow_bomb.wasm", public=True, memory_max_pages=8)
    reply = server.call("grow", "run")
    assert reply.status_code == 502 and reply.json()["kind"] == "out_of_memory", reply.text
    assert server.call("grow", "ok").status_code == 200


def test_body_cap_declared_and_chunked(tmp_path: Path) -> None:
    with live_server(ServerSettings(data_dir=tmp_path, max_body_bytes=1024)) as srv:
        srv.deployed("echo", ECHO, public=True)
        assert srv.call("echo", "echo", b"x" * 1024).content == b"x" * 1024
        declared = srv.call("echo", "echo", b"x" * 1025)
        assert declared.status_code == 413 and declared.json()["kind"] == "too_large"

        def chunks() -> Iterator[bytes]:
            for _ in range(4):
                yield b"y" * 400

        chunked = srv.call("echo", "echo", chunks())  # no Content-Length: Transfer-Encoding chunked
        assert chunked.status_code == 413
        # A client streaming without end is cut off at the cap: the 413 comes while it still sends.
        host, port = srv.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"POST /f/echo/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            sent = 0
            chunk = b"1000\r\n" + b"z" * 4096 + b"\r\n"
            while sent < 100 * 1024 * 1024 and not select.select([sock], [], [], 0)[0]:
                try:
                    sock.sendall(chunk)
                except OSError:
                    break
                sent += 4096
            answer = sock.recv(200)
        assert answer.startswith(b"HTTP/1.1 413"), answer
        assert sent < 10 * 1024 * 1024
        assert srv.call("echo", "echo", b"still fine").content == b"still fine"


def test_per_token_rate_limit(tmp_path: Path) -> None:
    with live_server(ServerSettings(data_dir=tmp_path, invocations_per_minute=3)) as srv:
        srv.deployed("cv", COUNT_VOWELS)  # protected
        alice, bob = srv.token_for("alice"), srv.token_for("bob")
        for _ in range(3):
            assert srv.call("cv", "count_vowels", "a", headers=srv.auth(alice)).status_code == 200
        limited = srv.call("cv", "count_vowels", "a", headers=srv.auth(alice))
        assert limited.status_code == 429 and limited.json()["kind"] == "rate_limited"
        assert int(limited.headers["retry-after"]) >= 1
        assert srv.call("cv", "count_vowels", "a", headers=srv.auth(bob)).status_code == 200


def test_fresh_instance(server: Server) -> None:
    counter = ROOT / "plugins" / "wat" / "counter.wasm"
    server.deployed("kept", counter, public=True, max_instances=1)
    server.deployed("fresh", counter, public=True, max_instances=1, fresh_instance=True)

    def count(name: str) -> int:
        value: int = struct.unpack("<q", server.call(name, "count").content)[0]
        return value

    assert [count("kept") for _ in range(3)] == [0, 1, 2]
    assert [count("fresh") for _ in range(3)] == [0, 0, 0]


def _flood(srv: Server, name: str, n: int) -> list[httpx.Response]:
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: srv.call(name, "run", timeout=60), range(n)))


def test_saturated_function_answers_503_with_retry_after_and_does_not_starve_others(
        tmp_path: Path, gate: Gate) -> None:
    # Few worker threads: if a flooded function could take them all, the quiet one would starve.
    settings = ServerSettings(data_dir=tmp_path, worker_threads=4, queue_per_instance=2, queue_timeout=30,
                              allow_private_hosts=True)
    with live_server(settings) as srv, ThreadPoolExecutor(1) as background:
        srv.deployed("noisy", gated_js(gate.port, "noisy"), public=True, max_instances=2,
                     allowed_hosts=["127.0.0.1"], timeout_ms=30_000)
        srv.deployed("quiet", COUNT_VOWELS, public=True, max_instances=1)
        flood = background.submit(_flood, srv, "noisy", 20)
        noisy = srv.app.state.runtimes.active["noisy"]
        # 2 running at the gate + 2 x 2 queued are admitted; the other 14 are turned away at once.
        wait_until(lambda: gate.arrived == 2 and noisy.queued == 4, "the noisy function to be saturated")
        for _ in range(20):
            quiet = srv.call("quiet", "count_vowels", "aeiou", timeout=10)
            assert quiet.status_code == 200 and json.loads(quiet.content)["count"] == 5
        metrics = srv.client.get(f"{srv.url}/metrics").text
        assert 'wasmplug_serve_queue_depth{function="noisy"} 4.0' in metrics
        assert 'wasmplug_serve_instances{function="noisy",state="busy"} 2.0' in metrics
        gate.open.set()
        replies = flood.result(60)
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [200] * 6 + [503] * 14
    for reply in replies:
        if reply.status_code == 503:
            assert reply.json()["kind"] == "saturated" and reply.headers["retry-after"] == "1"
        else:
            assert reply.content == b"noisy:opened"


def test_the_hot_path_answers_with_the_security_headers_and_json_errors(server: Server) -> None:
    """POST /f/NAME/EXPORT is answered before Starlette's middleware and router: its answers (output
    and errors) carry the security headers themselves, with `sandbox`."""
    from wasmplug.web.security import SECURITY_HEADERS

    server.deployed("echo", ECHO, public=True)
    ok = server.call("echo", "echo", b"\x00\xffbytes")
    missing = server.call("echo", "nope", b"x")
    for reply, status in ((ok, 200), (missing, 404)):
        assert reply.status_code == status
        for name, value in SECURITY_HEADERS.items():
            expected = value + "; sandbox" if name == "content-security-policy" else value
            assert reply.headers[name] == expected, name
        assert reply.headers["content-length"] == str(len(reply.content))
    assert ok.content == b"\x00\xffbytes" and ok.headers["content-type"] == "application/octet-stream"
    assert missing.headers["content-type"] == "application/json"
    assert missing.json()["kind"] == "no_such_export"


def test_a_bug_on_the_hot_path_is_a_json_500_and_the_server_carries_on(
        server: Server, caplog: pytest.LogCaptureFixture) -> None:
    server.deployed("echo", ECHO, public=True)
    metrics = server.app.state.metrics
    observe = metrics.observe

    def broken(*args: object) -> None:
        raise RuntimeError("a bug in the metrics")

    metrics.observe = broken
    try:
        reply = server.call("echo", "echo", b"x")
    finally:
        metrics.observe = observe
    assert reply.status_code == 500
    assert reply.json() == {"error": "internal server error (logged)", "kind": "internal"}
    assert "sandbox" in reply.headers["content-security-policy"]
    assert any("a bug in the metrics" in (r.exc_text or "") for r in caplog.records)
    assert server.call("echo", "echo", b"y").content == b"y"

"""HTTP without WASI (ABI.md 2.5) and wasm URL sources (6.3), against a real local server."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from wasmplug import CallError, CallTimeout, LoadError, Plugin

from .conftest import AS
from .http_server import serve

pytestmark = pytest.mark.usefixtures("call_path")

# `request`: the input is the request JSON; outputs the response body.
# `request_body`: the request JSON comes from config key "req", the input is the body.
# `status`: outputs http_status_code() as 4 bytes; `headers`: outputs http_headers().
GUEST = """
(module
  (import "extism:host/env" "http_request" (func $http (param i64 i64) (result i64)))
  (import "extism:host/env" "http_status_code" (func $status (result i32)))
  (import "extism:host/env" "http_headers" (func $headers (result i64)))
  (import "extism:host/env" "config_get" (func $config_get (param i64) (result i64)))
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func $out (param $p i64) (call $output_set (local.get $p) (call $length (local.get $p))))
  (func (export "request") (result i32)
    (call $out (call $http (call $input_offset) (i64.const 0))) (i32.const 0))
  (func (export "request_body") (result i32)
    (local $key i64)
    (local.set $key (call $alloc (i64.const 3)))
    (call $store_u8 (local.get $key) (i32.const 114))
    (call $store_u8 (i64.add (local.get $key) (i64.const 1)) (i32.const 101))
    (call $store_u8 (i64.add (local.get $key) (i64.const 2)) (i32.const 113))
    (call $out (call $http (call $config_get (local.get $key)) (call $input_offset)))
    (i32.const 0))
  (func (export "status") (result i32)
    (local $p i64)
    (local.set $p (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $p) (i64.extend_i32_u (call $status)))
    (call $output_set (local.get $p) (i64.const 4))
    (i32.const 0))
  (func (export "headers") (result i32) (call $out (call $headers)) (i32.const 0)))
"""


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serve(AS) as url:
        yield url


def plugin(**manifest: Any) -> Plugin:
    manifest.setdefault("allowed_hosts", ["127.0.0.1"])
    return Plugin({"wasm": [{"data": GUEST.encode()}], **manifest})


def request(url: str, **spec: Any) -> str:
    return json.dumps({"url": url, **spec})


def test_get_returns_body_status_and_headers(server: str) -> None:
    p = plugin()
    echo = json.loads(p.call("request", request(f"{server}/echo?q=1")))
    assert echo["method"] == "GET" and echo["path"] == "/echo?q=1"
    assert int.from_bytes(p.call("status", b""), "little") == 200
    headers = json.loads(p.call("headers", b""))
    assert headers["x-test"] == "yes" and headers["content-type"] == "application/json"
    assert list(headers) == sorted(headers)


def test_post_with_method_headers_and_body(server: str) -> None:
    spec = request(f"{server}/echo", method="post", headers={"X-Custom": "hi"})
    p = plugin(config={"req": spec})
    echo = json.loads(p.call("request_body", b"payload bytes"))
    assert echo["method"] == "POST"
    assert echo["body"] == "payload bytes"
    assert echo["headers"]["x-custom"] == "hi"


def test_error_statuses_are_not_errors(server: str) -> None:
    p = plugin()
    assert p.call("request", request(f"{server}/status/404")) == b"status body"
    assert int.from_bytes(p.call("status", b""), "little") == 404


def test_redirects_are_not_followed(server: str) -> None:
    p = plugin()
    assert p.call("request", request(f"{server}/redirect")) == b""
    assert int.from_bytes(p.call("status", b""), "little") == 302


def test_host_not_allowed_is_refused_and_named(server: str) -> None:
    url = server.replace("127.0.0.1", "localhost") + "/echo"
    for hosts in (["127.0.0.1"], ["*.example.com"], [], None):
        p = plugin(allowed_hosts=hosts)
        with pytest.raises(CallError, match=f"HTTP request to {url} is not allowed.*'localhost'"):
            p.call("request", request(url))
        assert int.from_bytes(p.call("status", b""), "little") == 0


def test_glob_allows_the_host(server: str) -> None:
    p = plugin(allowed_hosts=["127.0.0.?"])
    assert json.loads(p.call("request", request(f"{server}/echo")))["method"] == "GET"


def test_response_larger_than_the_limit_is_refused(server: str) -> None:
    p = plugin(memory={"max_http_response_bytes": 1000})
    assert p.call("request", request(f"{server}/bytes/1000")) == b"x" * 1000
    with pytest.raises(CallError, match="HTTP response exceeds the configured maximum number "
                                        "of bytes: 1000"):
        p.call("request", request(f"{server}/bytes/1001"))


def test_request_is_cut_off_by_the_call_timeout(server: str) -> None:
    p = plugin(timeout_ms=300)
    start = time.monotonic()
    with pytest.raises(CallTimeout, match=r"^timeout: the call ran longer than timeout_ms \(300 ms\)$"):
        p.call("request", request(f"{server}/slow/3"))
    assert time.monotonic() - start < 2
    assert json.loads(p.call("request", request(f"{server}/echo")))["method"] == "GET"


def test_bad_requests_are_clear_errors(server: str) -> None:
    p = plugin()
    with pytest.raises(CallError, match="Invalid URL"):
        p.call("request", request("not a url"))
    with pytest.raises(CallError, match="unknown field"):
        p.call("request", json.dumps({"url": f"{server}/echo", "body": "x"}))
    with pytest.raises(CallError, match="not JSON"):
        p.call("request", b"{")
    with pytest.raises(CallError, match=r"HTTP request to http://127.0.0.1:1/ failed"):
        p.call("request", request("http://127.0.0.1:1/"))


def test_wasm_from_url_with_hash(server: str) -> None:
    data = (AS / "echo.wasm").read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    p = Plugin({"wasm": [{"url": f"{server}/file/echo.wasm", "hash": digest,
                          "headers": {"X-Token": "t"}}]})
    assert p.call("echo", b"from the network") == b"from the network"


def test_wasm_from_url_failures(server: str) -> None:
    with pytest.raises(LoadError, match="Hash mismatch"):
        Plugin({"wasm": [{"url": f"{server}/file/echo.wasm", "hash": "0" * 64}]})
    with pytest.raises(LoadError, match="failed with HTTP status 404"):
        Plugin({"wasm": [{"url": f"{server}/file/missing.wasm"}]})
    with pytest.raises(LoadError, match=r"Unable to load Wasm module from http://127.0.0.1:1/"):
        Plugin({"wasm": [{"url": "http://127.0.0.1:1/x.wasm"}]})


def test_assemblyscript_plugin_get_and_post(server: str) -> None:
    p = Plugin({"wasm": [{"path": str(AS / "http.wasm")}], "allowed_hosts": ["127.0.0.1"]})
    got = json.loads(p.call("fetch", json.dumps({"url": f"{server}/echo", "method": "GET",
                                                  "headers": {"X-From": "as"}})))
    assert got["status"] == 200
    echo = json.loads(got["body"])
    assert echo["method"] == "GET" and echo["headers"]["x-from"] == "as"
    posted = json.loads(p.call("fetch", json.dumps({"url": f"{server}/echo", "method": "POST",
                                                     "body": "héllo"})))
    echo = json.loads(posted["body"])
    assert echo["method"] == "POST" and echo["body"].encode("latin-1").decode() == "héllo"
    missing = json.loads(p.call("fetch", json.dumps({"url": f"{server}/status/500"})))
    assert missing == {"status": 500, "body": "status body"}


def test_wat_plugin_reads_status_and_headers(server: str) -> None:
    from .conftest import wasm

    p = Plugin({"wasm": [{"path": str(wasm("wat/http_headers"))}], "allowed_hosts": ["127.0.0.1"]})
    out = p.call("request", request(f"{server}/status/404"))
    assert int.from_bytes(out[:4], "little") == 404
    headers = json.loads(out[4:])
    assert headers["x-test"] == "yes" and headers["content-length"] == "11"

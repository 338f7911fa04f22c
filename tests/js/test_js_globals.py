"""The web-platform globals of the JS PDK, one export each in plugins/js/globals.js."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

import extism
import pytest

import wasmplug

from ..http_server import serve
from .conftest import built

Load = Callable[..., wasmplug.Plugin]


def result(plugin: wasmplug.Plugin, name: str) -> dict[str, object]:
    out: dict[str, object] = json.loads(plugin.call(name, ""))
    return out


def test_encode_into_writes_whole_characters_and_counts_utf16_units(load: Load) -> None:
    out = result(load("globals.js"), "encode_into")
    assert out["hello"] == {"read": 3, "written": 3} and out["helloBytes"] == [72, 101, 108]
    assert out["accent"] == {"read": 0, "written": 0} and out["accentBytes"] == [0]  # no lone 0xC3
    # "a" (1 byte) and "é" (2) fit in 6 bytes, the emoji (4) does not
    assert out["mixed"] == {"read": 2, "written": 3} and out["mixedBytes"] == [97, 195, 169, 0, 0, 0]


def test_the_clock_is_read_at_first_use_not_at_snapshot_time(load: Load) -> None:
    before = time.time() * 1000
    out = result(load("globals.js"), "clock")
    after = time.time() * 1000
    assert isinstance(out["origin"], (int, float)) and before - 1 <= out["origin"] <= after + 1
    assert isinstance(out["first"], float) and isinstance(out["second"], float)
    assert 0 <= out["first"] <= out["second"]


def test_console_has_every_method(load: Load, caplog: pytest.LogCaptureFixture) -> None:
    plugin = load("globals.js")
    with caplog.at_level(logging.DEBUG, logger="wasmplug.plugin"):
        assert plugin.call("console_methods", "") == b"logged"
    lines = [r.getMessage() for r in caplog.records if r.name == "wasmplug.plugin"]
    assert lines[0] == 'Map(1) { "a" => 1 } Set(1) { 2 }'
    assert lines[1] == "Assertion failed: one is not two"
    assert lines[2:5] == ["default: 1", "default: 2", "default: 1"]
    assert lines[5:7] == ["outer", "  inside"]
    assert re.fullmatch(r"t: \d+\.\d{3}ms", lines[7]) and re.fullmatch(r"t: \d+\.\d{3}ms", lines[8])
    assert lines[9] == '0\t1\n1\t2'


def test_structured_clone(load: Load) -> None:
    assert result(load("globals.js"), "clone") == {
        "distinct": True, "cyclic": True, "date": True, "deep": [1, 2], "set": ["x"],
        "bytes": [1, 2, 3], "re": "/a+/g", "refused": "DataCloneError"}


def test_event_target(load: Load) -> None:
    assert result(load("globals.js"), "events") == {
        "seen": ["first ping", "object true", "first ping"], "notCancelled": False}


def test_subtle_digest_matches_hashlib(load: Load) -> None:
    out = result(load("globals.js"), "digests")
    for name, algorithm in [("SHA-1", "sha1"), ("SHA-256", "sha256"), ("SHA-384", "sha384"),
                            ("SHA-512", "sha512")]:
        assert out[name] == hashlib.new(algorithm, b"abc").hexdigest()
    assert out["long"] == hashlib.sha256(b"a" * 1000).hexdigest()


def test_crypto_randomness_differs_between_calls_and_plugins(load: Load) -> None:
    first, second = result(load("globals.js"), "randomness"), result(load("globals.js"), "randomness")
    assert first["a"] != second["a"] and first["b"] != second["b"]
    uuid = str(first["uuid"])
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", uuid)
    assert first["self"] is True


def test_the_official_sdk_runs_the_globals_too() -> None:
    plugin = extism.Plugin({"wasm": [{"data": built("globals.js")}]}, wasi=True)
    assert json.loads(plugin.call("digests", ""))["SHA-256"] == hashlib.sha256(b"abc").hexdigest()
    assert json.loads(plugin.call("clone", ""))["cyclic"] is True
    assert len(json.loads(plugin.call("randomness", ""))["uuid"]) == 36


def test_url_and_url_search_params(load: Load) -> None:
    assert result(load("globals.js"), "urls") == {
        "href": "https://User:pw@example.com:8443/a/b/c?x=1&y=two+words&z=%C3%A9%26%3D#frag",
        "origin": "https://example.com:8443", "host": "example.com:8443", "pathname": "/a/b/c",
        "x": "1", "y": "two words", "hash": "#frag", "params": "a=1&b=2", "invalid": "TypeError",
        "plain": "http://example.com/", "port": ""}


def test_buffer_subset(load: Load) -> None:
    assert result(load("globals.js"), "buffers") == {
        "hex": "68c3a96c6c6f", "base64": "aMOpbGxv", "back": "héllo", "fromHex": "hi", "concat": "ab",
        "isBuffer": True, "length": 6}


def test_fetch_over_the_hosts_http_request(load: Load, tmp_path: Path) -> None:
    with serve(tmp_path) as url:
        allowed = load("globals.js", allowed_hosts=["127.0.0.1"])
        assert json.loads(allowed.call("fetches", url)) == {
            "status": 200, "ok": True, "type": "application/json", "xtest": "yes", "method": "POST",
            "body": "sent body", "header": "fetch", "missing": 404, "missingOk": False,
            "made": {"a": 1}, "used": True}
        # allowed_hosts applies to fetch as to Http.request: the host refuses the call
        with pytest.raises(wasmplug.CallError, match="not allowed"):
            load("globals.js").call("fetches", url)


def test_atob_btoa_dom_exception_and_the_pdks_synchronous_queue_microtask(load: Load) -> None:
    assert result(load("globals.js"), "compat") == {
        "order": "abc",  # the JS PDK runs a queued microtask at once
        "b64": "SGkgdGhlcmUh", "back": "Hi there!", "latin1": True,
        "atobError": [True, "InvalidCharacterError", 5], "btoaError": "InvalidCharacterError",
        "notFound": 8}


def test_buffer_numbers_search_compare_copy(load: Load) -> None:
    assert result(load("globals.js"), "buffer_more") == {
        "ints": [0xBEEF, -7, 2.5, 200, 0xBEEF], "find": [0, 8, 4, True, False], "compare": [-1, 1, 0],
        "copied": "..abc..", "filled": "xyxyx", "json": True, "encodings": [True, False]}


def test_console_warns_about_unknown_counters_and_timers(load: Load,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    plugin = load("globals.js")
    with caplog.at_level(logging.DEBUG, logger="wasmplug.plugin"):
        plugin.call("console_methods", "")  # resets a counter that exists: no warning
        assert plugin.call("console_warnings", "") == b"warned"
    warnings = [r.getMessage() for r in caplog.records
                if r.name == "wasmplug.plugin" and r.levelno == logging.WARNING]
    assert warnings == ["Count for 'never' does not exist", "Timer 'twice' already exists",
                        "Timer 'nothing' does not exist"]

"""Lifecycle, calls (sync, async, fan-out), schemas, errors, events, isolation, unload."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import wasmplug
from wasmplug.extensions import (
    ExtensionCallFailed,
    ExtensionCrashed,
    ExtensionError,
    ExtensionHost,
    ExtensionNotFound,
    ExtensionNotReady,
    ExtensionTimeout,
    InvalidParams,
    InvalidResult,
    MethodNotOffered,
    PermissionDenied,
)

from ..conftest import wasm
from ..http_server import serve
from ..waiting import wait_until
from .conftest import Recorder, entry, ext_wasm, running_calls, wait_for

OpenHost = Callable[..., tuple[ExtensionHost, Recorder]]
IR = {"module": "main", "functions": [{"name": "f", "body": ["add", 1, 2]}], "note": "é \"q\""}


def test_transform_returns_the_ir(open_host: OpenHost) -> None:
    host, _ = open_host(entry("transform", "transform"))
    assert host.call("transform", "transform", {"ir": IR, "other": 1}) == {
        "transformed": True, "output": IR}


def test_config_reaches_initialize_as_json_and_the_plugin_as_strings(open_host: OpenHost) -> None:
    host, _ = open_host(entry("transform", "transform", config={"level": "aggressive", "passes": 3}))
    info = host.call("transform", "info")
    assert info["config"] == {"level": "aggressive", "passes": 3}
    assert info["level"] == "aggressive"


def test_status_of_a_ready_extension(open_host: OpenHost) -> None:
    host, _ = open_host(entry("transform", "transform"), entry("stats", "stats"))
    for _ in range(5):
        host.call("transform", "transform", {"ir": 1})
    status = host.status()
    assert list(status) == ["transform", "stats"]
    s = status["transform"]
    assert (s.state, s.health, s.calls, s.errors, s.restarts, s.reason) == (
        "ready", "healthy", 5, 0, 0, None)
    assert s.version == hashlib.sha256(ext_wasm("transform").read_bytes()).hexdigest()
    assert s.capabilities == ("transform", "info")
    assert s.latency_p50_ms is not None and s.latency_p99_ms is not None
    assert 0 < s.latency_p50_ms <= s.latency_p99_ms
    assert status["stats"].calls == 0 and status["stats"].latency_p50_ms is None


@pytest.mark.parametrize(("fixture", "reason"), [
    ("init_fails", "initialize failed: cannot open the optimizer database"),
    ("init_not_ready", "degraded"),
    ("capabilities_not_json", "capabilities answered 'ping, pong and more', which is not JSON"),
    ("capabilities_invalid", 'capability #1 needs a non-empty "name"'),
])
def test_an_extension_that_fails_to_start_is_failed_with_the_reason(
        open_host: OpenHost, fixture: str, reason: str) -> None:
    host, events = open_host(entry("bad", fixture), entry("stats", "stats"))
    status = host.status()["bad"]
    assert status.state == "failed" and status.health == "unhealthy"
    assert status.reason is not None and reason in status.reason
    with pytest.raises(ExtensionNotReady, match=reason.replace("(", r"\(")) as info:
        host.call("bad", "ping")
    assert info.value.state == "failed" and info.value.extension == "bad"
    assert [e.kind for e in events.events if e.extension == "bad"] == ["failed"]
    assert host.call("stats", "stats", {}) == {"bytes": 2, "depth": 1, "strings": 0}  # others run


def test_an_extension_without_lifecycle_exports_gets_defaults_and_a_warning(
        open_host: OpenHost, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="wasmplug.extensions"):
        host, events = open_host(entry("plain", "no_lifecycle"))
    assert host.status()["plain"].state == "ready"
    assert [c.name for c in host.capabilities()["plain"]] == ["echo", "ping"]
    assert host.call("plain", "ping") == {"pong": True}
    assert host.call("plain", "echo", [1, "two"]) == [1, "two"]
    assert "does not export initialize or capabilities" in caplog.text
    assert events.of("warning")[0].data == {"missing": ["initialize", "capabilities"]}


def test_a_disabled_extension_is_not_loaded(open_host: OpenHost) -> None:
    host, _ = open_host(entry("off", "transform", enabled=False))
    assert host.status()["off"].state == "unloaded"
    with pytest.raises(ExtensionNotReady, match="disabled"):
        host.call("off", "transform", {"ir": 1})


def test_unknown_extension_and_methods(open_host: OpenHost) -> None:
    host, _ = open_host(entry("unruly", "unruly"))
    with pytest.raises(ExtensionNotFound, match=r"'nope'.*configured: unruly"):
        host.call("nope", "info")
    with pytest.raises(MethodNotOffered, match="does not offer 'missing'"):
        host.call("unruly", "missing")
    with pytest.raises(MethodNotOffered, match="does not offer 'hidden'"):  # exported, not offered
        host.call("unruly", "hidden")
    with pytest.raises(MethodNotOffered):  # lifecycle exports are not methods
        host.call("unruly", "initialize")


def test_a_failed_call_carries_the_extensions_own_text(open_host: OpenHost) -> None:
    host, events = open_host(entry("unruly", "unruly"))
    with pytest.raises(ExtensionCallFailed) as info:
        host.call("unruly", "fail", {"ir": 1})
    assert str(info.value) == "the optimizer rejected this IR"
    assert (info.value.extension, info.value.method) == ("unruly", "fail")
    assert not isinstance(info.value, ExtensionCrashed)
    status = host.status()["unruly"]
    assert (status.state, status.health, status.errors, status.restarts) == (
        "ready", "degraded", 1, 0)
    assert events.of("call_failed")[0].data == {"method": "fail", "error": "ExtensionCallFailed"}
    assert host.call("unruly", "info") == {"name": "unruly", "language": "wat"}
    assert host.status()["unruly"].health == "healthy"


def test_results_that_are_not_json_or_break_the_return_schema(open_host: OpenHost) -> None:
    host, _ = open_host(entry("unruly", "unruly"))
    with pytest.raises(InvalidResult, match="'this is not JSON', which is not JSON"):
        host.call("unruly", "not_json")
    with pytest.raises(InvalidResult, match=r"return_schema.*must contain"):
        host.call("unruly", "bad_result")
    assert host.status()["unruly"].errors == 2


def test_params_are_validated_before_the_call(open_host: OpenHost) -> None:
    host, _ = open_host(entry("unruly", "unruly"), entry("transform", "transform"))
    assert host.call("unruly", "echo", {"n": 7}) == {"n": 7}
    with pytest.raises(InvalidParams, match=r"invalid params for unruly\.echo: data\.n must be integer"):
        host.call("unruly", "echo", {"n": "seven"})
    with pytest.raises(InvalidParams, match="must contain"):
        host.call("transform", "transform", {"IR": 1})
    with pytest.raises(InvalidParams, match="cannot be sent as JSON"):
        host.call("transform", "info", {"x": object()})
    status = host.status()["unruly"]
    assert (status.calls, status.errors) == (1, 1)  # the invalid call never ran


def test_every_error_is_an_extension_error_and_a_wasmplug_error() -> None:
    for error in (ExtensionNotFound, ExtensionNotReady, MethodNotOffered, InvalidParams,
                  InvalidResult, ExtensionCallFailed, ExtensionTimeout, PermissionDenied,
                  ExtensionCrashed):
        assert issubclass(error, ExtensionError) and issubclass(error, wasmplug.Error)


def test_call_async(open_host: OpenHost) -> None:
    host, _ = open_host(entry("transform", "transform", permissions={"max_concurrent_calls": 2}))

    async def main() -> list[object]:
        return list(await asyncio.gather(*(host.call_async("transform", "transform", {"ir": i})
                                           for i in range(20))))

    assert asyncio.run(main()) == [{"transformed": True, "output": i} for i in range(20)]

    async def failing() -> None:
        await host.call_async("transform", "transform", {"no": 1})

    with pytest.raises(InvalidParams):
        asyncio.run(failing())


def test_call_capability_first_and_all(open_host: OpenHost) -> None:
    host, _ = open_host(entry("transform", "transform"), entry("stats", "stats"),
                        entry("plain", "no_lifecycle"), entry("unruly", "unruly"))
    assert host.offering("info") == ["transform", "stats", "unruly"]
    first = host.call_capability("info")
    assert first["name"] == "transform"
    every = host.call_capability("info", mode="all")
    assert {name: result["language"] for name, result in every.items()} == {
        "transform": "assemblyscript", "stats": "c", "unruly": "wat"}
    # Failures come back as values: `plain` echoes anything, `unruly` insists on {"n": int}.
    echoed = host.call_capability("echo", {"m": 1}, mode="all")
    assert echoed["plain"] == {"m": 1} and isinstance(echoed["unruly"], InvalidParams)
    with pytest.raises(MethodNotOffered, match="no ready extension offers 'fly'"):
        host.call_capability("fly")
    with pytest.raises(wasmplug.Error, match="mode must be"):
        host.call_capability("info", mode="some")  # type: ignore[arg-type]


@pytest.mark.timeout(60)
def test_fan_out_runs_concurrently(open_host: OpenHost) -> None:
    """Two extensions offering `spin` (each loops until its own 3 s timeout) are seen
    running at the same time."""
    spin = {"max_execution_time": "3s"}
    host, _ = open_host(entry("a", "unruly", permissions=spin, restart={"strategy": "never"}),
                        entry("b", "unruly", permissions=spin, restart={"strategy": "never"}))
    with ThreadPoolExecutor(1) as pool:
        fan_out = pool.submit(host.call_capability, "spin", None, "all")
        wait_for(lambda: all(s.in_flight == 1 for s in host.status().values()))
        result = fan_out.result()
    assert all(isinstance(r, ExtensionTimeout) for r in result.values()) and len(result) == 2


def test_limits_and_permissions(open_host: OpenHost) -> None:
    host, _ = open_host(
        entry("mem", "unruly", permissions={"max_memory": "1MiB"}, restart={"strategy": "never"}),
        entry("fuel", "unruly", permissions={"fuel": 100_000}, restart={"strategy": "never"}),
        entry("time", "unruly", permissions={"max_execution_time": "100ms"},
              restart={"strategy": "never"}))
    with pytest.raises(ExtensionCrashed, match=r"oom: .*memory\.max_pages \(16 pages\)"):
        host.call("mem", "hog")
    with pytest.raises(ExtensionCrashed, match="out of fuel"):
        host.call("fuel", "spin")
    with pytest.raises(ExtensionTimeout, match=r"timed out.*100 ms"):
        host.call("time", "spin")


def test_network_permission(open_host: OpenHost, tmp_path: Path) -> None:
    with serve(tmp_path) as base:
        host, _ = open_host(entry("closed", wasm("http")),
                            entry("open", wasm("http"), permissions={"allowed_hosts": ["127.0.0.1"]}))
        with pytest.raises(PermissionDenied, match="is not allowed"):
            host.call("closed", "fetch", {"url": f"{base}/echo"})
        assert host.call("open", "fetch", {"url": f"{base}/status/201"})["status"] == 201


def test_filesystem_permission_implies_wasi(open_host: OpenHost, tmp_path: Path) -> None:
    """wasi_files imports WASI: it loads only when a directory is granted."""
    (tmp_path / "data").mkdir()
    host, _ = open_host(entry("nofs", wasm("../c/wasi_files")),
                        entry("fs", wasm("../c/wasi_files"),
                              permissions={"filesystem": [f"ro:{tmp_path / 'data'}"]}))
    assert host.status()["nofs"].state == "failed"
    assert "wasi" in (host.status()["nofs"].reason or "").lower()
    assert host.status()["fs"].state == "ready"
    assert "read_file" in host.status()["fs"].capabilities


def test_max_concurrent_calls_uses_a_pool_of_initialised_instances(open_host: OpenHost) -> None:
    """With 2 instances a call is served while the other instance is busy looping."""
    host, _ = open_host(entry("pooled", "unruly", permissions={
        "max_concurrent_calls": 2, "max_execution_time": "5s"}, restart={"strategy": "never"}))
    with ThreadPoolExecutor(1) as pool:
        looping = pool.submit(host.call, "pooled", "spin")
        wait_until(lambda: running_calls(host, "pooled") == 1, "the first instance to loop")
        # the second instance is created, initialised, and answers while the first loops
        assert host.call("pooled", "counter") == {"count": 1}
        assert not looping.done()
        with pytest.raises(ExtensionTimeout):
            looping.result()


@pytest.mark.timeout(60)
def test_a_looping_extension_does_not_slow_another(open_host: OpenHost) -> None:
    host, _ = open_host(entry("loop", "unruly", permissions={"max_execution_time": "10s"},
                              restart={"strategy": "never"}),
                        entry("transform", "transform"))
    with ThreadPoolExecutor(1) as pool:
        looping = pool.submit(host.call, "loop", "spin")
        for i in range(300):
            assert host.call("transform", "transform", {"ir": i})["output"] == i
        assert not looping.done()  # 300 calls done while the other extension still loops
        with pytest.raises(ExtensionTimeout):
            looping.result()
    assert host.status()["transform"].errors == 0


def test_events_go_to_logging_and_the_callback(open_host: OpenHost,
                                              caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="wasmplug.extensions"):
        host, events = open_host(entry("transform", "transform"), entry("bad", "init_fails"))
        with pytest.raises(InvalidParams):
            host.call("transform", "transform", {})
        host.unload("transform")
    assert events.kinds() == ["loaded", "failed", "call_failed", "unloaded"]
    assert [e.extension for e in events.events] == ["transform", "bad", "transform", "transform"]
    records = [r for r in caplog.records if r.name == "wasmplug.extensions"]
    assert [r.event for r in records] == events.kinds()  # type: ignore[attr-defined]
    assert [r.levelno for r in records] == [logging.INFO, logging.WARNING, logging.WARNING,
                                            logging.INFO]


def test_a_broken_event_callback_does_not_break_the_host(write_config: Callable[..., Path],
                                                         caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: object) -> None:
        raise RuntimeError("callback bug")

    with ExtensionHost(write_config(entry("transform", "transform")), on_event=broken) as host:
        assert host.call("transform", "transform", {"ir": 1})["output"] == 1
    assert "on_event callback failed" in caplog.text


def test_unload_calls_shutdown_and_forgets_the_extension(
        open_host: OpenHost, caplog: pytest.LogCaptureFixture) -> None:
    host, events = open_host(entry("unruly", "unruly"), entry("stats", "stats"))
    host.call("unruly", "info")
    with caplog.at_level(logging.INFO):
        host.unload("unruly")
    assert "unruly: shutting down" in caplog.text
    assert list(host.status()) == ["stats"]
    with pytest.raises(ExtensionNotFound):
        host.call("unruly", "info")
    assert events.kinds("unruly") == ["loaded", "unloaded"]


@pytest.mark.timeout(60)
def test_unload_lets_a_running_call_finish(open_host: OpenHost) -> None:
    host, _ = open_host(entry("slow", "unruly", permissions={"max_execution_time": "1s"},
                              restart={"strategy": "never"}))
    extension = host.extension("slow")
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(host.call, "slow", "spin")
        wait_until(lambda: running_calls(host, "slow") == 1, "the call to loop")
        host.unload("slow")  # waits for the running call
        assert host.status().get("slow") is None
        with pytest.raises(ExtensionTimeout):  # it ran to its own end, not cut by the unload
            running.result(timeout=10)
    assert extension.state == "unloaded"


def test_a_source_url_with_a_pinned_hash(write_config: Callable[..., Path]) -> None:
    digest = hashlib.sha256(ext_wasm("transform").read_bytes()).hexdigest()
    with serve(ext_wasm("transform").parent) as base:
        def config(pin: str) -> str:
            return (f'[[extensions]]\nname = "remote"\n[extensions.source]\n'
                    f'url = "{base}/file/transform.wasm"\nhash = "{pin}"\n'
                    '[extensions.permissions]\nnetwork = false\n')

        with ExtensionHost(write_config(config(digest))) as host:
            assert host.call("remote", "transform", {"ir": 5})["output"] == 5
            assert host.status()["remote"].version == digest
        with ExtensionHost(write_config(config("0" * 64))) as host:
            status = host.status()["remote"]
            assert status.state == "failed" and "Hash mismatch" in (status.reason or "")

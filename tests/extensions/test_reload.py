"""Hot reload: modules and the TOML file change while the host runs."""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from wasmplug.extensions import (
    ExtensionCrashed,
    ExtensionHost,
    ExtensionNotFound,
    MethodNotOffered,
)

from .conftest import Recorder, entry, ext_wasm, wait_for

OpenHost = Callable[..., tuple[ExtensionHost, Recorder]]


def _replace(target: Path, fixture: str) -> None:
    """Replace `target` with an example extension atomically (as deploy tools do)."""
    staging = target.with_suffix(".tmp")
    shutil.copyfile(ext_wasm(fixture), staging)
    os.replace(staging, target)


@pytest.fixture
def live(tmp_path: Path) -> Path:
    """A module file the tests replace: versioned_1 to start with."""
    path = tmp_path / "live.wasm"
    shutil.copyfile(ext_wasm("versioned_1"), path)
    return path


def test_reload_swaps_the_module(open_host: OpenHost, live: Path) -> None:
    host, events = open_host(entry("v", live))
    before = host.status()["v"].version
    assert host.call("v", "version") == {"version": 1}
    _replace(live, "versioned_2")
    assert host.reload("v") is True
    assert host.call("v", "version") == {"version": 2}
    assert host.call("v", "v2_only") == {"version": 2}
    with pytest.raises(MethodNotOffered):
        host.call("v", "v1_only")  # capabilities come from the new module
    assert host.status()["v"].version not in (None, before)
    assert events.kinds("v") == ["loaded", "reloaded"]


@pytest.mark.parametrize("broken", ["init_fails", "capabilities_not_json"])
def test_a_failed_reload_keeps_the_old_version(open_host: OpenHost, live: Path, broken: str) -> None:
    host, events = open_host(entry("v", live))
    version = host.status()["v"].version
    _replace(live, broken)
    assert host.reload("v") is False
    [failed] = events.of("reload_failed")
    assert "previous version keeps running" in failed.message and failed.data["reason"]
    assert host.call("v", "version") == {"version": 1}
    assert host.status()["v"].state == "ready" and host.status()["v"].version == version
    live.write_bytes(b"not wasm at all")
    assert host.reload("v") is False
    assert host.call("v", "version") == {"version": 1}


def test_a_restart_after_a_failed_reload_restarts_the_running_version(
        open_host: OpenHost, tmp_path: Path) -> None:
    live = tmp_path / "unruly.wasm"
    shutil.copyfile(ext_wasm("unruly"), live)
    host, events = open_host(entry("u", live, restart={"strategy": "immediate"}))
    _replace(live, "init_fails")
    assert host.reload("u") is False
    with pytest.raises(ExtensionCrashed):
        host.call("u", "boom")
    assert host.call("u", "counter") == {"count": 1}  # a fresh instance of unruly, not init_fails
    assert events.kinds("u") == ["loaded", "reload_failed", "call_failed", "restarting",
                                 "restarted"]


def test_reload_revives_a_failed_extension(open_host: OpenHost, live: Path) -> None:
    _replace(live, "init_fails")
    host, _ = open_host(entry("v", live))
    assert host.status()["v"].state == "failed"
    _replace(live, "versioned_2")
    assert host.reload("v")
    assert host.call("v", "version") == {"version": 2}


def test_refresh_applies_the_toml(write_config: Callable[..., Path], live: Path,
                                  caplog: pytest.LogCaptureFixture) -> None:
    events = Recorder()
    path = write_config(entry("v", live), entry("unruly", "unruly"))
    with ExtensionHost(path, on_event=events) as host:
        # added, removed (with shutdown), changed config
        write_config(entry("v", live), entry("t", "transform", config={"level": "low"}))
        with caplog.at_level(logging.INFO):
            host.refresh()
        assert "unruly: shutting down" in caplog.text
        assert list(host.status()) == ["v", "t"]
        with pytest.raises(ExtensionNotFound):
            host.call("unruly", "info")
        assert host.call("t", "info")["level"] == "low"
        write_config(entry("v", live), entry("t", "transform", config={"level": "high"}))
        host.refresh()
        assert host.call("t", "info")["level"] == "high"
        # disabled, enabled again
        write_config(entry("v", live, enabled=False), entry("t", "transform", config={"level": "high"}))
        host.refresh()
        assert host.status()["v"].state == "unloaded"
        write_config(entry("v", live), entry("t", "transform", config={"level": "high"}))
        host.refresh()
        assert host.call("v", "version") == {"version": 1}
        # a module changed on disk, the TOML not
        _replace(live, "versioned_2")
        host.refresh()
        assert host.call("v", "version") == {"version": 2}
        # a broken TOML changes nothing
        path.write_text("[[extensions]\n")
        host.refresh()
        assert events.of("config_failed") and list(host.status()) == ["v", "t"]
        assert host.call("t", "info")["level"] == "high"
    kinds = [(e.extension, e.kind) for e in events.events]
    assert ("unruly", "unloaded") in kinds and ("t", "loaded") in kinds
    assert kinds.count(("t", "reloaded")) == 1 and kinds.count(("v", "reloaded")) == 1


@pytest.mark.timeout(90)
def test_watch_reloads_under_load_without_failed_or_mixed_calls(open_host: OpenHost,
                                                                 live: Path) -> None:
    host, events = open_host(entry("v", live, permissions={"max_concurrent_calls": 2}))
    host.watch()
    seen: list[int] = []
    started: list[tuple[float, int]] = []  # (when a call started, the version it saw)
    per_thread: list[list[int]] = [[], []]
    failures: list[BaseException] = []
    stop = threading.Event()

    def caller(mine: list[int]) -> None:
        while not stop.is_set():
            start = time.monotonic()
            try:
                version = host.call("v", "version")["version"]
            except BaseException as exc:
                failures.append(exc)
            else:
                mine.append(version)
                seen.append(version)
                started.append((start, version))

    threads = [threading.Thread(target=caller, args=(mine,)) for mine in per_thread]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: len(seen) > 100)
        _replace(live, "versioned_2")
        wait_for(lambda: bool(seen) and seen[-1] == 2)
        count = len(seen)
        wait_for(lambda: len(seen) > count + 100)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert set(seen) == {1, 2}
    reloaded = events.times[events.kinds().index("reloaded")]
    assert all(version == 2 for start, version in started if start > reloaded)
    for mine in per_thread:  # no thread ever went back to the old version
        assert mine == sorted(mine) and mine[-1] == 2
    assert events.kinds("v") == ["loaded", "reloaded"]


@pytest.mark.timeout(90)
def test_watch_follows_the_toml(write_config: Callable[..., Path], live: Path) -> None:
    events = Recorder()
    path = write_config(entry("v", live))
    with ExtensionHost(path, on_event=events) as host:
        host.watch()
        write_config(entry("v", live), entry("stats", "stats"))
        wait_for(lambda: "stats" in host.status() and host.status()["stats"].state == "ready")
        assert host.call("stats", "stats", {"a": [1]})["depth"] == 2
        write_config(entry("stats", "stats"))
        wait_for(lambda: "v" not in host.status())
        with pytest.raises(ExtensionNotFound):
            host.call("v", "version")
        # a failed reload through the watcher keeps the old version
        write_config(entry("stats", "stats"), entry("v", live))
        wait_for(lambda: "v" in host.status() and host.status()["v"].state == "ready")
        _replace(live, "init_fails")
        wait_for(lambda: bool(events.of("reload_failed")))
        assert host.call("v", "version") == {"version": 1}

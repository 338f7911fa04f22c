"""Restarts per policy: never, immediate, exponential; the retry budget; calls meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from wasmplug.extensions import (
    ExtensionCrashed,
    ExtensionHost,
    ExtensionNotReady,
    ExtensionTimeout,
)

from .conftest import Recorder, entry, wait_for

OpenHost = Callable[..., tuple[ExtensionHost, Recorder]]


def test_never_leaves_a_crashed_extension_failed(open_host: OpenHost) -> None:
    host, events = open_host(entry("u", "unruly", restart={"strategy": "never"}),
                             entry("t", "transform"))
    with pytest.raises(ExtensionCrashed, match="unreachable"):
        host.call("u", "boom")
    status = host.status()["u"]
    assert (status.state, status.restarts) == ("failed", 0)
    assert "u.boom crashed" in (status.reason or "")
    with pytest.raises(ExtensionNotReady, match="is failed"):
        host.call("u", "info")
    assert events.kinds("u") == ["loaded", "call_failed", "failed"]
    assert host.call("t", "transform", {"ir": 1})["output"] == 1  # the others are unaffected


def test_immediate_restarts_a_fresh_initialised_instance(open_host: OpenHost) -> None:
    host, events = open_host(entry("u", "unruly", restart={"strategy": "immediate"}))
    assert [host.call("u", "counter")["count"] for _ in range(3)] == [1, 2, 3]
    with pytest.raises(ExtensionCrashed):
        host.call("u", "boom")
    # the next call waits for the restart and runs on a fresh instance
    assert host.call("u", "counter") == {"count": 1}
    status = host.status()["u"]
    assert (status.state, status.restarts, status.errors) == ("ready", 1, 1)
    assert events.kinds("u") == ["loaded", "call_failed", "restarting", "restarted"]
    assert events.of("restarting")[0].data["delay"] == 0


@pytest.mark.timeout(60)
def test_a_timeout_is_a_crash_and_restarts_too(open_host: OpenHost) -> None:
    host, _ = open_host(entry("u", "unruly", permissions={"max_execution_time": "100ms"},
                              restart={"strategy": "immediate"}))
    with pytest.raises(ExtensionTimeout):
        host.call("u", "spin")
    assert host.call("u", "counter") == {"count": 1}
    assert host.status()["u"].restarts == 1


def test_exponential_delays_and_the_retry_budget(open_host: OpenHost) -> None:
    host, events = open_host(entry("u", "unruly", restart={
        "strategy": "exponential", "initial_delay": "20ms", "max_delay": "50ms", "max_retries": 4}))
    for _ in range(4):  # every crash comes right after a restart: 4 restarts in a row
        with pytest.raises(ExtensionCrashed):
            host.call("u", "boom")
        wait_for(lambda: host.status()["u"].state == "ready")
    with pytest.raises(ExtensionCrashed):
        host.call("u", "boom")  # the 5th crash in a row is over the budget
    status = host.status()["u"]
    assert (status.state, status.restarts) == ("failed", 4)
    assert "gave up after 4 restarts in a row" in (status.reason or "")
    assert [e.data["delay"] for e in events.of("restarting")] == pytest.approx(
        [0.02, 0.04, 0.05, 0.05])
    assert [e.data["attempt"] for e in events.of("restarted")] == [1, 2, 3, 4]
    assert events.kinds("u")[-2:] == ["call_failed", "failed"]


def test_a_successful_call_resets_the_budget(open_host: OpenHost) -> None:
    host, _ = open_host(entry("u", "unruly", restart={"strategy": "immediate", "max_retries": 1}))
    for _ in range(3):
        with pytest.raises(ExtensionCrashed):
            host.call("u", "boom")
        assert host.call("u", "counter") == {"count": 1}
    status = host.status()["u"]
    assert (status.state, status.restarts) == ("ready", 3)
    with pytest.raises(ExtensionCrashed):
        host.call("u", "boom")
    with pytest.raises(ExtensionCrashed):
        host.call("u", "boom")  # two in a row with max_retries = 1
    assert host.status()["u"].state == "failed"


def test_zero_retries_fails_on_the_first_crash(open_host: OpenHost) -> None:
    host, _ = open_host(entry("u", "unruly", restart={"strategy": "immediate", "max_retries": 0}))
    with pytest.raises(ExtensionCrashed):
        host.call("u", "boom")
    assert host.status()["u"].state == "failed"


@pytest.mark.timeout(60)
def test_calls_during_a_restart_fail_fast_when_configured(open_host: OpenHost) -> None:
    host, _ = open_host(entry("u", "unruly", restart={
        "strategy": "exponential", "initial_delay": "2s", "max_delay": "2s",
        "calls_during_restart": "fail"}))
    with pytest.raises(ExtensionCrashed):
        host.call("u", "boom")
    with pytest.raises(ExtensionNotReady, match="is restarting") as info:
        host.call("u", "info")
    assert info.value.state == "restarting"
    assert host.status()["u"].health == "unhealthy"
    wait_for(lambda: host.status()["u"].state == "ready")
    assert host.call("u", "info")["name"] == "unruly"


@pytest.mark.timeout(60)
def test_calls_during_a_restart_wait_by_default(open_host: OpenHost) -> None:
    host, events = open_host(entry("u", "unruly", restart={
        "strategy": "exponential", "initial_delay": "1s"}))
    with pytest.raises(ExtensionCrashed):
        host.call("u", "boom")
    assert host.status()["u"].state == "restarting"
    results: list[object] = []
    callers = [threading.Thread(target=lambda: results.append(host.call("u", "info")))
               for _ in range(3)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert results == [{"name": "unruly", "language": "wat"}] * 3
    assert events.kinds("u")[-1] == "restarted"


@pytest.mark.timeout(60)
def test_concurrent_crashes_leave_one_working_extension(open_host: OpenHost) -> None:
    host, _ = open_host(entry("u", "unruly", permissions={"max_concurrent_calls": 2},
                              restart={"strategy": "immediate"}))
    errors: list[BaseException] = []

    def crash() -> None:
        try:
            host.call("u", "boom")
        except ExtensionCrashed as exc:
            errors.append(exc)
        except ExtensionNotReady as exc:  # arrived while the first crash was being handled
            errors.append(exc)

    threads = [threading.Thread(target=crash) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 2
    wait_for(lambda: host.status()["u"].state == "ready")
    assert host.call("u", "counter") == {"count": 1}
    assert host.status()["u"].restarts in (1, 2)


@pytest.mark.timeout(60)
def test_a_restart_does_not_wait_for_a_slow_call_on_another_instance(open_host: OpenHost) -> None:
    host, _ = open_host(entry("u", "unruly", permissions={
        "max_concurrent_calls": 2, "max_execution_time": "8s"}, restart={"strategy": "immediate"}))
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(host.call, "u", "spin")
        wait_for(lambda: host.status()["u"].in_flight == 1)
        with pytest.raises(ExtensionCrashed):
            host.call("u", "boom")  # the other instance crashes
        wait_for(lambda: host.status()["u"].restarts == 1)
        assert host.call("u", "counter") == {"count": 1}  # restarted while `spin` still runs
        assert not slow.done()
        with pytest.raises(ExtensionTimeout):
            slow.result()  # it ended on the old build, whose crash is not restarted again
    assert host.status()["u"].restarts == 1 and host.status()["u"].state == "ready"

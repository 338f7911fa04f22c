"""Inline calls: a short call runs on the event loop, and a hostile one cannot hold the loop.

The loop's lag is measured inside the server's own event loop, by a probe task
that sleeps 1 ms again and again and records how late it wakes up.
"""

from __future__ import annotations

import asyncio
import gc
import math
import os
import struct
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wasmplug.serve import ServerSettings
from wasmplug.serve.runtime import WORKER_NICE

from ..waiting import wait_until
from .conftest import COUNT_VOWELS, HOSTILE, ROOT, Server, live_server

WASI_SLEEP = ROOT / "plugins" / "wat" / "wasi_sleep.wasm"


class LagProbe:
    """A task in the server's loop that measures the longest time the loop was held."""

    def __init__(self, server: Server) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None

        async def capture(request: Request) -> Response:
            self.loop = asyncio.get_running_loop()
            return Response("ok")

        server.app.router.routes.insert(0, Route("/test-capture-loop", capture))
        assert server.client.get(f"{server.url}/test-capture-loop").status_code == 200
        self.stop = threading.Event()
        self.worst = 0.0
        self.ticks = 0

    async def _probe(self) -> None:
        while not self.stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            self.worst = max(self.worst, time.perf_counter() - before - 0.001)
            self.ticks += 1

    @contextmanager
    def running(self) -> Iterator[None]:
        assert self.loop is not None
        done: Future[None] = asyncio.run_coroutine_threadsafe(self._probe(), self.loop)
        try:
            yield
        finally:
            self.stop.set()
            done.result(timeout=30)


def test_short_calls_run_inline(server: Server) -> None:
    server.deployed("cv", COUNT_VOWELS, public=True, max_instances=2)
    for _ in range(5):
        assert server.call("cv", "count_vowels", "aaa").json()["count"] == 3
    runtime = server.app.state.runtimes.active["cv"]
    assert runtime.inline and runtime.demoted_until == 0.0
    # The first call made an instance on a worker thread; the next ones found it warm, on the loop.
    assert runtime.pool.count() == 1 and server.app.state.runtimes.watchdog.cuts == 0


def test_a_looping_call_holds_the_loop_only_for_its_budget(server: Server) -> None:
    server.deployed("loop", HOSTILE / "endless_loop.wasm", public=True, timeout_ms=1500, max_instances=1)
    assert server.call("loop", "ok").status_code == 200  # a warm instance: the next call runs inline
    runtime = server.app.state.runtimes.active["loop"]
    probe = LagProbe(server)
    started = time.monotonic()
    with probe.running():
        reply = server.call("loop", "run")
    # Cut inline after its CPU budget, then run again on a worker thread: its own timeout answers.
    assert reply.status_code == 504 and reply.json()["kind"] == "timeout"
    assert time.monotonic() - started >= 1.4
    watchdog = server.app.state.runtimes.watchdog
    assert watchdog.cuts == 1 and watchdog.last_cut == "cpu" and runtime.demoted_until == math.inf
    # Inline, the loop would have been held for the whole 1.5 s timeout; the budget is 2 ms of CPU.
    assert probe.ticks > 10 and probe.worst < 0.5, probe.worst
    # Demoted for good: the next call runs on a worker thread, so the loop stays free again.
    probe2 = LagProbe(server)
    with probe2.running():
        assert server.call("loop", "run").status_code == 504
    assert watchdog.cuts == 1 and probe2.worst < 0.5


def test_a_waiting_call_is_cut_by_wall_time_and_cools_down(tmp_path: Path) -> None:
    with live_server(ServerSettings(data_dir=tmp_path, inline_wall_ms=100)) as server:
        server.deployed("nap", WASI_SLEEP, public=True, wasi=True, timeout_ms=5000, max_instances=1)
        assert server.call("nap", "sleep", struct.pack("<Q", 0)).status_code == 200  # warm
        runtime = server.app.state.runtimes.active["nap"]
        probe = LagProbe(server)
        started = time.monotonic()
        with probe.running():
            reply = server.call("nap", "sleep", struct.pack("<Q", 1_000_000_000))
        # The request is answered by its run on a worker thread, which slept the whole second.
        assert reply.status_code == 200 and time.monotonic() - started >= 1.0
        watchdog = server.app.state.runtimes.watchdog
        assert watchdog.cuts == 1 and watchdog.last_cut == "wall"
        assert time.monotonic() < runtime.demoted_until < math.inf  # a cool-down, not for good
        assert probe.worst < 0.6, probe.worst


def test_functions_with_http_never_run_inline(server: Server) -> None:
    server.deployed("cv", COUNT_VOWELS, public=True, allowed_hosts=["example.com"])
    server.deployed("fresh", COUNT_VOWELS, public=True, fresh_instance=True)
    for name in ("cv", "fresh"):
        assert not server.app.state.runtimes.active[name].inline


def test_inline_off(tmp_path: Path) -> None:
    with live_server(ServerSettings(data_dir=tmp_path, inline_budget_ms=0)) as server:
        server.deployed("cv", COUNT_VOWELS, public=True)
        assert server.call("cv", "count_vowels", "aaa").json()["count"] == 3
        assert not server.app.state.runtimes.active["cv"].inline


def test_many_concurrent_calls_inline_and_on_threads(server: Server) -> None:
    """Inline calls and thread calls of one function side by side: every answer right, no
    instance lost or made past the cap."""
    server.deployed("cv", COUNT_VOWELS, public=True, max_instances=3)

    async def flood() -> list[httpx.Response]:
        # 20 at a time: within the function's queue (3 instances x 9), so none is turned away.
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=20)) as client:
            return await asyncio.gather(*(
                client.post(f"{server.url}/f/cv/count_vowels", content="a" * (i % 7)) for i in range(300)))

    replies = asyncio.run(flood())
    assert [r.json()["count"] for r in replies] == [i % 7 for i in range(300)]
    runtime = server.app.state.runtimes.active["cv"]
    assert runtime.pool.count() <= 3 and runtime.running == 0 and runtime.admitted == 0
    assert len(runtime.pool.warm) + len(runtime.pool.cold) == runtime.pool.count()


@pytest.mark.skipif(sys.platform != "linux", reason="a thread's own priority is Linux's")
def test_demoted_functions_run_below_the_event_loop(server: Server) -> None:
    """A CPU-bound function, once demoted, cannot take the loop's core from it; other calls on worker
    threads (a new instance's first call, say) keep the loop's priority."""
    server.deployed("loop", HOSTILE / "endless_loop.wasm", public=True, timeout_ms=300, max_instances=1)
    assert server.call("loop", "ok").status_code == 200  # a first call: on a worker thread
    assert server.call("loop", "run").status_code == 504  # cut inline, demoted, run again
    assert server.app.state.runtimes.active["loop"].demoted_until == math.inf
    threads = threading.enumerate()
    loop_thread = next(t for t in threads if t.name == "uvicorn")  # serve_in_thread's
    workers = [t for t in threads if t.name.startswith("wasmplug-serve-call")]
    demoted = [t for t in threads if t.name.startswith("wasmplug-serve-demoted")]
    assert workers and demoted and loop_thread.native_id is not None
    base = os.getpriority(os.PRIO_PROCESS, loop_thread.native_id)
    for thread, nice in [(t, base) for t in workers] + [(t, min(19, base + WORKER_NICE)) for t in demoted]:
        assert thread.native_id is not None
        assert os.getpriority(os.PRIO_PROCESS, thread.native_id) == nice, thread.name


class _FakePlugin:
    """Stands for a plug-in in the watchdog's unit tests: records the cancels it gets."""

    def __init__(self) -> None:
        self.cancels = 0

    def cancel_handle(self) -> _FakePlugin:
        return self

    def cancel(self) -> bool:
        self.cancels += 1
        return True


@pytest.mark.parametrize("alarm", ["default", "sleep"])
def test_watchdog_cuts_by_cpu_time_and_by_wall_time_and_tells_its_cuts_apart(alarm: str) -> None:
    """With the platform's alarm (a timerfd on Linux), and with the one used where there is none."""
    from wasmplug.serve.inline import InlineWatchdog, SleepAlarm

    kind = SleepAlarm if alarm == "sleep" else None
    # Computing (this thread's CPU time runs): cut for CPU (the wall budget is far away).
    by_cpu = InlineWatchdog(budget_s=0.005, wall_s=60, alarm=kind)
    plugin = _FakePlugin()
    try:
        started = time.monotonic()
        computing = by_cpu.begin(plugin)  # type: ignore[arg-type]
        while not plugin.cancels and time.monotonic() - started < 20:
            sum(range(1000))
        by_cpu.end()
        assert plugin.cancels == 1 and by_cpu.last_cut == "cpu" and by_cpu.was_cut(computing)
        # A short call after it is not the cut one (a late cancel would not demote it).
        short = by_cpu.begin(plugin)  # type: ignore[arg-type]
        by_cpu.end()
        assert not by_cpu.was_cut(short) and by_cpu.cuts == 1
    finally:
        by_cpu.stop()
    # Waiting (no CPU time): cut once the wall budget has passed, and only once.
    by_wall = InlineWatchdog(budget_s=60, wall_s=0.2, alarm=kind)
    plugin = _FakePlugin()
    try:
        started = time.monotonic()
        waiting = by_wall.begin(plugin)  # type: ignore[arg-type]
        wait_until(lambda: plugin.cancels == 1, "the wall-clock cut")
        assert time.monotonic() - started >= 0.2 and by_wall.last_cut == "wall" and by_wall.was_cut(waiting)
        time.sleep(0.5)  # (not synchronisation: room for a second cut of the same call, which must not come)
        by_wall.end()
        assert plugin.cancels == 1 and by_wall.cuts == 1
    finally:
        by_wall.stop()


@pytest.mark.skipif(sys.platform != "linux", reason="the alarm is Linux's timerfd")
def test_the_watchdog_sleeps_through_a_stream_of_short_calls() -> None:
    """Short calls, one every 0.2 ms for 1 s, do not wake the watchdog (each wake-up takes the GIL
    from the event loop): only a pause of the stream of a look period or more (10 ms here: this
    thread losing its core on a loaded machine), or its end, may. A watchdog that looked every
    period woke up about 100 times here, pauses or not."""
    from wasmplug.serve.inline import InlineWatchdog, TimerfdAlarm

    watchdog = InlineWatchdog(budget_s=0.01, wall_s=0.05)
    plugin = _FakePlugin()
    try:
        watchdog.begin(plugin)  # type: ignore[arg-type]
        watchdog.end()
        assert isinstance(watchdog._alarm, TimerfdAlarm)
        calls = pauses = 0
        started = last = time.monotonic()
        while last - started < 1.0:
            watchdog.begin(plugin)  # type: ignore[arg-type]
            watchdog.end()
            calls += 1
            pause = time.monotonic() + 0.0002
            while time.monotonic() < pause:  # (pacing, not synchronisation)
                pass
            now = time.monotonic()
            pauses += now - last >= watchdog.period
            last = now
        # The alarm rings once after the last call (nothing to watch then): wait for that one.
        wait_until(lambda: watchdog.wakeups >= 1, "the wake-up after the last call")
        assert calls > 100 and watchdog.wakeups <= pauses + 1 and plugin.cancels == 0, (
            calls, pauses, watchdog.wakeups)
    finally:
        watchdog.stop()


@pytest.mark.skipif(sys.platform != "linux", reason="thread affinity, priority and schedstat are Linux's")
def test_time_without_a_core_is_not_a_wall_clock_cut() -> None:
    """A call whose thread stands ready without a core (a loaded machine) is not cut for wall-clock
    time: only running or waiting counts. Here the "event loop" thread shares one core, at nice 19,
    with a busy process at this process's priority: it runs a few percent of the time."""
    import subprocess

    from wasmplug.serve.inline import InlineWatchdog

    watchdog = InlineWatchdog(budget_s=60, wall_s=0.3)
    plugin = _FakePlugin()
    core = min(os.sched_getaffinity(0))
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    outcome: dict[str, float] = {}

    def starved_call() -> None:
        watchdog.begin(plugin)  # type: ignore[arg-type]  # the watchdog's thread starts unpinned
        watchdog.end()
        os.sched_setaffinity(0, {core})
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        cpu, wall = time.thread_time(), time.monotonic()
        watchdog.begin(plugin)  # type: ignore[arg-type]
        while time.monotonic() - wall < 1.5 and not plugin.cancels:
            pass  # computing, with a core a few percent of the time
        watchdog.end()
        outcome["cpu"], outcome["wall"] = time.thread_time() - cpu, time.monotonic() - wall

    try:
        os.sched_setaffinity(hog.pid, {core})
        thread = threading.Thread(target=starved_call)
        thread.start()
        thread.join(timeout=30)
        assert not thread.is_alive()
    finally:
        hog.kill()
        hog.wait()
        watchdog.stop()
    assert outcome["wall"] >= 1.5 and outcome["cpu"] < 0.3, outcome  # (the premise: it was starved)
    assert plugin.cancels == 0 and watchdog.cuts == 0 and watchdog.wakeups > 0


def test_the_watchdog_and_the_event_loop_in_metrics(server: Server) -> None:
    """/metrics shows the watchdog's wake-ups and cuts by reason, the event loop's lag (a probe task)
    and, on Linux, its thread's context switches, and the process's CPU time."""
    server.deployed("loop", HOSTILE / "endless_loop.wasm", public=True, timeout_ms=300, max_instances=1)
    assert server.call("loop", "ok").status_code == 200
    assert server.call("loop", "run").status_code == 504  # cut inline for CPU, run again on a thread

    def value(series: str) -> float:
        for line in server.client.get(f"{server.url}/metrics").text.splitlines():
            if line.startswith(series + " "):
                return float(line.split()[-1])
        raise AssertionError(f"{series} is not in /metrics")

    assert value('wasmplug_serve_inline_cuts_total{reason="cpu"}') == 1
    assert value('wasmplug_serve_inline_cuts_total{reason="wall"}') == 0
    assert value("wasmplug_serve_inline_watchdog_wakeups_total") >= 1
    wait_until(lambda: value("wasmplug_serve_event_loop_lag_seconds_count") >= 3, "the loop probe")
    assert value("process_cpu_seconds_total") > 0
    passes = value('wasmplug_serve_gc_pause_seconds_count{generation="0"}')
    gc.collect(0)  # (the server runs in this process: its timer sees this pass)
    assert value('wasmplug_serve_gc_pause_seconds_count{generation="0"}') >= passes + 1
    if sys.platform == "linux":
        assert value('wasmplug_serve_event_loop_switches_total{kind="voluntary"}') > 0


def test_the_fallback_alarm_sleeps_once_calls_stop() -> None:
    """Where there is no timerfd, the watchdog's alarm rings every period while calls come, and after
    IDLE_CHECKS periods without one it blocks until the next call."""
    from wasmplug.serve.inline import IDLE_CHECKS, SleepAlarm

    alarm = SleepAlarm(0.001)
    rings = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal rings
        while not stop.is_set():
            alarm.wait()
            rings += 1

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        wait_until(lambda: alarm._parked, "the alarm to park")
        parked_at = rings
        assert parked_at >= IDLE_CHECKS - 1  # (the last look is the one that parks)
        time.sleep(0.1)  # (not synchronisation: room for rings that must not come)
        assert rings == parked_at
        alarm.arm(time.monotonic())
        wait_until(lambda: rings > parked_at, "a ring after the next call")
    finally:
        stop.set()
        alarm.arm(time.monotonic())
        thread.join(timeout=10)

"""Prometheus metrics and the access log of invocations.

Per function: invocations by outcome, errors by kind, a latency histogram,
instances busy and idle, queue depth (the last three read from the runtimes
when scraped). Labels are function names (bounded by the server's
`max_functions`) and fixed kinds; a deleted function's series are removed.
For the server as a whole: the inline watchdog's wake-ups and cuts by reason,
the event loop's lag and its thread's context switches, the garbage
collector's pauses and frozen objects (`loop_probe.py`), and the process's CPU
time (prometheus_client's process collector).

Every invocation also writes one access-log line (`AccessLogWriter` once
started, else the logger `wasmplug.serve.access`): function, version, export,
status, outcome and duration, each value escaped and cut to a bounded length, so
a hostile name cannot forge or flood log lines.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any, TextIO

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .loop_probe import GcTimer, LoopProbe
from .runtime import Runtimes

access_log = logging.getLogger("wasmplug.serve.access")
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
LAG_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
MAX_LOGGED = 64
MAX_ESCAPED = 4096


LINE = "function=%s version=%d export=%s status=%d outcome=%s duration_ms=%.2f"


def _line(name: str, version: int, export: str, status: int, kind: str, seconds: float) -> str:
    return LINE % (escaped(name), version, escaped(export), status, escaped(kind), seconds * 1000)


class AccessLogWriter:
    """Writes the access log to `stream` from a thread of its own, in batches: a request only
    appends its fields to a list (no formatting, no lock, no wake-up of the writer, which looks
    every `every` seconds). At most `maxsize` lines wait; past that, lines are dropped and
    counted in `dropped` rather than memory grown."""

    def __init__(self, stream: TextIO, maxsize: int = 10_000, every: float = 0.05) -> None:
        self.stream = stream
        self.maxsize = maxsize
        self.every = every
        self.dropped = 0
        self.pending: collections.deque[tuple[Any, ...]] = collections.deque()
        self._escaped: dict[str, str] = {}  # (see `flush`)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, *fields: Any) -> None:
        """One invocation's (time, name, version, export, status, kind, seconds)."""
        if len(self.pending) >= self.maxsize:
            self.dropped += 1
        else:
            self.pending.append(fields)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="wasmplug-serve-access-log", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Write what waits, and stop the thread."""
        global _writer
        if _writer is self:
            _writer = None
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.flush()

    def flush(self) -> None:
        """Format and write what waits. The writer holds the GIL while it formats, and the event
        loop waits for it then: so each second's time stamp is formatted once, and each name's
        escaped form is kept (at most `MAX_ESCAPED` of them)."""
        lines = []
        pending = self.pending
        stamps: dict[int, str] = {}
        known = self._escaped
        prefix = f" {access_log.name}: function="
        while pending:
            at, name, version, export, status, kind, seconds = pending.popleft()
            second = int(at)
            stamp = stamps.get(second)
            if stamp is None:
                stamp = stamps[second] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
            values = []
            for value in (name, export, kind):
                text = known.get(value)
                if text is None:
                    if len(known) >= MAX_ESCAPED:
                        known.clear()
                    text = known[value] = escaped(value)
                values.append(text)
            lines.append(f"{stamp},{int(at % 1 * 1000):03d}{prefix}{values[0]} version={version} "
                         f"export={values[1]} status={status} outcome={values[2]} "
                         f"duration_ms={seconds * 1000:.2f}\n")
        if lines:
            self.stream.write("".join(lines))
            self.stream.flush()


_writer: AccessLogWriter | None = None


def start_access_log(stream: TextIO, maxsize: int = 10_000) -> AccessLogWriter:
    """Write the access log to `stream` from a thread of its own (`AccessLogWriter`), so a request
    never waits for a write or a log record. Stop the returned writer at exit."""
    global _writer
    writer = AccessLogWriter(stream, maxsize)
    writer.start()
    _writer = writer
    return writer


def escaped(value: object) -> str:
    """`value` for a log line: printable ASCII only (others as \\x.. escapes), at most 64 characters."""
    text = str(value)
    cut = text[:MAX_LOGGED]
    safe = cut.encode("unicode_escape").decode("ascii").replace(" ", "\\x20").replace('"', '\\"')
    return safe + ("..." if len(text) > MAX_LOGGED else "")


class _PoolCollector(Collector):
    def __init__(self, runtimes: Runtimes, probe: LoopProbe) -> None:
        self.runtimes = runtimes
        self.probe = probe

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        instances = GaugeMetricFamily("wasmplug_serve_instances", "Plug-in instances of each function",
                                      labels=["function", "state"])
        queue = GaugeMetricFamily("wasmplug_serve_queue_depth", "Requests waiting for an instance",
                                  labels=["function"])
        for name, runtime in list(self.runtimes.active.items()):
            busy = runtime.running
            instances.add_metric([name, "busy"], busy)
            instances.add_metric([name, "idle"], max(0, runtime.instances() - busy))
            queue.add_metric([name], runtime.queued)
        yield instances
        yield queue
        watchdog = self.runtimes.watchdog
        yield CounterMetricFamily("wasmplug_serve_inline_watchdog_wakeups", "Times the inline watchdog's "
                                  "thread woke up (each takes the GIL)", value=watchdog.wakeups)
        cuts = CounterMetricFamily("wasmplug_serve_inline_cuts", "Inline calls cut (and their function "
                                   "demoted to worker threads), by the budget they ran past",
                                   labels=["reason"])
        for reason, count in watchdog.cuts_by_reason.items():
            cuts.add_metric([reason], count)
        yield cuts
        yield GaugeMetricFamily("wasmplug_serve_gc_frozen_objects", "Objects out of the garbage "
                                "collector's sight (gc.freeze() once wasmplug serve has started)",
                                value=gc.get_freeze_count())
        switches = self.probe.switches()
        if switches is not None:
            family = CounterMetricFamily("wasmplug_serve_event_loop_switches", "Context switches of the "
                                         "event loop's thread (voluntary: waits, mostly for the GIL)",
                                         labels=["kind"])
            family.add_metric(["voluntary"], switches[0])
            family.add_metric(["involuntary"], switches[1])
            yield family


class Metrics:
    """The server's metrics, in a registry of its own (two apps in one process do not collide)."""

    def __init__(self, runtimes: Runtimes) -> None:
        self.registry = CollectorRegistry()
        self.invocations = Counter("wasmplug_serve_invocations", "Invocations of each function",
                                   ["function", "outcome"], registry=self.registry)
        self.errors = Counter("wasmplug_serve_errors", "Failed invocations by kind",
                              ["function", "kind"], registry=self.registry)
        self.latency = Histogram("wasmplug_serve_latency_seconds", "Invocation latency",
                                 ["function"], buckets=BUCKETS, registry=self.registry)
        self.loop_lag = Histogram("wasmplug_serve_event_loop_lag_seconds", "How late the event loop "
                                  "woke a task sleeping 5 ms", buckets=LAG_BUCKETS, registry=self.registry)
        self.probe = LoopProbe(self.loop_lag)
        self.gc_timer = GcTimer(Histogram("wasmplug_serve_gc_pause_seconds", "Garbage-collector passes "
                                          "(each holds the GIL)", ["generation"], buckets=LAG_BUCKETS,
                                          registry=self.registry))
        self.registry.register(_PoolCollector(runtimes, self.probe))
        ProcessCollector(registry=self.registry)
        self._kinds: dict[str, set[str]] = {}
        # Each function's "ok" counter and latency histogram, looked up once (labels() takes a lock).
        self._series: dict[str, tuple[Any, Any]] = {}

    def observe(self, name: str, version: int, export: str, status: int, kind: str, seconds: float) -> None:
        """Count one invocation of `name` (kind "ok" or the error's kind) and log it."""
        series = self._series.get(name)
        if series is None:
            series = self._series[name] = (self.invocations.labels(name, "ok"), self.latency.labels(name))
        if kind == "ok":
            series[0].inc()
        else:
            self.invocations.labels(name, "error").inc()
            self._kinds.setdefault(name, set()).add(kind)
            self.errors.labels(name, kind).inc()
        series[1].observe(seconds)
        writer = _writer
        if writer is not None:
            writer.add(time.time(), name, version, export, status, kind, seconds)
        elif access_log.isEnabledFor(logging.INFO):
            access_log.info("%s", _line(name, version, export, status, kind, seconds))

    def forget(self, name: str) -> None:
        """Drop a deleted function's series."""
        self._series.pop(name, None)
        with contextlib.suppress(KeyError):
            self.latency.remove(name)
        for outcome in ("ok", "error"):
            with contextlib.suppress(KeyError):
                self.invocations.remove(name, outcome)
        for kind in self._kinds.pop(name, set()):
            with contextlib.suppress(KeyError):
                self.errors.remove(name, kind)

    def exposition(self) -> bytes:
        data: bytes = generate_latest(self.registry)
        return data

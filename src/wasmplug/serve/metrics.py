"""Prometheus metrics and the access log of invocations.

Per function: invocations by outcome, errors by kind, a latency histogram,
instances busy and idle, queue depth (the last three read from the runtimes
when scraped). Labels are function names (bounded by the server's
`max_functions`) and fixed kinds; a deleted function's series are removed.

Every invocation also writes one access-log line (logger `wasmplug.serve.access`):
function, version, export, status, outcome and duration, each value escaped and
cut to a bounded length, so a hostile name cannot forge or flood log lines.
"""

from __future__ import annotations

import contextlib
import logging
import queue
from collections.abc import Iterator
from logging.handlers import QueueHandler, QueueListener
from typing import TextIO

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .runtime import Runtimes

access_log = logging.getLogger("wasmplug.serve.access")
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
MAX_LOGGED = 64


class _DroppingQueueHandler(QueueHandler):
    """Hands records to a writer thread, unformatted; when `maxsize` wait there, drops and counts."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(queue.Queue(maxsize))
        self.dropped = 0

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record  # formatted by the writer thread (the arguments are immutable)

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1


def start_access_log(stream: TextIO, maxsize: int = 10_000) -> QueueListener:
    """Write the access log to `stream` from a thread of its own, so a request never waits for a
    write (a quarter of a small request's cost when written inline). At most `maxsize` lines wait;
    past that, lines are dropped rather than memory grown. Stop the returned listener at exit."""
    feeder = _DroppingQueueHandler(maxsize)
    writer = logging.StreamHandler(stream)
    writer.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
    listener = QueueListener(feeder.queue, writer)
    access_log.addHandler(feeder)
    access_log.setLevel(logging.INFO)
    access_log.propagate = False
    listener.start()
    return listener


def escaped(value: object) -> str:
    """`value` for a log line: printable ASCII only (others as \\x.. escapes), at most 64 characters."""
    text = str(value)
    cut = text[:MAX_LOGGED]
    safe = cut.encode("unicode_escape").decode("ascii").replace(" ", "\\x20").replace('"', '\\"')
    return safe + ("..." if len(text) > MAX_LOGGED else "")


class _PoolCollector(Collector):
    def __init__(self, runtimes: Runtimes) -> None:
        self.runtimes = runtimes

    def collect(self) -> Iterator[GaugeMetricFamily]:
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
        self.registry.register(_PoolCollector(runtimes))
        self._kinds: dict[str, set[str]] = {}

    def observe(self, name: str, version: int, export: str, status: int, kind: str, seconds: float) -> None:
        """Count one invocation of `name` (kind "ok" or the error's kind) and log it."""
        ok = kind == "ok"
        self.invocations.labels(name, "ok" if ok else "error").inc()
        if not ok:
            self._kinds.setdefault(name, set()).add(kind)
            self.errors.labels(name, kind).inc()
        self.latency.labels(name).observe(seconds)
        access_log.info("function=%s version=%d export=%s status=%d outcome=%s duration_ms=%.2f",
                        escaped(name), version, escaped(export), status, escaped(kind), seconds * 1000)

    def forget(self, name: str) -> None:
        """Drop a deleted function's series."""
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

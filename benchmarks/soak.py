#!/usr/bin/env python3
"""Soak test: do wasmplug's memory, file descriptors and threads stay flat over
many calls and plug-ins?

    python benchmarks/soak.py                      # 1,000,000 calls, 10,000 plug-ins
    python benchmarks/soak.py --quick              # 100,000 calls, 1,000 plug-ins
    python benchmarks/soak.py --calls N --plugins M
    python benchmarks/soak.py --quick --tracemalloc   # also trace the Python heap (slow)
    python benchmarks/soak.py --quick --inject-leak 44  # keep 44 bytes per call: must MISS
    python benchmarks/soak.py --fault-rounds 100     # phase 3: rounds of faults (default 1,000)

Phase 1 makes N calls on long-lived plug-ins, mixing successful calls (echo
with 16 B, 64 KiB and 1 MB inputs, count_vowels with config and a var read +
write per call, a host function, a plug-in with `timeout_ms`, HTTP GETs to a
local server, WASI file reads), and calls that fail: an error set by the
plug-in, a trap, a missing export, a host function that raises, a call
stopped by `timeout_ms`, and a call cancelled through its cancel handle.
Phase 2 creates M plug-ins (half from a shared CompiledPlugin, half from wasm
bytes), calls each once and drops or closes it.
Phase 3 runs R rounds of the faults of issue 25 (docs/concurrency.md): 8
threads share a 2-instance PluginPool (200 uses, acquire timeout 10 s), a
supervised PluginServer gives up (restart budget 0) while threads send it
calls, and one long-lived AssemblyScript plug-in has 20 HTTP requests refused
(each an abort inside the guest). A use that meets a PoolTimeout, a call left
unanswered for 10 s, or a refusal that fails any other way is a MISS.

After a warm-up (so that caches, first compilations and lazily started
threads are not counted), RSS (/proc/self/statm), open file descriptors
(/proc/self/fd) and threads (/proc/self/status) are read after a gc.collect()
before and after each phase, and RSS is sampled during it. A phase passes when
RSS grows less than 5 MB, the RSS slope over the second half of the phase
(least squares over the samples) stays under 10 B per call (2 KB per
plug-in), and no file descriptor or thread is left behind (a slack of 2
each). The report states the smallest steady per-operation leak the run can
detect: min(5 MB / operations, the slope limit). Also recorded: the objects
the garbage collector tracks, with the types whose count grew the most. With
--tracemalloc the Python heap is traced too and the top allocation sites that
grew are listed.

Results go to benchmarks/results/soak.json (git-ignored). Exit status: 0 when
every phase passes, 1 on a MISS, 2 if something unexpected was raised.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
AS = ROOT / "plugins" / "assemblyscript"
WAT = ROOT / "plugins" / "wat"
ECHO = AS / "echo.wasm"
COUNT_VOWELS = AS / "count_vowels.wasm"
ERRORS = AS / "errors.wasm"
TRAP = WAT / "trap.wasm"
GREET = WAT / "greet.wasm"
LOOP = WAT / "loop.wasm"
HTTP_GET = WAT / "http_get.wasm"
WASI_FILES = ROOT / "plugins" / "c" / "wasi_files.wasm"
HTTP_AS = AS / "http.wasm"
CONFIG = {"vowels": "aeiouAEIOU"}
TARGET_MB = 5.0
SLOPE_LIMIT = {"calls": 10.0, "plug-ins": 2000.0, "rounds": 4000.0}   # bytes per operation
FD_SLACK = 2
# Outcomes of phase 3 that are failures of the fault handling itself.
FAULT_MISSES = ("pool_timeouts", "unanswered_calls", "wrong_answers", "unclean_refusals")
THREAD_SLACK = 2
PAGE = os.sysconf("SC_PAGE_SIZE")
# A guest that calls a host function, then loops until interrupted: the host
# function raises (`raise_in_host`) or cancels the running call (`cancel_me`).
HOST_CALLS_WAT = """
(module
  (import "extism:host/user" "raise_in_host" (func $raise_in_host))
  (import "extism:host/user" "cancel_me" (func $cancel_me))
  (func (export "raises") (result i32) (call $raise_in_host) (i32.const 0))
  (func (export "cancelled") (result i32) (call $cancel_me) (loop $l (br $l)) (i32.const 0)))
"""

# Keep the compiled-module disk cache out of ~/.cache (set before importing wasmplug).
_CACHE_DIR = tempfile.TemporaryDirectory(prefix="wasmplug-soak-")
os.environ["WASMPLUG_CACHE_DIR"] = _CACHE_DIR.name

from rich.console import Console  # noqa: E402
from rich.progress import (  # noqa: E402
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table  # noqa: E402

import wasmplug  # noqa: E402
from wasmplug.actors import Registry, ServerStopped, Supervisor  # noqa: E402

console = Console()
if not console.is_terminal and console.width < 170:
    console = Console(width=170)


# ---------------------------------------------------------------- measuring

def rss_bytes() -> int:
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * PAGE


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def thread_count() -> int:
    """Native threads of the process (Python's and the runtime's own)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return threading.active_count()


def slope(samples: list[tuple[int, int]]) -> float:
    """Least-squares bytes per operation over the second half of the samples."""
    half = samples[len(samples) // 2:]
    if len(half) < 3:
        return 0.0
    n = len(half)
    mx = sum(x for x, _ in half) / n
    my = sum(y for _, y in half) / n
    var = sum((x - mx) ** 2 for x, _ in half)
    return sum((x - mx) * (y - my) for x, y in half) / var if var else 0.0


def type_counts() -> collections.Counter[str]:
    return collections.Counter(type(o).__qualname__ for o in gc.get_objects())


@dataclass
class Snapshot:
    rss: int
    fds: int
    threads: int
    gc_objects: int
    types: collections.Counter[str]
    traced: int | None = None           # tracemalloc current size
    trace: tracemalloc.Snapshot | None = None


def snapshot(trace: bool) -> Snapshot:
    gc.collect()
    gc.collect()
    types = type_counts()
    snap = Snapshot(rss=rss_bytes(), fds=open_fds(), threads=thread_count(),
                    gc_objects=sum(types.values()), types=types)
    if trace:
        snap.traced = tracemalloc.get_traced_memory()[0]
        snap.trace = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__),
             tracemalloc.Filter(False, "<frozen importlib._bootstrap*>")])
    del types
    return snap


@dataclass
class PhaseResult:
    phase: str
    operations: int
    unit: str
    duration_s: float
    ops_per_s: float
    rss_before: int
    rss_after: int
    growth: int
    gc_objects_before: int
    gc_objects_after: int
    type_growth: list[tuple[str, int]]
    rss_samples: list[tuple[int, int]]          # (operations done, RSS) during the phase
    fds_before: int = 0
    fds_after: int = 0
    threads_before: int = 0
    threads_after: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    traced_before: int | None = None
    traced_after: int | None = None
    trace_top: list[dict[str, Any]] = field(default_factory=list)

    @property
    def slope(self) -> float:
        """RSS bytes per operation over the second half of the phase."""
        return slope(self.rss_samples)

    @property
    def detectable_leak(self) -> float:
        """The smallest steady per-operation leak this phase would report as a MISS."""
        return min(TARGET_MB * 1e6 / max(self.operations, 1), SLOPE_LIMIT[self.unit])

    @property
    def misses(self) -> list[str]:
        found = []
        if self.growth >= TARGET_MB * 1e6:
            found.append(f"RSS grew {self.growth / 1e6:.1f} MB (limit {TARGET_MB:g} MB)")
        if self.slope >= SLOPE_LIMIT[self.unit]:
            found.append(f"RSS climbs {self.slope:.1f} B per {self.unit[:-1]} "
                         f"(limit {SLOPE_LIMIT[self.unit]:g})")
        if self.fds_after - self.fds_before > FD_SLACK:
            found.append(f"{self.fds_after - self.fds_before} file descriptors left open")
        if self.threads_after - self.threads_before > THREAD_SLACK:
            found.append(f"{self.threads_after - self.threads_before} threads left running")
        for kind in FAULT_MISSES:
            if self.outcomes.get(kind):
                found.append(f"{self.outcomes[kind]:,} {kind.replace('_', ' ')}")
        return found

    @property
    def passed(self) -> bool:
        return not self.misses


def compare(before: Snapshot, after: Snapshot) -> dict[str, Any]:
    growth = after.types.copy()
    growth.subtract(before.types)
    out: dict[str, Any] = {
        "gc_objects_before": before.gc_objects,
        "gc_objects_after": after.gc_objects,
        "type_growth": [(t, n) for t, n in growth.most_common(15) if n > 0],
        "traced_before": before.traced,
        "traced_after": after.traced,
        "trace_top": [],
    }
    if before.trace is not None and after.trace is not None:
        for stat in after.trace.compare_to(before.trace, "lineno")[:15]:
            frame = stat.traceback[0]
            out["trace_top"].append({"where": f"{frame.filename}:{frame.lineno}",
                                     "size_diff": stat.size_diff,
                                     "count_diff": stat.count_diff})
    return out


# ---------------------------------------------------------------- the workload

@wasmplug.host_fn()
def hello_world(name: str) -> str:
    return f"Hello, {name}!"


class _Server(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = b"soak response " * 10
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def raise_in_host(*_: Any) -> None:
    raise ValueError("raised by the host on purpose")


class Workload:
    """The long-lived plug-ins of phase 1 and the operations on them."""

    def __init__(self, leak: int = 0) -> None:
        self.leaked: list[bytes] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Server)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/soak"
        self.files = tempfile.TemporaryDirectory(prefix="wasmplug-soak-wasi-")
        Path(self.files.name, "hello.txt").write_text("hello from the host")
        self.echo = wasmplug.Plugin(ECHO, functions=[])
        self.vowels = wasmplug.Plugin(COUNT_VOWELS, config=CONFIG, functions=[])
        self.errors = wasmplug.Plugin(ERRORS, functions=[])
        self.trap = wasmplug.Plugin(TRAP, functions=[])
        self.greet = wasmplug.Plugin(GREET, functions=[hello_world])
        self.timed = wasmplug.Plugin(
            {"wasm": [{"path": str(COUNT_VOWELS)}], "config": CONFIG, "timeout_ms": 5000},
            functions=[])
        self.loop = wasmplug.Plugin({"wasm": [{"path": str(LOOP)}], "timeout_ms": 2},
                                    functions=[])
        self.http = wasmplug.Plugin({"wasm": [{"path": str(HTTP_GET)}],
                                     "allowed_hosts": ["127.0.0.1"], "timeout_ms": 5000},
                                    functions=[])
        self.wasi = wasmplug.Plugin({"wasm": [{"path": str(WASI_FILES)}],
                                     "allowed_paths": {f"ro:{self.files.name}": "/files"}},
                                    wasi=True, functions=[])
        handle_box: list[wasmplug.CancelHandle] = []
        self.host_calls = wasmplug.Plugin(HOST_CALLS_WAT, functions=[
            wasmplug.Function("extism:host/user", "raise_in_host", [], [], raise_in_host),
            wasmplug.Function("extism:host/user", "cancel_me", [], [],
                              lambda *_: handle_box[0].cancel())])
        handle_box.append(self.host_calls.cancel_handle())
        self.outcomes: collections.Counter[str] = collections.Counter()
        small, big = b"soak test input!", bytes(range(256)) * 256   # 16 B, 64 KiB
        huge = bytes(range(256)) * 4096                              # 1 MiB
        echo, vowels, errors, trap, greet, timed = (
            self.echo, self.vowels, self.errors, self.trap, self.greet, self.timed)
        loop, http, wasi, host_calls = self.loop, self.http, self.wasi, self.host_calls
        http_request = json.dumps({"url": self.url}).encode()
        Error, CallTimeout = wasmplug.Error, wasmplug.CallTimeout
        leaked = self.leaked

        def echo_small() -> None:
            if echo.call("echo", small) != small:
                raise AssertionError("echo returned other bytes")
            if leak:
                leaked.append(bytes(leak * len(cycle_names) // echo_share))

        def echo_huge() -> None:
            if echo.call("echo", huge) != huge:
                raise AssertionError("echo (1 MiB) returned other bytes")

        def http_get() -> None:
            if not http.call("get", http_request).startswith(b"soak response"):
                raise AssertionError("the HTTP GET returned another body")

        def wasi_read() -> None:
            if wasi.call("read_file", "/files/hello.txt") != b"hello from the host":
                raise AssertionError("the WASI read returned other bytes")

        def timeout() -> None:
            try:
                loop.call("forever", b"")
            except CallTimeout:
                return
            raise AssertionError("the endless loop was not stopped by timeout_ms")

        def cancelled() -> None:
            try:
                host_calls.call("cancelled", b"")
            except CallTimeout:
                return
            raise AssertionError("the cancelled call did not fail")

        def host_raises() -> None:
            try:
                host_calls.call("raises", b"")
            except Error as exc:
                if isinstance(exc.__cause__, ValueError):
                    return
            raise AssertionError("the host function's exception did not fail the call")

        def echo_big() -> None:
            if echo.call("echo", big) != big:
                raise AssertionError("echo (64 KiB) returned other bytes")

        def count_vowels() -> None:
            vowels.call("count_vowels", "Hello, soak world")

        def timed_count() -> None:
            timed.call("count_vowels", "timer path")

        def greet_call() -> None:
            greet.call("greet", "soak")

        def fail_message() -> None:
            try:
                errors.call("fail_with_message", "expected failure")
            except Error:
                return
            raise AssertionError("fail_with_message did not fail")

        def trap_call() -> None:
            try:
                trap.call("trap", b"")
            except Error:
                return
            raise AssertionError("trap did not fail")

        def missing_export() -> None:
            try:
                echo.call("no_such_export", small)
            except Error:
                return
            raise AssertionError("a missing export did not fail")

        # (name, operation, occurrences per 1000 operations)
        mix: list[tuple[str, Callable[[], None], int]] = [
            ("echo_16b", echo_small, 262),
            ("echo_64k", echo_big, 5),
            ("echo_1m", echo_huge, 1),
            ("count_vowels", count_vowels, 250),
            ("count_vowels_timeout_ms", timed_count, 150),
            ("host_fn_greet", greet_call, 150),
            ("http_get", http_get, 5),
            ("wasi_read", wasi_read, 5),
            ("fail_with_message", fail_message, 60),
            ("trap", trap_call, 50),
            ("missing_export", missing_export, 50),
            ("host_fn_raises", host_raises, 10),
            ("timeout_2ms", timeout, 1),
            ("cancelled", cancelled, 1),
        ]
        assert sum(n for _, _, n in mix) == 1000
        echo_share = 262
        cycle_names: list[str] = []
        # A fixed interleaving: spread each kind evenly over the 1000 slots.
        slots: list[tuple[float, str, Callable[[], None]]] = []
        for name, op, n in mix:
            slots += [((k + 0.5) / n, name, op) for k in range(n)]
        slots.sort(key=lambda s: (s[0], s[1]))
        self.cycle_names = cycle_names
        cycle_names += [name for _, name, _ in slots]
        self.cycle = [op for _, _, op in slots]

    def check(self) -> None:
        """Each operation behaves as expected (outside the measured phases)."""
        assert self.echo.call("echo", b"x") == b"x"
        out = json.loads(self.vowels.call("count_vowels", "aei"))
        assert out["count"] == 3 and out["vowels"] == CONFIG["vowels"], out
        assert self.greet.call("greet", "world") == b"Hello, world!"
        assert self.http.call("get", json.dumps({"url": self.url})).startswith(b"soak response")
        assert self.wasi.call("read_file", "/files/hello.txt") == b"hello from the host"
        for plugin, fn, text in ((self.errors, "fail_with_message", "expected failure"),
                                 (self.trap, "trap", "unreachable"),
                                 (self.echo, "no_such_export", "Function not found")):
            try:
                plugin.call(fn, text)
            except wasmplug.Error as exc:
                assert text in str(exc), (fn, str(exc))
            else:
                raise AssertionError(f"{fn} did not fail")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.files.cleanup()

    def run(self, calls: int, on_progress: Callable[[int], None] | None = None,
            samples: list[tuple[int, int]] | None = None, chunk: int = 2000) -> None:
        cycle, period = self.cycle, len(self.cycle)
        reps, rest = divmod(chunk, period)
        done = 0
        while done < calls:
            n = min(chunk, calls - done)
            if n == chunk and rest == 0:
                for _ in range(reps):
                    for op in cycle:
                        op()
            else:
                for i in range(n):
                    cycle[i % period]()
            done += n
            if on_progress is not None:
                on_progress(n)
            if samples is not None and done % (chunk * 5) == 0:
                samples.append((done, rss_bytes()))
        # Every chunk starts at the top of the cycle, so the outcome counts are exact.
        full, tail = divmod(calls, chunk)
        per_cycle = collections.Counter(self.cycle_names)
        for name, k in per_cycle.items():
            self.outcomes[name] += k * (chunk // period) * full
        for i in range(tail):
            self.outcomes[self.cycle_names[i % period]] += 1


class Churn:
    """Phase 2: plug-ins created, called once and dropped."""

    def __init__(self) -> None:
        self.compiled = wasmplug.CompiledPlugin(COUNT_VOWELS, functions=[])
        self.vowels_wasm = COUNT_VOWELS.read_bytes()
        self.echo_wasm = ECHO.read_bytes()
        self.greet_wasm = GREET.read_bytes()
        self.outcomes: collections.Counter[str] = collections.Counter()

    def one(self, i: int) -> None:
        kind = i % 4
        if kind == 0:    # from the shared CompiledPlugin, dropped by refcount
            p = wasmplug.Plugin(self.compiled, config=CONFIG)
            p.call("count_vowels", "abc")
            del p
            self.outcomes["compiled_dropped"] += 1
        elif kind == 1:  # from the shared CompiledPlugin, closed explicitly
            with wasmplug.Plugin(self.compiled, config=CONFIG) as p:
                p.call("count_vowels", "abc")
            self.outcomes["compiled_closed"] += 1
        elif kind == 2:  # from bytes (count_vowels or echo), dropped by refcount
            if i % 8 == 2:
                q = wasmplug.Plugin(self.vowels_wasm, config=CONFIG, functions=[])
                q.call("count_vowels", "abc")
            else:
                q = wasmplug.Plugin(self.echo_wasm, functions=[])
                q.call("echo", "abc")
            del q
            self.outcomes["bytes_dropped"] += 1
        else:            # from bytes with a host function, closed explicitly
            with wasmplug.Plugin(self.greet_wasm, functions=[hello_world]) as p:
                if p.call("greet", "x") != b"Hello, x!":
                    raise AssertionError("greet returned other bytes")
            self.outcomes["bytes_host_fn_closed"] += 1

    def run(self, count: int, on_progress: Callable[[int], None] | None = None,
            samples: list[tuple[int, int]] | None = None, chunk: int = 50,
            start: int = 0) -> None:
        for i in range(start, start + count):
            self.one(i)
            done = i - start + 1
            if done % chunk == 0 or done == count:
                if on_progress is not None:
                    on_progress(chunk if done % chunk == 0 else done % chunk)
                if samples is not None and done % (chunk * 2) == 0:
                    samples.append((done, rss_bytes()))


class Faults:
    """Phase 3: the faults of issue 25, one round at a time."""

    POOL_THREADS = 8
    POOL_USES = 200
    SENDERS = 2
    SENDS = 150
    REFUSALS = 20

    def __init__(self, keep_instance_after_trap: bool = False) -> None:
        self.pool = wasmplug.PluginPool(COUNT_VOWELS, max_instances=2, functions=[])
        self.server_code = wasmplug.CompiledPlugin(TRAP, functions=[])
        self.refusing = wasmplug.Plugin({"wasm": [{"path": str(HTTP_AS)}],
                                         "allowed_hosts": ["example.org"]}, functions=[],
                                        keep_instance_after_trap=keep_instance_after_trap)
        self.request = json.dumps({"url": "http://127.0.0.1:1/refused", "method": "GET"})
        self.refusal = ("HTTP request to http://127.0.0.1:1/refused is not allowed: the host "
                        "'127.0.0.1' does not match the manifest's allowed_hosts")
        self.registry = Registry()
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.longest_wait_s = 0.0

    def pool_burst(self) -> None:
        """8 threads, 2 instances: nobody may meet a PoolTimeout."""
        pool, outcomes = self.pool, self.outcomes
        per_thread = self.POOL_USES // self.POOL_THREADS
        waits: list[float] = []

        def use() -> None:
            for _ in range(per_thread):
                asked = time.monotonic()
                try:
                    with pool.acquire(timeout=10) as plugin:
                        waits.append(time.monotonic() - asked)
                        if json.loads(plugin.call("count_vowels", "aeiou"))["count"] != 5:
                            outcomes["wrong_answers"] += 1
                except wasmplug.PoolTimeout:
                    outcomes["pool_timeouts"] += 1

        threads = [threading.Thread(target=use) for _ in range(self.POOL_THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        outcomes["pool_uses"] += len(waits)
        self.longest_wait_s = max(self.longest_wait_s, *waits)

    def give_up(self, round_: int) -> None:
        """A supervised server gives up while calls are sent: every call is answered."""
        outcomes = self.outcomes
        futures: list[Future[bytes]] = []
        with Supervisor(max_restarts=0, registry=self.registry) as supervisor:
            server = supervisor.start_child(self.server_code, name=f"soak-{round_}")

            def send() -> None:
                for _ in range(self.SENDS):
                    try:
                        futures.append(server.send("ok"))
                    except ServerStopped:
                        return

            futures += [server.send("ok") for _ in range(5)]
            senders = [threading.Thread(target=send) for _ in range(self.SENDERS)]
            for t in senders:
                t.start()
            fatal = server.send("trap")  # a restart budget of 0: the server gives up on it
            for t in senders:
                t.join()
            done, not_done = concurrent.futures.wait([*futures, fatal], timeout=10)
            outcomes["unanswered_calls"] += len(not_done)
            for future in done:
                error = future.exception()
                if future is fatal:
                    if not isinstance(error, wasmplug.CallError):
                        outcomes["wrong_answers"] += 1
                elif error is None and future.result() == b"":
                    outcomes["answered"] += 1
                elif isinstance(error, ServerStopped):
                    outcomes["stopped"] += 1
                else:
                    outcomes["wrong_answers"] += 1
        outcomes["give_ups"] += 1

    def refusals(self) -> None:
        """The same AssemblyScript plug-in refused again and again, cleanly every time."""
        for _ in range(self.REFUSALS):
            try:
                self.refusing.call("fetch", self.request)
            except wasmplug.Error as exc:
                if str(exc) == self.refusal:
                    self.outcomes["refused"] += 1
                    continue
            self.outcomes["unclean_refusals"] += 1

    def one(self, i: int) -> None:
        self.pool_burst()
        self.give_up(i)
        self.refusals()

    def run(self, count: int, on_progress: Callable[[int], None] | None = None,
            samples: list[tuple[int, int]] | None = None, chunk: int = 10,
            start: int = 0) -> None:
        for i in range(start, start + count):
            self.one(i)
            done = i - start + 1
            if done % chunk == 0 or done == count:
                if on_progress is not None:
                    on_progress(chunk if done % chunk == 0 else done % chunk)
                if samples is not None and done % chunk == 0:
                    samples.append((done, rss_bytes()))

    def close(self) -> None:
        self.pool.close()
        self.refusing.close()


# ---------------------------------------------------------------- running

def progress_bar() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=console, transient=False)


def timed_with_progress(name: str, unit: str, total: int, body: Callable[..., None],
                        samples: list[tuple[int, int]]) -> float:
    """Run `body(total, ...)` under a progress bar; return its duration in seconds."""
    with progress_bar() as progress:
        task = progress.add_task(name, total=total, rate="")
        t0 = time.perf_counter()
        done = 0

        def on_progress(n: int) -> None:
            nonlocal done
            done += n
            elapsed = time.perf_counter() - t0
            progress.update(task, advance=n,
                            rate=f"{done / elapsed:,.0f} {unit}/s" if elapsed else "")

        body(total, on_progress=on_progress, samples=samples)
        return time.perf_counter() - t0


def run_phase(name: str, unit: str, total: int, body: Callable[..., None],
              outcomes: collections.Counter[str], trace: bool,
              before: Snapshot) -> tuple[PhaseResult, Snapshot]:
    samples: list[tuple[int, int]] = [(0, before.rss)]
    outcomes_before = outcomes.copy()
    # The progress bar is gone by the time of the snapshot, so its objects don't count.
    duration = timed_with_progress(name, unit, total, body, samples)
    after = snapshot(trace)
    samples.append((total, after.rss))
    delta = outcomes.copy()
    delta.subtract(outcomes_before)
    result = PhaseResult(
        phase=name, operations=total, unit=unit, duration_s=duration,
        ops_per_s=total / duration if duration else 0.0,
        rss_before=before.rss, rss_after=after.rss, growth=after.rss - before.rss,
        rss_samples=samples, fds_before=before.fds, fds_after=after.fds,
        threads_before=before.threads, threads_after=after.threads,
        outcomes=dict(delta), **compare(before, after))
    return result, after


def mb(n: int | float) -> str:
    return f"{n / 1e6:,.1f} MB"


def signed_mb(n: int | float) -> str:
    return f"{n / 1e6:+,.2f} MB"


def report(results: list[PhaseResult], overall: dict[str, Any]) -> None:
    table = Table(title=f"wasmplug soak (target: RSS growth < {TARGET_MB:g} MB, RSS slope under "
                        f"the limit, no file descriptor or thread left behind)")
    for col, justify in (("phase", "left"), ("operations", "right"), ("duration", "right"),
                         ("ops/s", "right"), ("RSS before", "right"), ("RSS after", "right"),
                         ("growth", "right"), ("slope", "right"), ("detects", "right"),
                         ("fds", "right"), ("threads", "right"), ("GC objects", "right"),
                         ("result", "center")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]

    def verdict(ok: bool) -> str:
        return "[green]PASS[/]" if ok else "[red]MISS[/]"

    for r in results:
        per = r.unit[:-1]
        table.add_row(r.phase, f"{r.operations:,}", f"{r.duration_s:,.1f} s",
                      f"{r.ops_per_s:,.0f}", mb(r.rss_before), mb(r.rss_after),
                      signed_mb(r.growth), f"{r.slope:+,.1f} B/{per}",
                      f"≥ {r.detectable_leak:,.1f} B/{per}",
                      f"{r.fds_before} → {r.fds_after}", f"{r.threads_before} → {r.threads_after}",
                      f"{r.gc_objects_after - r.gc_objects_before:+,}", verdict(r.passed))
    table.add_row("overall", "", f"{overall['duration_s']:,.1f} s", "",
                  mb(overall["rss_before"]), mb(overall["rss_after"]),
                  signed_mb(overall["growth"]), "", "", "", "",
                  f"{overall['gc_objects_after'] - overall['gc_objects_before']:+,}",
                  verdict(overall["passed"]), end_section=True)
    console.print(table)
    for r in results:
        for miss in r.misses:
            console.print(f"[red]{r.phase}: {miss}[/]")
    for r in results:
        if r.type_growth:
            growth = ", ".join(f"{t} {n:+,}" for t, n in r.type_growth[:8])
            console.print(f"[dim]{r.phase}: object types that grew: {growth}[/]")
        if r.traced_before is not None and r.traced_after is not None:
            console.print(f"[dim]{r.phase}: traced Python heap "
                          f"{signed_mb(r.traced_after - r.traced_before)}[/]")
            for row in r.trace_top[:8]:
                console.print(f"[dim]    {row['size_diff']:+,} B  {row['count_diff']:+,} blocks  "
                              f"{row['where']}[/]")


def git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=None, help="phase 1 calls (default 1,000,000)")
    ap.add_argument("--plugins", type=int, default=None,
                    help="phase 2 plug-ins (default 10,000)")
    ap.add_argument("--fault-rounds", type=int, default=None,
                    help="phase 3 rounds of faults (default 1,000)")
    ap.add_argument("--quick", action="store_true",
                    help="100,000 calls, 1,000 plug-ins and 100 rounds of faults")
    ap.add_argument("--warmup-calls", type=int, default=20_000)
    ap.add_argument("--warmup-plugins", type=int, default=200)
    ap.add_argument("--warmup-fault-rounds", type=int, default=10)
    ap.add_argument("--tracemalloc", action="store_true",
                    help="also trace Python allocations (several times slower)")
    ap.add_argument("--inject-leak", type=int, default=0, metavar="BYTES",
                    help="keep BYTES per phase-1 call alive, to check that a leak is caught")
    ap.add_argument("--keep-instance-after-trap", action="store_true",
                    help="phase 3's refusals keep their instance (the reference behaviour): "
                         "after 511 of them the AssemblyScript plug-in breaks, a MISS")
    ap.add_argument("--output", type=Path, default=RESULTS / "soak.json")
    args = ap.parse_args(argv)
    calls = args.calls if args.calls is not None else (100_000 if args.quick else 1_000_000)
    plugins = args.plugins if args.plugins is not None else (1_000 if args.quick else 10_000)
    rounds = args.fault_rounds if args.fault_rounds is not None else (100 if args.quick else 1_000)

    console.print(f"wasmplug {wasmplug.__version__} ({wasmplug.extism_version()}), "
                  f"Python {platform.python_version()}, call path "
                  f"{os.environ.get('WASMPLUG_CALL_PATH', 'default')}")
    rss_start = rss_bytes()
    if args.tracemalloc:
        tracemalloc.start(1)

    work = Workload()
    work.check()
    leaky = Workload(args.inject_leak) if args.inject_leak else None
    churn = Churn()
    faults = Faults(args.keep_instance_after_trap)
    t_warm = time.perf_counter()
    with console.status("warming up ..."):
        work.run(args.warmup_calls)
        churn.run(args.warmup_plugins, start=0)
        faults.run(args.warmup_fault_rounds, start=0)
    warm_s = time.perf_counter() - t_warm
    work.outcomes.clear()
    churn.outcomes.clear()
    warm_faults = faults.outcomes.copy()
    faults.outcomes.clear()
    faults.longest_wait_s = 0.0
    start = snapshot(args.tracemalloc)
    console.print(f"warm-up: {args.warmup_calls:,} calls and {args.warmup_plugins:,} plug-ins "
                  f"in {warm_s:.1f} s; RSS {mb(rss_start)} at start, {mb(start.rss)} after")

    results: list[PhaseResult] = []
    if leaky is not None:  # warmed up like the real one, then measured instead of it
        leaky.run(args.warmup_calls)
        leaky.leaked.clear()
        leaky.outcomes.clear()
        start = snapshot(args.tracemalloc)
    phase1 = leaky or work
    r1, mid = run_phase("1: calls", "calls", calls, phase1.run, phase1.outcomes,
                        args.tracemalloc, start)
    results.append(r1)
    r2, end = run_phase("2: plug-in churn", "plug-ins", plugins,
                        lambda n, **kw: churn.run(n, start=args.warmup_plugins, **kw),
                        churn.outcomes, args.tracemalloc, mid)
    results.append(r2)
    r3, end = run_phase("3: faults", "rounds", rounds,
                        lambda n, **kw: faults.run(n, start=args.warmup_fault_rounds, **kw),
                        faults.outcomes, args.tracemalloc, end)
    # A fault mishandled during the warm-up is a miss too (it is not a leak to skip).
    r3.outcomes.update({k: r3.outcomes.get(k, 0) + v for k, v in warm_faults.items()
                        if k in FAULT_MISSES and v})
    results.append(r3)
    console.print(f"faults: longest wait for a pool instance {faults.longest_wait_s * 1000:,.1f} ms "
                  f"({faults.outcomes['pool_uses']:,} uses, 8 threads, 2 instances); "
                  f"{faults.outcomes['give_ups']:,} give-ups, "
                  f"{faults.outcomes['answered'] + faults.outcomes['stopped']:,} calls sent "
                  f"across them all answered; {faults.outcomes['refused']:,} refusals on one "
                  "plug-in")
    faults.close()
    work.check()
    if args.tracemalloc:
        tracemalloc.stop()
    work.close()
    if leaky is not None:
        leaky.close()

    overall: dict[str, Any] = {
        "duration_s": sum(r.duration_s for r in results),
        "rss_before": start.rss, "rss_after": end.rss, "growth": end.rss - start.rss,
        **compare(start, end),
    }
    overall["passed"] = overall["growth"] < TARGET_MB * 1e6 and all(r.passed for r in results)
    report(results, overall)
    console.print("[bold green]PASS[/]" if overall["passed"] else "[bold red]MISS[/]")

    payload = {
        "benchmark": "soak",
        "longest_pool_wait_s": faults.longest_wait_s,
        "target_growth_bytes": int(TARGET_MB * 1e6),
        "settings": {"calls": calls, "plugins": plugins, "fault_rounds": rounds,
                     "quick": args.quick,
                     "inject_leak_bytes_per_call": args.inject_leak,
                     "keep_instance_after_trap": args.keep_instance_after_trap,
                     "slope_limit_bytes": SLOPE_LIMIT, "fd_slack": FD_SLACK,
                     "thread_slack": THREAD_SLACK,
                     "warmup_calls": args.warmup_calls, "warmup_plugins": args.warmup_plugins,
                     "tracemalloc": args.tracemalloc,
                     "call_mix_per_1000": dict(collections.Counter(work.cycle_names))},
        "environment": {"python": sys.version, "platform": platform.platform(),
                        "wasmplug": wasmplug.__version__, "runtime": wasmplug.extism_version(),
                        "call_path": os.environ.get("WASMPLUG_CALL_PATH", "default"),
                        "cpus": os.cpu_count(), "git_commit": git_commit(),
                        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
        "rss_at_start": rss_start,
        "warmup_s": warm_s,
        "phases": [asdict(r) | {"passed": r.passed, "misses": r.misses,
                                "rss_slope_bytes_per_op": r.slope,
                                "detectable_leak_bytes_per_op": r.detectable_leak}
                   for r in results],
        "overall": overall,
        "passed": overall["passed"],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(payload, indent=2) + "\n")
    console.print(f"results: {args.output}")
    return 0 if overall["passed"] else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:
        console.print_exception()
        sys.exit(2)

#!/usr/bin/env python3
"""Soak test: does wasmplug's resident memory stay flat over many calls and plug-ins?

    python benchmarks/soak.py                      # 1,000,000 calls, 10,000 plug-ins
    python benchmarks/soak.py --quick              # 100,000 calls, 1,000 plug-ins
    python benchmarks/soak.py --calls N --plugins M
    python benchmarks/soak.py --quick --tracemalloc   # also trace the Python heap (slow)

Phase 1 makes N calls on a few long-lived plug-ins, mixing successful calls
(echo with small and occasionally 64 KiB inputs, count_vowels with config and
a var read + write per call, a host function, a plug-in with `timeout_ms`),
failing calls (error set by the plug-in, trap) and calls to a missing export.
Phase 2 creates M plug-ins (half from a shared CompiledPlugin, half from wasm
bytes), calls each once and drops it.

After a warm-up (so that caches, first compilations and lazily started
threads are not counted), RSS is read from /proc/self/statm after a
gc.collect() before and after each phase. The target is growth < 5 MB per
phase and overall. Also recorded: the number of objects the garbage collector
tracks, with the types whose count grew the most, and RSS samples taken
during each phase (a steady climb points at a leak; a one-off step at an
allocator high-water mark). With --tracemalloc the Python heap is traced too
and the top allocation sites that grew are listed.

Results go to benchmarks/results/soak.json (git-ignored). The exit status is
non-zero only if something unexpected was raised; a MISS is a result.
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
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
CONFIG = {"vowels": "aeiouAEIOU"}
TARGET_MB = 5.0
PAGE = os.sysconf("SC_PAGE_SIZE")

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

console = Console()
if not console.is_terminal and console.width < 120:
    console = Console(width=120)


# ---------------------------------------------------------------- measuring

def rss_bytes() -> int:
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * PAGE


def type_counts() -> collections.Counter[str]:
    return collections.Counter(type(o).__qualname__ for o in gc.get_objects())


@dataclass
class Snapshot:
    rss: int
    gc_objects: int
    types: collections.Counter[str]
    traced: int | None = None           # tracemalloc current size
    trace: tracemalloc.Snapshot | None = None


def snapshot(trace: bool) -> Snapshot:
    gc.collect()
    gc.collect()
    types = type_counts()
    snap = Snapshot(rss=rss_bytes(), gc_objects=sum(types.values()), types=types)
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
    outcomes: dict[str, int] = field(default_factory=dict)
    traced_before: int | None = None
    traced_after: int | None = None
    trace_top: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.growth < TARGET_MB * 1e6


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


class Workload:
    """The long-lived plug-ins of phase 1 and the operations on them."""

    def __init__(self) -> None:
        self.echo = wasmplug.Plugin(ECHO, functions=[])
        self.vowels = wasmplug.Plugin(COUNT_VOWELS, config=CONFIG, functions=[])
        self.errors = wasmplug.Plugin(ERRORS, functions=[])
        self.trap = wasmplug.Plugin(TRAP, functions=[])
        self.greet = wasmplug.Plugin(GREET, functions=[hello_world])
        self.timed = wasmplug.Plugin(
            {"wasm": [{"path": str(COUNT_VOWELS)}], "config": CONFIG, "timeout_ms": 5000},
            functions=[])
        self.outcomes: collections.Counter[str] = collections.Counter()
        small, big = b"soak test input!", bytes(range(256)) * 256   # 16 B, 64 KiB
        echo, vowels, errors, trap, greet, timed = (
            self.echo, self.vowels, self.errors, self.trap, self.greet, self.timed)
        Error = wasmplug.Error

        def echo_small() -> None:
            if echo.call("echo", small) != small:
                raise AssertionError("echo returned other bytes")

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

        # (name, operation, occurrences per 200 operations)
        mix: list[tuple[str, Callable[[], None], int]] = [
            ("echo_16b", echo_small, 55),
            ("echo_64k", echo_big, 1),
            ("count_vowels", count_vowels, 50),
            ("count_vowels_timeout_ms", timed_count, 30),
            ("host_fn_greet", greet_call, 30),
            ("fail_with_message", fail_message, 12),
            ("trap", trap_call, 12),
            ("missing_export", missing_export, 10),
        ]
        assert sum(n for _, _, n in mix) == 200
        # A fixed interleaving: spread each kind evenly over the 200 slots.
        slots: list[tuple[float, str, Callable[[], None]]] = []
        for name, op, n in mix:
            slots += [((k + 0.5) / n, name, op) for k in range(n)]
        slots.sort(key=lambda s: (s[0], s[1]))
        self.cycle_names = [name for _, name, _ in slots]
        self.cycle = [op for _, _, op in slots]

    def check(self) -> None:
        """Each operation behaves as expected (outside the measured phases)."""
        assert self.echo.call("echo", b"x") == b"x"
        out = json.loads(self.vowels.call("count_vowels", "aei"))
        assert out["count"] == 3 and out["vowels"] == CONFIG["vowels"], out
        assert self.greet.call("greet", "world") == b"Hello, world!"
        for plugin, fn, text in ((self.errors, "fail_with_message", "expected failure"),
                                 (self.trap, "trap", "unreachable"),
                                 (self.echo, "no_such_export", "Function not found")):
            try:
                plugin.call(fn, text)
            except wasmplug.Error as exc:
                assert text in str(exc), (fn, str(exc))
            else:
                raise AssertionError(f"{fn} did not fail")

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
            if samples is not None and done % (chunk * 25) == 0:
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
                if samples is not None and done % (chunk * 20) == 0:
                    samples.append((done, rss_bytes()))


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
        rss_samples=samples, outcomes=dict(delta), **compare(before, after))
    return result, after


def mb(n: int | float) -> str:
    return f"{n / 1e6:,.1f} MB"


def signed_mb(n: int | float) -> str:
    return f"{n / 1e6:+,.2f} MB"


def report(results: list[PhaseResult], overall: dict[str, Any]) -> None:
    table = Table(title=f"wasmplug soak (target: RSS growth < {TARGET_MB:g} MB)")
    for col, justify in (("phase", "left"), ("operations", "right"), ("duration", "right"),
                         ("ops/s", "right"), ("RSS before", "right"), ("RSS after", "right"),
                         ("growth", "right"), ("GC objects", "right"), ("result", "center")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]

    def verdict(ok: bool) -> str:
        return "[green]PASS[/]" if ok else "[red]MISS[/]"

    for r in results:
        table.add_row(r.phase, f"{r.operations:,}", f"{r.duration_s:,.1f} s",
                      f"{r.ops_per_s:,.0f}", mb(r.rss_before), mb(r.rss_after),
                      signed_mb(r.growth), f"{r.gc_objects_after - r.gc_objects_before:+,}",
                      verdict(r.passed))
    table.add_row("overall", "", f"{overall['duration_s']:,.1f} s", "",
                  mb(overall["rss_before"]), mb(overall["rss_after"]),
                  signed_mb(overall["growth"]),
                  f"{overall['gc_objects_after'] - overall['gc_objects_before']:+,}",
                  verdict(overall["passed"]), end_section=True)
    console.print(table)
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
    ap.add_argument("--quick", action="store_true", help="100,000 calls and 1,000 plug-ins")
    ap.add_argument("--warmup-calls", type=int, default=20_000)
    ap.add_argument("--warmup-plugins", type=int, default=200)
    ap.add_argument("--tracemalloc", action="store_true",
                    help="also trace Python allocations (several times slower)")
    ap.add_argument("--output", type=Path, default=RESULTS / "soak.json")
    args = ap.parse_args(argv)
    calls = args.calls if args.calls is not None else (100_000 if args.quick else 1_000_000)
    plugins = args.plugins if args.plugins is not None else (1_000 if args.quick else 10_000)

    console.print(f"wasmplug {wasmplug.__version__} ({wasmplug.extism_version()}), "
                  f"Python {platform.python_version()}, call path "
                  f"{os.environ.get('WASMPLUG_CALL_PATH', 'default')}")
    rss_start = rss_bytes()
    if args.tracemalloc:
        tracemalloc.start(1)

    work = Workload()
    work.check()
    churn = Churn()
    t_warm = time.perf_counter()
    with console.status("warming up ..."):
        work.run(args.warmup_calls)
        churn.run(args.warmup_plugins, start=0)
    warm_s = time.perf_counter() - t_warm
    work.outcomes.clear()
    churn.outcomes.clear()
    start = snapshot(args.tracemalloc)
    console.print(f"warm-up: {args.warmup_calls:,} calls and {args.warmup_plugins:,} plug-ins "
                  f"in {warm_s:.1f} s; RSS {mb(rss_start)} at start, {mb(start.rss)} after")

    results: list[PhaseResult] = []
    r1, mid = run_phase("1: calls", "calls", calls, work.run, work.outcomes,
                        args.tracemalloc, start)
    results.append(r1)
    r2, end = run_phase("2: plug-in churn", "plug-ins", plugins,
                        lambda n, **kw: churn.run(n, start=args.warmup_plugins, **kw),
                        churn.outcomes, args.tracemalloc, mid)
    results.append(r2)
    work.check()
    if args.tracemalloc:
        tracemalloc.stop()

    overall: dict[str, Any] = {
        "duration_s": r1.duration_s + r2.duration_s,
        "rss_before": start.rss, "rss_after": end.rss, "growth": end.rss - start.rss,
        **compare(start, end),
    }
    overall["passed"] = overall["growth"] < TARGET_MB * 1e6 and all(r.passed for r in results)
    report(results, overall)
    console.print("[bold green]PASS[/]" if overall["passed"] else "[bold red]MISS[/]")

    payload = {
        "benchmark": "soak",
        "target_growth_bytes": int(TARGET_MB * 1e6),
        "settings": {"calls": calls, "plugins": plugins, "quick": args.quick,
                     "warmup_calls": args.warmup_calls, "warmup_plugins": args.warmup_plugins,
                     "tracemalloc": args.tracemalloc,
                     "call_mix_per_200": dict(collections.Counter(work.cycle_names))},
        "environment": {"python": sys.version, "platform": platform.platform(),
                        "wasmplug": wasmplug.__version__, "runtime": wasmplug.extism_version(),
                        "call_path": os.environ.get("WASMPLUG_CALL_PATH", "default"),
                        "cpus": os.cpu_count(), "git_commit": git_commit(),
                        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
        "rss_at_start": rss_start,
        "warmup_s": warm_s,
        "phases": [asdict(r) | {"passed": r.passed} for r in results],
        "overall": overall,
        "passed": overall["passed"],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(payload, indent=2) + "\n")
    console.print(f"results: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`wasmplug call --loop N`: N calls on one plug-in, a progress bar, a statistics table.

The progress bar (stderr) appears only on a terminal and once the calls have
taken a second, so short loops print nothing but the table. It is redrawn
from the loop itself every 0.1 s (no refresh thread competing for the GIL).
Latencies are kept in a preallocated array: timing costs two `perf_counter`
calls per iteration.
"""

from __future__ import annotations

import statistics
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from .. import CallTimeout, Error

PROGRESS_AFTER_S = 1.0


@dataclass
class LoopResult:
    calls: int
    errors: int
    latencies: array[float]  # seconds, one per call
    elapsed: float
    output: bytes | None          # the last successful output
    last_error: Error | None      # the last failure (None if the last call succeeded)
    timeouts: int = 0


def run(call: Callable[[], bytes], count: int, console: Console,
        each: Callable[[bytes], None] | None = None, stop_on_error: bool = False) -> LoopResult:
    """Call `call()` `count` times; `each(output)` after every success (--loop-output all).

    With `stop_on_error` the loop ends after the first failed call (as `extism call`
    does); otherwise it goes on and counts the failures.
    """
    latencies = array("d", bytes(8 * count))
    errors = timeouts = 0
    output: bytes | None = None
    last_error: Error | None = None
    clock = time.perf_counter
    started = clock()
    progress: Progress | None = None
    next_check = started + PROGRESS_AFTER_S if console.is_terminal else float("inf")
    done = 0
    try:
        for i in range(count):
            t0 = clock()
            try:
                output = call()
                last_error = None
            except Error as exc:
                errors += 1
                timeouts += isinstance(exc, CallTimeout)
                last_error = exc
                output = None
            t1 = clock()
            latencies[i] = t1 - t0
            done = i + 1
            if stop_on_error and last_error is not None:
                break
            if each is not None and output is not None:
                each(output)
            if t1 >= next_check:
                next_check = t1 + 0.1
                if progress is None:
                    progress = _progress(console, count)
                    progress.start()
                progress.update(progress.task_ids[0], completed=done, refresh=True)
    finally:
        if progress is not None:
            progress.update(progress.task_ids[0], completed=done, refresh=True)
            progress.stop()
    return LoopResult(done, errors, latencies[:done], clock() - started, output, last_error,
                      timeouts)


def _progress(console: Console, total: int) -> Progress:
    progress = Progress(TextColumn("calls"), BarColumn(), MofNCompleteColumn(),
                        TimeRemainingColumn(), console=console, transient=True,
                        auto_refresh=False)
    progress.add_task("calls", total=total)
    return progress


def _duration(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.3f} s"


def table(result: LoopResult) -> Table:
    """calls, errors, min / median / p99 / max latency, calls/s."""
    ordered = sorted(result.latencies)
    out = Table(title="wasmplug call --loop", title_justify="left")
    for name in ("calls", "errors", "min", "median", "p99", "max", "calls/s"):
        out.add_column(name, justify="right")
    if not ordered:
        out.add_row("0", "0", "-", "-", "-", "-", "-")
        return out
    p99 = ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))]
    rate = result.calls / result.elapsed if result.elapsed > 0 else float("inf")
    out.add_row(f"{result.calls:,}", f"{result.errors:,}", _duration(ordered[0]),
                _duration(statistics.median(ordered)), _duration(p99), _duration(ordered[-1]),
                f"{rate:,.0f}")
    return out

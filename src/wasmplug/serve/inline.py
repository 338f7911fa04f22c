"""Short calls on the event loop: the inline budget and the watchdog that enforces it.

A Wasm call of a small function takes microseconds, and handing it to a worker
thread (a queue, a wake-up, the GIL handed over twice, the loop woken again)
costs far more than the call. So a function that may run inline makes its call
on the event loop itself, under a budget (`ServerSettings.inline_budget_ms` of
CPU time, `inline_wall_ms` of wall-clock time): `InlineWatchdog` is one thread
that looks at the inline call in progress once per budget (each look takes the
GIL, so not more often) and cancels it (through the plug-in's cancel handle,
which stops Wasm at its next instruction) once it is past either. The loop is
therefore held by a computing call for about two CPU budgets (plus what the
machine's load adds), and by a waiting one for about the wall budget plus one
budget.

What happens to a cut call is the runtime's rule (see `FunctionRuntime` and
docs/serve.md, "Inline calls"): the instance it ran on is discarded, the
function is demoted to the worker threads (for good after a CPU cut, for a
cool-down after a wall-clock one), and the request runs again there from the
start.
"""

from __future__ import annotations

import threading
import time

from wasmplug import Plugin

# After this many checks with no inline call, the watchdog sleeps until the next one starts.
IDLE_CHECKS = 100


def _cpu_clock() -> int | None:
    """The CPU-time clock of the calling thread (None where the platform has none)."""
    try:
        return time.pthread_getcpuclockid(threading.get_ident())
    except (AttributeError, OSError):
        return None


class InlineWatchdog:
    """Cuts the inline call (one at a time: the event loop's) that has used `budget_s` of the loop
    thread's CPU time, or held the loop `wall_s` of wall-clock time (a call that waits).

    CPU time, not wall time, is the main budget: on a loaded machine the loop's thread may lose
    its core for a while in the middle of a 5 µs call, which says nothing of the function. A cut
    records its reason in `last_cut` ("cpu" or "wall") before cancelling the call; `cuts` counts them.
    `begin(plugin)` before the call and `end()` after it cost two attribute writes: no lock, no
    system call, no wake-up while the watchdog is awake.
    """

    def __init__(self, budget_s: float, wall_s: float) -> None:
        self.budget_s = budget_s
        self.wall_s = wall_s
        self.cuts = 0
        self.last_cut = ""
        self._cut: object = None  # the last call cut
        # (start time, plug-in) of the inline call in progress, replaced as one value.
        self._current: tuple[float, Plugin] | None = None
        self._number = 0
        self._clock: int | None = None  # the event loop thread's CPU clock
        self._parked = True
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def begin(self, plugin: Plugin) -> object:
        """Watch the inline call about to start on `plugin`; returns its token (see `was_cut`)."""
        self._number += 1
        current = self._current = (time.monotonic(), plugin)
        if self._parked:
            self._parked = False
            if self._thread is None:
                self._clock = _cpu_clock()
                self._thread = threading.Thread(target=self._watch, name="wasmplug-serve-inline",
                                                daemon=True)
                self._thread.start()
            self._wake.set()
        return current

    def was_cut(self, token: object) -> bool:
        """Whether the watchdog cut the call `begin` gave `token` for (a cancel meant for the call
        before it, landing late, is not a cut of this one)."""
        return self._cut is token

    def end(self) -> None:
        self._current = None

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()

    def _cpu(self) -> float:
        return 0.0 if self._clock is None else time.clock_gettime(self._clock)

    def _watch(self) -> None:
        period = min(self.budget_s, self.wall_s)
        quiet = 0
        last = 0
        seen: tuple[float, Plugin] | None = None
        cut: tuple[float, Plugin] | None = None
        cpu_at_seen = 0.0
        while not self._stopped:
            current = self._current
            if current is None:
                quiet = quiet + 1 if self._number == last else 0
                last = self._number
                if quiet >= IDLE_CHECKS:  # nothing runs inline now: sleep until something does
                    quiet = 0
                    self._wake.clear()
                    self._parked = True
                    if self._current is None and not self._stopped:
                        self._wake.wait()
                    continue
            elif current is not seen:  # a call the watchdog has not seen yet: its CPU time from here
                quiet = 0
                seen, cpu_at_seen = current, self._cpu()
            elif current is not cut:
                started, plugin = current
                reason = ("cpu" if self._clock is not None and self._cpu() - cpu_at_seen >= self.budget_s
                          else "wall" if time.monotonic() - started >= self.wall_s else "")
                if reason and self._current is current:
                    # (A cancel that lands on the next call instead is harmless: the runtime
                    # runs any cancelled inline call again on a worker thread, see `was_cut`.)
                    cut = self._cut = current  # once: it may take a moment to stop
                    self.cuts += 1
                    self.last_cut = reason
                    plugin.cancel_handle().cancel()
            time.sleep(period)

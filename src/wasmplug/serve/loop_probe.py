"""What the event loop's thread goes through, for /metrics: how late it wakes up, and how often it
gives up its core.

`LoopProbe.run()` is a task in the server's loop that sleeps `every` seconds again and again and
records how late it wakes (`wasmplug_serve_event_loop_lag_seconds`): a loop held by a long call,
or a thread that waits for the GIL or for a core, shows here. `switches()` reads the loop thread's
context switches from Linux's /proc (`wasmplug_serve_event_loop_switches_total`): *voluntary* ones
are waits (for the GIL, mostly, since a loop with requests to serve has no other reason to sleep),
*involuntary* ones are the machine's scheduler taking the core away. `GcTimer` times the
garbage collector's passes (`wasmplug_serve_gc_pause_seconds{generation}`): a pass holds the GIL,
so the loop waits for it, and a full one over everything a server imports took 80-220 ms (which
is why `wasmplug serve` freezes those objects once it has started: `gc.freeze()`).
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from typing import Any

LAG_PROBE_S = 0.005


class LoopProbe:
    """See the module's docstring; `lag` is a prometheus_client Histogram (seconds)."""

    def __init__(self, lag: Any, every: float = LAG_PROBE_S) -> None:
        self.lag = lag
        self.every = every
        self.thread_id: int | None = None  # the loop thread's native id, once `run` started

    async def run(self) -> None:
        self.thread_id = threading.get_native_id()
        every, observe, clock = self.every, self.lag.observe, time.perf_counter
        while True:
            before = clock()
            await asyncio.sleep(every)
            observe(max(0.0, clock() - before - every))

    def switches(self) -> tuple[int, int] | None:
        """(voluntary, involuntary) context switches of the loop's thread so far (None off Linux)."""
        if self.thread_id is None:
            return None
        try:
            with open(f"/proc/self/task/{self.thread_id}/status", encoding="ascii") as status:
                fields = dict(line.split(":", 1) for line in status if "ctxt_switches" in line)
        except OSError:
            return None
        return int(fields["voluntary_ctxt_switches"]), int(fields["nonvoluntary_ctxt_switches"])


class GcTimer:
    """Times each garbage-collector pass into `pauses` (a prometheus_client Histogram labelled by
    generation) while `install()`ed (a `gc.callbacks` entry; `remove()` takes it out)."""

    def __init__(self, pauses: Any) -> None:
        self.by_generation = [pauses.labels(str(generation)) for generation in range(3)]
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.by_generation[info["generation"]].observe(time.perf_counter() - self._started)

    def install(self) -> None:
        gc.callbacks.append(self._callback)

    def remove(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

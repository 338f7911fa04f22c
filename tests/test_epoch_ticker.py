"""The epoch ticker: a call's schedule/cancel pair does not wake the ticker thread.

A wake-up is a GIL handoff to the ticker thread, which costs milliseconds on a
busy machine; plug-in calls with `timeout_ms` (one schedule and one cancel
each) used to wake it every ~65 calls, when a purge of cancelled deadlines
left the heap empty. Deadlines earlier than the ticker's current wait must
still wake it, and fire.
"""

from __future__ import annotations

import threading
import time

from wasmplug import _wasmtime as wasmtime
from wasmplug._engine import EpochTicker


def _engine() -> wasmtime.Engine:
    config = wasmtime.Config()
    config.epoch_interruption = True
    return wasmtime.Engine(config)


def test_schedule_and_cancel_pairs_do_not_wake_the_ticker() -> None:
    ticker = EpochTicker(_engine())
    first = ticker.schedule(30.0, lambda: None)  # starts the thread, which waits for it
    deadline = time.monotonic() + 10
    while not 0 < ticker._wake_at - time.monotonic() < 60:  # poll: the ticker is in its timed wait
        assert time.monotonic() < deadline, "the ticker never started waiting"
        time.sleep(0.001)
    ticker.cancel(first)
    wakeups = 0
    notify = ticker._cond.notify

    def counting_notify(n: int = 1) -> None:
        nonlocal wakeups
        wakeups += 1
        notify(n)

    ticker._cond.notify = counting_notify  # type: ignore[method-assign]
    for _ in range(3000):  # as 3,000 calls with timeout_ms = 30 s would
        ticker.cancel(ticker.schedule(30.0, lambda: None))
    assert wakeups == 0
    # A deadline before the current wait still wakes the ticker, and fires.
    fired = threading.Event()
    ticker.schedule(0.01, fired.set)
    assert fired.wait(5)
    assert wakeups == 1

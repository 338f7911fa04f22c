"""Background threads that do not hold up the thread starting them.

`threading.Thread.start` waits until the new thread is running: in a fresh
process on a quiet machine that wait (a GIL hand-off to a core that has to
wake up) is 0.2-0.7 ms, sometimes several, and wasmplug starts two such
threads (the epoch ticker and the SIGINT watcher) on the way to a new
process's first result. The threads here are daemons that start on their own
time; they name themselves for `threading.enumerate()` once running.
"""

from __future__ import annotations

import _thread
import threading
from collections.abc import Callable


def start(target: Callable[[], object], name: str) -> None:
    """Run `target()` in a new daemon thread called `name`, without waiting for it to start."""

    def run() -> None:
        threading.current_thread().name = name
        target()

    _thread.start_new_thread(run, ())

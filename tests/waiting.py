"""Waiting for another thread or process to reach a state: poll it, with a bound.

Never a fixed sleep as synchronisation: on a loaded machine the other side may
not be there yet (a flaky failure), or the test may act before the state it
names exists and pass without testing it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

POLL_S = 0.002


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 20.0) -> None:
    """Poll `condition` until it is true; fail the test, saying `what`, after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(POLL_S)


def cancel_once_running(handle: Any, timeout: float = 20.0) -> threading.Thread:
    """A thread that cancels the call on `handle`'s plug-in as soon as one is running.

    `CancelHandle.cancel()` stops the running call and returns True, or returns
    False (and remembers nothing) when no call runs yet: retried until it
    takes, so the cancel lands inside the call whatever the scheduling.
    """
    thread = threading.Thread(target=wait_until, args=(handle.cancel, "a call to cancel", timeout),
                              daemon=True)
    thread.start()
    return thread


async def wait_until_async(condition: Callable[[], Any], what: str, timeout: float = 20.0) -> None:
    """`wait_until` for a coroutine: the event loop keeps running while it polls."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(POLL_S)

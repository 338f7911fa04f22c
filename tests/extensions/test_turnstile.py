"""The turnstile: short calls from several threads take turns; nobody waits for long."""

from __future__ import annotations

import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from wasmplug.extensions import ExtensionTimeout
from wasmplug.extensions import turnstile as turnstile_module
from wasmplug.extensions.extension import REMEASURE_EVERY
from wasmplug.extensions.turnstile import TURNSTILE, Turnstile

from ..waiting import wait_until
from .conftest import entry, running_calls
from .test_codec import OpenHost


def test_one_thread_always_gets_the_baton() -> None:
    turnstile = Turnstile()
    for _ in range(1000):
        assert turnstile.enter()
        turnstile.leave()


@pytest.mark.timeout(10)
def test_a_call_from_inside_a_call_goes_ahead_without_it() -> None:
    turnstile = Turnstile(escape_s=60.0)  # waiting for itself would hit the test's timeout
    assert turnstile.enter()
    assert not turnstile.enter()  # the same thread: no deadlock, no wait
    turnstile.leave()
    assert turnstile.enter()
    turnstile.leave()


@pytest.mark.timeout(30)
def test_threads_take_turns_and_never_run_inside_at_once() -> None:
    turnstile = Turnstile(slice_s=0.002, escape_s=5.0)
    inside: list[int] = []
    overlaps: list[int] = []
    turns: list[int] = []
    calls = [0]
    stop = time.monotonic() + 0.5

    failures: list[str] = []

    def work(me: int) -> None:
        while time.monotonic() < stop:
            if not turnstile.enter():  # the holder always comes back quickly
                failures.append(f"thread {me} went ahead without the baton")
                continue
            try:
                inside.append(me)
                if len(inside) > 1:
                    overlaps.append(me)
                if not turns or turns[-1] != me:
                    turns.append(me)
                calls[0] += 1
                time.sleep(0.0001)  # a short call (sleeping releases the GIL)
                inside.remove(me)
            finally:
                turnstile.leave()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == [] and overlaps == []
    assert set(turns) == {0, 1, 2} and len(turns) > 3  # every thread had turns, and again
    assert calls[0] > 2 * len(turns)  # a turn is many calls, not one


@pytest.mark.timeout(30)
def test_default_turns_last_four_switch_intervals() -> None:
    # A hand-over to a thread on another core costs far more than a GIL switch
    # (turnstile.py): by default a turn lasts 4 of Python's switch intervals.
    turnstile = Turnstile(escape_s=5.0)
    slice_s = 4 * sys.getswitchinterval()
    assert turnstile.slice == slice_s
    stamps: list[tuple[float, int]] = []
    stop = time.monotonic() + 12 * slice_s

    def work(me: int) -> None:
        while time.monotonic() < stop:
            assert turnstile.enter()
            try:
                sum(range(300))  # a short call, holding the GIL
                stamps.append((time.monotonic(), me))
            finally:
                turnstile.leave()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    turns: list[list[float]] = []
    previous = None
    for when, me in stamps:
        if me != previous:
            turns.append([])
            previous = me
        turns[-1].append(when)
    assert len(turns) >= 4  # both threads had turns, again and again
    lengths = [turn[-1] - turn[0] for turn in turns[1:-1]]  # (the first and last are cut)
    # (the median: a holder the OS deschedules for long may lose the rest of its turn)
    assert statistics.median(lengths) >= 0.9 * slice_s, lengths


@pytest.mark.timeout(30)
def test_a_thread_that_handed_the_baton_over_sleeps_until_the_next_turn_ends(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A waiter that wakes up before it is handed the baton costs the holder a
    # GIL switch (and up to a switch interval of futile wake-ups): the thread
    # that has just handed the baton over must sleep until the end of the new
    # turn, not wake up at a time computed from its own, finished turn.
    woken_early: list[int] = []

    class CountingLock:
        def __init__(self) -> None:
            self._lock = threading.Lock()

        def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
            got = self._lock.acquire(blocking, timeout)
            if not got:
                woken_early.append(1)
            return got

        def release(self) -> None:
            self._lock.release()

    class CountingWaiter(turnstile_module._Waiter):
        def __init__(self) -> None:
            self.lock = CountingLock()  # type: ignore[assignment]
            self.lock.acquire()
            self.handed = False

    monkeypatch.setattr(turnstile_module, "_Waiter", CountingWaiter)
    turnstile = Turnstile()  # the default turns and escape
    handovers = [0]
    stop = time.monotonic() + 20 * turnstile.slice
    last = [0]

    def work(me: int) -> None:
        while time.monotonic() < stop:
            assert turnstile.enter()
            try:
                sum(range(300))  # a short call, holding the GIL
                if last[0] != me:
                    handovers[0] += 1
                    last[0] = me
            finally:
                turnstile.leave()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(1, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert handovers[0] >= 8
    # (a holder the OS deschedules for long may make a waiter wake up now and then)
    assert len(woken_early) <= handovers[0] // 4, (len(woken_early), handovers[0])


@pytest.mark.timeout(30)
def test_many_waiters_wait_their_turn_without_giving_up() -> None:
    # Six waiters queue for 100 ms turns: the last waits far longer than
    # escape_s, but the holders keep coming back, so nobody gives up. (A
    # holder descheduled for longer than escape_s inside its turn would look
    # stuck: turns and escape are long enough for a loaded machine.)
    turnstile = Turnstile(slice_s=0.1, escape_s=0.3)
    stop = time.monotonic() + 2.0
    went_ahead: list[int] = []
    turns: list[int] = []

    def work(me: int) -> None:
        while time.monotonic() < stop:
            if not turnstile.enter():
                went_ahead.append(me)
                continue
            try:
                if not turns or turns[-1] != me:
                    turns.append(me)
                time.sleep(0.0001)
            finally:
                turnstile.leave()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert went_ahead == [] and not turnstile.stuck
    assert set(turns) == set(range(7))


@pytest.mark.timeout(30)
def test_a_thread_coming_back_after_a_pause_starts_a_new_turn() -> None:
    turnstile = Turnstile(slice_s=0.01, escape_s=0.04)
    assert turnstile.enter()
    turnstile.leave()
    time.sleep(0.1)  # longer than slice + escape
    assert turnstile.enter()  # a new turn, not one that began 0.1 s ago
    got: list[bool] = []
    thread = threading.Thread(target=lambda: got.append(turnstile.enter()))
    thread.start()
    # it waits in the queue (or, were the turn the one of 0.1 s ago, gave up on it at once)
    wait_until(lambda: turnstile._queue or not thread.is_alive(), "the other thread to wait")
    turnstile.leave()  # (its turn is not over: put down; the waiter takes it)
    thread.join(10)
    assert got == [True] and not turnstile.stuck
    turnstile.leave()


@pytest.mark.timeout(30)
def test_a_waiter_gives_up_on_a_holder_stuck_in_a_long_call() -> None:
    turnstile = Turnstile(slice_s=0.002, escape_s=0.05)
    assert turnstile.enter()  # the "long call"
    results: list[bool] = []

    def other() -> None:
        results.append(turnstile.enter())  # waits escape_s, then goes ahead
        assert turnstile.stuck
        turnstile.escape = 60.0  # from now on a wait would hit the test's timeout
        results.extend(turnstile.enter() for _ in range(20))

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(20)
    assert results == [False] * 21  # all went ahead without the baton, none waited again
    turnstile.leave()
    assert not turnstile.stuck
    assert turnstile.enter()  # back to normal
    turnstile.leave()


@pytest.mark.timeout(30)
def test_a_waiter_is_not_left_waiting_when_the_holder_stops() -> None:
    # The holder puts the baton down before its turn is over and never calls
    # again: the waiter takes it at the turn's end, not after escape_s (which
    # would hit the test's timeout).
    turnstile = Turnstile(slice_s=0.5, escape_s=60.0)
    assert turnstile.enter()
    got: list[bool] = []
    thread = threading.Thread(target=lambda: got.append(turnstile.enter()))
    thread.start()
    wait_until(lambda: turnstile._queue, "the other thread to wait")
    turnstile.leave()  # put down (the turn is not over) and never taken again
    thread.join(10)
    assert got == [True]  # it took the baton once its wait ended, not "stuck"
    assert not turnstile.stuck
    turnstile.leave()


@pytest.mark.timeout(60)
def test_a_short_method_keeps_its_pace_next_to_a_looping_one(
        open_host: OpenHost, monkeypatch: pytest.MonkeyPatch) -> None:
    # The looping call took the turnstile (its first call: not known to be long);
    # the other thread's calls wait for it once (escape_s), then no more.
    monkeypatch.setattr(TURNSTILE, "escape", 1.0)
    host, _ = open_host(entry("loop", "unruly", permissions={"max_execution_time": "10s"}),
                        entry("fast", "transform"))
    with ThreadPoolExecutor(1) as pool:
        looping = pool.submit(host.call, "loop", "spin")
        # inside its Wasm loop, holding the turnstile (its first call: not known to be long)
        wait_until(lambda: running_calls(host, "loop") == 1 and TURNSTILE._baton.locked(),
                   "the looping call to hold the turnstile")
        for _ in range(300):  # one escape (1 s), not 300
            assert host.call("fast", "transform", {"ir": 1}) == {"transformed": True, "output": 1}
        assert not looping.done()  # all done while the other extension still loops
        with pytest.raises(ExtensionTimeout):
            looping.result()


@pytest.mark.timeout(30)
def test_a_long_method_is_measured_again_only_when_the_baton_is_free(
        open_host: OpenHost, monkeypatch: pytest.MonkeyPatch) -> None:
    # Measuring a long method again must not wait for the baton: its holder
    # keeps it for its whole turn (60 s here), so waiting would stop this
    # thread's calls for as long.
    monkeypatch.setattr(TURNSTILE, "slice", 60.0)
    monkeypatch.setattr(TURNSTILE, "escape", 60.0)
    host, _ = open_host(entry("stats", "stats"))
    extension = host.extension("stats")
    params = {"ir": "x" * 65_536}  # stats reads it byte by byte: a long call
    extension._long_methods["stats"] = REMEASURE_EVERY  # due to be measured again
    holding, release = threading.Event(), threading.Event()

    def holder() -> None:
        assert TURNSTILE.enter()
        holding.set()
        release.wait(20)
        TURNSTILE.leave()

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        holding.wait(10)
        for _ in range(3):  # went ahead at once, without the baton, and still due
            assert host.call("stats", "stats", params)["bytes"] == 65_545
            assert extension._long_methods["stats"] == REMEASURE_EVERY
    finally:
        release.set()
        thread.join(10)
    host.call("stats", "stats", params)  # measured alone now: still long
    assert extension._long_methods["stats"] == 0


@pytest.mark.timeout(30)
@pytest.mark.parametrize("handed_first", [False, True])
def test_a_waiter_interrupted_while_waiting_leaves_no_baton_behind(
        monkeypatch: pytest.MonkeyPatch, handed_first: bool) -> None:
    turnstile = Turnstile(slice_s=0.0, escape_s=60.0)
    assert turnstile.enter()

    class Interrupted(BaseException):
        pass

    class InterruptedWaiter(turnstile_module._Waiter):
        def __init__(self) -> None:
            super().__init__()
            real_lock = self.lock
            waiter = self

            class Lock:
                def acquire(self, timeout: float = -1) -> bool:
                    if handed_first:  # the holder hands over, then Ctrl-C arrives
                        turnstile.leave()
                        assert waiter.handed
                    raise Interrupted

                def release(self) -> None:
                    real_lock.release()

            self.lock = Lock()  # type: ignore[assignment]

    monkeypatch.setattr(turnstile_module, "_Waiter", InterruptedWaiter)
    with pytest.raises(Interrupted):
        threading_result: list[bool] = []
        outcome: list[BaseException] = []

        def waiter() -> None:
            try:
                threading_result.append(turnstile.enter())
            except BaseException as exc:
                outcome.append(exc)

        thread = threading.Thread(target=waiter)
        thread.start()
        thread.join(10)
        raise outcome[0]
    if not handed_first:
        turnstile.leave()
    monkeypatch.undo()
    assert turnstile.enter()  # the baton is free again, and no dead waiter is queued
    turnstile.leave()
    assert not turnstile._queue

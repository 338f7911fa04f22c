"""Short calls from several threads: one thread at a time, for a slice each.

A short extension call is mostly Python (JSON, schemas, bookkeeping) holding
the GIL, and releases it once, for the Wasm call. With two threads calling,
every release hands the GIL to the other thread: a futex wake and, on an idle
core, a wake-up that takes longer than the call itself (measured on a 2-core
VM: two threads made 0.45x the calls of one). Python cannot run both threads'
Python at once anyway, so for short calls the best two threads can do is what
one does; the turnstile gets them there.

The thread holding the *baton* makes its calls back to back. Another thread
does not wait for the GIL meanwhile (which would make each of the holder's
releases a hand-off): it blocks on a lock of its own, and the holder hands the
baton over at the end of the call that ends its turn (a slice: four of Python's
switch intervals, 20 ms by default). A hand-over costs far more than a call:
on two cores the new holder's core has to wake up, and its caches are cold for
everything the calls touch (measured on a 2-core VM: two threads made 0.89x
the calls of one with 5 ms turns, 0.91x with 20 ms, 0.94x with 50 ms), so turns
are long and hand-overs rare. If the holder stops calling before its
turn is over, the waiter takes the baton a little after the turn's end.
Waiters wait in turn however many they are, but give up when the holder's
turn has outlasted its slice by `escape` (10 ms): the holder is inside one
long call (a loop waiting for its timeout). They go ahead without the baton,
and so does every caller until the holder comes back (`stuck`).
Long calls are not meant to take the baton at all (the caller decides, see
`extension.py`): their Wasm runs in parallel, which is where a pool of
instances pays.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from typing import Final

# How long a thread keeps the baton while others wait: four times as long as
# Python lets a thread keep the GIL while others wait (sys.setswitchinterval,
# 5 ms by default), because a hand-over costs more than a GIL switch (above).
SLICE_S: Final = 4 * sys.getswitchinterval()
ESCAPE_S: Final = 0.010  # how long a waiter waits for it at most
_ident = threading.get_ident
_now = time.monotonic


class _Waiter:
    __slots__ = ("handed", "lock")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lock.acquire()
        self.handed = False


class Turnstile:
    """`if turnstile.enter(): try: call() finally: turnstile.leave()`."""

    def __init__(self, slice_s: float = SLICE_S, escape_s: float = ESCAPE_S) -> None:
        self.slice = slice_s
        self.escape = escape_s
        self._baton = threading.Lock()
        self._guard = threading.Lock()  # the queue, `handed`, `stuck`
        self._queue: deque[_Waiter] = deque()
        self._owner = 0
        self._last = 0  # the thread whose turn it is (or was)
        self._since = 0.0  # when its turn began
        self.stuck = False  # a waiter gave up on the holder: do not wait until it leaves

    def enter(self) -> bool:
        """True if this thread now holds the baton (it must then call `leave`).

        False: go ahead without it (the holder is in a long call, or it is
        this very thread, calling again from inside a call).
        """
        me = _ident()
        if self._baton.acquire(False):
            self._owner = me
            if self._last != me or not self._queue:  # a new turn (nobody waits: every call)
                self._last, self._since = me, _now()
            return True
        if self.stuck or self._owner == me:
            return False
        return self._wait(me)

    def try_enter(self) -> bool:
        """`enter` if nobody holds the baton now; never waits (False: go ahead without it)."""
        if self._baton.acquire(False):
            me = _ident()
            self._owner = me
            if self._last != me or not self._queue:
                self._last, self._since = me, _now()
            return True
        return False

    def _wait(self, me: int) -> bool:
        # Block on a lock of our own, which the holder releases when it hands
        # the baton over at the end of its turn: never on the baton itself (its
        # holder puts it down after every call) nor in a sleep (waking up
        # wanting the GIL while the holder calls would make each of its calls a
        # hand-off again). A holder that stops calling before its turn is over
        # puts the baton down: so the wait also ends a little after the turn.
        waiter = _Waiter()
        with self._guard:
            if self._baton.acquire(False):  # put down meanwhile
                return self._taken(me)
            self._queue.append(waiter)
        while True:
            now = _now()
            turn_end = self._since + self.slice
            timeout = (turn_end - now + self.slice / 2 if now < turn_end
                       else min(self.slice, turn_end + self.escape - now))
            try:
                handed = waiter.lock.acquire(timeout=max(timeout, 0.0))
            except BaseException:  # e.g. KeyboardInterrupt: leave the queue, pass on a baton
                with self._guard:
                    if not waiter.handed:
                        self._queue.remove(waiter)
                if waiter.handed:
                    self._taken(me)
                    self.leave()
                raise
            if handed:
                return self._taken(me)
            with self._guard:
                if waiter.handed:  # handed over just as the wait ended
                    return self._taken(me)
                if self._baton.acquire(False):  # put down (its holder stopped calling)
                    self._queue.remove(waiter)
                    return self._taken(me)
                if _now() - self._since >= self.slice + self.escape:
                    # the holder's turn outlasted it by `escape`: it is in a long call
                    self._queue.remove(waiter)
                    self.stuck = True
                    return False
            # held: its holder is in a call, and hands the baton over when it ends

    def _taken(self, me: int) -> bool:
        self._owner, self._last, self._since = me, me, _now()
        return True

    def leave(self) -> None:
        """Put the baton down, or hand it to the longest waiter once the turn is over."""
        if self._queue and _now() - self._since >= self.slice:
            with self._guard:
                if self._queue:
                    waiter = self._queue.popleft()
                    waiter.handed = True
                    self.stuck = False
                    self._owner = 0
                    # The next turn starts now, not when the waiter has woken up:
                    # this thread, back for its next call, must sleep until the end
                    # of that turn, and a timeout computed from its own turn would
                    # wake it in the middle of it. A waiter that wakes up while
                    # the holder calls waits for the GIL up to a switch interval,
                    # woken for nothing at each of the holder's calls meanwhile.
                    self._since = _now()
                    waiter.lock.release()  # the baton stays taken: it is the waiter's now
                    return
        self.stuck = False
        self._owner = 0
        self._baton.release()


TURNSTILE = Turnstile()

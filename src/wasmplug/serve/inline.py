"""Short calls on the event loop: the inline budget and the watchdog that enforces it.

A Wasm call of a small function takes microseconds, and handing it to a worker
thread (a queue, a wake-up, the GIL handed over twice, the loop woken again)
costs far more than the call. So a function that may run inline makes its call
on the event loop itself, under a budget (`ServerSettings.inline_budget_ms` of
CPU time, `inline_wall_ms` of wall-clock time): `InlineWatchdog` is one thread
that cancels the inline call in progress (through the plug-in's cancel handle,
which stops Wasm at its next instruction) once it is past either.

The watchdog sleeps while calls are short. It waits on an alarm (a timerfd on
Linux) that rings between one and one and a half look periods (the smaller
budget) after the latest inline call began: a call pushes the alarm back when
it would ring less than a period after the call's start, one system call (made
without letting go of the GIL) per half period at most, not one per call. So
under a stream of short calls the alarm never rings, and only a call still
running when it rings wakes the watchdog, which then looks at it once per
period until it ends or is cut (and a burst of calls ends with one wake-up that
finds nothing to do). A watchdog that woke every period instead took the GIL
from the busy event loop 500 times a second, each time a hand-over between
threads, and on a loaded machine a thread that holds the GIL can lose its core
for milliseconds while the loop waits for it. Where there is no timerfd, the
watchdog looks once per period while inline calls come, and sleeps once they
stop.

The loop is therefore held by a computing call for at most one and a half
periods until the watchdog looks, then one CPU budget (plus what the machine's
load adds), and by a waiting one for about the wall budget plus one and a half
periods. The wall-clock budget counts the time the loop's thread
ran or waited, not the time it stood ready while the machine's scheduler gave
its core to another process (Linux's schedstat): on a loaded machine a 5 µs
call can lose its core for 50 ms, which says nothing of the function, and
counting it demoted a function that does nothing wrong to the worker threads for
the whole cool-down.

What happens to a cut call is the runtime's rule (see `FunctionRuntime` and
docs/serve.md, "Inline calls"): the instance it ran on is discarded, the
function is demoted to the worker threads (for good after a CPU cut, for a
cool-down after a wall-clock one), and the request runs again there from the
start.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
import sys
import threading
import time
from collections.abc import Callable

from wasmplug import Plugin

# Without a timerfd: after this many looks with no inline call, the watchdog sleeps until the next one.
IDLE_CHECKS = 100


def _ready_clock(thread_id: int) -> Callable[[], float] | None:
    """Seconds the thread `thread_id` (a native id) has stood ready to run without a core, so far
    (Linux's /proc/.../schedstat; None where there is none)."""
    path = f"/proc/self/task/{thread_id}/schedstat"

    def ready() -> float:
        with open(path, "rb") as stat:
            return int(stat.read().split()[1]) / 1e9

    try:
        ready()
    except (OSError, ValueError, IndexError):
        return None
    return ready


def _cpu_clock() -> int | None:
    """The CPU-time clock of the calling thread (None where the platform has none)."""
    try:
        return time.pthread_getcpuclockid(threading.get_ident())
    except (AttributeError, OSError):
        return None


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


class TimerfdAlarm:
    """A one-shot alarm (Linux's timerfd): `arm(now)` makes sure it rings no sooner than `period` after
    `now` (and then no later than 1.5 periods after), `wait()` blocks, without the GIL, until it
    rings. `arm` keeps the GIL (PyDLL) for its system call: letting go of it there would let another
    thread take it from the event loop."""

    CLOCK_MONOTONIC = 1
    TFD_CLOEXEC = 0o2000000

    def __init__(self, period: float) -> None:
        libc = ctypes.PyDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self._settime = libc.timerfd_settime
        self._settime.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
        self._settime.restype = ctypes.c_int
        fd = libc.timerfd_create(self.CLOCK_MONOTONIC, self.TFD_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        self.fd: int = fd
        self.period = period
        self.rings_at = -math.inf  # time.monotonic() of the ring armed last
        nanoseconds = max(1, round(period * 1.5e9))
        self._ring = _Itimerspec(_Timespec(0, 0), _Timespec(nanoseconds // 10**9, nanoseconds % 10**9))
        self._now = _Itimerspec(_Timespec(0, 0), _Timespec(0, 1))
        self._ring_at = ctypes.addressof(self._ring)

    def arm(self, now: float) -> None:
        if self.rings_at < now + self.period:
            self.rings_at = now + 1.5 * self.period
            self._settime(self.fd, 0, self._ring_at, None)

    def ring_now(self) -> None:
        self._settime(self.fd, 0, ctypes.addressof(self._now), None)

    def wait(self) -> None:
        os.read(self.fd, 8)

    def close(self) -> None:
        os.close(self.fd)


class SleepAlarm:
    """Where there is no timerfd: `wait()` returns every `period` while `arm()` is called, and blocks
    once it has not been called for `IDLE_CHECKS` periods, until the next `arm()`."""

    def __init__(self, period: float) -> None:
        self.period = period
        self._armed = 0
        self._seen = 0
        self._quiet = 0
        self._parked = False
        self._wake = threading.Event()

    def arm(self, now: float) -> None:
        self._armed += 1
        if self._parked:
            self._parked = False
            self._wake.set()

    def ring_now(self) -> None:
        self._parked = False
        self._wake.set()

    def wait(self) -> None:
        self._quiet = self._quiet + 1 if self._armed == self._seen else 0
        self._seen = self._armed
        if self._quiet < IDLE_CHECKS:
            time.sleep(self.period)
            return
        self._quiet = 0
        self._wake.clear()
        self._parked = True
        if self._armed == self._seen:
            self._wake.wait()
        self._parked = False

    def close(self) -> None:
        pass


def make_alarm(period: float) -> TimerfdAlarm | SleepAlarm:
    if sys.platform == "linux":
        try:
            return TimerfdAlarm(period)
        except (OSError, AttributeError):
            pass
    return SleepAlarm(period)


class InlineWatchdog:
    """Cuts the inline call (one at a time: the event loop's) that has used `budget_s` of the loop
    thread's CPU time, or held the loop `wall_s` of wall-clock time (a call that waits).

    CPU time, not wall time, is the main budget: on a loaded machine the loop's thread may lose
    its core for a while in the middle of a 5 µs call, which says nothing of the function. A cut
    records its reason in `last_cut` ("cpu" or "wall") before cancelling the call; `cuts` counts
    them, `cuts_by_reason` by reason, and `wakeups` counts the times the watchdog's thread woke (each
    one takes the GIL). `begin(plugin)` before the call keeps the alarm from ringing while the call is
    young and `end()` after it forgets the call (see the module's docstring): no lock, no wake-up of
    the watchdog.
    """

    def __init__(self, budget_s: float, wall_s: float,
                 alarm: Callable[[float], TimerfdAlarm | SleepAlarm] | None = None) -> None:
        self.budget_s = budget_s
        self._make_alarm = alarm or make_alarm  # (a SleepAlarm where there is no timerfd)
        self.wall_s = wall_s
        self.period = min(budget_s, wall_s)
        self.cuts = 0
        self.cuts_by_reason = {"cpu": 0, "wall": 0}
        self.last_cut = ""
        self.wakeups = 0
        self._cut: object = None  # the last call cut
        # (start time, plug-in) of the inline call in progress, replaced as one value.
        self._current: tuple[float, Plugin] | None = None
        self._clock: int | None = None  # the event loop thread's CPU clock
        self._ready: Callable[[], float] | None = None  # its time without a core (`_ready_clock`)
        self._alarm: TimerfdAlarm | SleepAlarm | None = None
        self._stopped = False
        self._thread: threading.Thread | None = None

    def begin(self, plugin: Plugin) -> object:
        """Watch the inline call about to start on `plugin`; returns its token (see `was_cut`)."""
        alarm = self._alarm
        if alarm is None:
            alarm = self._start()
        now = time.monotonic()
        current = self._current = (now, plugin)
        alarm.arm(now)
        return current

    def was_cut(self, token: object) -> bool:
        """Whether the watchdog cut the call `begin` gave `token` for (a cancel meant for the call
        before it, landing late, is not a cut of this one)."""
        return self._cut is token

    def end(self) -> None:
        self._current = None

    def stop(self) -> None:
        self._stopped = True
        if self._alarm is not None:
            self._alarm.ring_now()
        if self._thread is not None:
            self._thread.join(timeout=5)
            if not self._thread.is_alive() and self._alarm is not None:
                self._alarm.close()

    def _start(self) -> TimerfdAlarm | SleepAlarm:
        self._clock = _cpu_clock()
        self._ready = _ready_clock(threading.get_native_id())
        alarm = self._alarm = self._make_alarm(self.period)
        self._thread = threading.Thread(target=self._watch, args=(alarm,), name="wasmplug-serve-inline",
                                        daemon=True)
        self._thread.start()
        return alarm

    def _cpu(self) -> float:
        return 0.0 if self._clock is None else time.clock_gettime(self._clock)

    def _watch(self, alarm: TimerfdAlarm | SleepAlarm) -> None:
        while not self._stopped:
            alarm.wait()
            self.wakeups += 1
            current = self._current
            # A call that began one period ago or more, and is still running: watch it from here.
            if (current is not None and current is not self._cut
                    and time.monotonic() - current[0] >= self.period):
                self._follow(current)

    def _held(self) -> float:
        """A clock of the time the loop's thread ran or waited (wall-clock time less the time it
        stood ready without a core)."""
        return time.monotonic() - (self._ready() if self._ready is not None else 0.0)

    def _follow(self, current: tuple[float, Plugin]) -> None:
        """Look at the running call once per period until it ends, or cut it once it is past a budget
        (both counted from here: the call may have stood ready without a core until now)."""
        cpu_at_seen, held_at_seen = self._cpu(), self._held()
        plugin = current[1]
        while not self._stopped and self._current is current:
            reason = ("cpu" if self._clock is not None and self._cpu() - cpu_at_seen >= self.budget_s
                      else "wall" if self._held() - held_at_seen >= self.wall_s else "")
            if reason:
                # (A cancel that lands on the next call instead is harmless: the runtime
                # runs any cancelled inline call again on a worker thread, see `was_cut`.)
                self._cut = current  # once: it may take a moment to stop
                self.cuts += 1
                self.cuts_by_reason[reason] += 1
                self.last_cut = reason
                plugin.cancel_handle().cancel()
                return
            time.sleep(self.period)
            self.wakeups += 1

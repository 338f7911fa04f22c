"""Ctrl-C interrupts a plug-in call running on the main thread.

Python runs signal handlers on the main thread between bytecodes. While the
main thread is inside a Wasm call it runs no bytecode, so SIGINT would wait
for the call to end (forever, for an endless loop); and the first Python code
it does run is a callback *inside* the call (a host function, the epoch
check), where a handler raising `KeyboardInterrupt` cannot unwind through
Wasm. Three pieces fix both:

- **Our handler.** When a plug-in is created on the main thread, the SIGINT
  handler in place (Python's default or the application's own) is wrapped by
  `_handler`. Outside plug-in calls it simply calls the wrapped handler. When
  the main thread is inside a call it asks that call to stop (the epoch
  interruption timeouts and cancel handles use) and defers the wrapped
  handler: `deliver()` runs it as soon as the call is back in Python, so
  `KeyboardInterrupt` (or whatever the application's handler does) comes
  out of `Plugin.call`, and the plug-in stays usable.
- **A watcher thread.** Python's C-level handler writes the signal number to
  the wakeup fd (`signal.set_wakeup_fd`): ours is a socket pair read by the
  daemon thread `wasmplug-sigint`. On SIGINT it stops the main thread's call
  the same way, which makes the Wasm reach its epoch check: that runs Python
  on the main thread, hence `_handler`. Every byte is forwarded to the wakeup
  fd that was installed before ours (asyncio's, for example), so its owner
  still sees every signal.
- **Nothing per call.** Plug-ins register once, when created; the hot path
  is untouched. Only the plug-in whose call was interrupted calls `deliver()`.

If SIGINT is ignored or left to the OS (`SIG_IGN`, `SIG_DFL`), nothing is
installed. A handler the application installs after a plug-in was created
replaces ours: the watcher then leaves calls alone (the application's handler
would otherwise run inside the call) until a plug-in created on the main
thread (a second or more later) wraps it. Likewise a library that takes the wakeup fd without
chaining (asyncio's `loop.add_signal_handler`) keeps it, and its handlers
work as before. `asyncio.run` installs its own SIGINT handler (cancel the
main task) only over Python's default one: a plug-in created inside the
coroutine wraps it and keeps that behaviour; one created before makes Ctrl-C
a `KeyboardInterrupt` raised in the event loop.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol

from . import _daemon, _logs

log = _logs.root_logger

SignalHandler = Callable[[int, FrameType | None], Any]


class Interruptible(Protocol):
    def _interrupt_if_running_on(self, thread: int) -> bool:
        """Stop the call `thread` is running on this plug-in; True if there was one."""
        ...


_lock = threading.RLock()  # RLock: our handler may run while the main thread holds it
_plugins: weakref.WeakSet[Any] = weakref.WeakSet()
_wrapped: SignalHandler | None = None
_deferred = 0  # SIGINTs that arrived during a main-thread call, not yet delivered
RECHECK_S = 1.0
_checked_at = -RECHECK_S


def watch(plugin: Interruptible) -> None:
    """Let Ctrl-C stop `plugin`'s calls on the main thread (called once per plug-in).

    The handler and the wakeup fd are (re)checked at most every
    `RECHECK_S` seconds: creating many plug-ins stays cheap.
    """
    global _checked_at
    with _lock:
        _plugins.add(plugin)
    now = time.monotonic()
    if now - _checked_at >= RECHECK_S and threading.current_thread() is threading.main_thread():
        _checked_at = now
        _install()


def deliver() -> None:
    """Run the SIGINT handler deferred during a call; may raise `KeyboardInterrupt`."""
    global _deferred
    while _deferred:
        _deferred -= 1
        handler = _wrapped
        if handler is not None:
            handler(signal.SIGINT, sys._getframe(1))


def _stop_main_thread_calls() -> bool:
    main = threading.main_thread().ident
    if main is None:
        return False
    with _lock:
        plugins = list(_plugins)
    stopped = False
    for plugin in plugins:
        stopped = plugin._interrupt_if_running_on(main) or stopped
    return stopped


def _handler(signum: int, frame: FrameType | None) -> Any:
    global _deferred
    if _stop_main_thread_calls():
        _deferred += 1  # delivered by the interrupted call, back in Python
        return None
    handler = _wrapped
    return handler(signum, frame) if handler is not None else None


def _install() -> None:
    """Wrap the SIGINT handler in place and take the wakeup fd (main thread only)."""
    global _wrapped, _watcher
    with _lock:
        current = signal.getsignal(signal.SIGINT)
        if current is not _handler:
            if not callable(current):
                return  # SIG_IGN, SIG_DFL or a handler set from C: Ctrl-C stays as it is
            _wrapped = current
            signal.signal(signal.SIGINT, _handler)
        if _watcher is None:
            _watcher = _Watcher()
        _watcher.take_wakeup_fd()


class _Watcher:
    """Reads the signal numbers Python's C handler writes to the wakeup fd."""

    def __init__(self) -> None:
        self._recv: Callable[[int], bytes]
        self._closers: list[Callable[[], object]]
        if sys.platform == "win32":  # the wakeup fd must be a socket there
            import socket

            reader, writer = socket.socketpair()
            writer.setblocking(False)  # set_wakeup_fd requires it
            self.writer_fd = writer.fileno()
            self._recv = reader.recv
            self._closers = [reader.close, writer.close]
        else:  # a pipe: no `socket` import (~3 ms) for a process that never needs one
            reader_fd, self.writer_fd = os.pipe()
            os.set_blocking(self.writer_fd, False)  # set_wakeup_fd requires it
            self._recv = lambda n: os.read(reader_fd, n)
            self._closers = [lambda: os.close(reader_fd), lambda: os.close(self.writer_fd)]
        self.chained: tuple[int, tuple[int, int]] | None = None  # (fd, (st_dev, st_ino))
        _daemon.start(self._run, "wasmplug-sigint")

    def take_wakeup_fd(self) -> None:
        fd = self.writer_fd
        try:
            previous = signal.set_wakeup_fd(fd)
        except ValueError:  # not the main thread of the main interpreter
            return
        if previous == fd:
            return
        if previous < 0 or sys.platform == "win32":
            self.chained = None
            if previous >= 0:  # Windows: a socket handle we cannot forward to; give it back
                signal.set_wakeup_fd(previous)
            return
        try:
            st = os.fstat(previous)
        except OSError:
            self.chained = None
            return
        self.chained = (previous, (st.st_dev, st.st_ino))

    def _forward(self, data: bytes) -> None:
        chained = self.chained
        if chained is None:
            return
        fd, identity = chained
        try:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) != identity:  # closed and the number reused
                self.chained = None
                return
            os.write(fd, data)
        except OSError:
            pass  # full or closed: its owner would have lost the byte too

    def _run(self) -> None:
        while True:
            try:
                data = self._recv(512)
            except OSError:
                return
            if not data:
                return
            self._forward(data)
            if signal.SIGINT in data and signal.getsignal(signal.SIGINT) is _handler:
                try:
                    _stop_main_thread_calls()
                except Exception:  # never let the watcher die
                    log.exception("could not interrupt the main thread's plug-in call")

    def close(self) -> None:
        for close in self._closers:
            close()


_watcher: _Watcher | None = None


def _after_fork_in_child() -> None:
    """The watcher thread did not survive the fork: give the wakeup fd back, start afresh."""
    global _watcher, _checked_at
    _checked_at = -RECHECK_S
    watcher, _watcher = _watcher, None
    if watcher is None:
        return
    if threading.current_thread() is threading.main_thread():
        try:
            previous = signal.set_wakeup_fd(-1)
            if previous != watcher.writer_fd:
                signal.set_wakeup_fd(previous)  # not ours: leave it
            elif watcher.chained:
                signal.set_wakeup_fd(watcher.chained[0])
        except (ValueError, OSError):
            pass
    watcher.close()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

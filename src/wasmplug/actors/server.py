"""`PluginServer`: one plug-in owned by one thread, fed through a mailbox.

The Erlang GenServer pattern: callers never touch the plug-in; they send
messages (`call`, `cast`, `reload`, `stop`) that the server's own thread
handles one at a time, in order. So the plug-in needs no lock, a slow
caller never holds it, and replacing the code (`reload`) is just another
message: calls sent before it finish on the old code, calls sent after it see
the new code.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from .. import CallError, CompiledPlugin, Error, Plugin

log = logging.getLogger("wasmplug.actors")
_names = itertools.count(1)
STOP_TIMEOUT_S = 5.0  # how long stop() waits by default, as Plugin.close does


class ServerStopped(Error):
    """The server is not running (stopped, or given up by its supervisor)."""


@dataclass
class _Call:
    function: str
    data: bytes
    reply: Future[bytes] | None  # None: a cast, nobody waits


@dataclass
class _Reload:
    source: Any
    keep_vars: bool
    reply: Future[None]


@dataclass
class _Stop:
    reply: Future[None] = field(default_factory=Future)


@dataclass(frozen=True)
class Supervision:
    """How a supervisor hears from a server it supervises: callbacks, run in
    the server's thread, so the server needs to know nothing of supervisors.

    `allow_restart(server, error)` is asked after a crash: True restarts the
    plug-in, False makes the server give up. `stopped(server)` is told once
    the server has stopped for good (and answered every message).
    """

    allow_restart: Callable[[PluginServer, BaseException], bool]
    stopped: Callable[[PluginServer], None]
    hand_over_vars: bool = True


def is_crash(error: BaseException) -> bool:
    """A failure that leaves a plug-in suspect: a trap, a timeout, a limit hit.

    An error the plug-in reports itself (error_set, a non-zero code) is an
    answer, not a crash.
    """
    return isinstance(error, CallError) and (error.code == 134 or error.limit is not None)


class PluginServer:
    """Owns one plug-in in its own thread and serves messages from a mailbox.

    `source` is anything `Plugin` accepts or a `CompiledPlugin`;
    `plugin_kwargs` go to the `Plugin`. Start it with `start()` (or use it
    as a context manager); `call` waits for the answer, `cast` does not.
    Every message sent gets its answer, or fails with `ServerStopped`: a
    message sent while the server stops (or gives up) is never lost.
    `supervision` is how a `Supervisor` hears of crashes (see `Supervision`).
    """

    def __init__(self, source: Any, *, name: str | None = None,
                 supervision: Supervision | None = None, **plugin_kwargs: Any) -> None:
        self.name = name or f"plugin-server-{next(_names)}"
        self._source = source
        self._plugin_kwargs = plugin_kwargs
        self._mailbox: queue.SimpleQueue[_Call | _Reload | _Stop] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._plugin: Plugin | None = None
        self.supervision = supervision
        # Closing the mailbox and posting to it take this lock: once closed,
        # nothing more gets in, so one last drain answers everything.
        self._mailbox_lock = threading.Lock()
        self._closed = False
        self.failed: BaseException | None = None  # why it stopped for good, if it did
        self.restarts = 0
        self.calls = 0
        self._stopping = False  # stop() cancelled the running call: fail the rest

    # -- lifecycle -------------------------------------------------------
    def start(self) -> PluginServer:
        if self._thread is not None:
            return self
        self._plugin = self._new_plugin(self._source)  # load errors surface here, to the caller
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop after the messages already in the mailbox, waiting up to `timeout` s
        (default `STOP_TIMEOUT_S`, 5 s, as `Plugin.close`).

        If they are not done by then (a runaway call, say), the running call
        is cancelled (it fails with `CallTimeout`), the messages left fail
        with `ServerStopped`, and the plug-in is freed; this waits at most
        `timeout` s more.
        """
        if timeout is None:
            timeout = STOP_TIMEOUT_S
        thread = self._thread
        if thread is None:
            return
        message = _Stop()
        with self._mailbox_lock:
            closed = self._closed
            if not closed:
                self._mailbox.put(message)
        if closed:  # stopped already (or gave up): just let the thread finish
            thread.join(timeout)
            return
        try:
            message.reply.result(timeout)
        except FutureTimeout:
            self._stopping = True
            plugin = self._plugin
            if plugin is not None:
                plugin.close(timeout)  # cancels the running call
            try:
                message.reply.result(timeout)
            except FutureTimeout:
                log.warning("plug-in server %s did not stop within %g s", self.name, 2 * timeout)
        thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._closed and self._thread.is_alive()

    def __enter__(self) -> PluginServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- messages --------------------------------------------------------
    def call(self, function: str, data: str | bytes = b"", timeout: float | None = None) -> bytes:
        """Send a call and wait (up to `timeout` s) for its output."""
        return self.send(function, data).result(timeout)

    def send(self, function: str, data: str | bytes = b"") -> Future[bytes]:
        """Send a call; the returned future resolves to its output."""
        reply: Future[bytes] = Future()
        self._post(_Call(function, _as_bytes(data), reply))
        return reply

    async def call_async(self, function: str, data: str | bytes = b"") -> bytes:
        return await asyncio.wrap_future(self.send(function, data))

    def cast(self, function: str, data: str | bytes = b"") -> None:
        """Send a call without waiting; its failure is only logged."""
        self._post(_Call(function, _as_bytes(data), None))

    def reload(self, source: Any, keep_vars: bool = True, timeout: float | None = None) -> None:
        """Replace the plug-in's code: messages sent before this use the old code.

        Load errors are raised here and the old code keeps serving.
        """
        reply: Future[None] = Future()
        self._post(_Reload(source, keep_vars, reply))
        reply.result(timeout)

    def _post(self, message: _Call | _Reload) -> None:
        with self._mailbox_lock:
            if self._thread is not None and not self._closed:
                self._mailbox.put(message)
                return
        raise ServerStopped(f"server {self.name} is not running"
                            + (f": {self.failed}" if self.failed else "; start() it first"))

    # -- the server's thread -----------------------------------------------
    def _new_plugin(self, source: Any) -> Plugin:
        if isinstance(source, Plugin):
            return source
        if isinstance(source, CompiledPlugin):  # compile-time options are already in it
            return Plugin(source, config=self._plugin_kwargs.get("config"))
        return Plugin(source, **self._plugin_kwargs)

    def _run(self) -> None:
        while True:
            message = self._mailbox.get()
            if isinstance(message, _Stop):
                self._shutdown(None)
                message.reply.set_result(None)
                return
            if isinstance(message, _Reload):
                self._handle_reload(message)
                continue
            if not self._handle_call(message):
                return

    def _handle_call(self, message: _Call) -> bool:
        """Run one call; False when the server has to stop."""
        plugin = self._plugin
        assert plugin is not None
        if self._stopping:
            _reply_error(message.reply, ServerStopped(f"server {self.name} was stopped"),
                         self.name, message.function)
            return True
        self.calls += 1
        try:
            output: bytes = plugin.call(message.function, message.data)
        except BaseException as exc:
            # Supervision acts before the caller hears of the crash, so what the
            # caller sees next (restarted or stopped) is already settled.
            keep_serving = self._crashed(exc) if is_crash(exc) and not self._stopping else True
            _reply_error(message.reply, exc, self.name, message.function)
            return keep_serving
        if message.reply is not None and not message.reply.cancelled():
            message.reply.set_result(output)
        return True

    def _handle_reload(self, message: _Reload) -> None:
        try:
            fresh = self._new_plugin(message.source)
        except BaseException as exc:
            message.reply.set_exception(exc)
            return
        old = self._plugin
        if message.keep_vars and old is not None:
            fresh.vars.update(old.vars)
        self._source, self._plugin = message.source, fresh
        if old is not None and old is not fresh:
            old.close()
        message.reply.set_result(None)

    def _crashed(self, error: BaseException) -> bool:
        if self.supervision is None:
            return True  # unsupervised: a plug-in stays usable after a failed call
        if not self.supervision.allow_restart(self, error):
            self._shutdown(error)
            return False
        try:
            self._restart()
        except BaseException as exc:  # no fresh instance: stop, answering every message
            log.warning("plug-in server %s could not restart its plug-in: %s", self.name, exc)
            self._shutdown(exc)
            return False
        return True

    def _restart(self) -> None:
        old = self._plugin
        # A fresh instance of the same compiled code (a live Plugin given as the
        # source cannot be rebuilt itself).
        source = self._source._compiled if isinstance(self._source, Plugin) else self._source
        fresh = self._new_plugin(source)
        if old is not None and self.supervision is not None and self.supervision.hand_over_vars:
            fresh.vars.update(old.vars)
        self._plugin = fresh
        self.restarts += 1
        if old is not None:
            old.close()
        log.warning("restarted plug-in server %s (restart %d)", self.name, self.restarts)

    def _shutdown(self, error: BaseException | None) -> None:
        """Stop serving: close the mailbox, then answer everything still in it."""
        self.failed = error
        reason = (ServerStopped(f"server {self.name} gave up after too many crashes: {error}")
                  if error is not None else ServerStopped(f"server {self.name} was stopped"))
        with self._mailbox_lock:
            self._closed = True
        while True:  # nothing can be posted any more: this empties it for good
            try:
                pending = self._mailbox.get_nowait()
            except queue.Empty:
                break
            if isinstance(pending, _Call):
                _reply_error(pending.reply, reason, self.name, pending.function)
            elif isinstance(pending, _Reload):
                pending.reply.set_exception(reason)
            else:
                pending.reply.set_result(None)
        if self._plugin is not None:
            self._plugin.close()
            self._plugin = None
        if self.supervision is not None:
            self.supervision.stopped(self)

    # -- state hand-over ----------------------------------------------------
    def vars(self) -> dict[str, bytes]:
        """A copy of the plug-in's vars (read in the server's own order of events)."""
        return dict(self._plugin.vars) if self._plugin is not None else {}


def _as_bytes(data: str | bytes) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def _reply_error(reply: Future[Any] | None, error: BaseException, server: str,
                 function: str) -> None:
    if reply is None:
        log.warning("cast %s to %s failed: %s", function, server, error)
    elif not reply.cancelled():
        reply.set_exception(error)


"""A function's instances in this process, handed out on the event loop (no locks, no waiting).

`LoopInstances` replaces a `PluginPool` for a function served here: its
`FunctionRuntime` already bounds the calls in progress to `max_instances` (its
slots, taken on the event loop), so taking an instance never waits: there is
an idle one, or room to make one. Instances are made lazily, on a worker
thread, by the call that needs one.

Idle instances are *warm* (their last call ran clean, so the next one starts
at once: these may be used inline, on the event loop) or *cold* (new, or
after a failed call, which makes the next call rebuild the instance: these
are used on a worker thread only). With `fresh`, an instance is closed after
each call and a new one made in its place, on the worker thread.
"""

from __future__ import annotations

import logging

from wasmplug import CompiledPlugin, Error, Plugin, PreparedCall

log = logging.getLogger("wasmplug.serve")


class LoopInstances:
    """At most `cap` instances of `compiled` (see the module's docstring)."""

    def __init__(self, compiled: CompiledPlugin, cap: int, fresh: bool) -> None:
        self.compiled = compiled
        self.cap = cap
        self.fresh = fresh
        self.warm: list[Plugin] = []
        self.cold: list[Plugin] = []
        self.busy: set[Plugin] = set()
        self.created = 0
        self.closed = False
        self._prepared: dict[Plugin, dict[str, PreparedCall]] = {}

    def count(self) -> int:
        return self.created

    def take_warm(self) -> Plugin | None:
        """A warm idle instance for an inline call, if there is one."""
        if not self.warm or self.closed:
            return None
        plugin = self.warm.pop()
        self.busy.add(plugin)
        return plugin

    def take(self) -> Plugin | None:
        """An idle instance for a call on a worker thread, or None: the call makes one
        (`run` with None), which counts it now. Call it only with a slot taken."""
        if self.closed:
            raise Error("this function's instances are closed")
        plugin = self.cold.pop() if self.cold else self.warm.pop() if self.warm else None
        if plugin is None:
            self.created += 1
        else:
            self.busy.add(plugin)
        return plugin

    def prepared(self, plugin: Plugin, export: str) -> PreparedCall:
        calls = self._prepared.setdefault(plugin, {})
        call = calls.get(export)
        if call is None:
            call = calls[export] = plugin.prepare(export)
        return call

    def run(self, plugin: Plugin | None, export: str, data: bytes) -> tuple[Plugin | None, bytes | Error]:
        """On a worker thread: the call on `plugin` (made first if None); the instance to give back,
        (None if none: see `fresh`) and the output or the call's error. An instance that cannot be
        made raises (and is not counted)."""
        if plugin is None:
            try:
                plugin = Plugin(self.compiled)
            except BaseException:
                self.created -= 1
                raise
            self.busy.add(plugin)
        outcome: bytes | Error
        try:
            outcome = self.prepared(plugin, export)(data)
        except Error as exc:
            outcome = exc
        if self.fresh:
            self.busy.discard(plugin)
            self._forget(plugin)
            plugin.close()
            try:
                plugin = Plugin(self.compiled)
            except Exception as exc:  # the call is done: the next one makes an instance (and says why)
                self.created -= 1
                log.warning("a fresh plug-in instance could not be made: %s", exc)
                return None, outcome
            self.busy.add(plugin)
        return plugin, outcome

    def give_back(self, plugin: Plugin | None, clean: bool) -> None:
        """On the event loop: `plugin` is idle again (warm if its call was `clean`)."""
        if plugin is None:
            return
        self.busy.discard(plugin)
        if self.closed:
            self._forget(plugin)
            plugin.close()
            return
        (self.warm if clean and not self.fresh else self.cold).append(plugin)

    def discard(self, plugin: Plugin) -> None:
        """Close `plugin` for good (a call cut on it); a new one is made when needed."""
        self.busy.discard(plugin)
        self.created -= 1
        self._forget(plugin)
        plugin.close()

    def _forget(self, plugin: Plugin) -> None:
        self._prepared.pop(plugin, None)

    def close(self) -> None:
        """Close every instance: idle ones at once, busy ones by cancelling their call (any thread)."""
        self.closed = True
        for plugin in [*self.warm, *self.cold, *self.busy]:
            plugin.close()
        self.warm.clear()
        self.cold.clear()
        self._prepared.clear()

"""`Supervisor`: restarts plug-in servers whose plug-in crashed, within a budget.

A crash is a trap, a timeout or a hit limit (`is_crash`); the failing call
still gets its error, then the server continues with a fresh instance of the
same code (its vars handed over, if `hand_over_vars`). Like an Erlang
supervisor's intensity, at most `max_restarts` restarts are allowed within
`within` seconds across all children; a child that crashes beyond that
budget is stopped for good, and its callers get `ServerStopped`.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

from .registry import Registry
from .registry import registry as default_registry
from .server import PluginServer, Supervision


class Supervisor:
    def __init__(self, *, max_restarts: int = 3, within: float = 5.0,
                 hand_over_vars: bool = True, registry: Registry | None = None) -> None:
        self.max_restarts = max_restarts
        self.within = within
        self.hand_over_vars = hand_over_vars
        self.registry = registry if registry is not None else default_registry
        self.children: dict[str, PluginServer] = {}
        self._restarts: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def start_child(self, source: Any, *, name: str | None = None,
                    **plugin_kwargs: Any) -> PluginServer:
        """Start a supervised server for `source`, registered under `name`."""
        supervision = Supervision(self._allow_restart, self._server_stopped, self.hand_over_vars)
        server = PluginServer(source, name=name, supervision=supervision, **plugin_kwargs)
        self.registry.register(server.name, server)
        try:
            server.start()
        except BaseException:
            self.registry.unregister(server.name)
            raise
        with self._lock:
            self.children[server.name] = server
        return server

    def stop(self, timeout: float | None = None) -> None:
        """Stop every child."""
        with self._lock:
            children = list(self.children.values())
        for child in children:
            child.stop(timeout)

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- called from a child's thread (its Supervision) ----------------------
    def _allow_restart(self, server: PluginServer, error: BaseException) -> bool:
        now = time.monotonic()
        with self._lock:
            while self._restarts and now - self._restarts[0] > self.within:
                self._restarts.popleft()
            if len(self._restarts) >= self.max_restarts:
                return False
            self._restarts.append(now)
            return True

    def _server_stopped(self, server: PluginServer) -> None:
        with self._lock:
            self.children.pop(server.name, None)
        self.registry.unregister(server.name, server)

"""Address plug-in servers by name."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from .. import Error

if TYPE_CHECKING:
    from .server import PluginServer


class Registry:
    """Names -> running servers. `wasmplug.actors.registry` is the default one."""

    def __init__(self) -> None:
        self._servers: dict[str, PluginServer] = {}
        self._lock = threading.Lock()

    def register(self, name: str, server: PluginServer) -> None:
        with self._lock:
            current = self._servers.get(name)
            if current is not None and current is not server and current.running:
                raise Error(f"a plug-in server named {name!r} is already registered")
            self._servers[name] = server

    def unregister(self, name: str, server: PluginServer | None = None) -> None:
        """Forget `name` (only if it still names `server`, when given)."""
        with self._lock:
            if server is None or self._servers.get(name) is server:
                self._servers.pop(name, None)

    def whereis(self, name: str) -> PluginServer | None:
        return self._servers.get(name)

    def names(self) -> list[str]:
        return sorted(self._servers)

    def call(self, name: str, function: str, data: str | bytes = b"",
             timeout: float | None = None) -> bytes:
        """Call `function` on the server registered as `name`."""
        server = self.whereis(name)
        if server is None:
            raise Error(f"no plug-in server is registered as {name!r} "
                        f"(registered: {', '.join(self.names()) or 'none'})")
        return server.call(function, data, timeout)


registry = Registry()

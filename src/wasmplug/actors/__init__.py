"""Plug-ins as actors: servers with mailboxes, supervision, a name registry.

    from wasmplug.actors import Supervisor, registry

    with Supervisor(max_restarts=5, within=10) as sup:
        sup.start_child("count_vowels.wasm", name="vowels")
        registry.call("vowels", "count_vowels", "hello")
"""

from .registry import Registry, registry
from .server import PluginServer, ServerStopped, Supervision, is_crash
from .supervisor import Supervisor

__all__ = ["PluginServer", "Registry", "ServerStopped", "Supervision", "Supervisor", "is_crash", "registry"]

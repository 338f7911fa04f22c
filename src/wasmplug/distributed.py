"""Plug-ins across a Ray cluster (`pip install wasmplug[ray]`).

Live plug-ins are never pickled: a plug-in travels as its manifest, with every
module either as bytes or as a URL, and each Ray actor builds its own
instance. `RayPluginPool` spreads calls over `num_actors` such actors::

    import ray, wasmplug.distributed as wd

    ray.init()
    pool = wd.RayPluginPool("count_vowels.wasm", num_actors=8)
    outputs = pool.map("count_vowels", ["a", "bb", "ccc"])

Host functions are shipped with cloudpickle, like any Ray task argument, so
they must not close over unpicklable state.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from . import Error, Manifest, WasmFile, WasmUrl


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise Error("the Ray integration needs Ray: pip install 'wasmplug[ray]'") from None
    return ray


def portable_manifest(source: Any) -> dict[str, Any]:
    """`source` as a manifest dict any machine can load: files become bytes.

    URL sources stay URLs (each actor downloads them); hashes are kept and so
    verified on arrival.
    """
    manifest = Manifest.parse(source)
    wasm: list[dict[str, Any]] = []
    for entry in manifest.wasm:
        portable: dict[str, Any]
        if isinstance(entry, WasmUrl):
            portable = {"url": entry.url, "headers": dict(entry.headers)}
            if entry.method:
                portable["method"] = entry.method
        elif isinstance(entry, WasmFile):
            portable = {"data": entry.read()}
        else:
            portable = {"data": entry.data}
        portable.update({k: v for k in ("name", "hash") if (v := getattr(entry, k)) is not None})
        wasm.append(portable)
    return {"wasm": wasm,
            "memory": {k: v for k, v in asdict(manifest.memory).items() if v is not None},
            "config": dict(manifest.config), "allowed_hosts": manifest.allowed_hosts,
            "allowed_paths": manifest.allowed_paths, "timeout_ms": manifest.timeout_ms}


class _PluginActor:
    """The body of the Ray actor: one plug-in instance in a Ray worker."""

    def __init__(self, manifest: dict[str, Any], plugin_kwargs: dict[str, Any]) -> None:
        from . import Plugin

        self.plugin = Plugin(manifest, **plugin_kwargs)

    def call(self, function: str, data: bytes) -> bytes:
        output: bytes = self.plugin.call(function, data)
        return output

    def function_exists(self, name: str) -> bool:
        return self.plugin.function_exists(name)

    def vars(self) -> dict[str, bytes]:
        return dict(self.plugin.vars)


def plugin_actor(source: Any, *, num_cpus: float = 1, **plugin_kwargs: Any) -> Any:
    """Start one Ray actor hosting `source`; call it with `actor.call.remote(f, data)`."""
    ray = _ray()
    actor_class = ray.remote(num_cpus=num_cpus)(_PluginActor)
    return actor_class.remote(portable_manifest(source), plugin_kwargs)


class RayPluginPool:
    """Calls spread over `num_actors` Ray actors, each with its own instance.

    `call` picks the actor with the fewest calls in flight; `call_async`
    returns the `ObjectRef`; `map` runs many inputs concurrently and returns
    the outputs in order.
    """

    def __init__(self, source: Any, *, num_actors: int = 2, num_cpus_per_actor: float = 1,
                 **plugin_kwargs: Any) -> None:
        if num_actors < 1:
            raise Error(f"num_actors must be at least 1, got {num_actors}")
        self._ray = _ray()
        manifest = portable_manifest(source)
        actor_class = self._ray.remote(num_cpus=num_cpus_per_actor)(_PluginActor)
        self.actors = [actor_class.remote(manifest, plugin_kwargs) for _ in range(num_actors)]
        self._in_flight = [0] * num_actors
        self._lock = threading.Lock()
        self._next = itertools.cycle(range(num_actors))

    def _pick(self) -> int:
        with self._lock:
            start = next(self._next)
            order = [(start + i) % len(self.actors) for i in range(len(self.actors))]
            index = min(order, key=lambda i: self._in_flight[i])
            self._in_flight[index] += 1
            return index

    def _done(self, index: int) -> None:
        with self._lock:
            self._in_flight[index] -= 1

    def call_async(self, function: str, data: str | bytes = b"") -> Any:
        """Start a call; returns a Ray ObjectRef of the output bytes."""
        index = self._pick()
        try:
            return self.actors[index].call.remote(function, _as_bytes(data))
        finally:
            self._done(index)

    def call(self, function: str, data: str | bytes = b"", timeout: float | None = None) -> bytes:
        index = self._pick()
        try:
            ref = self.actors[index].call.remote(function, _as_bytes(data))
            return _unwrap(self._ray, ref, timeout)
        finally:
            self._done(index)

    def map(self, function: str, inputs: Iterable[str | bytes],
            timeout: float | None = None) -> list[bytes]:
        """Call `function` on every input, round-robin over the actors; outputs in order."""
        refs = [self.actors[i % len(self.actors)].call.remote(function, _as_bytes(data))
                for i, data in enumerate(inputs)]
        return [_unwrap(self._ray, ref, timeout) for ref in refs]

    def shutdown(self) -> None:
        for actor in self.actors:
            self._ray.kill(actor)
        self.actors = []


def _as_bytes(data: str | bytes) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def _unwrap(ray: Any, ref: Any, timeout: float | None) -> bytes:
    """ray.get, turning a plug-in failure back into the wasmplug error it was."""
    try:
        output: bytes = ray.get(ref, timeout=timeout)
        return output
    except ray.exceptions.RayTaskError as exc:
        cause = exc.as_instanceof_cause()
        if isinstance(cause, Error):
            raise cause from None
        original = getattr(exc, "cause", None)
        if isinstance(original, Error):
            raise original from None
        raise Error(f"the Ray actor failed: {exc}") from None
    except ray.exceptions.GetTimeoutError:
        raise Error(f"no answer from the Ray actor within {timeout} s") from None


__all__ = ["RayPluginPool", "plugin_actor", "portable_manifest"]

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

A pool survives a dead actor (its worker process killed, its node lost): Ray
restarts the actor from the same manifest (`max_restarts`), calls queued
behind the one it was running are sent again, and only the call it was
running is lost, as `ActorDied` naming the actor (it may or may not have
run). With `idempotent=True` that call is retried too.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import uuid
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
    result: dict[str, Any] = {
        "wasm": wasm, "memory": {k: v for k, v in asdict(manifest.memory).items() if v is not None},
        "config": dict(manifest.config), "allowed_hosts": manifest.allowed_hosts,
        "allowed_paths": manifest.allowed_paths, "timeout_ms": manifest.timeout_ms}
    guard = manifest.network_guard
    if guard is not None:  # the addresses HTTP may not reach travel with the plug-in
        result["blocked_networks"] = [str(n) for n in guard.blocked]
        result["allowed_networks"] = [str(n) for n in guard.allowed]
    return result


class _PluginActor:
    """The body of the Ray actor: one plug-in instance in a Ray worker."""

    def __init__(self, manifest: dict[str, Any], plugin_kwargs: dict[str, Any], fresh: bool = False) -> None:
        from . import Plugin

        self.plugin = Plugin(manifest, **plugin_kwargs)
        self.fresh = fresh

    def call(self, function: str, data: bytes) -> bytes:
        try:
            output: bytes = self.plugin.call(function, data)
        finally:
            if self.fresh:  # nothing of this call (memory, globals, vars) reaches the next one
                self.plugin.renew(keep_vars=False)
        return output

    def function_exists(self, name: str) -> bool:
        return self.plugin.function_exists(name)

    def vars(self) -> dict[str, bytes]:
        return dict(self.plugin.vars)

    def pid(self) -> int:
        """The worker process hosting this actor."""
        return os.getpid()


class ActorDied(Error):
    """A pool's Ray actor died while it was running a call; the call may or
    may not have run, so it was not retried (`idempotent=False`).

    `actor` names the actor; after `map`, `outputs` holds every output, with
    None for the calls that were lost.
    """

    def __init__(self, message: str, actor: str, outputs: list[bytes | None] | None = None) -> None:
        super().__init__(message)
        self.actor = actor
        self.outputs = outputs


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

    A dead actor is restarted by Ray (up to `max_restarts` times each; -1:
    always) from the same manifest, with fresh vars. Calls that were queued
    behind the one it was running never ran and are sent again; the call it
    was running may have run, so it fails with `ActorDied` naming the actor,
    unless `idempotent=True` says calls may safely run twice: then Ray
    retries it as well.

    With `fresh_instance=True` every call runs on a fresh instance (memory,
    globals and vars as when the plug-in was created), as `PluginPool(reset=True)`.
    """

    _ATTEMPTS = 3  # sends of a call that keeps landing on dying actors

    def __init__(self, source: Any, *, num_actors: int = 2, num_cpus_per_actor: float = 1,
                 idempotent: bool = False, max_restarts: int = -1, fresh_instance: bool = False,
                 **plugin_kwargs: Any) -> None:
        if num_actors < 1:
            raise Error(f"num_actors must be at least 1, got {num_actors}")
        self._ray = _ray()
        self._idempotent = idempotent
        manifest = portable_manifest(source)
        actor_class = self._ray.remote(
            num_cpus=num_cpus_per_actor, max_restarts=max_restarts,
            max_task_retries=-1 if idempotent else 0)(_PluginActor)
        token = uuid.uuid4().hex[:8]
        self.names = [f"wasmplug-pool-{token}-{i}" for i in range(num_actors)]
        self.actors = [actor_class.options(name=name).remote(manifest, plugin_kwargs, fresh_instance)
                       for name in self.names]
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

    def _died(self, index: int, function: str, exc: BaseException, what: str,
              outputs: list[bytes | None] | None = None) -> ActorDied:
        name = self.names[index]
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return ActorDied(
            f"Ray actor {name} (actor {index + 1} of {len(self.actors)}) died while running "
            f"{function} ({what}): it may or may not have run, so it was not retried (Ray "
            f"restarts the actor; pass idempotent=True to retry such calls). Ray said: {reason}",
            actor=name, outputs=outputs)

    def call_async(self, function: str, data: str | bytes = b"") -> Any:
        """Start a call; returns a Ray ObjectRef of the output bytes."""
        index = self._pick()
        try:
            return self.actors[index].call.remote(function, _as_bytes(data))
        finally:
            self._done(index)

    def call(self, function: str, data: str | bytes = b"", timeout: float | None = None) -> bytes:
        payload = _as_bytes(data)
        deadline = None if timeout is None else time.monotonic() + timeout
        for attempt in range(self._ATTEMPTS):
            index = self._pick()
            try:
                ref = self.actors[index].call.remote(function, payload)
                return _unwrap(self._ray, ref, _left(deadline))
            except self._ray.exceptions.RayActorError as exc:
                # Ray retries in-flight calls itself when idempotent; this one
                # ran out of its retries or could have run: say so.
                if not self._idempotent or attempt == self._ATTEMPTS - 1:
                    raise self._died(index, function, exc, "a call") from None
            finally:
                self._done(index)
        raise AssertionError("unreachable")  # pragma: no cover

    def map(self, function: str, inputs: Iterable[str | bytes],
            timeout: float | None = None) -> list[bytes]:
        """Call `function` on every input, round-robin over the actors; outputs in order.

        If an actor dies meanwhile, the inputs queued behind its running
        call are sent again; the running call itself is lost (`ActorDied`,
        whose `outputs` hold everything else) unless the pool is idempotent.
        """
        data = [_as_bytes(item) for item in inputs]
        deadline = None if timeout is None else time.monotonic() + timeout
        outputs: list[bytes | None] = [None] * len(data)
        lost: list[tuple[int, int, BaseException]] = []  # (input, actor, why)
        todo = list(range(len(data)))
        for attempt in range(self._ATTEMPTS):
            # One lane per actor: an actor runs its calls one at a time, in the
            # order sent, so in a lane only the first call to fail with the
            # actor's death can have been running; the rest never started.
            lanes: list[list[tuple[int, Any]]] = [[] for _ in self.actors]
            for k, i in enumerate(todo):
                lane = k % len(self.actors)
                lanes[lane].append((i, self.actors[lane].call.remote(function, data[i])))
            todo = []
            for index, lane_calls in enumerate(lanes):
                running_lost = False
                for i, ref in lane_calls:
                    try:
                        outputs[i] = _unwrap(self._ray, ref, _left(deadline))
                    except self._ray.exceptions.RayActorError as exc:
                        if running_lost or (attempt < self._ATTEMPTS - 1 and self._idempotent):
                            todo.append(i)  # never started (or safe to run again)
                        else:
                            lost.append((i, index, exc))
                        running_lost = True
            if not todo:
                break
        else:
            lost += [(i, 0, Error("every attempt landed on a dying actor")) for i in todo]
        if lost:
            first, actor, why = lost[0]
            raise self._died(actor, function, why,
                             f"input {first} of {len(data)}; {len(lost)} input(s) lost in all",
                             outputs)
        return outputs  # type: ignore[return-value]  # every slot is filled

    def shutdown(self) -> None:
        for actor in self.actors:
            self._ray.kill(actor)  # no_restart: gone for good
        self.actors = []


def _left(deadline: float | None) -> float | None:
    """Seconds left before `deadline` (None: no deadline)."""
    if deadline is None:
        return None
    return max(0.0, deadline - time.monotonic())


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


__all__ = ["ActorDied", "RayPluginPool", "plugin_actor", "portable_manifest"]

"""Arenas across machines: each arena is a named Ray actor owning its game.

    backend = RayArenas(open_catalogue)      # after ray.init(address=...)
    app = create_app(catalogue, backend=backend)

`ArenaActor` (one per arena, named ``gamebox-arena-CODE`` in the
``wasmplug-gamebox`` namespace, detached so it outlives the server that
created it) runs an ordinary in-process `ArenaEngine` holding that one arena and
its game plug-in. Every `wasmplug gamebox serve` process of the cluster finds
an arena by its code, so a viewer can connect to any of them; its WebSocket
stays in the server, and the actor knows it as a remote viewer of that server.
What a server's viewers should see is queued in the actor, per server, and
each server with viewers in an arena keeps one `poll` call waiting on the
actor: it returns as soon as a re-render (or any other message) is queued.
A server that stops polling for `SERVER_GONE_AFTER` seconds (it died, or its
machine did) loses its viewers there, so an arena nobody is left in is torn
down as usual.

The per-owner cap (`max_per_owner` live arenas created from one address or
account) holds across the cluster: one more named, detached actor,
`ArenaOwners` (``gamebox-arena-owners``), counts each owner's arenas. A server
claims a place before it creates an arena's actor (so refused spam starts no
actor), and the arena's actor gives it back when it is torn down; a place whose
arena's actor is gone without giving it back (it died) is taken back at the
owner's next claim. The count survives its own actor's restart (it is restarted
by Ray when its process or node dies): a new `ArenaOwners` rebuilds it from the
arenas' actors that exist, each asked whose it is.

The actor builds its own catalogue with `open_catalogue` (a picklable
callable, e.g. a `DatabaseCatalogue` on the shared PostgreSQL database), so games are
loaded where they run. Call `ray.init()` in a server before any plug-in runs
in it (see docs/gamebox.md, "Ray"); arenas' plug-ins run in Ray workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

from ..catalogue.base import Catalogue
from ..errors import ArenaError, NoSuchArena
from .base import ArenaPage, Send
from .engine import ArenaEngine, Viewer, default_templates
from .state import CODE_LENGTH, CONSONANTS, MAX_ARENAS_PER_OWNER, Arena, Arenas, normalise_code, owner_full

log = logging.getLogger("wasmplug.gamebox")
NAMESPACE = "wasmplug-gamebox"
POLL_SECONDS = 10.0  # a poll returns empty after this long, so a server notices a gone arena
SERVER_GONE_AFTER = 3 * POLL_SECONDS  # no poll from a server for this long: it is gone
OWNERS = "gamebox-arena-owners"  # the actor counting each owner's arenas across the cluster
CLAIM_GRACE = 60.0  # a claimed place whose arena's actor does not exist (yet) is kept this long


def actor_name(code: str) -> str:
    return f"gamebox-arena-{code}"


def _live_arenas() -> dict[str, str]:
    """Every arena of the cluster now, by code: its owner ("": none), asked of its actor."""
    import ray
    from ray.util import list_named_actors

    prefix = actor_name("")
    codes = [entry["name"].removeprefix(prefix) for entry in list_named_actors(all_namespaces=True)
             if entry.get("namespace") == NAMESPACE and entry["name"].startswith(prefix)]
    owners: dict[str, str] = {}
    for code in codes:
        if len(code) != CODE_LENGTH or set(code) - set(CONSONANTS):
            continue  # not an arena (the owners' own actor is "gamebox-arena-owners")
        try:
            actor = ray.get_actor(actor_name(code), namespace=NAMESPACE)
            owners[code] = str(ray.get(actor.owner_of.remote(), timeout=30))
        except Exception:  # it went meanwhile (torn down, or its node died)
            continue
    return owners


def _arena_alive(code: str) -> bool:
    import ray

    try:
        ray.get_actor(actor_name(code), namespace=NAMESPACE)
    except ValueError:
        return False
    return True


class ArenaOwners:
    """The body of the cluster's one ``gamebox-arena-owners`` actor: each owner's live arenas.

    Its calls run one at a time, so two servers claiming the last place of one owner at
    once cannot both get it. Memory: one entry per live (or just claimed) arena. Made
    (or restarted by Ray after its process died), it counts the arenas that exist
    (`live_arenas`: code -> owner).
    """

    def __init__(self, alive: Callable[[str], bool] = _arena_alive,
                 clock: Callable[[], float] = time.monotonic, grace: float = CLAIM_GRACE,
                 live_arenas: Callable[[], dict[str, str]] = _live_arenas) -> None:
        self.places: dict[str, dict[str, float]] = {}  # owner -> code -> when claimed
        self.alive, self.clock, self.grace = alive, clock, grace
        now = clock()
        for code, owner in live_arenas().items():
            if owner:
                self.places.setdefault(owner, {})[code] = now
        if self.places:
            log.info("arena owners: %d arena(s) of %d owner(s) counted again",
                     sum(map(len, self.places.values())), len(self.places))

    def claim(self, owner: str, code: str, limit: int) -> bool:
        """A place for arena `code` of `owner`, unless `owner` has `limit` arenas already."""
        now = self.clock()
        places = self.places.setdefault(owner, {})
        for held, since in list(places.items()):  # arenas that died without giving theirs back
            if now - since > self.grace and not self.alive(held):
                del places[held]
        if len(places) >= limit:
            return False
        places[code] = now
        return True

    def release(self, owner: str, code: str) -> None:
        places = self.places.get(owner, {})
        places.pop(code, None)
        if not places:
            self.places.pop(owner, None)

    def count(self, owner: str) -> int:
        return len(self.places.get(owner, {}))


class ArenaHost:
    """The body of the Ray actor: one arena in a local `ArenaEngine`, with remote viewers.

    Every method answers plain data (errors as ``{"error": message}``) so
    nothing but strings crosses the wire.
    """

    def __init__(self, code: str, open_catalogue: Callable[[], Catalogue], *,
                 leave_after: float = 30.0, teardown_after: float = 60.0,
                 sweep_every: float = 1.0, server_gone_after: float = SERVER_GONE_AFTER,
                 owner: str = "") -> None:
        self.owner = owner  # whose place in `ArenaOwners` this arena holds ("": none)
        self.arenas = Arenas(leave_after=leave_after, teardown_after=teardown_after)
        self.arena = self.arenas.arenas[code] = Arena(code, self.arenas.clock)
        self.box = ArenaEngine(open_catalogue(), default_templates(), arenas=self.arenas)
        self.outboxes: dict[str, list[tuple[int, str]]] = {}  # server -> (viewer, message)
        self.ready: dict[str, asyncio.Event] = {}
        self.viewers: dict[int, tuple[str, Viewer, asyncio.Task[None], str]] = {}
        self._ids = itertools.count(1)
        # A server with viewers here always has a poll waiting; one that stops
        # polling (it died, or its machine did) loses its viewers.
        self.polling: dict[str, int] = {}  # server -> polls in flight
        self.last_poll: dict[str, float] = {}  # server -> when it last polled or connected
        self.server_gone_after = server_gone_after
        self.sweep_every = sweep_every
        self.sweeper: asyncio.Task[None] | None = None
        self.gone = False

    def owner_of(self) -> str:
        """Whose place in `ArenaOwners` this arena holds ("": none): to count it again."""
        return self.owner

    def _start_sweeper(self) -> None:
        if self.sweeper is None:
            self.sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def _sweep(self) -> None:
        while not self.gone:
            await asyncio.sleep(self.sweep_every)
            await self._drop_silent_servers()
            self.box.sweep()
            if self.arena.code not in self.arenas.arenas:
                self.gone = True
                for event in self.ready.values():
                    event.set()
                log.info("arena %s: torn down; its actor exits", self.arena.code)
                self._exit()

    def _exit(self) -> None:
        import ray

        if self.owner:  # the owner's place is free again
            with contextlib.suppress(ValueError):
                ray.get_actor(OWNERS, namespace=NAMESPACE).release.remote(self.owner, self.arena.code)
        ray.kill(ray.get_runtime_context().current_actor)

    async def _drop_silent_servers(self) -> None:
        """Disconnect the viewers of servers that stopped polling (then they leave as usual)."""
        now = self.arenas.clock()
        for server in {entry[3] for entry in self.viewers.values()}:
            if self.polling.get(server) or now - self.last_poll.get(server, now) < self.server_gone_after:
                continue
            silent = [vid for vid, entry in self.viewers.items() if entry[3] == server]
            log.warning("arena %s: server %s has not polled for %.0f s; its %d viewer(s) are gone",
                        self.arena.code, server[:8], now - self.last_poll[server], len(silent))
            for viewer_id in silent:
                await self.disconnect(viewer_id)
            self.outboxes.pop(server, None)

    def _member(self, token: str | None) -> Any:
        found = self.arenas.by_token(self.arena.code, token)
        return None if found is None else found[1]

    async def join(self, name: str) -> dict[str, str]:
        self._start_sweeper()
        try:
            if not self.arena.members:  # the creator
                member = self.arena.join(name)
            else:
                _, member = await self.box.join(self.arena.code, name)
        except ArenaError as exc:
            return {"error": str(exc)}
        return {"token": member.token}

    async def page(self, token: str | None) -> tuple[str, str, str] | None:
        member = self._member(token)
        if member is None:
            return None
        return (member.name, self.box.arena_html(self.arena, member),
                await self.box.board_html(self.arena, member))

    async def connect(self, token: str | None, server: str) -> int | None:
        member = self._member(token)
        if member is None:
            return None
        viewer_id = next(self._ids)
        self.last_poll[server] = self.arenas.clock()  # its poller starts now
        ready = self.ready.setdefault(server, asyncio.Event())

        async def send(text: str) -> None:
            self.outboxes.setdefault(server, []).append((viewer_id, text))
            ready.set()

        viewer = Viewer(member.name, send)
        task = asyncio.get_running_loop().create_task(viewer.run())
        self.viewers[viewer_id] = (token or "", viewer, task, server)
        await self.box.connect(self.arena, member, viewer)
        return viewer_id

    async def handle(self, viewer_id: int, text: str) -> bool:
        entry = self.viewers.get(viewer_id)
        member = None if entry is None else self._member(entry[0])
        if entry is None or member is None:
            return False
        await self.box.handle(self.arena, member, entry[1], text)
        return not entry[1].overflowed  # floods bad messages and never reads: disconnected

    async def disconnect(self, viewer_id: int) -> None:
        entry = self.viewers.pop(viewer_id, None)
        if entry is None:
            return
        token, viewer, task, _ = entry
        member = self._member(token)
        if member is not None:
            self.box.disconnect(self.arena, member, viewer)
        else:
            viewer.close()
        task.cancel()

    async def poll(self, server: str, timeout: float = POLL_SECONDS) -> list[tuple[int, str]] | None:
        """The messages queued for `server`'s viewers, once there are any (None: arena gone)."""
        ready = self.ready.setdefault(server, asyncio.Event())
        self.polling[server] = self.polling.get(server, 0) + 1
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ready.wait(), timeout)
        finally:
            self.polling[server] -= 1
            self.last_poll[server] = self.arenas.clock()
        ready.clear()
        if self.gone:
            return None
        return self.outboxes.pop(server, [])

    async def stop(self) -> None:
        await asyncio.to_thread(self.box.close)  # waits for a game mid-call: not on the event loop


class _RayConnection:
    def __init__(self, backend: RayArenas, code: str, actor: Any, viewer_id: int) -> None:
        self.backend, self.code, self.actor, self.viewer_id = backend, code, actor, viewer_id

    async def handle(self, text: str) -> bool:
        return bool(await self.actor.handle.remote(self.viewer_id, text))

    async def close(self) -> None:
        self.backend._forget(self.code, self.viewer_id)
        with contextlib.suppress(Exception):  # the arena may be gone already
            await self.actor.disconnect.remote(self.viewer_id)


class RayArenas:
    """Arenas in named Ray actors, shared by every server of the cluster (`ArenaBackend`)."""

    def __init__(self, open_catalogue: Callable[[], Catalogue], *,
                 leave_after: float = 30.0, teardown_after: float = 60.0,
                 max_per_owner: int = MAX_ARENAS_PER_OWNER) -> None:
        import ray

        if not ray.is_initialized():
            raise ArenaError("RayArenas needs Ray: call ray.init(address=...) first")
        self.open_catalogue = open_catalogue
        self.options = {"leave_after": leave_after, "teardown_after": teardown_after}
        self.max_per_owner = max_per_owner
        self.server = uuid.uuid4().hex
        self.actor_class = ray.remote(num_cpus=0, max_restarts=0)(ArenaHost)
        # The cluster's one owner count (the first server to start makes it; the others find it).
        self.owners: Any = ray.remote(num_cpus=0, max_restarts=-1)(ArenaOwners).options(
            name=OWNERS, namespace=NAMESPACE, lifetime="detached", get_if_exists=True).remote()
        self.sends: dict[str, dict[int, Send]] = {}  # code -> viewer -> its WebSocket
        self.pollers: dict[str, asyncio.Task[None]] = {}

    def _actor(self, code: str) -> Any:
        import ray

        try:
            return ray.get_actor(actor_name(code), namespace=NAMESPACE)
        except ValueError:
            raise NoSuchArena(f"there is no arena {code!r}: check the code, "
                              "or create a new arena") from None

    async def exists(self, code: str) -> bool:
        try:
            self._actor(normalise_code(code))
        except ArenaError:
            return False
        return True

    async def check_owner(self, owner: str) -> None:
        if owner and await self.owners.count.remote(owner) >= self.max_per_owner:
            raise owner_full(self.max_per_owner)

    async def create(self, name: str, owner: str = "") -> tuple[str, str]:
        import ray

        for _ in range(1000):
            code = "".join(secrets.choice(CONSONANTS) for _ in range(CODE_LENGTH))
            if owner and not await self.owners.claim.remote(owner, code, self.max_per_owner):
                raise owner_full(self.max_per_owner)
            try:
                actor: Any = self.actor_class.options(
                    name=actor_name(code), namespace=NAMESPACE, lifetime="detached",
                    max_concurrency=1000,
                ).remote(code, self.open_catalogue, owner=owner, **self.options)
            except ValueError:  # the name is taken: another arena has this code
                if owner:
                    await self.owners.release.remote(owner, code)
                continue
            answer = await actor.join.remote(name)
            if "error" in answer:
                ray.kill(actor)
                if owner:
                    await self.owners.release.remote(owner, code)
                raise ArenaError(answer["error"])
            log.info("arena %s created by %s (Ray actor)", code, name)
            return code, answer["token"]
        raise ArenaError("no free arena code left: try again later")

    async def _ask(self, code: str, method: str, *args: Any) -> Any:
        """Call the arena's actor; ArenaError if there is no such arena (or it just went)."""
        from ray.exceptions import RayActorError

        try:
            return await getattr(self._actor(code), method).remote(*args)
        except RayActorError:
            raise ArenaError(f"arena {code} has just closed: create a new arena") from None

    async def join(self, code: str, name: str) -> tuple[str, str]:
        code = normalise_code(code)
        answer = await self._ask(code, "join", name)
        if "error" in answer:
            raise ArenaError(answer["error"])
        return code, answer["token"]

    async def page(self, code: str, token: str | None) -> ArenaPage | None:
        try:
            found = await self._ask(normalise_code(code), "page", token)
        except ArenaError:
            return None
        return None if found is None else ArenaPage(normalise_code(code), *found)

    async def connect(self, code: str, token: str | None, send: Send) -> _RayConnection | None:
        code = normalise_code(code)
        try:
            actor = self._actor(code)
            viewer_id = await self._ask(code, "connect", token, self.server)
        except ArenaError:
            return None
        if viewer_id is None:
            return None
        self.sends.setdefault(code, {})[viewer_id] = send
        poller = self.pollers.get(code)
        if poller is None or poller.done():  # (a done one polled an earlier arena of this code)
            self.pollers[code] = asyncio.create_task(self._poll(code, actor))
        return _RayConnection(self, code, actor, viewer_id)

    def _forget(self, code: str, viewer_id: int) -> None:
        sends = self.sends.get(code, {})
        sends.pop(viewer_id, None)
        if not sends:
            self.sends.pop(code, None)
            poller = self.pollers.pop(code, None)
            if poller is not None:
                poller.cancel()

    async def _poll(self, code: str, actor: Any) -> None:
        """Deliver what the arena queues for this server's viewers, as soon as it does."""
        while code in self.sends:
            try:
                messages = await actor.poll.remote(self.server)
            except Exception as exc:  # the actor died (torn down, or its node is gone)
                log.info("arena %s: stopped polling (%s)", code, type(exc).__name__)
                return
            if messages is None:
                return
            sends = self.sends.get(code, {})
            for viewer_id, text in messages:
                send = sends.get(viewer_id)
                if send is not None:
                    with contextlib.suppress(Exception):  # a socket closing right now
                        await send(text)

    def sweep(self) -> None:
        """Nothing to do here: each arena's actor sweeps itself."""

    async def close(self) -> None:
        for poller in self.pollers.values():
            poller.cancel()
        self.pollers.clear()

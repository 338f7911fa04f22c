"""The body of a Ray arena actor (`ArenaHost`), run here without Ray: servers that go silent.

Every server with viewers in an arena keeps a `poll` waiting on the arena's
actor. When a server dies (or its machine does), its polls stop: the actor
must then count its viewers as gone, so that the members leave and an arena
nobody is left in is torn down, as it is when viewers disconnect.
"""

from __future__ import annotations

import asyncio

import pytest

from wasmplug.gamebox.arenas.ray import ArenaHost

from .conftest import test_catalogue


class LocalArenaHost(ArenaHost):
    """An ArenaHost that records its exit instead of asking Ray to kill its actor,
    and when its sweeper last looked for silent servers."""

    exited = False
    last_look = 0.0

    def _exit(self) -> None:
        self.exited = True

    async def _drop_silent_servers(self) -> None:
        await super()._drop_silent_servers()
        self.last_look = self.arenas.clock()


async def _eventually(condition: object, seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.02)


async def _silent_servers() -> None:
    host = LocalArenaHost("BCDF", test_catalogue, leave_after=0.2, teardown_after=0.2,
                          sweep_every=0.02, server_gone_after=0.4)
    ann = (await host.join("ann"))["token"]
    bob = (await host.join("bob"))["token"]
    ann_viewer = await host.connect(ann, "server-a")  # server-a dies: it never polls
    bob_viewer = await host.connect(bob, "server-b")
    polling = True

    async def server_b() -> None:  # alive: always one poll waiting, as RayArenas._poll does
        while polling and not host.gone:
            await host.poll("server-b", timeout=0.05)

    poller = asyncio.create_task(server_b())
    await _eventually(lambda: ann_viewer not in host.viewers)
    assert bob_viewer in host.viewers  # the live server's viewer stays
    await _eventually(lambda: "ann" not in set(host.arena.members))
    assert "bob" in set(host.arena.members) and not host.gone
    # A look for silent servers later than server_gone_after from now: a polling server is never dropped.
    since = host.arenas.clock()
    await _eventually(lambda: host.last_look - since > 0.6)
    assert bob_viewer in host.viewers and not host.gone

    polling = False  # server-b dies too
    await poller
    await _eventually(lambda: host.gone)
    assert host.exited and not host.viewers and "BCDF" not in host.arenas.arenas
    await host.stop()


@pytest.mark.timeout(30)
def test_viewers_of_a_server_that_stopped_polling_are_gone_and_the_empty_arena_torn_down() -> None:
    asyncio.run(_silent_servers())


def test_the_cluster_owner_count_holds_its_limit_and_takes_back_places_of_dead_arenas() -> None:
    from wasmplug.gamebox.arenas.ray import ArenaOwners

    now, alive = [0.0], {"AAAA", "BBBB"}
    owners = ArenaOwners(alive=lambda code: code in alive, clock=lambda: now[0], grace=60.0,
                         live_arenas=dict)
    assert owners.claim("address:x", "AAAA", 2) and owners.claim("address:x", "BBBB", 2)
    assert not owners.claim("address:x", "CCCC", 2)  # its limit
    assert owners.claim("address:y", "CCCC", 2)  # another owner's count is its own
    owners.release("address:x", "AAAA")  # torn down: the place is free
    assert owners.claim("address:x", "DDDD", 2) and owners.count("address:x") == 2
    alive.discard("BBBB")  # died without giving its place back; DDDD's actor is still starting
    now[0] = 30.0
    assert not owners.claim("address:x", "EEEE", 2)  # within the grace: kept
    now[0] = 61.0
    assert owners.claim("address:x", "EEEE", 2)  # BBBB's place taken back; DDDD (no actor) too
    assert owners.count("address:x") == 1
    owners.release("address:y", "CCCC")
    assert "address:y" not in owners.places  # no key is kept for an owner with no arena


def test_a_restarted_owner_count_counts_the_arenas_that_exist_again() -> None:
    """Ray restarts the count's actor when its process dies: the new one starts from the
    arenas' actors that exist (each asked whose it is), not from zero."""
    from wasmplug.gamebox.arenas.ray import ArenaOwners

    live = {"BBBBBB": "address:x", "CCCCCC": "address:x", "DDDDDD": "user:7", "FFFFFF": ""}
    owners = ArenaOwners(alive=lambda code: code in live, live_arenas=lambda: dict(live))
    assert owners.count("address:x") == 2 and owners.count("user:7") == 1
    assert not owners.claim("address:x", "GGGGGG", 2)  # the limit holds after the restart
    assert owners.claim("user:7", "GGGGGG", 2)
    assert "" not in owners.places  # an arena without an owner holds no place

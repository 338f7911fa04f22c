"""The per-address (or account) cap on live arenas holds across a Ray cluster: two servers'
`RayArenas` on one Ray instance share one count, a torn-down arena frees its place, and the
count survives its actor's restart (counted again from the arenas that exist).

Ray runs in pytest's own process here, so the module is marked `ray_in_process` (run last:
tests/conftest.py)."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from wasmplug.gamebox.catalogue.folders import DirectoryCatalogue, bundled_games_dir
from wasmplug.gamebox.errors import ArenaError

pytestmark = [pytest.mark.ray_in_process, pytest.mark.timeout(300)]
SPAMMER, OTHER = "address:203.0.113.5", "address:198.51.100.1"


async def _cap_across_servers() -> None:
    from wasmplug.gamebox.arenas.ray import RayArenas

    # (a partial of wasmplug's own classes: Ray's workers can import it)
    open_catalogue = functools.partial(DirectoryCatalogue, bundled_games_dir())
    a = RayArenas(open_catalogue, leave_after=120, teardown_after=0.5, max_per_owner=3)
    b = RayArenas(open_catalogue, leave_after=120, teardown_after=0.5, max_per_owner=3)
    # The spammer's arenas alternate between the two servers, some at once.
    made = await asyncio.gather(a.create("s1", SPAMMER), b.create("s2", SPAMMER))
    made.append(await a.create("s3", SPAMMER))
    for server in (a, b):  # its fourth, on either server
        with pytest.raises(ArenaError, match="you have 3 arenas open already"):
            await server.create("s4", SPAMMER)
    assert await b.create("ann", OTHER)  # someone else still can
    # The spammer leaves its first arena: it is torn down and gives its place back.
    code, token = made[0]

    async def ignore(text: str) -> None:
        del text

    connection = await a.connect(code, token, ignore)
    assert connection is not None
    await connection.handle('{"t": "action", "name": "leave"}')
    await connection.close()
    deadline = time.monotonic() + 120
    while True:
        try:
            await b.create("again", SPAMMER)
            break
        except ArenaError:
            assert time.monotonic() < deadline, "a torn-down arena never gave its place back"
            await asyncio.sleep(0.5)
    assert not await a.exists(code)
    await a.close()
    await b.close()


def on_local_ray(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """`scenario` run on a local Ray instance of its own (stopped after)."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        asyncio.run(scenario())
    finally:
        ray.shutdown()


def test_two_servers_share_the_per_owner_arena_cap() -> None:
    on_local_ray(_cap_across_servers)


async def _count_survives_a_restart() -> None:
    import ray

    from wasmplug.gamebox.arenas.ray import RayArenas

    open_catalogue = functools.partial(DirectoryCatalogue, bundled_games_dir())
    server = RayArenas(open_catalogue, leave_after=120, teardown_after=120, max_per_owner=2)
    for name in ("s1", "s2"):
        await server.create(name, SPAMMER)
    await server.create("ann", OTHER)
    # A place no arena holds (a claim whose arena was never made): the old count has it, a
    # count made again from the arenas that exist does not. So 3 is the old actor, 2 the new.
    assert await server.owners.claim.remote(SPAMMER, "ZZZZZZ", 5)
    assert await server.owners.count.remote(SPAMMER) == 3
    ray.kill(server.owners, no_restart=False)  # its process dies; Ray starts it again
    deadline = time.monotonic() + 120
    counted = 3
    while counted == 3:
        assert time.monotonic() < deadline, "the owner count's actor never came back"
        try:
            counted = await server.owners.count.remote(SPAMMER)
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
            await asyncio.sleep(0.2)  # (still restarting)
    assert counted == 2 and await server.owners.count.remote(OTHER) == 1
    with pytest.raises(ArenaError, match="you have 2 arenas open already"):
        await server.create("s3", SPAMMER)
    await server.close()


def test_the_owner_count_survives_its_actors_restart() -> None:
    on_local_ray(_count_survives_a_restart)

"""`wasmplug serve --ray`: two front ends (two processes) on one PostgreSQL database run their
functions' instances as actors of one local Ray cluster, with the same answers and errors as
in-process instances; `fresh_instance` holds on Ray too."""

from __future__ import annotations

import faulthandler
import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wasmplug.serve import ServerSettings

from ..waiting import wait_until
from .conftest import AS, COUNT_VOWELS, HOSTILE, ROOT, Server, live_server, serve_process

pytestmark = pytest.mark.ray_in_process  # runs after every other test (tests/conftest.py)

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'wasmplug[ray]'")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    enabled_before = faulthandler.is_enabled()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             ignore_reinit_error=True)
    if not enabled_before and faulthandler.is_enabled():
        faulthandler.disable()  # (see tests/test_ray.py: wasmtime's signal handlers must stay first)
    yield ray
    ray.shutdown()


def test_two_front_ends_on_one_ray_cluster_and_postgresql(local_ray: Any, postgres_url: str) -> None:
    # Front end a is a `wasmplug serve` process of its own; b runs in this process (so the test can
    # look at its instances). Both use the one Ray cluster and the one PostgreSQL database.
    settings = ServerSettings(database_url=postgres_url, ray_address="local", sync_every=0.05)
    gcs = local_ray.get_runtime_context().gcs_address
    with live_server(settings) as b, serve_process("--database-url", postgres_url, "--ray", gcs) as a_url:
        a = Server(a_url, None, b.token, b.client)  # b's admin token: the database is shared
        a.deployed("vowels", COUNT_VOWELS, public=True, max_instances=2)
        assert json.loads(b.call("vowels", "count_vowels", "aeiou").content)["count"] == 5
        assert json.loads(a.call("vowels", "count_vowels", "aeiou").content)["count"] == 5
        pool = b.app.state.runtimes.active["vowels"].pool
        actor_pids = {ray.get(actor.pid.remote()) for actor in pool._pool.actors}
        assert len(actor_pids) >= 1 and os.getpid() not in actor_pids  # the calls ran in Ray workers
        a.deployed("errs", AS / "errors.wasm", public=True)
        failed = b.call("errs", "fail_with_message", "no luck")
        assert failed.status_code == 502 and failed.json()["error"] == "no luck"
        a.deployed("loop", HOSTILE / "endless_loop.wasm", public=True, timeout_ms=200)
        assert b.call("loop", "run").status_code == 504
        a.deployed("vowels", AS / "echo.wasm", public=True)  # a new version through front end a
        wait_until(lambda: b.call("vowels", "echo", "v2").content == b"v2", "front end b to take v2")
        wait_until(lambda: pool._pool.actors == [], "front end b to free the old version's actors")


def test_fresh_instance_is_honoured_on_ray(local_ray: Any, tmp_path: Path) -> None:
    counter = ROOT / "plugins" / "wat" / "counter.wasm"  # `count`: how many calls this instance had
    with live_server(ServerSettings(data_dir=tmp_path, ray_address="local")) as srv:
        srv.deployed("kept", counter, public=True, max_instances=1)
        srv.deployed("fresh", counter, public=True, max_instances=1, fresh_instance=True)

        def count(name: str) -> int:
            reply = srv.call(name, "count")
            assert reply.status_code == 200, reply.text
            value: int = struct.unpack("<q", reply.content)[0]
            return value

        assert [count("kept") for _ in range(3)] == [0, 1, 2]
        assert [count("fresh") for _ in range(3)] == [0, 0, 0]
        assert type(srv.app.state.runtimes.active["fresh"].pool).__name__ == "RayInstances"  # on Ray

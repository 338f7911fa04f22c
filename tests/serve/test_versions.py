"""A new version takes new requests once it is ready; a request in flight finishes on the version it
started on (an event-controlled slow plug-in holds it there), and the old pool then closes."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from ..waiting import wait_until
from .conftest import Gate, Server, gated_js


def test_in_flight_requests_finish_on_the_old_version(server: Server, gate: Gate) -> None:
    settings = {"public": True, "allowed_hosts": ["127.0.0.1"], "timeout_ms": 30_000}
    server.deployed("slow", gated_js(gate.port, "v1"), **settings)
    old = server.app.state.runtimes.active["slow"]
    with ThreadPoolExecutor(2) as pool:
        in_flight = pool.submit(server.call, "slow", "run")
        wait_until(lambda: gate.arrived == 1, "the v1 call to be running")
        assert server.deployed("slow", gated_js(gate.port, "v2"), **settings)["version"] == 2
        assert server.call("slow", "quick").content == b"v2"  # new requests: the new version
        assert old.admitted == 1 and old.pool.count() == 1  # the old one still serves its request
        gate.open.set()
        assert in_flight.result(30).content == b"v1:opened"
    wait_until(lambda: old._closing is not None and old._closing.done(), "the old pool to close")
    # Rolling back brings v1 back for new requests, with nothing lost.
    rolled = server.client.post(f"{server.url}/api/functions/slow/rollback", json={"version": 1},
                                headers=server.auth())
    assert rolled.status_code == 200
    assert server.call("slow", "quick").content == b"v1"
    assert server.call("slow", "run").content == b"v1:opened"


def test_a_request_still_sending_its_body_during_a_deploy_runs_on_the_old_version(server: Server) -> None:
    """The request is admitted (its version kept open) before its body is read: a deploy between the
    lookup and the call cannot close the pool under it (it would answer 502 "this pool is closed")."""
    import threading

    js = "function v() {{ Host.outputString('{tag}:' + Host.inputString()); }}\nmodule.exports = {{ v }};"
    server.deployed("swap", js.format(tag="old").encode(), public=True)
    old = server.app.state.runtimes.active["swap"]
    first_chunk_sent, finish = threading.Event(), threading.Event()

    def body() -> Iterator[bytes]:
        yield b"part1"
        first_chunk_sent.set()
        finish.wait(30)
        yield b"+part2"

    with ThreadPoolExecutor(1) as pool:
        sending = pool.submit(server.call, "swap", "v", body())
        wait_until(lambda: old.admitted == 1, "the request to be admitted while it sends its body")
        server.deployed("swap", js.format(tag="new").encode(), public=True)
        assert old.retired and old.admitted == 1
        finish.set()
        reply = sending.result(30)
    assert reply.status_code == 200 and reply.content == b"old:part1+part2"
    assert server.call("swap", "v", b"x").content == b"new:x"
    wait_until(lambda: old._closing is not None and old._closing.done(), "the old pool to close")

"""No call is lost when a supervised PluginServer gives up (issue 25): every
call sent gets its reply or `ServerStopped`, however it races the shutdown."""

from __future__ import annotations

import concurrent.futures
import threading
import time
from concurrent.futures import Future

import pytest

from wasmplug import CallError, CompiledPlugin
from wasmplug.actors import PluginServer, Registry, ServerStopped, Supervisor

from .test_actors import n, version

ROUNDS = 150
SENDERS = 3
MAX_SENDS = 20_000  # per sender and round: a server that never closes its mailbox shows
# (generous: on a loaded machine a sender may otherwise finish before the give-up reaches it)


@pytest.mark.timeout(110)
def test_calls_sent_across_give_ups_are_all_answered() -> None:
    compiled = CompiledPlugin(version(1), functions=[])
    registry = Registry()
    sent = answered = stopped = crashed = refusals = 0
    deadline = time.monotonic() + 60  # bounded on a busy machine: as many rounds as fit
    rounds = 0
    with Supervisor(max_restarts=0, registry=registry) as sup:
        while rounds < ROUNDS and time.monotonic() < deadline:
            rounds += 1
            server = sup.start_child(compiled, name=f"flaky-{rounds}")
            futures: list[Future[bytes]] = []
            refused: list[int] = []
            go = threading.Event()

            def sender(server: PluginServer = server, futures: list[Future[bytes]] = futures,
                       refused: list[int] = refused, go: threading.Event = go) -> None:
                go.wait(5)
                for _ in range(MAX_SENDS):
                    try:
                        futures.append(server.send("count"))
                    except ServerStopped:
                        refused.append(1)
                        return

            threads = [threading.Thread(target=sender, daemon=True) for _ in range(SENDERS)]
            for t in threads:
                t.start()
            before = [server.send("count") for _ in range(20)]
            go.set()
            fatal = server.send("crash")  # the budget is 0: the server gives up on it
            for t in threads:
                t.join(20)
            assert not any(t.is_alive() for t in threads), "a sender hung"
            futures += before
            with pytest.raises(CallError, match="unreachable"):
                fatal.result(10)
            done, not_done = concurrent.futures.wait(futures, timeout=10)
            assert not not_done, f"round {rounds}: {len(not_done)} of {len(futures)} calls unanswered"
            for future in done:
                error = future.exception()
                if error is None:
                    assert n(future.result()) >= 1001
                    answered += 1
                else:
                    assert isinstance(error, ServerStopped), error
                    assert "gave up after too many crashes" in str(error)
                    stopped += 1
            sent += len(futures)
            assert not server.running and registry.whereis(server.name) is None
            with pytest.raises(ServerStopped, match="not running"):
                server.call("count", timeout=1)
            crashed += 1
            refusals += len(refused)
    assert rounds >= 20 and crashed == rounds
    assert sent == answered + stopped and answered >= 20 * rounds and stopped > 0
    assert refusals > rounds  # the senders did run into the give-ups


def test_stop_racing_a_give_up_returns_promptly() -> None:
    # stop() sent while the server is giving up is answered by the shutdown
    # itself: it neither hangs nor waits out its timeout.
    compiled = CompiledPlugin(version(1), functions=[])
    with Supervisor(max_restarts=0, registry=Registry()) as sup:
        for i in range(30):
            server = sup.start_child(compiled, name=f"s{i}")
            server.cast("crash")
            started = time.monotonic()
            server.stop(timeout=20)
            assert time.monotonic() - started < 10
            assert not server.running


def test_unsupervised_server_hears_nothing_about_a_supervisor() -> None:
    # The server reports crashes through callbacks it is handed: it works
    # without any supervisor, and a crash leaves it serving.
    with PluginServer(version(1)) as server:
        with pytest.raises(CallError, match="unreachable"):
            server.call("crash", timeout=5)
        assert n(server.call("count", timeout=5)) == 1001
        assert server.restarts == 0

"""PluginPool and thread safety (issue: concurrency)."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from wasmplug import CallTimeout, CompiledPlugin, Error, ManifestError, Plugin, PluginPool, PoolTimeout

from .conftest import runaway, wasm

pytestmark = pytest.mark.usefixtures("call_path")

VOWELS = wasm("count_vowels")


def test_pool_creates_lazily_and_reuses() -> None:
    pool = PluginPool(VOWELS.read_bytes(), max_instances=3)
    assert pool.count() == 0
    for _ in range(10):
        assert json.loads(pool.call("count_vowels", "aaa"))["count"] == 3
    assert pool.count() == 1  # sequential use never needs a second instance
    with pool.acquire() as a, pool.acquire() as b:
        assert a is not b
        assert pool.count() == 2


@pytest.mark.parametrize("max_instances", [1, 2, 3])
def test_twelve_threads_never_exceed_max_instances(max_instances: int) -> None:
    # ABI.md 11: every call succeeds and count() <= max.
    pool = PluginPool(VOWELS.read_bytes(), max_instances=max_instances)
    with ThreadPoolExecutor(12) as executor:
        outputs = list(executor.map(
            lambda i: json.loads(pool.call("count_vowels", "a" * i, timeout=10))["count"],
            range(120)))
    assert outputs == list(range(120))  # no lost, duplicated or swapped results
    assert 1 <= pool.count() <= max_instances


def test_exhausted_pool_times_out_clearly() -> None:
    pool = PluginPool(VOWELS.read_bytes(), max_instances=1)
    with pool.acquire():
        start = time.monotonic()
        with pytest.raises(PoolTimeout, match=r"within 0\.2 s: all 1 are busy"), \
                pool.acquire(timeout=0.2):
            pass
        assert 0.15 < time.monotonic() - start < 2
    with pool.acquire(timeout=0.2) as plugin:  # free again
        assert plugin.function_exists("count_vowels")


def test_instances_keep_state_unless_reset() -> None:
    keeping = PluginPool(VOWELS.read_bytes(), max_instances=1)
    totals = [json.loads(keeping.call("count_vowels", "aa"))["total"] for _ in range(3)]
    assert totals == [2, 4, 6]
    resetting = PluginPool(VOWELS.read_bytes(), max_instances=1, reset=True)
    totals = [json.loads(resetting.call("count_vowels", "aa"))["total"] for _ in range(3)]
    assert totals == [2, 2, 2]
    assert resetting.count() == 1


def test_pool_from_compiled_plugin_with_config() -> None:
    pool = PluginPool(CompiledPlugin(VOWELS.read_bytes()), config={"vowels": "h"})
    assert json.loads(pool.call("count_vowels", "hello"))["count"] == 1


def test_failed_factory_frees_the_slot() -> None:
    pool = PluginPool(VOWELS.read_bytes(), max_instances=1, config={"bad": 1})
    for _ in range(2):
        with pytest.raises(ManifestError, match="config must be an object"):
            pool.call("count_vowels", "a", timeout=1)
    assert pool.count() == 0


def test_setup_runs_once_for_each_new_instance_before_its_first_use() -> None:
    seen: list[Plugin] = []

    def setup(plugin: Plugin) -> None:
        # count_vowels keeps a running total: set up instances start at 100
        assert json.loads(plugin.call("count_vowels", "a" * 100))["total"] == 100
        seen.append(plugin)

    pool = PluginPool(VOWELS.read_bytes(), max_instances=2, setup=setup)
    assert seen == []  # instances are still made lazily
    assert json.loads(pool.call("count_vowels", "aa"))["total"] == 102
    with pool.acquire() as a, pool.acquire() as b:
        assert {a, b} == set(seen) and len(seen) == 2
        assert json.loads(b.call("count_vowels", "a"))["total"] == 101  # b is the new one
    for _ in range(5):
        pool.call("count_vowels", "a")
    assert len(seen) == 2  # reused instances are not set up again

    resetting = PluginPool(VOWELS.read_bytes(), max_instances=1, reset=True, setup=setup)
    totals = [json.loads(resetting.call("count_vowels", "aa"))["total"] for _ in range(3)]
    assert totals == [102, 102, 102] and len(seen) == 2 + 4  # each fresh instance is set up


def test_failed_setup_closes_the_instance_and_tells_the_caller() -> None:
    made: list[Plugin] = []

    def setup(plugin: Plugin) -> None:
        made.append(plugin)
        if len(made) == 1:
            raise Error("the first instance fails to start")

    pool = PluginPool(VOWELS.read_bytes(), max_instances=1, setup=setup)
    with pytest.raises(Error, match=r"^the first instance fails to start$"):
        pool.call("count_vowels", "a", timeout=1)
    assert pool.count() == 0  # the slot is free again
    with pytest.raises(Error, match="has been freed"):
        made[0].call("count_vowels", "a")  # closed, never handed out
    assert json.loads(pool.call("count_vowels", "aa", timeout=1))["count"] == 2
    assert pool.count() == 1 and len(made) == 2


def test_a_reset_pool_survives_a_failing_setup_after_a_call() -> None:
    # The call's result stands; the next caller gets the setup's error, then a fresh instance.
    made: list[Plugin] = []

    def setup(plugin: Plugin) -> None:
        made.append(plugin)
        if len(made) == 2:
            raise Error("the fresh instance fails to start")

    pool = PluginPool(VOWELS.read_bytes(), max_instances=1, reset=True, setup=setup)
    assert json.loads(pool.call("count_vowels", "aa"))["count"] == 2
    assert pool.count() == 0
    assert json.loads(pool.call("count_vowels", "aaa", timeout=1))["count"] == 3
    assert len(made) == 4 and pool.count() == 1


def test_closed_pool_refuses_and_frees() -> None:
    pool = PluginPool(VOWELS.read_bytes(), max_instances=2)
    pool.call("count_vowels", "a")
    pool.close()
    assert pool.count() == 0
    with pytest.raises(Error, match=r"^this pool is closed$"):
        pool.call("count_vowels", "a")


def test_waiting_threads_are_always_woken() -> None:
    # Instances are taken and given back without a lock; a thread waiting for
    # one must still be woken by every return (a lost wake-up would hang it
    # until its acquire timeout).
    pool = PluginPool(VOWELS.read_bytes(), max_instances=1)
    done: list[int] = []

    def work(n: int) -> None:
        for _ in range(150):
            with pool.acquire(timeout=20) as plugin:
                assert json.loads(plugin.call("count_vowels", "a" * n))["count"] == n
        done.append(n)

    start = time.monotonic()
    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(done) == list(range(6)) and pool.count() == 1
    assert time.monotonic() - start < 20  # nobody sat out an acquire timeout


def test_closing_while_threads_call_frees_every_instance() -> None:
    pool = PluginPool(VOWELS.read_bytes(), max_instances=3)
    made: list[Plugin] = []
    stop = threading.Event()
    outcomes: list[str] = []

    def work() -> None:
        while not stop.is_set():
            try:
                with pool.acquire(timeout=5) as plugin:
                    made.append(plugin)
                    plugin.call("count_vowels", "aeiou")
            except Error as exc:
                outcomes.append(str(exc))
                return
        outcomes.append("stopped")

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    while len(made) < 50:
        time.sleep(0.001)
    pool.close()
    stop.set()
    for t in threads:
        t.join(30)
    assert len(outcomes) == 6  # every thread came back, none hung
    assert set(outcomes) <= {"stopped", "this pool is closed",
                             "timeout: the plug-in was closed during the call",
                             "this plug-in has been freed; create a new Plugin"}, outcomes
    assert pool.count() == 0
    assert all(plugin.plugin == -1 for plugin in made)  # every instance freed
    with pytest.raises(Error, match=r"^this pool is closed$"):
        pool.call("count_vowels", "a")


def test_threads_on_one_plugin_are_serialised_by_content() -> None:
    plugin = Plugin(wasm("echo").read_bytes())
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(300):
                payload = f"{n}:{i}:".encode() * (i % 50 + 1)
                assert plugin.call("echo", payload) == payload
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@runaway()
def test_wasm_runs_without_the_gil() -> None:
    # While one thread is inside a long Wasm call, another thread keeps running
    # Python the whole time: it never stalls for long (holding the GIL would
    # stop it for the full 600 ms).
    plugin = Plugin({"wasm": [{"path": str(wasm("wat/loop"))}], "timeout_ms": 600})
    stamps: list[float] = []
    done = threading.Event()

    def tick() -> None:
        while not done.is_set():
            stamps.append(time.monotonic())
            time.sleep(0.001)

    ticker = threading.Thread(target=tick)
    ticker.start()
    deadline = time.monotonic() + 10
    while not stamps:  # the ticker is running
        assert time.monotonic() < deadline, "the ticker thread never started"
        time.sleep(0.001)
    start = time.monotonic()
    with pytest.raises(CallTimeout, match=r"^timeout: the call ran longer than timeout_ms"):
        plugin.call("forever", b"")
    end = time.monotonic()
    done.set()
    ticker.join()
    during = [t for t in stamps if start <= t <= end]
    assert end - start > 0.5
    assert len(during) > 50
    gaps = [b - a for a, b in zip([start, *during], [*during, end], strict=True)]
    assert max(gaps) < 0.2

"""Fresh state by copying back only the pages a call wrote (wasmplug/js/page_reset.py).

After every reset the Sandbox's memory must equal the state saved after the code
was evaluated, byte for byte, whatever the call did: random writes, memory grown,
a trap, other sandboxes or threads at the same time.
"""

from __future__ import annotations

import ctypes
import json
import random
import struct
import sys
import threading

import pytest

import wasmplug
import wasmplug.js.sandbox as sandbox_module
from wasmplug.js import JSError, Sandbox
from wasmplug.js.page_reset import PageReset

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="page reset needs Linux (memfd, pagemap)")

STATEFUL = """
let calls = 0;
const kept = [];
function f(input) {
  calls++;
  kept.push(input.repeat(1000));
  if (input === 'throw') throw new Error('calls=' + calls);
  if (input === 'grow') kept.push('y'.repeat(4 << 20));
  if (input === 'spin') for (;;) {}
  return JSON.stringify({ calls, kept: kept.length });
}
"""


def region(box: Sandbox) -> bytes:
    pages = box._pages
    assert pages is not None
    return ctypes.string_at(pages.address, pages.length)


def saved_state(box: Sandbox) -> bytes:
    """The state saved after the code was evaluated (the sealed memfd's bytes)."""
    pages = box._pages
    assert pages is not None
    return ctypes.string_at(pages._source, pages.length)


def put_back(box: Sandbox) -> None:
    assert box._put_back_pages()


def test_fresh_state_uses_page_reset_and_copies_only_what_a_call_wrote() -> None:
    with Sandbox(STATEFUL) as box:
        pages = box._pages
        assert pages is not None, "the page reset's self-check failed on Linux"
        saved = region(box)
        assert json.loads(box.call("a")) == {"calls": 1, "kept": 1}
        written = pages.written()
        assert written is not None  # PAGEMAP_SCAN: Linux 6.7+, as on this project's machines
        copied = written[2]
        assert 0 < copied < pages.length // 4  # a trivial call writes a few pages of the state
        put_back(box)
        assert region(box) == saved
        assert [json.loads(box.call("b"))["calls"] for _ in range(5)] == [1] * 5


def test_random_writes_are_always_put_back_byte_for_byte() -> None:
    rng = random.Random(19)
    with Sandbox(STATEFUL) as box:
        pages = box._pages
        assert pages is not None
        saved = region(box)
        for round_ in range(150):
            # few pages (copied back) or many (dropped with MADV_DONTNEED), across page edges
            writes = rng.choice([1, 5, 40, 400])
            for _ in range(writes):
                size = rng.choice([1, 8, 4096, 10_000])
                at = rng.randrange(0, pages.length - size)
                ctypes.memset(pages.address + at, rng.randrange(256), size)
            assert pages.reset()
            assert region(box) == saved, f"round {round_}"
        assert json.loads(box.call("z")) == {"calls": 1, "kept": 1}  # still a working sandbox


def test_the_runtime_copies_back_the_runs_of_pages_it_is_given() -> None:
    # The Sandbox's own way: the host names the written runs, the runtime copies them
    # from its copy of the state. One more run, outside the state, is appended: the
    # runtime copies the real runs, then refuses that one before anything else runs,
    # so the region must be the saved state again, byte for byte. (Writes land in the
    # heap, above the runtime's statics, which the restore itself reads: JS code cannot
    # write those, these raw writes could.)
    rng = random.Random(7)
    with Sandbox(STATEFUL) as box:
        pages, plugin = box._pages, box._plugin
        assert pages is not None and plugin is not None
        saved = saved_state(box)
        for round_ in range(60):
            for _ in range(rng.choice([1, 5, 40, 400])):
                size = rng.choice([1, 8, 4096, 10_000])
                at = rng.randrange(pages.length // 4, pages.length - size)
                ctypes.memset(pages.address + at, rng.randrange(256), size)
            base = box._region_base()
            assert base is not None
            header = box._restore_header(base)
            count = struct.unpack_from("<I", header, 9)[0]
            outside = struct.pack("<QQQ", pages.address + pages.length, pages.address + pages.length
                                  + 4096, 0)
            request = header[:9] + struct.pack("<I", count + 1) + header[13:] + outside + b"sf\0"
            with pytest.raises(wasmplug.CallError, match="outside the saved state"):
                plugin.call("__wasmplug_invoke", request)
            assert region(box) == saved, f"round {round_}"
        assert json.loads(box.call("z")) == {"calls": 1, "kept": 1}


def test_calls_that_throw_grow_memory_or_trap_leave_nothing_behind() -> None:
    with Sandbox(STATEFUL, timeout_ms=300) as box:
        saved, pages = region(box), box._pages
        previous = ""
        for kind in ("a", "grow", "throw", "a", "grow", "b"):
            try:
                result = json.loads(box.call(kind))
            except JSError as error:
                assert "calls=1" in error.message
            else:
                assert result["calls"] == 1
            if box._pages is not pages:  # memory grew past the slack: a new instance was made
                assert previous == "grow"
                saved, pages = saved_state(box), box._pages
            put_back(box)
            assert region(box) == saved, kind
            previous = kind
        with pytest.raises(wasmplug.CallTimeout):
            box.call("spin")  # a trap: the instance is dropped, the code evaluated anew
        assert json.loads(box.call("a")) == {"calls": 1, "kept": 1}
        assert box._pages is not None  # the new instance has its own saved pages


def test_two_sandboxes_at_once_keep_their_own_state() -> None:
    other_code = STATEFUL.replace("let calls = 0", "let calls = 100")
    with Sandbox(STATEFUL) as one, Sandbox(other_code) as two:
        saved_one, saved_two = region(one), region(two)
        for _ in range(20):
            assert json.loads(one.call("x"))["calls"] == 1
            assert json.loads(two.call("x"))["calls"] == 101
        put_back(one)
        put_back(two)
        assert (region(one), region(two)) == (saved_one, saved_two)


def test_threads_calling_shared_and_own_sandboxes_see_fresh_state() -> None:
    shared = Sandbox(STATEFUL)
    failures: list[str] = []

    def worker(seed: int) -> None:
        own = Sandbox(STATEFUL)
        try:
            for n in range(60):
                for box in (shared, own):
                    got = json.loads(box.call(f"t{seed}-{n}"))
                    if got != {"calls": 1, "kept": 1}:
                        failures.append(f"thread {seed} call {n}: {got}")
        finally:
            own.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    saved = saved_state(shared)
    put_back(shared)
    assert region(shared) == saved
    shared.close()
    assert failures == []


def test_a_failed_self_check_falls_back_to_the_copy_inside(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(PageReset, "reset", lambda self: False)
    monkeypatch.setattr(sandbox_module, "_pages_usable", True)
    with Sandbox(STATEFUL) as box:
        assert box._pages is None and box._saved  # the runtime's own copy instead
        assert [json.loads(box.call("x"))["calls"] for _ in range(4)] == [1] * 4
    assert sandbox_module._pages_usable is False  # not tried again in this process


def test_memory_region_is_the_live_instance_memory_or_none() -> None:
    with Sandbox(STATEFUL, keep_state=True) as box:
        plugin = box._plugin
        assert plugin is not None
        found = plugin.memory_region()
        assert found is not None
        address, length = found
        assert length % 65536 == 0 and length == plugin.memory_bytes - plugin._kernel.memory.data_len(
            plugin._store)
        ctypes.memset(address + length - 1, 0x5A, 1)  # the last byte is really there, writable
        assert ctypes.string_at(address + length - 1, 1) == b"\x5a"
        assert plugin.memory_region("no such memory") is None
        plugin.renew()  # the next call gets a new instance: the old region is no longer given
        assert plugin.memory_region() is None

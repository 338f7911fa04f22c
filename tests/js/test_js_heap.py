"""How much of a told memory budget JavaScript can use (issue 19, "usable heap").

QuickJS gets 3/4 of the budget (`wasmplug.js.max_memory`; at least 4 MiB are
left for the rest, and never less than half goes to QuickJS), and its blocks are
counted as what they take: large blocks (arrays, strings, typed arrays) come
from the runtime's own page allocator (in-place growth at the top of memory,
merged free neighbours); small ones are asked for as the whole power-of-two
slot libc's malloc gives them. A hog gets the catchable JS error, never a trap.
"""

from __future__ import annotations

import json

import pytest

from wasmplug.js import JSError, Sandbox

MiB = 1 << 20

ARRAY_HOG = """function f() {
  const a = []; let n = 0;
  try { for (;;) a.push(n++); } catch (e) { return JSON.stringify({ n, error: String(e) }) }
}"""


def test_a_typed_array_of_forty_five_mib_fits_in_a_64_mib_budget() -> None:
    # before: QuickJS had half of the budget, and 32 MiB was the most one array could take
    code = "function f(n) { return new Uint8Array(Number(n)).length }"
    with Sandbox(code, max_memory=64 * MiB, timeout_ms=60_000) as box:
        assert box.call(str(45 * MiB)) == str(45 * MiB).encode()
        assert box.call(str(40 * MiB)) == str(40 * MiB).encode()


def test_a_string_of_forty_five_mib_fits_and_a_larger_one_is_a_js_error() -> None:
    code = "function f(n) { return 'x'.repeat(Number(n)).length }"
    with Sandbox(code, max_memory=64 * MiB, timeout_ms=60_000) as box:
        assert box.call(str(45 * MiB)) == str(45 * MiB).encode()
        try:
            box.call(str(60 * MiB))
        except JSError as error:
            assert "out of memory" in error.message
        else:
            raise AssertionError("a 60 MiB string fitted in a 64 MiB budget")


def test_a_growing_array_gets_the_js_error_not_a_trap() -> None:
    # before: the array's old blocks were never reused for larger ones and memory.grow
    # trapped (`oom`, uncatchable) before QuickJS's limit was reached
    with Sandbox(ARRAY_HOG, max_memory=64 * MiB, timeout_ms=60_000) as box:
        for _ in range(2):
            result = json.loads(box.call(""))
            assert result["error"] == "InternalError: out of memory"
            assert result["n"] > 5_000_000  # at half the budget: 3.5 million


STRING_HOG = """function f() {
  const a = []; let n = 0;
  try { for (;;) a.push('x'.repeat(1000) + n++); }
  catch (e) { return JSON.stringify({ n, error: String(e) }) }
}"""


@pytest.mark.parametrize("keep_state", [False, True])
@pytest.mark.parametrize("budget_mib", [8, 16, 32])
def test_small_budgets_keep_room_for_the_runtime(budget_mib: int, keep_state: bool) -> None:
    # The share leaves at least 4 MiB to the rest (the saved state, a moving block):
    # every hog is the catchable error, the sandbox usable after it, fresh state or not.
    with Sandbox(STRING_HOG, max_memory=budget_mib * MiB, timeout_ms=60_000,
                 keep_state=keep_state) as box:
        for _ in range(3):
            try:
                result = json.loads(box.call(""))
            except JSError as error:  # uncaught at the very edge: still the JS error
                assert "out of memory" in error.message
            else:
                assert result["error"] == "InternalError: out of memory"
                assert result["n"] > budget_mib * 1024 // 4  # KiB strings: a good part of it

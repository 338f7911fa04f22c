"""How much of a told memory budget JavaScript can use (issue 19, "usable heap").

QuickJS gets half of the budget (`wasmplug.js.max_memory`), and its blocks are
counted as what they take: large blocks (arrays, strings, typed arrays) come
from the runtime's own page allocator (in-place growth at the top of memory,
merged free neighbours); small ones are asked for as the whole power-of-two
slot libc's malloc gives them. A hog gets the catchable JS error, never a trap.
"""

from __future__ import annotations

import json

from wasmplug.js import JSError, Sandbox

MiB = 1 << 20

ARRAY_HOG = """function f() {
  const a = []; let n = 0;
  try { for (;;) a.push(n++); } catch (e) { return JSON.stringify({ n, error: String(e) }) }
}"""


def test_a_typed_array_of_thirty_mib_fits_in_a_64_mib_budget() -> None:
    # before: QuickJS had 3/10 of the budget, and 20 MiB was the most one array could take
    code = "function f(n) { return new Uint8Array(Number(n)).length }"
    with Sandbox(code, max_memory=64 * MiB, timeout_ms=60_000) as box:
        assert box.call(str(30 * MiB)) == str(30 * MiB).encode()
        assert box.call(str(28 * MiB)) == str(28 * MiB).encode()


def test_a_string_of_thirty_mib_fits_and_a_larger_one_is_a_js_error() -> None:
    code = "function f(n) { return 'x'.repeat(Number(n)).length }"
    with Sandbox(code, max_memory=64 * MiB, timeout_ms=60_000) as box:
        assert box.call(str(30 * MiB)) == str(30 * MiB).encode()
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
            assert result["n"] > 3_000_000

"""Fresh state per Sandbox call from a copy saved after the code was evaluated.

The code is evaluated once per instance; each fresh-state call first puts back
the runtime's memory as it was right after that (see __wasmplug_snapshot in
runtime/wasmplug_js.c), so no JS value survives from one call to the next.
"""

from __future__ import annotations

import json

from wasmplug.js import JSError, Sandbox

COUNTING = """
Var.set("evaluations", String(Number(Var.getString("evaluations") || 0) + 1));
let calls = 0;
globalThis.leftover = [];
function f(input) {
  calls++;
  globalThis.leftover.push(input);
  return JSON.stringify({ calls, leftover: globalThis.leftover.length, random: Math.random(),
                          evaluations: Number(Var.getString("evaluations")) });
}
"""


def test_the_code_is_evaluated_once_and_each_call_starts_from_its_state() -> None:
    with Sandbox(COUNTING) as box:
        results = [json.loads(box.call(str(n))) for n in range(5)]
    assert [(r["calls"], r["leftover"], r["evaluations"]) for r in results] == [(1, 1, 1)] * 5
    assert len({r["random"] for r in results}) == 5  # Math.random is re-seeded for each call
    with Sandbox(COUNTING, keep_state=True) as kept:
        assert [json.loads(kept.call("x"))["calls"] for _ in range(3)] == [1, 2, 3]


def test_a_call_that_throws_leaves_nothing_behind() -> None:
    code = "let n = 0; function f(x) { n++; if (x === 'boom') throw new Error('n=' + n); return n }"
    with Sandbox(code) as box:
        assert box.call("a") == b"1"
        try:
            box.call("boom")
        except JSError as error:
            assert "n=1" in error.message
        assert box.call("a") == b"1"


def test_memory_grown_by_calls_does_not_pile_up() -> None:
    # Each call grows memory by ~3 MiB; memory grown since the state was saved is not
    # reused after it is put back, so past an eighth of the budget the sandbox starts
    # a new instance: 30 calls need ~90 MiB in all, the budget is 24 MiB.
    code = "function f(n) { const s = 'x'.repeat(Number(n)); return s.length }"
    with Sandbox(code, max_memory=24 * 1024 * 1024) as box:
        for _ in range(30):
            assert box.call(str(3 << 20)) == str(3 << 20).encode()


def test_a_budget_too_small_for_the_saved_copy_still_gives_fresh_state() -> None:
    # Saving the state needs memory for the runtime's copy; under 2 MiB that trapped
    # (oom), the runtime dropped the loaded code, and every call failed with "no
    # JavaScript code is loaded". Now the code is evaluated in a new instance per call.
    with Sandbox("let n = 0; function f(x) { n++; return x + n }", max_memory=2 << 20) as box:
        assert not box._saved
        assert [box.call("a") for _ in range(3)] == [b"a1"] * 3

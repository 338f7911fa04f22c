"""wasmplug.js.Sandbox: untrusted code strings with limits."""

from __future__ import annotations

from pathlib import Path

import pytest

import wasmplug
from wasmplug.js import JSError, Sandbox

from ..http_server import serve


def test_calls_the_function_the_code_defines() -> None:
    with Sandbox("function words(text) { return text.split(' ').length }") as box:
        assert box.entry == "words"
        assert box.call("a b c") == b"3"
        assert box.call(b"one") == b"1"
    with Sandbox("export function double(x) { return {twice: x.n * 2} }") as box:
        assert box.call_json({"n": 21}) == {"twice": 42}
    with Sandbox("module.exports = { f: (s) => s.toUpperCase(), g: () => 1 }", entry="f") as box:
        assert box.call("shout") == b"SHOUT"


def test_ambiguous_entry_is_an_error() -> None:
    with pytest.raises(wasmplug.Error, match="defines a, b; pass entry"):
        Sandbox("function a() {}\nfunction b() {}")


def test_state_fresh_per_call_by_default_or_kept() -> None:
    code = "let n = 0; function bump() { n += 1; return String(n) }"
    with Sandbox(code) as fresh:
        assert [fresh.call() for _ in range(3)] == [b"1", b"1", b"1"]
    with Sandbox(code, keep_state=True) as kept:
        assert [kept.call() for _ in range(3)] == [b"1", b"2", b"3"]


def test_vars_outlive_the_fresh_instance_of_each_call() -> None:
    code = ("let n = 0; function bump() { n += 1; const v = Number(Var.getString('v') || '0') + 1;"
            " Var.set('v', String(v)); return n + '/' + v }")
    with Sandbox(code) as fresh:
        assert [fresh.call() for _ in range(3)] == [b"1/1", b"1/2", b"1/3"]


def test_errors_name_the_js_message_and_line() -> None:
    code = "function f(x) {\n  const y = x.length;\n  return y.nope.deeper;\n}"
    with Sandbox(code) as box, pytest.raises(JSError) as caught:
        box.call("abc")
    assert caught.value.message == "TypeError: cannot read property 'deeper' of undefined"
    assert caught.value.line == 3 and "sandbox.js:3" in caught.value.stack
    with pytest.raises(JSError, match="SyntaxError") as syntax:
        Sandbox("function f( {")
    assert syntax.value.line == 1
    with Sandbox("function f(x) { if (x === 'bad') throw new RangeError('bad input'); return x + '!' }",
                 keep_state=True) as box:
        with pytest.raises(JSError, match="RangeError: bad input"):
            box.call("bad")
        assert box.call("ok") == b"ok!"  # still usable after an error


@pytest.mark.timeout(30)
def test_timeout_then_usable() -> None:
    with Sandbox("function f(x) { if (x === 'loop') for (;;) {} return 'done' }",
                 timeout_ms=200, keep_state=True) as box:
        with pytest.raises(wasmplug.CallTimeout) as caught:
            box.call("loop")
        assert caught.value.limit == "timeout_ms"
        assert box.call("go") == b"done"


@pytest.mark.timeout(30)
def test_fuel_limit() -> None:
    with Sandbox("function f(x) { let s = 0; for (let i = 0; i < Number(x); i++) s += i; return String(s) }",
                 fuel=20_000_000) as box:
        assert box.call("10") == b"45"
        with pytest.raises(wasmplug.CallError, match="fuel") as caught:
            box.call("100000000000")
        assert caught.value.limit == "fuel_limit"
        assert box.call("4") == b"6"


@pytest.mark.timeout(60)
def test_memory_limit_is_a_js_error() -> None:
    code = ("function f(n) { const a = [];\n"
            "  for (let i = 0; i < Number(n); i++) a.push('x'.repeat(4096) + i);\n"
            "  return String(a.length) }")
    with Sandbox(code, max_memory=16 * 1024 * 1024) as box:
        with pytest.raises(JSError, match="out of memory"):
            box.call("1000000")
        assert box.call("100") == b"100"


def test_no_network_unless_allowed(tmp_path: Path) -> None:
    code = "function get(url) { const r = Http.request({url}); return r.status + ' ' + r.body }"
    with serve(tmp_path) as url:
        with Sandbox(code) as box, pytest.raises(wasmplug.CallError, match="not allowed"):
            box.call(f"{url}/status/201")
        with Sandbox(code, allowed_hosts=["127.0.0.1"]) as box:
            assert box.call(f"{url}/status/201") == b"201 status body"


def test_config_is_readable() -> None:
    with Sandbox("function f() { return Config.get('k') }", config={"k": "v"}) as box:
        assert box.call() == b"v"


def test_fresh_state_also_forgets_pending_work_and_memory() -> None:
    code = ("let kept = globalThis.kept || []; globalThis.kept = kept;\n"
            "function f(n) { kept.push('x'.repeat(1 << 20)); return kept.length }")
    with Sandbox(code, max_memory=24 * 1024 * 1024) as box:
        # 40 calls of 1 MiB each would exceed 24 MiB if anything survived a call
        assert [box.call("") for _ in range(40)] == [b"1"] * 40


@pytest.mark.parametrize(("code", "entry"), [
    ("const solve = (x) => x.toUpperCase();", "solve"),
    ("let solve = function (x) { return x.toUpperCase() };", "solve"),
    ("module.exports = function (x) { return x.toUpperCase() };", "default"),
    # a nested helper is not a top-level definition
    ("function solve(x) { function helper(y) { return y.toUpperCase() } return helper(x) }", "solve"),
    ("var solve = (x) => x.toUpperCase(); var limit = 3;", "solve"),
    ("globalThis.solve = (x) => x.toUpperCase();", "solve"),
])
def test_the_entry_is_what_the_code_defines_at_the_top_level(code: str, entry: str) -> None:
    with Sandbox(code) as box:
        assert box.entry == entry
        assert box.call("shout") == b"SHOUT"
        assert box.call("again") == b"AGAIN"  # fresh state each call: found again after reload


def test_an_entry_given_for_a_top_level_const_is_found() -> None:
    with Sandbox("const a = () => 'A';\nconst b = () => 'B';", entry="b") as box:
        assert box.call() == b"B"


def test_two_functions_on_one_line_are_ambiguous_not_a_silent_choice() -> None:
    with pytest.raises(wasmplug.Error, match=r"top-level function .* defines first, second; pass entry"):
        Sandbox("function first() { return 1 } function second() { return 2 }")

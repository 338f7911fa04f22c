#!/usr/bin/env python3
"""Smoke test for the AssemblyScript test plug-ins, using the official Extism SDK.

Developer tool, not part of the test suite. Run after ./build.sh with a Python
that has `extism` (and optionally `wasmtime`, for the module-shape checks):

    /tmp/venv/bin/python plugins/assemblyscript/smoke_test.py
"""

import json
import os
import sys
import time

import extism

HERE = os.path.dirname(os.path.abspath(__file__))

# Logs are global in the Extism runtime: capture them before any plug-in exists.
LOGS = []
_logger = extism.set_log_custom(LOGS.append, "debug")

PASSED = 0
FAILED = 0


def check(name, cond, detail=""):
    global PASSED, FAILED
    if cond:
        PASSED += 1
        print(f"ok   {name}")
    else:
        FAILED += 1
        print(f"FAIL {name} {detail}")


def wasm(name):
    with open(os.path.join(HERE, name), "rb") as f:
        return f.read()


def plugin(name, config=None):
    return extism.Plugin(wasm(name), wasi=False, config=config)


def call_ok(p, fn, data):
    try:
        return p.call(fn, data)
    except extism.Error as e:
        return f"<raised {e}>"


def call_err(p, fn, data=b""):
    try:
        out = p.call(fn, data)
    except extism.Error as e:
        return str(e)
    return f"<no error; output {out!r}>"


def pdk_logs():
    """Plug-in log lines (target extism::pdk) as (LEVEL, message) tuples."""
    _logger.drain()
    out = []
    for line in LOGS:
        marker = " extism::pdk: "
        if marker not in line:
            continue
        head, msg = line.split(marker, 1)
        msg = msg.rsplit(" plugin=", 1)[0]
        out.append((head.split()[-1], msg))
    LOGS.clear()
    return out


EXPECTED_EXPORTS = {
    "count_vowels.wasm": {"count_vowels"},
    "echo.wasm": {"echo"},
    "host_env.wasm": {"config_get", "var_get", "var_set", "counter", "log"},
    "errors.wasm": {"fail_with_message", "fail_code", "error_but_zero", "abort_now", "ok"},
}


def test_module_shapes():
    try:
        import wasmtime
    except ImportError:
        print("skip module-shape checks (no wasmtime module)")
        return
    engine = wasmtime.Engine()
    for name, expected in EXPECTED_EXPORTS.items():
        m = wasmtime.Module(engine, wasm(name))
        funcs = {e.name: e.type for e in m.exports if isinstance(e.type, wasmtime.FuncType)}
        check(f"{name}: exports {sorted(expected)}", set(funcs) == expected, sorted(funcs))
        for fn, t in funcs.items():
            shape = (list(map(str, t.params)), list(map(str, t.results)))
            check(f"{name}: {fn} is () -> i32", shape == ([], ["i32"]), shape)
        mods = {i.module for i in m.imports}
        check(f"{name}: imports only extism:host/env", mods <= {"extism:host/env"}, mods)
        if name == "echo.wasm":
            names = {i.name for i in m.imports}
            bad = {n for n in names if n.startswith(("config", "var", "log"))}
            check("echo.wasm: no config/var/log imports", not bad, bad)


def test_count_vowels():
    p = plugin("count_vowels.wasm")
    out = call_ok(p, "count_vowels", "🌎hello🌎world🌎")
    check("count_vowels: emoji input", out == b'{"count":3,"total":3,"vowels":"aeiouAEIOU"}', out)
    out = call_ok(p, "count_vowels", "AEIOU aeiou xyz")
    check("count_vowels: total accumulates", out == b'{"count":10,"total":13,"vowels":"aeiouAEIOU"}', out)
    out = call_ok(p, "count_vowels", "")
    check("count_vowels: empty input", out == b'{"count":0,"total":13,"vowels":"aeiouAEIOU"}', out)

    p = plugin("count_vowels.wasm", config={"vowels": ""})
    out = call_ok(p, "count_vowels", "banana")
    check("count_vowels: empty config => default", out == b'{"count":3,"total":3,"vowels":"aeiouAEIOU"}', out)

    p = plugin("count_vowels.wasm", config={"vowels": "xyz"})
    out = call_ok(p, "count_vowels", "xXyYzZ abc")
    check("count_vowels: custom vowels", out == b'{"count":3,"total":3,"vowels":"xyz"}', out)

    p = plugin("count_vowels.wasm", config={"vowels": "äü"})
    out = call_ok(p, "count_vowels", "Bär Öl über äa")
    check("count_vowels: non-ASCII vowels", out == '{"count":3,"total":3,"vowels":"äü"}'.encode(), out)

    p = plugin("count_vowels.wasm", config={"vowels": 'a"\\\n'})
    out = call_ok(p, "count_vowels", 'a"b\\c\nd')
    ok = isinstance(out, bytes)
    doc = json.loads(out) if ok else None
    check("count_vowels: JSON-escaped vowels", ok and doc == {"count": 4, "total": 4, "vowels": 'a"\\\n'}, out)

    p = plugin("count_vowels.wasm")
    for size in (1 << 20, 10 << 20):
        data = (b"The quick brown fox jumps over the lazy dog. " * (size // 45 + 1))[:size]
        expected = sum(data.count(c) for c in b"aeiouAEIOU")
        t0 = time.perf_counter()
        out = call_ok(p, "count_vowels", data)
        dt = time.perf_counter() - t0
        ok = isinstance(out, bytes) and json.loads(out)["count"] == expected
        check(f"count_vowels: {size >> 20} MiB in {dt * 1000:.0f} ms", ok and dt < 2.0, out)
    check("count_vowels: no logging", pdk_logs() == [])


def test_echo():
    p = plugin("echo.wasm")
    check("echo: empty", call_ok(p, "echo", b"") == b"")
    check("echo: text", call_ok(p, "echo", "héllo 🌎") == "héllo 🌎".encode())
    allbytes = bytes(range(256)) * 3 + b"\x00"
    check("echo: all byte values, odd length", call_ok(p, "echo", allbytes) == allbytes)
    big = os.urandom(10 << 20)
    t0 = time.perf_counter()
    out = call_ok(p, "echo", big)
    dt = time.perf_counter() - t0
    check(f"echo: 10 MiB in {dt * 1000:.0f} ms", out == big and dt < 2.0)
    t0 = time.perf_counter()
    same = all(call_ok(p, "echo", big) == big for _ in range(20))
    dt = time.perf_counter() - t0
    check(f"echo: 20 more 10 MiB calls on one instance in {dt:.1f} s", same)
    check("echo: no logging", pdk_logs() == [])


def test_host_env():
    p = plugin("host_env.wasm", config={"greeting": "héllo", "empty": ""})
    check("config_get: present", call_ok(p, "config_get", "greeting") == "héllo".encode())
    check("config_get: missing", call_ok(p, "config_get", "nope") == b"")
    check("config_get: empty value", call_ok(p, "config_get", "empty") == b"")

    check("var_get: absent", call_ok(p, "var_get", "a") == b"")
    check("var_set: a=x=y", call_ok(p, "var_set", "a=x=y") == b"")
    check("var_get: split at first =", call_ok(p, "var_get", "a") == b"x=y")
    check("var_set: binary value", call_ok(p, "var_set", b"bin=\x00\xff\x01") == b"")
    check("var_get: binary value", call_ok(p, "var_get", "bin") == b"\x00\xff\x01")
    check("var_set: a= deletes", call_ok(p, "var_set", "a=") == b"")
    check("var_get: after delete", call_ok(p, "var_get", "a") == b"")
    err = call_err(p, "var_set", "no-equals")
    check("var_set: no '=' fails", err == "var_set: expected input name=value", err)

    check("counter: 1", call_ok(p, "counter", "") == b"1")
    check("counter: 2", call_ok(p, "counter", "") == b"2")
    check("var_get: count is u64 LE", call_ok(p, "var_get", "count") == (2).to_bytes(8, "little"))
    big = (2**40).to_bytes(8, "little")
    check("var_set: count=<8 bytes>", call_ok(p, "var_set", b"count=" + big) == b"")
    check("counter: continues from var", call_ok(p, "counter", "") == str(2**40 + 1).encode())
    call_ok(p, "var_set", "count=")
    check("counter: after delete", call_ok(p, "counter", "") == b"1")
    call_ok(p, "var_set", "count=abc")
    err = call_err(p, "counter")
    check("counter: bad var length fails", err == "var count must be 8 bytes (u64 little-endian), got 3", err)

    pdk_logs()
    for level, name in (("debug", "DEBUG"), ("info", "INFO"), ("warn", "WARN"), ("error", "ERROR")):
        out = call_ok(p, "log", f"{level}:msg {level}: ünïcode")
        logs = pdk_logs()
        check(f"log: {level}", out == b"" and logs == [(name, f"msg {level}: ünïcode")], (out, logs))
    err = call_err(p, "log", "trace:t")
    check("log: trace unsupported by as-pdk", err.startswith("log: unsupported level 'trace'"), err)
    err = call_err(p, "log", "no colon")
    check("log: missing level fails", err == "log: expected input level:message", err)
    check("log_level: not exported", not p.function_exists("log_level"))


def test_errors():
    p = plugin("errors.wasm")
    err = call_err(p, "fail_with_message", "it broke: ü")
    check("fail_with_message", err == "it broke: ü", err)
    err = call_err(p, "fail_with_message", "")
    check("fail_with_message: empty => bare code", err == "Error code: 1", err)
    for code in ("42", "-7", "2147483647", "-2147483648"):
        err = call_err(p, "fail_code", code)
        check(f"fail_code {code}", err == f"Error code: {code}", err)
    check("fail_code 0 => success", call_ok(p, "fail_code", "0") == b"")
    err = call_err(p, "fail_code", "x")
    check("fail_code: bad input", err == "fail_code: input is not a decimal i32: 'x'", err)
    err = call_err(p, "error_but_zero")
    check("error_but_zero: SDK raises the error", err == "set but returned 0", err)
    err = call_err(p, "abort_now")
    check("abort_now", err == "abort: boom", err)
    check("ok", call_ok(p, "ok", "") == b"ok")
    check("ok: plug-in usable after abort", call_ok(p, "ok", "x") == b"ok")
    err = call_err(p, "missing")
    check("unknown export", err == "Function not found: missing", err)


def main():
    print(f"extism runtime {extism.extism_version()}")
    test_module_shapes()
    test_count_vowels()
    test_echo()
    test_host_env()
    test_errors()
    print(f"{PASSED} passed, {FAILED} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())

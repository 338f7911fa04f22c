#!/usr/bin/env python3
"""Smoke test for the AssemblyScript test plug-ins, using the official Extism SDK.

Developer tool, not part of the test suite. Run after ./build.sh with a Python
that has `extism` (and optionally `wasmtime`, for the module-shape checks):

    /tmp/venv/bin/python plugins/assemblyscript/smoke_test.py
"""

import http.server
import json
import os
import sys
import threading
import time
import typing

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
    "host_functions.wasm": {"say_hello", "add", "scale", "flag", "json_roundtrip", "call_no_args"},
    "http.wasm": {"fetch"},
}

# Imports from modules other than extism:host/env, as (module, name, params, results).
EXPECTED_USER_IMPORTS = {
    "host_functions.wasm": {
        ("extism:host/user", "hello_world", ("i64",), ("i64",)),
        ("extism:host/user", "add_i64", ("i64", "i64"), ("i64",)),
        ("extism:host/user", "scale_f64", ("f64",), ("f64",)),
        ("extism:host/user", "flag_i32", ("i32",), ("i32",)),
        ("extism:host/user", "host_json", ("i64",), ("i64",)),
        ("extism:host/user", "no_args", (), ()),
    },
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
        user = {
            (i.module, i.name, tuple(map(str, i.type.params)), tuple(map(str, i.type.results)))
            for i in m.imports
            if i.module != "extism:host/env"
        }
        expected_user = EXPECTED_USER_IMPORTS.get(name, set())
        check(f"{name}: non-kernel imports", user == expected_user, sorted(user))
        if name == "http.wasm":
            names = {i.name for i in m.imports}
            check("http.wasm: imports http_request + http_status_code, not http_headers",
                  {"http_request", "http_status_code"} <= names and "http_headers" not in names, sorted(names))
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


def _fix_sdk_float_results():
    """Works around an extism 1.1.1 SDK bug: `_convert_output` compares the
    raw cffi type tag (an int) with `ValType.F32`/`ValType.F64` (an Enum), so a
    host function can never return f32/f64 (the SDK prints "Unsupported return
    type: 3" as an ignored callback exception and the guest receives 0.0)."""
    sdk = extism.extism
    original = sdk._convert_output
    if getattr(original, "_wasmplug_fixed", False):
        return

    def convert_output(x, v):
        if v.t in (extism.ValType.F32, extism.ValType.F64) and v.t.value == x.t:
            if v.t == extism.ValType.F32:
                x.v.f32 = float(v.value)
            else:
                x.v.f64 = float(v.value)
            return
        original(x, v)

    convert_output._wasmplug_fixed = True
    sdk._convert_output = convert_output


def host_functions(calls):
    """The six extism:host/user functions host_functions.wasm imports.
    Numeric ones use explicit signatures: the SDK's annotation inference maps
    an `int` return to an 8-byte memory block (the guest gets its offset)."""
    V = extism.ValType

    @extism.host_fn(name="hello_world")
    def hello_world(who: str) -> str:
        calls.append(("hello_world", who))
        return f"Hello, {who}!"

    @extism.host_fn(name="add_i64", signature=([V.I64, V.I64], [V.I64]))
    def add_i64(cp, params, results):
        calls.append(("add_i64", params[0].value, params[1].value))
        total = (params[0].value + params[1].value + 2**63) % 2**64 - 2**63
        results[0].value = total

    @extism.host_fn(name="scale_f64", signature=([V.F64], [V.F64]))
    def scale_f64(cp, params, results):
        calls.append(("scale_f64", params[0].value))
        results[0].value = params[0].value * 2.5

    @extism.host_fn(name="flag_i32", signature=([V.I32], [V.I32]))
    def flag_i32(cp, params, results):
        calls.append(("flag_i32", params[0].value))
        results[0].value = (-params[0].value + 2**31) % 2**32 - 2**31

    @extism.host_fn(name="host_json")
    def host_json(doc: typing.Annotated[dict, extism.Json]) -> typing.Annotated[dict, extism.Json]:
        calls.append(("host_json", doc))
        return {"echo": doc, "keys": sorted(doc)}

    @extism.host_fn(name="no_args", signature=([], []))
    def no_args(cp, params, results):
        calls.append(("no_args",))

    return [hello_world, add_i64, scale_f64, flag_i32, host_json, no_args]


def test_host_functions():
    _fix_sdk_float_results()
    calls = []
    fns = host_functions(calls)
    p = extism.Plugin(wasm("host_functions.wasm"), wasi=False, functions=fns)

    out = call_ok(p, "say_hello", "wörld 🌎")
    check("say_hello", out == "Hello, wörld 🌎!".encode() and calls == [("hello_world", "wörld 🌎")], (out, calls))
    calls.clear()
    check("say_hello: empty input", call_ok(p, "say_hello", "") == b"Hello, !")

    for inp, exp in (("40,2", b"42"), (" -5 , 3 ", b"-2"), ("9223372036854775807,1", b"-9223372036854775808"),
                     ("-9223372036854775808,0", b"-9223372036854775808")):
        out = call_ok(p, "add", inp)
        check(f"add {inp!r}", out == exp, out)
    check("add: host got i64 values", ("add_i64", 40, 2) in calls, calls)
    err = call_err(p, "add", "42")
    check("add: no comma", err == "add: expected input a,b", err)
    err = call_err(p, "add", "1,x")
    check("add: not a number", err == "add: input is not two decimal i64s: '1,x'", err)
    err = call_err(p, "add", "9223372036854775808,0")
    check("add: i64 overflow", err.startswith("add: input is not two decimal i64s"), err)

    for inp, exp in (("2", "5.0"), ("1.5", "3.75"), ("-0.1", "-0.25"), ("1e300", "2.5e+300"),
                     ("1e308", "Infinity"), ("0", "0.0"), ("NaN", "NaN")):
        out = call_ok(p, "scale", inp)
        check(f"scale {inp!r} -> {exp}", out == exp.encode(), out)
    check("scale: host got f64", ("scale_f64", 1.5) in calls)
    err = call_err(p, "scale", "abc")
    check("scale: not a number", err == "scale: input is not a number: 'abc'", err)

    for inp, exp in (("21", b"-21"), ("-7", b"7"), ("0", b"0"), ("-2147483648", b"-2147483648"),
                     ("2147483647", b"-2147483647")):
        out = call_ok(p, "flag", inp)
        check(f"flag {inp!r}", out == exp, out)
    err = call_err(p, "flag", "2147483648")
    check("flag: out of i32 range", err == "flag: input is not a decimal i32: '2147483648'", err)

    doc = {"a": [1, 2, {"b": None}], "s": "ü\"\n", "n": 1.5}
    calls.clear()
    out = call_ok(p, "json_roundtrip", json.dumps(doc))
    ok = isinstance(out, bytes) and json.loads(out) == {"echo": doc, "keys": ["a", "n", "s"]}
    check("json_roundtrip", ok and calls == [("host_json", doc)], (out, calls))

    calls.clear()
    out = call_ok(p, "call_no_args", "ignored")
    check("call_no_args", out == b"done" and calls == [("no_args",)], (out, calls))

    try:
        extism.Plugin(wasm("host_functions.wasm"), wasi=False, functions=fns[:-1])
        err = "<created>"
    except extism.Error as e:
        err = str(e)
    check("host_functions: missing host function fails to load",
          err == "Unable to create Extism plugin: unknown import: `extism:host/user::no_args` has not been defined", err)


class _EchoHandler(http.server.BaseHTTPRequestHandler):
    """Answers every method with JSON {method, path, headers, body}; paths
    starting with /status/N answer with status N."""

    protocol_version = "HTTP/1.1"

    def _handle(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        doc = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
        }
        out = json.dumps(doc, sort_keys=True).encode()
        status = int(self.path.split("/")[2]) if self.path.startswith("/status/") else 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Echo", "yes")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

    def log_message(self, *args):
        pass


def test_http():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    manifest = {"wasm": [{"data": wasm("http.wasm")}], "allowed_hosts": ["127.0.0.1"]}
    p = extism.Plugin(manifest, wasi=False, functions=[])

    def fetch(req):
        out = call_ok(p, "fetch", json.dumps(req))
        if not isinstance(out, bytes):
            return out, None
        res = json.loads(out)
        try:
            echo = json.loads(res["body"])
        except ValueError:
            echo = None
        return res, echo

    try:
        res, echo = fetch({"url": base + "/get?x=1", "method": "GET", "headers": {"X-Test": "one"}})
        check("fetch GET: status", res["status"] == 200 and set(res) == {"status", "body"}, res)
        check("fetch GET: method, path, header",
              echo["method"] == "GET" and echo["path"] == "/get?x=1" and echo["headers"]["x-test"] == "one", echo)
        check("fetch GET: no body sent", echo["body"] == "" and "content-length" not in echo["headers"], echo)

        body = 'héllo "quoted"\n🌎'
        res, echo = fetch({"url": base + "/post", "method": "POST",
                           "headers": {"Content-Type": "text/plain"}, "body": body})
        check("fetch POST: body round trip (UTF-8, escapes)",
              res["status"] == 200 and echo["method"] == "POST" and echo["body"] == body
              and echo["headers"]["content-length"] == str(len(body.encode())), echo)

        for method in ("PUT", "DELETE", "PATCH"):
            res, echo = fetch({"url": base + "/m", "method": method, "headers": {}, "body": "x"})
            check(f"fetch {method}", res["status"] == 200 and echo["method"] == method and echo["body"] == "x", echo)

        res, echo = fetch({"url": base + "/status/404", "method": "GET", "headers": {}})
        check("fetch: 404 status and body", res["status"] == 404 and echo["path"] == "/status/404", res)
        res, echo = fetch({"url": base + "/status/500"})
        check("fetch: 500, method defaults to GET", res["status"] == 500 and echo["method"] == "GET", res)
        res, _ = fetch({"url": base + "/head", "method": "HEAD"})
        check("fetch HEAD: empty body", res == {"status": 200, "body": ""}, res)
        res, echo = fetch({"url": base + "/null", "body": None})
        check("fetch: body null = no body", echo["body"] == "" and "content-length" not in echo["headers"], echo)

        err = call_err(p, "fetch", "{bad")
        check("fetch: invalid JSON", err == "fetch: invalid request JSON: expected '\"' at byte 1", err)
        err = call_err(p, "fetch", json.dumps({"url": base, "body": 5}))
        check("fetch: non-string body", err.startswith("fetch: invalid request JSON: body must be a string or null"), err)

        # Host-side failures trap inside http_request; the SDK's message is only
        # the wasm backtrace (the reason is logged by the runtime at ERROR).
        for label, man, req, reason in (
            ("host not allowed", {}, {"url": base + "/x"}, f"HTTP request to {base}/x is not allowed"),
            ("other host allowed", {"allowed_hosts": ["example.com"]}, {"url": base + "/x"},
             f"HTTP request to {base}/x is not allowed"),
            ("unknown request member", {"allowed_hosts": ["127.0.0.1"]}, {"url": base, "extra": 1},
             "unknown field `extra`, expected one of `url`, `headers`, `method`"),
            ("connection refused", {"allowed_hosts": ["127.0.0.1"]}, {"url": "http://127.0.0.1:1/"},
             "Connection refused"),
        ):
            q = extism.Plugin({**man, "wasm": [{"data": wasm("http.wasm")}]}, wasi=False, functions=[])
            pdk_logs()
            err = call_err(q, "fetch", json.dumps(req))
            _logger.drain()
            logged = "\n".join(LOGS)
            LOGS.clear()
            check(f"fetch: {label} traps", err.startswith("error while executing at wasm backtrace:")
                  and reason in logged, (err, reason))
    finally:
        server.shutdown()
        server.server_close()


def main():
    print(f"extism runtime {extism.extism_version()}")
    test_module_shapes()
    test_count_vowels()
    test_echo()
    test_host_env()
    test_errors()
    test_host_functions()
    test_http()
    print(f"{PASSED} passed, {FAILED} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())

"""Generated code in the sandbox: results, JS errors with line numbers, and hostile code.

Every attack has its exact outcome, and after each one the host is unharmed:
the process goes on, the next run works, no request left, no file was read.
"""

from __future__ import annotations

import os
import time
from http.server import BaseHTTPRequestHandler

import pytest

from wasmplug.gen import FunctionSandbox, Limits, RunError

from ..http_server import serve_handler

HEALTHY = "module.exports = function (input) { return input.toUpperCase(); };"


def fn(body: str) -> str:
    """A generated module whose function body starts on line 2."""
    return f"module.exports = function (input) {{\n{body}\n}};"


def assert_unharmed(sandbox: FunctionSandbox) -> None:
    assert sandbox.run(HEALTHY, "still here") == "STILL HERE"


def failure(sandbox: FunctionSandbox, code: str, input: str = "") -> RunError:
    with pytest.raises(RunError) as info:
        sandbox.run(code, input)
    assert_unharmed(sandbox)
    return info.value


@pytest.fixture
def sandbox() -> FunctionSandbox:
    return FunctionSandbox(Limits(timeout_s=1.0, memory_bytes=16 * 1024 * 1024))


@pytest.mark.parametrize(("code", "output"), [
    (fn("  return input.length;"), "11"),
    (fn("  return input.split(' ');"), '["hello","world"]'),
    (fn("  return {words: 2, ok: true};"), '{"words":2,"ok":true}'),
    (fn("  return undefined;"), ""),
    (fn("  return 'héllo ' + input;"), "héllo hello world"),
    ("module.exports = async (input) => input.length * 2;", "22"),
    ("module.exports = { default: (s) => s.at(-1) };", "d"),
])
def test_results_are_printed_as_strings_or_json(sandbox: FunctionSandbox, code: str,
                                                 output: str) -> None:
    assert sandbox.run(code, "hello world") == output


def test_defaults_are_2_seconds_and_32_mib_without_network() -> None:
    assert Limits() == Limits(timeout_s=2.0, memory_bytes=32 * 1024 * 1024, fuel=None,
                              allowed_hosts=(), max_output_bytes=8 * 1024 * 1024)


def test_a_js_exception_has_its_message_and_line(sandbox: FunctionSandbox) -> None:
    body = "  const words = input.split(' ');\n  throw new TypeError('bad: ' + words[0]);"
    error = failure(sandbox, fn(body), "hello world")
    assert str(error) == "TypeError: bad: hello (line 3)"
    assert error.line == 3 and error.limit is None


def test_code_that_does_not_compile(sandbox: FunctionSandbox) -> None:
    with pytest.raises(RunError, match=r"^SyntaxError: .* \(line 2\)$"):
        sandbox.check("module.exports = function (input) {\n  return input..length;\n};")
    with pytest.raises(RunError, match=r"^SyntaxError: expecting ';' \(at the end of the code\)$"):
        sandbox.check("module.exports = function (input) {\n  return input.length")
    sandbox.check(HEALTHY)


def test_a_module_without_a_function(sandbox: FunctionSandbox) -> None:
    with pytest.raises(RunError, match=r"^TypeError: the module must export a function: "
                                       r"module.exports = function \(input\) \{ \.\.\. \}$"):
        sandbox.check("module.exports = 42;")


def test_state_is_fresh_for_each_run(sandbox: FunctionSandbox) -> None:
    code = ("let calls = 0;\nmodule.exports = function (input) {\n  calls++;\n"
            "  const stored = Number(Var.getString('n') || 0) + 1;\n  Var.set('n', String(stored));\n"
            "  globalThis.leak = (globalThis.leak || 0) + 1;\n  return [calls, stored, globalThis.leak];\n};")
    assert [sandbox.run(code, "") for _ in range(3)] == ["[1,1,1]"] * 3


@pytest.mark.timeout(30)
def test_endless_loop_ends_at_the_timeout(sandbox: FunctionSandbox) -> None:
    started = time.monotonic()
    error = failure(sandbox, fn("  while (true) {}"))
    assert str(error) == "timeout: the function ran longer than 1 s (raise it with --timeout)"
    assert error.limit == "timeout"
    assert time.monotonic() - started < 10


@pytest.mark.timeout(30)
def test_endless_loop_at_the_top_level_ends_at_the_timeout(sandbox: FunctionSandbox) -> None:
    error = failure(sandbox, "for (;;) {}\nmodule.exports = (s) => s;")
    assert error.limit == "timeout"


@pytest.mark.timeout(60)
def test_endless_loop_with_fuel() -> None:
    sandbox = FunctionSandbox(Limits(fuel=50_000_000))
    error = failure(sandbox, fn("  let i = 0;\n  while (true) { i++; }"))
    assert str(error) == "the function ran out of fuel (50000000 instructions; raise it with --fuel)"
    assert error.limit == "fuel"


@pytest.mark.timeout(30)
def test_memory_bomb_hits_the_cap(sandbox: FunctionSandbox) -> None:
    body = "  const hoard = [];\n  while (true) hoard.push('x'.repeat(1 << 20) + hoard.length);"
    error = failure(sandbox, fn(body))
    assert str(error) == ("InternalError: out of memory (line 3): the function used more than the "
                          "16 MiB of memory it may use (raise it with --memory)")
    assert error.limit == "memory"


def test_unbounded_recursion_is_an_error(sandbox: FunctionSandbox) -> None:
    error = failure(sandbox, "module.exports = function f(input) {\n  return f(input) + 1;\n};")
    assert str(error) == "RangeError: Maximum call stack size exceeded (line 2)"


def test_huge_output_is_refused(sandbox: FunctionSandbox) -> None:
    error = failure(FunctionSandbox(), fn("  return 'x'.repeat(9 * 1024 * 1024);"))
    assert str(error) == ("the output (9437184 bytes) is larger than the 8 MiB allowed "
                          "(raise it with --max-output)")
    assert error.limit == "output"
    error = failure(sandbox, fn("  return 'x'.repeat(2 ** 30);"))
    assert str(error) == "RangeError: invalid string length (line 2)"


def test_http_to_a_host_not_allowed_is_refused(sandbox: FunctionSandbox) -> None:
    seen: list[str] = []

    class Secret(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "10")
            self.end_headers()
            self.wfile.write(b"the secret")

    with serve_handler(Secret) as url:
        code = fn(f"  return Http.request({{url: '{url}/secret', method: 'GET', headers: {{}}}}, "
                  "null).body;")
        error = failure(sandbox, code)
        assert str(error) == (f"HTTP request to {url}/secret is not allowed: the host '127.0.0.1' "
                              "does not match the manifest's allowed_hosts (the function may only "
                              "reach hosts given with --allow-host)")
        assert error.limit == "network"
        assert seen == []
        # Allowed explicitly, the same code gets through.
        allowed = FunctionSandbox(Limits(allowed_hosts=("127.0.0.1",)))
        assert allowed.run(code, "") == "the secret"
        assert seen == ["/secret"]


@pytest.mark.parametrize(("body", "message"), [
    ("  return require('fs').readFileSync('/etc/passwd', 'utf8');",
     "ReferenceError: require is not defined (line 2)"),
    ("  return process.env.OPENAI_API_KEY;", "ReferenceError: process is not defined (line 2)"),
    ("  return std.loadFile('/etc/passwd');", "ReferenceError: std is not defined (line 2)"),
    ("  return os.open('/etc/passwd', 0);", "ReferenceError: os is not defined (line 2)"),
    # fetch exists (the JS PDK's), over the same host call as Http.request: refused here
    ("  return fetch('http://127.0.0.1/');",
     "HTTP request to http://127.0.0.1/ is not allowed: the host '127.0.0.1' does not match the "
     "manifest's allowed_hosts (the function may only reach hosts given with --allow-host)"),
])
def test_no_files_no_environment(sandbox: FunctionSandbox, body: str, message: str,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak")
    assert str(failure(sandbox, fn(body))) == message


@pytest.mark.parametrize("target", ["fs", "/etc/passwd", "node:process"])
def test_no_module_loading(sandbox: FunctionSandbox, target: str) -> None:
    code = f"module.exports = async function (input) {{\n  return String(await import('{target}'));\n}};"
    assert str(failure(sandbox, code)) == f"ReferenceError: could not load module '{target}'"


def test_the_environment_and_config_are_empty_inside(sandbox: FunctionSandbox,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak")
    code = fn("  return [typeof process, typeof std, typeof os, typeof require, typeof fetch, "
              "typeof WebAssembly, Config.get('OPENAI_API_KEY')];")
    # fetch is the JS PDK's, over the host's http_request (allowed_hosts applies)
    assert sandbox.run(code, "") == '["undefined","undefined","undefined","undefined","function",' \
                                    '"undefined",null]'
    assert os.environ["OPENAI_API_KEY"] == "sk-must-not-leak"


def test_a_promise_that_never_settles(sandbox: FunctionSandbox) -> None:
    assert str(failure(sandbox, "module.exports = () => new Promise(() => {});")) == (
        "InternalError: the function's promise never settled (nothing left to run)")

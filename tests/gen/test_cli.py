"""`wasmplug gen` from the command line, against the fake chat-completions server."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import extism
import pytest
from click.testing import CliRunner

import wasmplug
from wasmplug.cli import main
from wasmplug.gen import ExampleResult, Function, Store

from ..chat_server import Reply, chat_server
from .answers import INVALID_JS, VOWELS, VOWELS_CODE, VOWELS_FENCED, VOWELS_WRONG


def gen(*args: str, input: str | bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["gen", *args], input=input)
    return result.exit_code, result.stdout, result.stderr


def saved_vowels(root: Path) -> Function:
    function = Function(name="vowels", code=VOWELS_CODE, description="count the vowels",
                        model="gpt-test", examples=[ExampleResult("hello world", "3", output="3"),
                                                    ExampleResult("AEIOU", "5", output="0")])
    Store(root).save(function)
    return function


def test_list_show_rm(gen_dir: Path) -> None:
    assert gen("list") == (0, "", f"no functions in {gen_dir}\n")
    function = saved_vowels(gen_dir)
    assert gen("list") == (0, "vowels\t1/2\tcount the vowels\n", "")
    code, out, _ = gen("show", "vowels")
    assert code == 0
    assert out.splitlines()[:8] == [
        "name:        vowels",
        "description: count the vowels",
        "model:       gpt-test",
        f"created:     {function.created}",
        f"sha256:      {function.sha256}",
        "examples:    1/2 pass (attempt 1)",
        "  pass  'hello world' -> expected '3', got '3'",
        "  FAIL  'AEIOU' -> expected '5', got '0'"]
    assert out.endswith(VOWELS_CODE + "\n")
    assert gen("rm", "vowels") == (0, "", "removed vowels\n")
    code, _, err = gen("show", "vowels")
    assert code == 1 and err.startswith("error: no function named 'vowels'")


def test_dir_option_overrides_the_environment(gen_dir: Path, tmp_path: Path) -> None:
    saved_vowels(tmp_path / "elsewhere")
    assert gen("--dir", str(tmp_path / "elsewhere"), "list")[1] == "vowels\t1/2\tcount the vowels\n"
    assert gen("list")[1] == ""


def test_new_refuses_to_replace_without_force(gen_dir: Path) -> None:
    saved_vowels(gen_dir)
    code, _, err = gen("new", "vowels", "-d", "something else")
    assert code == 1
    assert err == ("error: a function named 'vowels' exists: pass --force to replace it, or "
                   "`wasmplug gen rm vowels` first\n")


@pytest.mark.parametrize(("reply", "expected"), [
    (Reply(401, "Incorrect API key provided"), "refused the API key (401 Unauthorized: Incorrect "
                                               "API key provided); set OPENAI_API_KEY to a valid key"),
    (Reply(500, "The server had an error"), "failed with 500 Internal Server Error: The server had "
                                            "an error; the server has a problem, try again later"),
])
def test_new_reports_api_errors_and_saves_nothing(gen_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                  reply: Reply, expected: str) -> None:
    with chat_server([reply]) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        code, out, err = gen("new", "vowels", "-d", "count the vowels in the input")
    assert code == 1 and out == ""
    assert err.startswith(f"error: the chat-completions API at {server.base_url}/chat/completions ")
    assert err.rstrip("\n").endswith(expected)
    assert Store(gen_dir).names() == []


def test_new_without_a_key(gen_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    code, _, err = gen("new", "vowels", "-d", "count the vowels")
    assert code == 1 and err.startswith("error: no API key: set OPENAI_API_KEY")


def test_invalid_name(gen_dir: Path) -> None:
    code, _, err = gen("run", "../x")
    assert code == 1 and err.startswith("error: invalid function name '../x'")


def test_new_then_run_from_input_and_stdin(gen_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with chat_server([VOWELS_FENCED]) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        code, out, err = gen("new", "vowels", "-d", "count the vowels in the input", "-m", "gpt-x")
    assert code == 0, err
    assert out == VOWELS_CODE + "\n"
    assert err == f"saved vowels in {gen_dir / 'vowels'} (4/4 examples pass, attempt 1)\n"
    assert server.requests[0]["body"]["model"] == "gpt-x"
    assert Store(gen_dir).load("vowels").model == "gpt-x"
    assert gen("run", "vowels", "--input", "Hello, World") == (0, "3\n", "")
    assert gen("run", "vowels", input="hello world\n") == (0, "3\n", "")
    assert gen("run", "vowels", input="") == (0, "0\n", "")


def test_new_shows_the_correction_attempts(gen_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with chat_server([INVALID_JS, VOWELS_WRONG, VOWELS]) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        code, out, err = gen("new", "vowels", "-d", "count the vowels")
    assert code == 0 and out == VOWELS_CODE + "\n"
    assert err.splitlines() == [
        "attempt 1/3: The code does not compile: SyntaxError: expecting ';' (at the end of the code)",
        'attempt 2/3: Example 2 failed: input "AEIOU", expected "5", but it returned "0".',
        f"saved vowels in {gen_dir / 'vowels'} (4/4 examples pass, attempt 3)"]


def test_new_keeps_the_best_attempt_and_warns(gen_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with chat_server([VOWELS_WRONG]) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        code, _, err = gen("new", "vowels", "-d", "count the vowels", "--attempts", "2")
    assert code == 0
    assert err.splitlines()[-2:] == [
        f"saved vowels in {gen_dir / 'vowels'} (3/4 examples pass, attempt 2)",
        "warning: 1 example(s) still fail: check them with `wasmplug gen show vowels`, or "
        "`wasmplug gen edit vowels`"]
    assert len(server.requests) == 2


def test_new_with_no_compiling_answer_saves_nothing(gen_dir: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    with chat_server([INVALID_JS]) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        code, out, err = gen("new", "vowels", "-d", "count the vowels")
    assert code == 1 and out == ""
    assert err.endswith("error: no JavaScript that compiles after 3 attempt(s):\n"
                        "  attempt 1: The code does not compile: SyntaxError: expecting ';' (at the end "
                        "of the code)\n"
                        "  attempt 2: The code does not compile: SyntaxError: expecting ';' (at the end "
                        "of the code)\n"
                        "  attempt 3: The code does not compile: SyntaxError: expecting ';' (at the end "
                        "of the code)\n"
                        "describe the function differently, or allow more --attempts\n")
    assert len(server.requests) == 3
    assert Store(gen_dir).names() == []


def test_new_retries_a_429(gen_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with chat_server([Reply(429, "slow down", {"Retry-After": "0"}), VOWELS]) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        code, _, err = gen("new", "vowels", "-d", "count the vowels")
    assert code == 0, err
    assert len(server.requests) == 2


def test_run_reports_js_errors_and_limits(gen_dir: Path) -> None:
    store = Store(gen_dir)
    store.save(Function(name="thrower", code="module.exports = function (input) {\n"
                        "  if (!input) throw new RangeError('empty input');\n  return input;\n};",
                        description="d", model="m"))
    store.save(Function(name="spin", code="module.exports = () => { for (;;) {} };",
                        description="d", model="m"))
    assert gen("run", "thrower", "--input", "") == (1, "", "error: RangeError: empty input (line 2)\n")
    assert gen("run", "thrower", "--input", "ok") == (0, "ok\n", "")
    assert gen("run", "spin", "--timeout", "0.3") == (
        1, "", "error: timeout: the function ran longer than 0.3 s (raise it with --timeout)\n")


def test_run_reaches_the_network_only_with_allow_host(gen_dir: Path) -> None:
    with chat_server(["unused"]) as server:
        Store(gen_dir).save(Function(
            name="post", description="d", model="m",
            code="module.exports = function (input) {\n  return Http.request({url: input, method: "
                 "'POST', headers: {}}, 'x').status;\n};"))
        url = server.base_url + "/chat/completions"
        code, _, err = gen("run", "post", "--input", url)
        assert code == 1 and err.startswith(f"error: HTTP request to {url} is not allowed")
        assert server.requests == []
        assert gen("run", "post", "--input", url, "--allow-host", "127.0.0.1") == (0, "200\n", "")
        assert len(server.requests) == 1


def test_edit_rechecks_and_reruns_the_examples(gen_dir: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    saved_vowels(gen_dir)
    editor = tmp_path / "editor.py"
    editor.write_text("import sys, pathlib\np = pathlib.Path(sys.argv[1])\n"
                      "p.write_text(p.read_text().replace('count++', 'count += 2'))\n")
    monkeypatch.setenv("EDITOR", f'"{sys.executable}" "{editor}"')
    code, _, err = gen("edit", "vowels")
    assert (code, err) == (0, "vowels: saved (0/2 examples pass)\n")
    function = Store(gen_dir).load("vowels")
    assert "count += 2" in function.code and not function.modified
    assert [(e.output, e.passed) for e in function.examples] == [("6", False), ("10", False)]
    assert gen("run", "vowels", "--input", "hello world")[1] == "6\n"

    editor.write_text("import sys, pathlib\npathlib.Path(sys.argv[1]).write_text('module.exports = (')\n")
    code, _, err = gen("edit", "vowels")
    assert code == 1
    assert err.startswith("error: the edited code of 'vowels' does not compile: SyntaxError")
    assert err.endswith("the file is kept: fix it with `wasmplug gen edit vowels`\n")
    assert Store(gen_dir).load("vowels").modified


def test_edit_without_change(gen_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    saved_vowels(gen_dir)
    monkeypatch.setenv("EDITOR", "true")
    assert gen("edit", "vowels") == (0, "", "vowels: unchanged\n")


def test_export_builds_a_standalone_plugin(gen_dir: Path, tmp_path: Path) -> None:
    saved_vowels(gen_dir)
    out = tmp_path / "vowels.wasm"
    code, _, err = gen("export", "vowels", "-o", str(out))
    assert (code, err) == (0, f"wrote {out}: an Extism plug-in whose export `run` takes the input "
                              f"text; it needs WASI: `wasmplug call {out} run --wasi --input TEXT`\n")
    with wasmplug.Plugin(str(out), wasi=True) as plugin:
        assert plugin.call("run", "hello world") == b"3"
    with extism.Plugin(out.read_bytes(), wasi=True, functions=[]) as plugin:
        assert plugin.call("run", "Wasm is a sandbox") == b"5"


@pytest.mark.timeout(120)
def test_done_scenario_as_subprocesses(tmp_path: Path) -> None:
    """`wasmplug gen new vowels -d ...` then `echo "hello world" | wasmplug gen run vowels` prints 3."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["WASMPLUG_GEN_DIR"] = str(tmp_path / "functions")
    env["OPENAI_API_KEY"] = "sk-test"
    with chat_server([VOWELS_FENCED]) as server:
        env["OPENAI_BASE_URL"] = server.base_url
        new = subprocess.run([sys.executable, "-m", "wasmplug", "gen", "new", "vowels", "-d",
                              "count the vowels in the input"], env=env, capture_output=True,
                             text=True, timeout=90, stdin=subprocess.DEVNULL)
    assert new.returncode == 0, new.stderr
    assert new.stdout == VOWELS_CODE + "\n"
    assert server.requests[0]["body"]["messages"][1]["content"] == (
        "Write the function for this tool: count the vowels in the input")
    run = subprocess.run(f'echo "hello world" | "{sys.executable}" -m wasmplug gen run vowels',
                         shell=True, env=env, capture_output=True, text=True, timeout=90)
    assert (run.returncode, run.stdout, run.stderr) == (0, "3\n", "")


@pytest.mark.timeout(120)
def test_run_does_not_wait_for_a_terminal_on_stdin(gen_dir: Path) -> None:
    """With a terminal on stdin and no --input, the input is empty (nothing is read)."""
    Store(gen_dir).save(Function(name="length", code="module.exports = (s) => s.length;",
                                 description="d", model="m"))
    main_fd, terminal = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-m", "wasmplug", "gen", "run", "length"],
                              stdin=terminal, capture_output=True, text=True, timeout=90,
                              env={**os.environ, "WASMPLUG_GEN_DIR": str(gen_dir)})
    finally:
        os.close(main_fd)
        os.close(terminal)
    assert (done.returncode, done.stdout, done.stderr) == (0, "0\n", "")


ALL_WRONG = VOWELS_CODE + '\nEXAMPLES\n[{"input": "ab", "output": 7}, {"input": "", "output": 9}]'
NO_EXAMPLES = VOWELS_CODE + "\nEXAMPLES\n[]"


@pytest.mark.parametrize("answer", [ALL_WRONG, NO_EXAMPLES])
def test_new_refuses_to_save_a_function_no_example_supports(
        answer: str, gen_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with chat_server([answer]) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        code, out, err = gen("new", "vowels", "-d", "count the vowels", "--attempts", "1")
    assert code == 1 and out == VOWELS_CODE + "\n"
    assert "error: vowels was not saved: " in err and "--keep-failing" in err
    assert Store(gen_dir).names() == []
    with chat_server([answer]) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        code, _, err = gen("new", "vowels", "-d", "count the vowels", "--attempts", "1",
                           "--keep-failing")
    assert code == 0, err
    assert Store(gen_dir).names() == ["vowels"]


def test_new_says_when_it_waits_for_a_429(gen_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with chat_server([Reply(429, "slow down", {"Retry-After": "0"}), VOWELS]) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        code, _, err = gen("new", "vowels", "-d", "count the vowels")
    assert code == 0, err
    assert re.search(r"/v1/chat/completions answered 429 \(slow down\); retrying in \d+\.\d\d s\n", err)


def test_run_reads_stdin_as_utf8_and_drops_one_trailing_newline(
        gen_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reverse = ("module.exports = (input) => [...input].reverse().join('');\n"
               'EXAMPLES\n[{"input": "ab", "output": "ba"}]')
    with chat_server([reverse]) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        assert gen("new", "reverse", "-d", "reverse the input")[0] == 0
    assert gen("run", "reverse", input="hello\n") == (0, "olleh\n", "")
    assert gen("run", "reverse", input="hello\r\n") == (0, "olleh\n", "")
    assert gen("run", "reverse", "--keep-newline", input="hello\n") == (0, "\nolleh\n", "")
    assert gen("run", "reverse", input="two\n\n") == (0, "\nowt\n", "")  # only one is dropped
    code, out, err = gen("run", "reverse", input=b"ab\xffcd")
    assert code == 1 and out == ""
    assert err.startswith("error: standard input is not valid UTF-8 (byte 0xff at offset 2)")
    assert "Traceback" not in err

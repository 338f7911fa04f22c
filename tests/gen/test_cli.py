"""`wasmplug gen` from the command line, against the fake chat-completions server."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from wasmplug.cli import main
from wasmplug.gen import ExampleResult, Function, Store

from ..chat_server import Reply, chat_server
from .answers import VOWELS_CODE


def gen(*args: str, input: str | None = None) -> tuple[int, str, str]:
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

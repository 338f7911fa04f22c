"""The correction loop, against the fake chat-completions server and the real sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from wasmplug.gen import (
    SYSTEM_PROMPT,
    ChatClient,
    FunctionSandbox,
    GenerationFailed,
    Limits,
    Store,
    generate,
)

from ..chat_server import chat_server
from .answers import INVALID_JS, VOWELS, VOWELS_CODE, VOWELS_FENCED, VOWELS_WRONG

DESCRIPTION = "count the vowels in the input"


def make(script: list[str], attempts: int = 3) -> tuple[object, list[list[dict[str, str]]]]:
    with chat_server(script) as server:
        client = ChatClient(api_key="sk-test", base_url=server.base_url, model="gpt-test")
        function = generate("vowels", DESCRIPTION, client, FunctionSandbox(Limits()),
                            attempts=attempts)
    return function, server.prompts


@pytest.mark.parametrize("answer", [VOWELS, VOWELS_FENCED], ids=["unfenced", "fenced"])
def test_generate_save_run(answer: str, tmp_path: Path) -> None:
    function, prompts = make([answer])
    assert function.code == VOWELS_CODE
    assert function.attempts == 1 and function.model == "gpt-test"
    assert [(e.input, e.expected, e.output, e.passed) for e in function.examples] == [
        ("hello world", "3", "3", True), ("AEIOU", "5", "5", True), ("rhythm", "0", "0", True),
        ("", "0", "0", True)]
    assert prompts == [[{"role": "system", "content": SYSTEM_PROMPT},
                        {"role": "user", "content": f"Write the function for this tool: {DESCRIPTION}"}]]
    store = Store(tmp_path)
    store.save(function)
    loaded = store.load("vowels")
    assert FunctionSandbox().run(loaded.code, "hello world\n") == "3"


def test_a_wrong_first_answer_is_corrected_on_the_second_attempt() -> None:
    function, prompts = make([VOWELS_WRONG, VOWELS])
    assert function.attempts == 2 and function.code == VOWELS_CODE
    assert function.passed == 4
    second = prompts[1]
    assert second[2] == {"role": "assistant", "content": VOWELS_WRONG}
    assert second[3]["role"] == "user"
    assert second[3]["content"].startswith(
        'Example 2 failed: input "AEIOU", expected "5", but it returned "0".\n'
        "Send the whole corrected answer in the same format")


def test_invalid_javascript_is_sent_back_then_fixed() -> None:
    function, prompts = make([INVALID_JS, VOWELS])
    assert function.attempts == 2 and function.passed == 4
    feedback = prompts[1][3]["content"]
    assert feedback.startswith("The code does not compile: SyntaxError")


def test_no_compiling_answer_fails_with_every_attempt_listed() -> None:
    with pytest.raises(GenerationFailed) as info:
        make([INVALID_JS], attempts=2)
    assert str(info.value).startswith("no JavaScript that compiles after 2 attempt(s):\n"
                                      "  attempt 1: The code does not compile: SyntaxError")
    assert len(info.value.attempts) == 2


def test_when_no_attempt_passes_the_best_is_kept_with_its_results() -> None:
    function, prompts = make([VOWELS_WRONG], attempts=2)
    assert len(prompts) == 2
    assert function.passed == 3 and len(function.examples) == 4
    failing = [e for e in function.examples if not e.passed]
    assert [(e.input, e.output) for e in failing] == [("AEIOU", "0")]


def test_missing_examples_are_asked_for_again() -> None:
    function, prompts = make([VOWELS_CODE, VOWELS])
    assert function.attempts == 2
    assert prompts[1][3]["content"].startswith(
        "The examples could not be read: no line 'EXAMPLES' followed by a JSON array of examples.")


def test_an_example_that_throws_reports_message_and_line() -> None:
    throwing = VOWELS.replace("let count = 0;", 'if (input === "rhythm") throw new Error("no vowels");'
                                                "\n  let count = 0;")
    function, prompts = make([throwing, VOWELS])
    feedback = prompts[1][3]["content"]
    assert feedback.startswith('Example 3 failed: input "rhythm", expected "0", but it threw: ')
    assert "no vowels" in feedback and "line 2" in feedback
    assert function.attempts == 2


def test_a_module_that_exports_no_function_is_sent_back() -> None:
    function, prompts = make(["module.exports = 42;\nEXAMPLES\n[{\"input\": \"a\", \"output\": 1}]", VOWELS])
    assert function.attempts == 2
    assert prompts[1][3]["content"].startswith(
        "The code fails when loaded: TypeError: the module must export a function: "
        "module.exports = function (input) { ... }\n")

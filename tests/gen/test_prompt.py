"""Reading the model's answers: fences wherever they are, the examples, the prompt itself."""

from __future__ import annotations

import pytest

from wasmplug.gen.errors import GenError
from wasmplug.gen.prompt import SYSTEM_PROMPT, Example, parse_answer, render, strip_fences

CODE = "module.exports = function (input) {\n  return input.length;\n};"
EXAMPLES = '[{"input": "abc", "output": 3}, {"input": "", "output": "0"}]'
PLAIN = f"{CODE}\nEXAMPLES\n{EXAMPLES}"


def test_system_prompt_states_shape_globals_and_format() -> None:
    for needed in ("module.exports = function (input)", "Http.request", "console.log",
                   "no require", "no file system", "no environment", "No comments, no markdown",
                   "3 to 5 examples", "EXAMPLES"):
        assert needed in SYSTEM_PROMPT


@pytest.mark.parametrize("answer", [
    PLAIN,
    f"```javascript\n{CODE}\n```\nEXAMPLES\n{EXAMPLES}",                      # code fenced
    f"```js\n{CODE}\nEXAMPLES\n{EXAMPLES}\n```",                             # everything in one fence
    f"Here you go:\n```js\n{CODE}\n```\n\n**EXAMPLES**\n```json\n{EXAMPLES}\n```\nEnjoy!",  # prose
    f"```\n{CODE}\n```\nEXAMPLES:\n{EXAMPLES}",                               # bare fence, colon
    f"{CODE}\nEXAMPLES\n" + "\n".join(['{"input": "abc", "output": 3}', '{"input": "", "output": "0"}']),
])
def test_fences_and_prose_are_stripped_wherever_they_are(answer: str) -> None:
    parsed = parse_answer(answer)
    assert parsed.code == CODE
    assert parsed.examples == (Example("abc", 3), Example("", "0"))
    assert parsed.examples_problem is None


def test_unterminated_fence_runs_to_the_end() -> None:
    assert strip_fences(f"```js\n{CODE}") == CODE


def test_no_examples_is_reported_not_fatal() -> None:
    parsed = parse_answer(f"```js\n{CODE}\n```")
    assert parsed.code == CODE and parsed.examples == ()
    assert parsed.examples_problem == "no line 'EXAMPLES' followed by a JSON array of examples"


def test_bad_examples_are_reported() -> None:
    assert parse_answer(f"{CODE}\nEXAMPLES\nnot json").examples_problem.startswith(  # type: ignore[union-attr]
        "the examples after 'EXAMPLES' are not a JSON array")
    assert parse_answer(f'{CODE}\nEXAMPLES\n[{{"in": "x"}}]').examples_problem == (
        "example 1 is not an object with 'input' and 'output'")


def test_an_answer_without_code_is_an_error() -> None:
    with pytest.raises(GenError, match="no JavaScript"):
        parse_answer("```\n```\nEXAMPLES\n[]")


def test_render_matches_what_the_tool_prints() -> None:
    assert [render(v) for v in ("3", 3, True, None, [1, "é"], {"a": 1})] == [
        "3", "3", "true", "", '[1,"é"]', '{"a":1}']


def test_the_prompt_says_what_a_disallowed_host_does() -> None:
    """A request to a host that is not allowed fails the run (the host refuses the call);
    the prompt must not promise a catchable exception."""
    flat = " ".join(SYSTEM_PROMPT.split())
    assert "any other host throws" not in flat
    assert "stops the whole run with an error (it cannot be caught)" in flat

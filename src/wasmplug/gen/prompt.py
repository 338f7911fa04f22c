"""What the model is told, and how its answer is read.

The model answers with the module's JavaScript, a line `EXAMPLES`, and a JSON
array of 3-5 `{"input": ..., "output": ...}` pairs. Models wrap code in
markdown fences whatever they are told, so `parse_answer` strips fences
wherever they are (around everything, around each part, with prose around).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .errors import GenError

SYSTEM_PROMPT = """\
You write one JavaScript function for a text-processing command-line tool.

Module shape: a CommonJS module whose only export is the function, \
`module.exports = function (input) { ... };`. The function receives the tool's whole \
input as one string and returns the output: a string, or a number, boolean, array or \
object (printed as JSON). Throw an Error to report input it cannot handle.

Environment: a sandboxed JavaScript engine (QuickJS, ES2023) with the standard \
built-ins (String, Array, Math, JSON, RegExp, Date, Map, Set, TextEncoder, ...) and \
these globals:
- console.log(...): writes to the host's log, not to the output.
- Http.request({url, method, headers}, body): a synchronous HTTP request, returning \
{status, body}; body is a string or null. It only works for hosts the user allows: \
a request to any other host stops the whole run with an error (it cannot be caught), \
so only request hosts the description names.
There is no require, no import, no process, no file system, no environment \
variables and no timers; use Http.request, not fetch. The function must be synchronous.

Answer format, exactly: the module's JavaScript; then a line containing only \
EXAMPLES; then a JSON array of 3 to 5 examples the function must satisfy, \
[{"input": "...", "output": ...}], where input is a string and output is exactly \
what the function returns. No comments, no markdown, no explanations."""

MARKER = "EXAMPLES"
_FENCE = re.compile(r"^\s*(```|~~~)")
_MARKER_LINE = re.compile(r"^[\s#*/`>-]*EXAMPLES\s*:?[\s*`]*$", re.IGNORECASE)


@dataclass(frozen=True)
class Example:
    """One input/output pair the function must satisfy (`output` as the model wrote it)."""

    input: str
    output: Any

    @property
    def expected(self) -> str:
        return render(self.output)


@dataclass(frozen=True)
class Answer:
    """The model's answer, read: the code, the examples, and what was wrong with them."""

    code: str
    examples: tuple[Example, ...]
    examples_problem: str | None = None


def render(value: Any) -> str:
    """A result as the tool prints it: strings as they are, anything else as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def same_output(expected: str, actual: str) -> bool:
    """Outputs match when equal up to surrounding whitespace (models drop trailing newlines)."""
    return expected.strip() == actual.strip()


def user_prompt(description: str) -> str:
    return f"Write the function for this tool: {description.strip()}"


def strip_fences(text: str) -> str:
    """The text inside markdown fences, if there are any; else the text itself.

    With fenced blocks, prose outside them is dropped; an unterminated fence
    runs to the end of the text; fence lines with nothing inside them (a
    stray closing fence) are simply removed.
    """
    lines = text.splitlines()
    if not any(_FENCE.match(line) for line in lines):
        return text.strip()
    inside: list[str] = []
    fenced = False
    for line in lines:
        if _FENCE.match(line):
            fenced = not fenced
        elif fenced:
            inside.append(line)
    kept = "\n".join(inside).strip()
    return kept or "\n".join(line for line in lines if not _FENCE.match(line)).strip()


def parse_answer(text: str) -> Answer:
    """Split an answer into code and examples. Raises `GenError` if there is no code at all."""
    lines = text.splitlines()
    cut = next((i for i, line in enumerate(lines) if _MARKER_LINE.match(line)), None)
    head = lines if cut is None else lines[:cut]
    code = strip_fences("\n".join(head))
    if not code:
        raise GenError("the model's answer has no JavaScript in it")
    if cut is None:
        return Answer(code, (), f"no line '{MARKER}' followed by a JSON array of examples")
    tail = "\n".join(line for line in lines[cut + 1:] if not _FENCE.match(line))
    try:
        examples = _examples(tail)
    except ValueError as exc:
        return Answer(code, (), str(exc))
    return Answer(code, examples)


def _examples(text: str) -> tuple[Example, ...]:
    start, end = text.find("["), text.rfind("]")
    try:
        items = json.loads(text[start:end + 1] if 0 <= start < end else text)
    except ValueError:
        try:  # one JSON object per line
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError as exc:
            raise ValueError(f"the examples after '{MARKER}' are not a JSON array: {exc}") from None
    if not isinstance(items, list) or not items:
        raise ValueError(f"the examples after '{MARKER}' are not a non-empty JSON array")
    examples = []
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict) or "input" not in item or "output" not in item:
            raise ValueError(f"example {n} is not an object with 'input' and 'output'")
        value = item["input"]
        examples.append(Example(value if isinstance(value, str) else render(value), item["output"]))
    return tuple(examples)


def correction_prompt(problem: str) -> str:
    """The follow-up message after a failed attempt."""
    return (f"{problem}\nSend the whole corrected answer in the same format: the module's "
            f"JavaScript, a line {MARKER}, then the JSON array of examples. "
            "No comments, no markdown.")

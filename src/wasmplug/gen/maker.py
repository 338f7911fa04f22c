"""The correction loop: ask for a function, check it in the sandbox, send failures back.

Each attempt's answer is parsed (fences stripped), compiled in the sandbox and
run on the examples the model gave. A failure (no code, code that does not
compile, a failing or missing example) goes back to the model with the
failing case, up to `attempts` answers in all. The best compiling attempt is
returned with each example's result, so the caller can say which pass.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from .errors import GenerationFailed, GenError, RunError
from .llm import ChatClient, Message
from .prompt import SYSTEM_PROMPT, Example, correction_prompt, parse_answer, user_prompt
from .sandbox import FunctionSandbox
from .store import ExampleResult, Function

logger = logging.getLogger("wasmplug.gen")

DEFAULT_ATTEMPTS = 3


@dataclass(frozen=True)
class Progress:
    """What happened in one attempt (for a CLI to show): `problem` None means success."""

    attempt: int
    attempts: int
    problem: str | None


def run_examples(sandbox: FunctionSandbox, code: str, examples: tuple[Example, ...]
                 ) -> list[ExampleResult]:
    """Run each example in a fresh sandbox; record the output or the error."""
    results = []
    for example in examples:
        result = ExampleResult(example.input, example.expected)
        try:
            result.output = sandbox.run(code, example.input)
        except RunError as exc:
            result.error = str(exc)
        results.append(result)
    return results


def describe_failures(results: list[ExampleResult], limit: int = 3) -> str:
    """The failing examples, as told to the model."""
    lines = []
    for n, r in enumerate(results, 1):
        if r.passed:
            continue
        got = f"it threw: {r.error}" if r.error is not None else f"it returned {_quote(r.output)}"
        lines.append(f"Example {n} failed: input {_quote(r.input)}, expected {_quote(r.expected)}, "
                     f"but {got}.")
    return "\n".join(lines[:limit])


def _quote(text: str | None, limit: int = 300) -> str:
    shown = json.dumps(text, ensure_ascii=False)
    return shown if len(shown) <= limit else shown[:limit] + "...(cut)"


def generate(name: str, description: str, client: ChatClient, sandbox: FunctionSandbox, *,
             attempts: int = DEFAULT_ATTEMPTS,
             progress: Callable[[Progress], None] | None = None) -> Function:
    """Have the model write the function `name`; return it with its examples' results.

    Raises `GenerationFailed` when no attempt produced code that compiles,
    `ApiError` when the API fails. The result is not saved (see `Store.save`).
    """
    if attempts < 1:
        raise GenError(f"attempts must be at least 1, got {attempts}")
    messages: list[Message] = [{"role": "system", "content": SYSTEM_PROMPT},
                               {"role": "user", "content": user_prompt(description)}]
    best: Function | None = None
    problems: list[str] = []
    for attempt in range(1, attempts + 1):
        text = client.complete(messages)
        messages.append({"role": "assistant", "content": text})
        problem, function = _check(name, description, client.model, attempt, text, sandbox)
        if function is not None and (best is None or _score(function) >= _score(best)):
            best = function
        if progress is not None:
            progress(Progress(attempt, attempts, problem))
        if problem is None:
            assert function is not None
            return function
        logger.info("attempt %d/%d for %r failed: %s", attempt, attempts, name, problem)
        problems.append(problem)
        messages.append({"role": "user", "content": correction_prompt(problem)})
    if best is None:
        listing = "\n".join(f"  attempt {n}: {p}" for n, p in enumerate(problems, 1))
        raise GenerationFailed(f"no JavaScript that compiles after {attempts} attempt(s):\n{listing}\n"
                               "describe the function differently, or allow more --attempts",
                               problems)
    return best


def _check(name: str, description: str, model: str, attempt: int, text: str,
           sandbox: FunctionSandbox) -> tuple[str | None, Function | None]:
    try:
        answer = parse_answer(text)
    except GenError as exc:
        return f"Your answer could not be used: {exc}.", None
    try:
        sandbox.check(answer.code)
    except GenError as exc:
        what = "does not compile" if str(exc).startswith("SyntaxError") else "fails when loaded"
        return f"The code {what}: {exc}", None
    results = run_examples(sandbox, answer.code, answer.examples)
    function = Function(name=name, code=answer.code, description=description, model=model,
                        attempts=attempt, examples=results)
    if answer.examples_problem is not None:
        return f"The examples could not be read: {answer.examples_problem}.", function
    failures = describe_failures(results)
    return (failures or None), function


def _score(function: Function) -> float:
    return function.passed / len(function.examples) if function.examples else 0.0


def edited(function: Function, code: str, sandbox: FunctionSandbox) -> Function | None:
    """`function` with new code, checked and its examples re-run; None if the code is unchanged.

    Raises `GenError` if the new code does not compile.
    """
    code = code.rstrip("\n")
    if code == function.code:
        return None
    try:
        sandbox.check(code)
    except GenError as exc:
        raise GenError(f"the edited code of {function.name!r} does not compile: {exc}; the file is "
                       f"kept: fix it with `wasmplug gen edit {function.name}`") from None
    examples = tuple(Example(e.input, e.expected) for e in function.examples)
    return Function(name=function.name, code=code, description=function.description,
                    model=function.model, created=function.created, attempts=function.attempts,
                    examples=run_examples(sandbox, code, examples))

"""The utility maker: an LLM writes a JavaScript function, the Wasm sandbox runs it.

    from wasmplug.gen import ChatClient, FunctionSandbox, Limits, Store, generate

    client = ChatClient.from_env()                    # OPENAI_API_KEY, OPENAI_BASE_URL
    sandbox = FunctionSandbox(Limits(timeout_s=2))    # no network, no files, no env
    function = generate("vowels", "count the vowels in the input", client, sandbox)
    Store().save(function)                            # under the user data directory
    print(sandbox.run(function.code, "hello world"))  # 3

The command line is `wasmplug gen` (`src/wasmplug/cli/gen.py`).
"""

from typing import TYPE_CHECKING, Any

from .errors import ApiError, GenerationFailed, GenError, NotFound, RunError

# Imported when first used (as in `wasmplug/__init__`): `wasmplug gen run` needs the
# sandbox and the store, not the LLM client, the maker or the exporter (and their `logging`).
_LAZY = {
    "export_plugin": "export", "ChatClient": "llm",
    "DEFAULT_ATTEMPTS": "maker", "Progress": "maker", "edited": "maker", "generate": "maker",
    "run_examples": "maker",
    "SYSTEM_PROMPT": "prompt", "Answer": "prompt", "Example": "prompt", "parse_answer": "prompt",
    "FunctionSandbox": "sandbox", "Limits": "sandbox",
    "ExampleResult": "store", "Function": "store", "Store": "store",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from .export import export_plugin
    from .llm import ChatClient
    from .maker import DEFAULT_ATTEMPTS, Progress, edited, generate, run_examples
    from .prompt import SYSTEM_PROMPT, Answer, Example, parse_answer
    from .sandbox import FunctionSandbox, Limits
    from .store import ExampleResult, Function, Store

__all__ = [
    "DEFAULT_ATTEMPTS",
    "SYSTEM_PROMPT",
    "Answer",
    "ApiError",
    "ChatClient",
    "Example",
    "ExampleResult",
    "Function",
    "FunctionSandbox",
    "GenError",
    "GenerationFailed",
    "Limits",
    "NotFound",
    "Progress",
    "RunError",
    "Store",
    "edited",
    "export_plugin",
    "generate",
    "parse_answer",
    "run_examples",
]

"""Running generated code: wasmplug's JavaScript sandbox with the utility maker's limits.

Every run gets a fresh sandbox (nothing survives from one run to the next), a
timeout (default 2 s), a memory cap (default 32 MiB), optional fuel, an output
cap, and no network unless hosts are allowed; never files or environment
variables (the JS runtime has no API for them and gets no WASI directories).

The generated CommonJS module is wrapped (see `wrap`) so that its export is
called with the input and its result printed the same way in the sandbox and
in an exported plug-in; the wrapper keeps the code's line numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wasmplug import CallError, CallTimeout, Error
from wasmplug.js import JSError, Sandbox

from .errors import RunError

MiB = 1024 * 1024
FILENAME = "function.js"
RUN = "__wasmplug_gen_run"
SHAPE = "__wasmplug_gen_shape"

# Everything before the generated code is on its first line, so line N of the
# code is line N of the wrapped file.
_PREFIX = ("const __wasmplug_gen_module = (function () { const module = { exports: {} }; "
           "const exports = module.exports; (function (module, exports) {")
_SUFFIX = f"""
}})(module, exports); return module.exports; }})();
function __wasmplug_gen_entry() {{
  const m = __wasmplug_gen_module;
  if (typeof m === "function") return m;
  if (m !== null && typeof m === "object" && typeof m.default === "function") return m.default;
  throw new TypeError("the module must export a function: module.exports = function (input) {{ ... }}");
}}
function {SHAPE}() {{
  return typeof __wasmplug_gen_entry();
}}
function __wasmplug_gen_render(out) {{
  if (out === undefined || out === null) return "";
  if (typeof out === "string" || out instanceof ArrayBuffer || ArrayBuffer.isView(out)) return out;
  return JSON.stringify(out);
}}
function {RUN}(input) {{
  const out = __wasmplug_gen_entry()(input);
  return out instanceof Promise ? out.then(__wasmplug_gen_render) : __wasmplug_gen_render(out);
}}
"""


def wrap(code: str) -> str:
    """The generated module inside the wrapper that defines `RUN` and `SHAPE`."""
    return _PREFIX + code + _SUFFIX


@dataclass(frozen=True)
class Limits:
    """What one run of a generated function may use."""

    timeout_s: float = 2.0
    memory_bytes: int = 32 * MiB
    fuel: int | None = None
    allowed_hosts: tuple[str, ...] = ()
    max_output_bytes: int = 8 * MiB


class FunctionSandbox:
    """Compiles and runs generated functions under `limits`, each run in a fresh sandbox."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()

    def check(self, code: str) -> None:
        """Raise `RunError` unless `code` compiles and exports a function."""
        with self._sandbox(code, SHAPE) as box:
            self._call(box, code, "")

    def run(self, code: str, input: str) -> str:
        """The function's output for `input` (its result: a string, or JSON for other values)."""
        with self._sandbox(code, RUN) as box:
            return self._call(box, code, input)

    def _sandbox(self, code: str, entry: str) -> Sandbox:
        limits = self.limits
        try:
            return Sandbox(wrap(code), entry=entry, filename=FILENAME,
                           timeout_ms=max(1, round(limits.timeout_s * 1000)),
                           max_memory=limits.memory_bytes, fuel=limits.fuel,
                           allowed_hosts=limits.allowed_hosts)
        except Error as exc:
            raise self._explain(exc, code) from None

    def _call(self, box: Sandbox, code: str, input: str) -> str:
        try:
            output = box.call(input)
        except Error as exc:
            raise self._explain(exc, code) from None
        if len(output) > self.limits.max_output_bytes:
            raise RunError(f"the output ({len(output)} bytes) is larger than the "
                           f"{_size(self.limits.max_output_bytes)} allowed (raise it with "
                           "--max-output)", limit="output")
        return output.decode("utf-8", errors="replace")

    def _explain(self, exc: Error, code: str) -> RunError:
        limits = self.limits
        if isinstance(exc, JSError):
            line = _line(str(exc), code)
            message = exc.message
            where = f" (line {line})" if line is not None else ""
            if line is None and message.startswith("SyntaxError"):
                where = " (at the end of the code)"
            if "out of memory" in message:
                return RunError(f"{message}{where}: the function used more than the "
                                f"{_size(limits.memory_bytes)} of memory it may use (raise it with "
                                "--memory)", line=line, limit="memory")
            return RunError(f"{message}{where}", line=line)
        if isinstance(exc, CallTimeout):
            return RunError(f"timeout: the function ran longer than {limits.timeout_s:g} s "
                            "(raise it with --timeout)", limit="timeout")
        if isinstance(exc, CallError) and exc.limit == "fuel_limit":
            return RunError(f"the function ran out of fuel ({limits.fuel} instructions; raise it "
                            "with --fuel)", limit="fuel")
        if isinstance(exc, CallError) and exc.limit == "memory.max_pages":
            return RunError(f"the function used more than the {_size(limits.memory_bytes)} of memory "
                            f"it may use (raise it with --memory): {exc}", limit="memory")
        if "is not allowed" in str(exc):
            return RunError(f"{exc} (the function may only reach hosts given with --allow-host)",
                            limit="network")
        return RunError(str(exc))


def _line(text: str, code: str) -> int | None:
    """The innermost line of the generated code in a JS stack (wrapper lines skipped)."""
    last = code.count("\n") + 1
    for match in re.finditer(re.escape(FILENAME) + r":(\d+)", text):
        line = int(match.group(1))
        if line <= last:
            return line
    return None


def _size(n: int) -> str:
    return f"{n / MiB:g} MiB" if n >= MiB else f"{n} bytes"

"""How much an uploaded module asks the compiler to do, read from its sections before compiling.

A 5 MB module can declare 200,000 functions, or functions with millions of
locals, and cost a minute of compiling. `excess` reads the counts that drive
that cost from the binary's section headers (and the locals from each
function body's header, once the function count is known to be sane) and
names every one over its bound in `ModuleBounds`, so such a module is refused
before the compiler ever sees it.
"""

from __future__ import annotations

from dataclasses import dataclass

from wasmplug.binary import read_entries, read_vec, split_sections

_COUNTED = {2: "imports", 3: "functions", 6: "globals", 7: "exports", 11: "data segments",
            1: "types", 9: "element segments"}
_REF_WITH_HEAP_TYPE = (0x63, 0x64)  # (ref null ht), (ref ht): a heap type follows


@dataclass(frozen=True)
class ModuleBounds:
    """The most a game module may declare (the bundled JavaScript games need about a tenth)."""

    functions: int = 20_000
    imports: int = 1_000
    exports: int = 1_000
    globals: int = 10_000
    types: int = 10_000
    data_segments: int = 10_000
    element_segments: int = 10_000
    code_bytes: int = 16 * 1024 * 1024
    function_bytes: int = 1024 * 1024
    locals_per_function: int = 50_000
    locals: int = 1_000_000

    def bound(self, what: str) -> int:
        return int(getattr(self, what.replace(" ", "_")))


def excess(wasm: bytes, bounds: ModuleBounds | None = None) -> list[str]:
    """Why `wasm` declares too much to compile ([] if within `bounds`); ValueError if unreadable."""
    bounds = bounds or ModuleBounds()
    reasons: list[str] = []
    try:
        sections = split_sections(wasm)
        code = b""
        for section in sections:
            what = _COUNTED.get(section.id)
            if what is not None:
                count, _ = read_vec(section.payload)
                if count > bounds.bound(what):
                    reasons.append(f"it declares {count} {what}, more than the {bounds.bound(what)} "
                                   "a game may have")
            elif section.id == 10:
                code = section.payload
        if len(code) > bounds.code_bytes:
            reasons.append(f"its code is {len(code)} bytes, more than the {bounds.code_bytes} bytes "
                           "a game may have")
        if not reasons and code:
            reasons += _locals_excess(code, bounds)
    except (IndexError, ValueError) as exc:
        raise ValueError(f"its sections cannot be read ({exc})") from None
    return reasons


def _locals_excess(code: bytes, bounds: ModuleBounds) -> list[str]:
    """The code section's function bodies over their size or locals bounds."""
    total = 0
    for index, body in enumerate(read_entries(code)):
        if len(body) > bounds.function_bytes:
            return [f"function {index} is {len(body)} bytes long, more than the "
                    f"{bounds.function_bytes} bytes a game's function may have"]
        groups, r = read_vec(body)
        declared = 0
        for _ in range(groups):
            declared += r.uleb()
            if r.byte() in _REF_WITH_HEAP_TYPE:
                r.uleb()
            if declared > bounds.locals_per_function:
                return [f"function {index} declares more than {bounds.locals_per_function} locals, "
                        "the most a game's function may have"]
        total += declared
        if total > bounds.locals:
            return [f"its functions declare more than {bounds.locals} locals in all, the most a "
                    "game may have"]
    return []

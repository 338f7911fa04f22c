"""`memory.max_pages` as one budget for every memory of a plug-in (ABI.md 7.1).

wasmtime-py has no resource-limiter callback, so the budget is enforced in
Wasm. The kernel keeps the budget (a global) and checks its own growth; every
`memory.grow` of a guest module is rewritten, once at load time, into a call to
a small function added to the module:

    wrapper(delta):
        kernel.wasmplug_budget(delta << 2 | 0)   ;; traps `oom` if over budget, else takes it
        old = memory.grow m (delta)
        if old == -1: kernel.wasmplug_budget(delta << 2 | 1)   ;; refund, trap `oom`
        return old

The wrapper imports the kernel's budget entry point as `extism:host/env
wasmplug_budget` (plug-ins cannot import it themselves: link planning only
accepts ABI names). Adding a function import shifts the index of every
function the module defines, so calls, `ref.func`, exports, the start
function, element segments and the function names are renumbered. Code that
does not grow memory is unchanged, so calls that do not grow cost the same.

The rewritten module is compiled and cached like any other (its cache key is
the original's SHA-256 plus `BUDGET_TAG`). Modules that never grow a memory
are left as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from .binary import (
    Limits,
    Reader,
    Section,
    assemble,
    encode_name,
    encode_uleb,
    read_imports,
    read_limits,
    read_types,
    split_sections,
)

KERNEL_NAMESPACE = "extism:host/env"
CHECK_NAME = "wasmplug_budget"
BUDGET_TAG = "memory-budget-v1"


class RewriteError(ValueError):
    """The module uses an instruction the rewriter does not know."""


# ------------------------------------------------------------ instructions

def _skip_leb(r: Reader) -> None:
    data = r.data
    pos = r.pos
    while data[pos] & 0x80:
        pos += 1
    r.pos = pos + 1


def _skip_memarg(r: Reader) -> None:
    align = r.uleb()
    if align & 0x40:
        _skip_leb(r)  # memory index (multi-memory)
    _skip_leb(r)      # offset


def _skip_blocktype(r: Reader) -> None:
    if r.data[r.pos] in (0x63, 0x64):  # (ref null? heaptype)
        r.pos += 1
    _skip_leb(r)


def _skip_valtype(r: Reader) -> None:
    if r.byte() in (0x63, 0x64):
        _skip_leb(r)


# opcode -> number of LEB immediates (the plain cases)
_LEBS: dict[int, int] = {
    **dict.fromkeys((0x00, 0x01, 0x05, 0x0A, 0x0B, 0x0F, 0x19, 0x1A, 0x1B, 0xD1, 0xD3, 0xD5), 0),
    **dict.fromkeys(range(0x45, 0xC5), 0),
    **dict.fromkeys((0x07, 0x08, 0x09, 0x0C, 0x0D, 0x14, 0x15, 0x18, 0x20, 0x21, 0x22, 0x23,
                     0x24, 0x25, 0x26, 0x3F, 0x41, 0x42, 0xD0, 0xD4, 0xD6), 1),
    **dict.fromkeys((0x11, 0x13), 2),
}
_FUNC_REFS = (0x10, 0x12, 0xD2)  # call, return_call, ref.func
# 0xFB (GC) sub-opcode -> LEB immediates; 24/25 (br_on_cast*) have a flags byte first
_GC_LEBS = {0: 1, 1: 1, 2: 2, 3: 2, 4: 2, 5: 2, 6: 1, 7: 1, 8: 2, 9: 2, 10: 2, 11: 1, 12: 1,
            13: 1, 14: 1, 15: 0, 16: 1, 17: 2, 18: 2, 19: 2, 20: 1, 21: 1, 22: 1, 23: 1,
            26: 0, 27: 0, 28: 0, 29: 0, 30: 0}
_MISC_LEBS = {0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0, 7: 0, 8: 2, 9: 1, 10: 2, 11: 1,
              12: 2, 13: 1, 14: 2, 15: 1, 16: 1, 17: 1}


def _skip_prefixed(r: Reader, prefix: int) -> None:
    sub = r.uleb()
    if prefix == 0xFC:
        count = _MISC_LEBS.get(sub)
        if count is None:
            raise RewriteError(f"unknown instruction 0xfc {sub}")
        for _ in range(count):
            _skip_leb(r)
    elif prefix == 0xFB:
        if sub in (24, 25):
            r.pos += 1
            for _ in range(3):
                _skip_leb(r)
            return
        count = _GC_LEBS.get(sub)
        if count is None:
            raise RewriteError(f"unknown instruction 0xfb {sub}")
        for _ in range(count):
            _skip_leb(r)
    elif prefix == 0xFD:  # SIMD
        if sub <= 11 or sub in (92, 93):
            _skip_memarg(r)
        elif sub in (12, 13):
            r.pos += 16
        elif 21 <= sub <= 34:
            r.pos += 1  # lane index
        elif 84 <= sub <= 91:
            _skip_memarg(r)
            r.pos += 1
    elif prefix == 0xFE:  # threads
        if sub == 3:
            r.pos += 1
        else:
            _skip_memarg(r)
    else:
        raise RewriteError(f"unknown instruction prefix 0x{prefix:02x}")


def _rewrite_code(r: Reader, end: int, shift_from: int, wrappers: dict[int, int] | None,
                  out: bytearray, stop_at_end: bool = False) -> None:
    """Copy instructions [r.pos, end) to `out`, renumbering function indices
    >= shift_from by one and replacing `memory.grow m` by `call wrappers[m]`.

    With `stop_at_end`, stop after the `end` that closes a constant expression.
    """
    data = r.data
    copied = r.pos
    while r.pos < end:
        at = r.pos
        op = data[at]
        r.pos = at + 1
        count = _LEBS.get(op)
        if count is not None:
            if op == 0x0B and stop_at_end:
                r.pos = at  # the caller copies the end
                break
            for _ in range(count):
                _skip_leb(r)
        elif op in _FUNC_REFS:
            index = r.uleb()
            if index >= shift_from:
                out += data[copied:at]
                out.append(op)
                out += encode_uleb(index + 1)
                copied = r.pos
        elif op == 0x40:  # memory.grow
            memory = r.uleb()
            if wrappers is None:
                raise RewriteError("memory.grow outside a function body")
            out += data[copied:at]
            out.append(0x10)
            out += encode_uleb(wrappers[memory])
            copied = r.pos
        elif 0x28 <= op <= 0x3E:
            _skip_memarg(r)
        elif op in (0x02, 0x03, 0x04, 0x06):
            _skip_blocktype(r)
        elif op == 0x43:
            r.pos += 4
        elif op == 0x44:
            r.pos += 8
        elif op == 0x0E:  # br_table
            for _ in range(r.uleb() + 1):
                _skip_leb(r)
        elif op == 0x1C:  # select t*
            for _ in range(r.uleb()):
                _skip_valtype(r)
        elif op == 0x1F:  # try_table
            _skip_blocktype(r)
            for _ in range(r.uleb()):
                kind = r.byte()
                if kind in (0, 1):
                    _skip_leb(r)
                _skip_leb(r)
        elif op in (0xFB, 0xFC, 0xFD, 0xFE):
            _skip_prefixed(r, op)
        else:
            raise RewriteError(f"unknown instruction 0x{op:02x}")
    out += data[copied:r.pos]


# ------------------------------------------------------------ sections

@dataclass
class _Module:
    sections: list[Section]
    func_imports: int
    memories: list[bool]          # memory64 flag of each memory, imports first
    grows: bool                   # any memory.grow in the code


class _FoundGrow(Exception):
    pass


class _GrowDetector(dict[int, int]):
    """Stands in for the wrapper table while surveying: the first memory.grow stops the scan."""

    def __missing__(self, key: int) -> int:
        raise _FoundGrow


def _survey(wasm: bytes) -> _Module:
    sections = split_sections(wasm)
    func_imports = 0
    memories: list[bool] = []
    grows = False
    for section, body in sections:
        r = Reader(body)
        if section == 2:
            for _, _, kind, detail in read_imports(r):
                if kind == 0:
                    func_imports += 1
                elif kind == 2:
                    assert isinstance(detail, Limits)
                    memories.append(detail.is64)
        elif section == 5:
            for _ in range(r.uleb()):
                memories.append(read_limits(r).is64)
        elif section == 10 and memories:
            for _ in range(r.uleb()):
                size = r.uleb()
                end = r.pos + size
                for _ in range(r.uleb()):
                    r.uleb()
                    _skip_valtype(r)
                try:
                    _rewrite_code(r, end, 1 << 62, _GrowDetector(), bytearray())
                except _FoundGrow:
                    grows = True
                    break
                r.pos = end
    return _Module(sections, func_imports, memories, grows)


def needs_budget(wasm: bytes) -> bool:
    """True if the module grows a memory (and so must be rewritten for max_pages)."""
    return wasm.startswith(b"\0asm") and _survey(wasm).grows


def rewrite(wasm: bytes) -> bytes:
    """The module with every `memory.grow` going through the kernel's budget check.

    Returns `wasm` unchanged when it never grows a memory. RewriteError (a
    ValueError) for a construct the rewriter does not understand.
    """
    try:
        return _rewrite(wasm)
    except RewriteError:
        raise
    except (IndexError, KeyError, ValueError) as exc:
        raise RewriteError(f"cannot read the module: {exc!r}") from None


def _rewrite(wasm: bytes) -> bytes:
    module = _survey(wasm)
    if not module.grows:
        return wasm
    shift = module.func_imports  # defined functions move up by one
    sections = dict.fromkeys(range(14), b"")
    for section, body in module.sections:
        if section != 0:
            sections[section] = body
    # types: the check's type and one wrapper type per index type
    type_count = len(read_types(Reader(sections[1]))) if sections[1] else 0
    r = Reader(sections[1])
    entries = r.uleb() if sections[1] else 0
    new_types = [b"\x60\x01\x7e\x01\x7e", b"\x60\x01\x7f\x01\x7f", b"\x60\x01\x7e\x01\x7e"]
    check_type, wrap32_type, wrap64_type = type_count, type_count + 1, type_count + 2
    sections[1] = encode_uleb(entries + 3) + sections[1][r.pos:] + b"".join(new_types)
    # imports: the check, last of the imports
    r = Reader(sections[2])
    imports = r.uleb() if sections[2] else 0
    rest = sections[2][r.pos:] if sections[2] else b""
    check = encode_name(KERNEL_NAMESPACE) + encode_name(CHECK_NAME) + b"\x00" + encode_uleb(check_type)
    sections[2] = encode_uleb(imports + 1) + rest + check
    check_index = shift
    # functions: one wrapper per memory
    r = Reader(sections[3])
    defined = r.uleb() if sections[3] else 0
    rest = sections[3][r.pos:] if sections[3] else b""
    first_wrapper = module.func_imports + 1 + defined
    wrappers = {m: first_wrapper + m for m in range(len(module.memories))}
    sections[3] = encode_uleb(defined + len(module.memories)) + rest + b"".join(
        encode_uleb(wrap64_type if is64 else wrap32_type) for is64 in module.memories)
    # code
    r = Reader(sections[10])
    bodies = r.uleb() if sections[10] else 0
    code = bytearray(encode_uleb(bodies + len(module.memories)))
    for _ in range(bodies):
        size = r.uleb()
        end = r.pos + size
        start = r.pos
        for _ in range(r.uleb()):
            r.uleb()
            _skip_valtype(r)
        rewritten = bytearray(r.data[start:r.pos])
        _rewrite_code(r, end, shift, wrappers, rewritten)
        code += encode_uleb(len(rewritten)) + rewritten
    for m, is64 in enumerate(module.memories):
        body = _wrapper(m, is64, check_index)
        code += encode_uleb(len(body)) + body
    sections[10] = bytes(code)
    sections[7] = _rewrite_exports(sections[7], shift)
    if sections[8]:
        sections[8] = encode_uleb(_bump(Reader(sections[8]).uleb(), shift))
    sections[9] = _rewrite_elements(sections[9], shift)
    sections[6] = _rewrite_globals(sections[6], shift)
    sections[4] = _rewrite_tables(sections[4], shift)
    # Order of the known sections (the tag section 13 sits between memory and global).
    known = [(section, sections[section]) for section in (1, 2, 3, 4, 5, 13, 6, 7, 8, 9, 12, 10, 11)
             if sections[section] or section in (1, 2, 3, 10)]
    customs = [(0, renamed) for section, body in module.sections
               if section == 0 and (renamed := _rewrite_custom(body, shift)) is not None]
    return assemble(known + customs, header=wasm[:8])


def _bump(index: int, shift: int) -> int:
    return index + 1 if index >= shift else index


def _wrapper(memory: int, is64: bool, check: int) -> bytes:
    m = encode_uleb(memory)
    c = encode_uleb(check)
    if is64:
        # delta, capped at 2^62 - 1 pages (far past any budget) so the shift keeps it
        pages = (b"\x42\xff\xff\xff\xff\xff\xff\xff\xff\x3f\x20\x00"        # cap, delta
                 b"\x20\x00\x42\xff\xff\xff\xff\xff\xff\xff\xff\x3f\x56"   # delta > cap
                 b"\x1b")                                                  # select
        minus_one, eq, local_type = b"\x42\x7f", b"\x51", b"\x7e"
    else:
        pages = b"\x20\x00\xad"                                           # u64(delta)
        minus_one, eq, local_type = b"\x41\x7f", b"\x46", b"\x7f"
    shifted = pages + b"\x42\x02\x86"                                     # << 2
    return (b"\x01\x01" + local_type                          # one local: the old size
            + shifted + b"\x10" + c + b"\x1a"                   # budget(pages << 2 | 0)
            + b"\x20\x00\x40" + m + b"\x22\x01"               # old = memory.grow m (delta)
            + minus_one + eq
            + b"\x04\x40" + shifted + b"\x42\x01\x84\x10" + c + b"\x1a\x0b"  # refused: | 1
            + b"\x20\x01\x0b")


def _rewrite_exports(body: bytes, shift: int) -> bytes:
    if not body:
        return body
    r = Reader(body)
    out = bytearray(encode_uleb(r.uleb()))
    while r.pos < len(body):
        start = r.pos
        r.skip_name()
        kind = r.byte()
        out += body[start:r.pos]
        index = r.uleb()
        out += encode_uleb(_bump(index, shift) if kind == 0 else index)
    return bytes(out)


def _const_expr(r: Reader, shift: int, out: bytearray) -> None:
    _rewrite_code(r, len(r.data), shift, None, out, stop_at_end=True)
    out.append(r.byte())  # the end


def _rewrite_globals(body: bytes, shift: int) -> bytes:
    if not body:
        return body
    r = Reader(body)
    out = bytearray(encode_uleb(r.uleb()))
    while r.pos < len(body):
        start = r.pos
        _skip_valtype(r)
        r.byte()
        out += body[start:r.pos]
        _const_expr(r, shift, out)
    return bytes(out)


def _rewrite_tables(body: bytes, shift: int) -> bytes:
    if not body:
        return body
    r = Reader(body)
    out = bytearray(encode_uleb(r.uleb()))
    while r.pos < len(body):
        start = r.pos
        with_init = body[r.pos] == 0x40
        if with_init:
            r.pos += 2
        _skip_valtype(r)
        read_limits(r)
        out += body[start:r.pos]
        if with_init:
            _const_expr(r, shift, out)
    return bytes(out)


def _rewrite_elements(body: bytes, shift: int) -> bytes:
    if not body:
        return body
    r = Reader(body)
    out = bytearray(encode_uleb(r.uleb()))
    while r.pos < len(body):
        flags = r.uleb()
        out += encode_uleb(flags)
        if flags in (2, 6):
            out += encode_uleb(r.uleb())  # table index
        if flags in (0, 2, 4, 6):
            _const_expr(r, shift, out)  # offset
        if flags in (1, 2, 3):
            out.append(r.byte())  # element kind
        elif flags in (5, 6, 7):
            start = r.pos
            _skip_valtype(r)
            out += body[start:r.pos]
        count = r.uleb()
        out += encode_uleb(count)
        for _ in range(count):
            if flags in (0, 1, 2, 3):
                out += encode_uleb(_bump(r.uleb(), shift))
            else:
                _const_expr(r, shift, out)
    return bytes(out)


def _rewrite_custom(body: bytes, shift: int) -> bytes | None:
    """Custom sections are kept; the name section keeps its module and
    function names (renumbered), other name subsections are dropped."""
    r = Reader(body)
    length = r.uleb()
    if body[r.pos:r.pos + length] != b"name":
        return body
    r.pos += length
    out = bytearray(body[:r.pos])
    while r.pos < len(body):
        kind = r.byte()
        size = r.uleb()
        end = r.pos + size
        if kind == 0:
            out.append(0)
            out += encode_uleb(size) + body[r.pos:end]
        elif kind == 1:
            sub = bytearray(encode_uleb(r.uleb()))
            while r.pos < end:
                sub += encode_uleb(_bump(r.uleb(), shift))
                start = r.pos
                r.skip_name()
                sub += body[start:r.pos]
            out.append(1)
            out += encode_uleb(len(sub)) + sub
        r.pos = end
    return bytes(out)

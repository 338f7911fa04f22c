"""Embed a JavaScript module into the runtime binary, in pure Python.

The runtime (``runtime/wasmplug_js.c``) exports two stub functions,
``__wasmplug_source_len`` and ``__wasmplug_source_copy``, and a dispatcher
``__wasmplug_call(i32 index) -> i32``. Embedding edits the binary:

* the blob (kind byte, export names, file name, source) becomes a new
  *passive* data segment (the data-count section is added or bumped);
* the two stubs get new bodies: ``i32.const <length>`` and a ``memory.init``
  of that segment at the address the runtime passes;
* each JS export gets a new function ``() -> i32`` whose body is
  ``i32.const <index>; call __wasmplug_call``, exported under the JS name;
* the runtime's own exports (``__wasmplug_*``: load, invoke, reset, ...) are
  no longer exported: a built plug-in exports its memory and the user's
  functions, nothing a caller could use to replace its code.

Appending functions and segments leaves every existing index unchanged, so
nothing else in the binary needs rewriting.

Typed exports (an interface file declaring ``add3(a: I32, b: I32, c: I32): I32``)
get a thunk of their declared type instead: ``call __wasmplug_arg_start``, then
``local.get k; call __wasmplug_arg_<type>`` per parameter, then ``i32.const
<index>; call __wasmplug_call_<result type>``. Their types are appended to the
type section (appending renumbers nothing either).

Host functions: the runtime imports ``HOST_SLOTS`` functions
``extism:host/user.__wasmplug_host_<i>`` of type ``(i64) -> i64`` and calls
them only from ``__wasmplug_host_dispatch(slot, args, result)``.
:func:`resolve_host_slots` renames the import of slot ``i`` to
``extism:host/user.<i-th declared name>`` and gives it the declared type, points
every unused slot at ``extism:host/env.length_unsafe`` (the slots' original type,
which every Extism host offers), and replaces the dispatcher's body with one
that, for the slot asked for, loads each argument from ``args`` (8 bytes a
parameter) with the parameter's type, calls the import and stores its result:
a ``br_table`` over the used slots. Changing an import's type, appending types
and replacing a body move no function index, so nothing else is rewritten.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from wasmplug.binary import (
    SECTION_ORDER,
    Reader,
    Section,
    assemble,
    count_imports,
    encode_name,
    encode_sleb,
    encode_uleb,
    read_entries,
    read_exports,
    read_vec,
    skip_import_description,
    split_sections,
)

SECTION_TYPE, SECTION_IMPORT, SECTION_FUNCTION = 1, 2, 3
SECTION_EXPORT, SECTION_CODE, SECTION_DATA, SECTION_DATACOUNT = 7, 10, 11, 12


class EmbedError(ValueError):
    """The binary is not a runtime this module knows how to edit."""


def sections_of(wasm: bytes) -> list[Section]:
    """`wasm`'s sections (EmbedError if it is not a whole wasm binary)."""
    if wasm[:8] != b"\0asm\x01\0\0\0":
        raise EmbedError("not a wasm binary (version 1)")
    try:
        return split_sections(wasm)
    except IndexError:
        raise EmbedError("truncated wasm binary") from None


HOST_SLOTS = 64
MAX_PARAMS = 32  # of a host function or a typed export (HOST_MAX_PARAMS, TYPED_MAX_ARGS in the C)
INTERNAL_PREFIX = "__wasmplug"
SLOT_PREFIX = "__wasmplug_host_"
USER_MODULE = "extism:host/user"
UNUSED_SLOT = ("extism:host/env", "length_unsafe")
DISPATCH = "__wasmplug_host_dispatch"
#: The value types of a signature, one letter each: I32, I64, F32, F64.
VALTYPES = {"i": 0x7F, "I": 0x7E, "f": 0x7D, "F": 0x7C}
_TYPE_NAMES = {"i": "I32", "I": "I64", "f": "F32", "F": "F64"}


@dataclass(frozen=True)
class FuncType:
    """A Wasm function signature of a host function or an export, by name.

    `params`: one letter a parameter (``i`` I32, ``I`` I64, ``f`` F32, ``F`` F64);
    `result`: one letter, or "" for none. The JS PDK's default host function is
    ``FuncType(name, "I", "I")`` (a memory offset in and out), its default export
    ``FuncType(name, "", "i")``.
    """

    name: str
    params: str = "I"
    result: str = "I"

    def __post_init__(self) -> None:
        if not self.name or any(ch in self.name for ch in "\n\t\0"):
            raise EmbedError(f"{self.name!r} cannot be a function name")
        if any(t not in VALTYPES for t in self.params) or self.result not in ("", *VALTYPES):
            raise EmbedError(f"bad signature letters for {self.name}: {self.params!r} -> {self.result!r}")
        if len(self.params) > MAX_PARAMS:
            raise EmbedError(f"{self.name} has {len(self.params)} parameters; at most {MAX_PARAMS} "
                             "are supported")

    def __str__(self) -> str:
        params = ", ".join(_TYPE_NAMES[t] for t in self.params)
        return f"{self.name}({params}): {_TYPE_NAMES.get(self.result, 'void')}"

    @property
    def wasm_type(self) -> bytes:
        """The type-section entry of this signature."""
        return (b"\x60" + encode_uleb(len(self.params)) + bytes(VALTYPES[t] for t in self.params)
                + encode_uleb(len(self.result)) + bytes(VALTYPES[t] for t in self.result))


def host_function(spec: str | FuncType) -> FuncType:
    """A declared host function: a FuncType, or a bare name (the PDK's ``(I64) -> I64``)."""
    return spec if isinstance(spec, FuncType) else FuncType(spec)


def make_blob(source: bytes, names: list[str], *, kind: str, filename: str,
              host_functions: Sequence[str | FuncType] = ()) -> bytes:
    """The bytes the runtime reads back: kind, names, host functions, file name, source.

    A host function is a line ``name TAB params TAB result`` (the letters of FuncType).
    """
    if kind not in ("m", "s", "?"):
        raise ValueError("kind must be 'm' (ES module), 's' (script/CommonJS) or '?' (detect)")
    lines = [f"{f.name}\t{f.params}\t{f.result}" for f in map(host_function, host_functions)]
    return (kind.encode() + "\n".join(names).encode() + b"\0" + "\n".join(lines).encode()
            + b"\0" + filename.encode() + b"\0" + source)


def _type_entries(payload: bytes) -> list[bytes]:
    """The raw entries of a type section (each ``0x60 params results``)."""
    count, r = read_vec(payload)
    out = []
    for _ in range(count):
        start = r.pos
        if r.byte() != 0x60:
            raise EmbedError("the type section has a type that is not a function type")
        r.take(r.uleb())
        r.take(r.uleb())
        out.append(r.data[start:r.pos])
    return out


def _type_index(types: list[bytes], entry: bytes) -> int:
    """The index of `entry` in `types`, appended if it is not there yet."""
    if entry not in types:
        types.append(entry)
    return types.index(entry)


def _types_section(types: list[bytes]) -> Section:
    return Section(SECTION_TYPE, encode_uleb(len(types)) + b"".join(types))


_LOAD = {"i": (0x28, 2), "I": (0x29, 3), "f": (0x2A, 2), "F": (0x2B, 3)}
_STORE = {"i": (0x36, 2), "I": (0x37, 3), "f": (0x38, 2), "F": (0x39, 3)}


def dispatch_body(slots: list[tuple[int, FuncType]]) -> bytes:
    """The body of ``__wasmplug_host_dispatch(slot, args, result) -> i32`` calling, for
    slot k, the function `slots[k][0]` (an import index) with the arguments loaded from
    ``args + 8 j`` as its parameter types, storing the result at ``result``."""
    n = len(slots)
    code = bytearray(b"\x00")  # no locals
    code += b"\x02\x40" * (n + 1)  # block (unknown slot), then one block a slot, innermost first
    code += b"\x20\x00\x0e" + encode_uleb(n) + b"".join(encode_uleb(k) for k in range(n)) + encode_uleb(n)
    for index, sig in slots:
        code += b"\x0b"  # the end of this slot's block: its code follows
        if sig.result:
            code += b"\x20\x02"
        for j, t in enumerate(sig.params):
            op, align = _LOAD[t]
            code += b"\x20\x01" + bytes([op]) + encode_uleb(align) + encode_uleb(8 * j)
        code += b"\x10" + encode_uleb(index)
        if sig.result:
            op, align = _STORE[sig.result]
            code += bytes([op]) + encode_uleb(align) + b"\x00"
        code += b"\x41\x00\x0f"  # return 0
    code += b"\x0b\x41\x01\x0b"  # end of the unknown-slot block: return 1
    return bytes(code)


def resolve_host_slots(runtime: bytes, host_functions: Sequence[str | FuncType] = ()) -> bytes:
    """`runtime` whose host-function slots import `host_functions` with their types
    (the rest: a harmless kernel function), and whose dispatcher calls them."""
    declared = [host_function(f) for f in host_functions]
    if len(declared) > HOST_SLOTS:
        raise EmbedError(f"{len(declared)} host functions declared; the runtime has "
                         f"{HOST_SLOTS} slots")
    if len({f.name for f in declared}) != len(declared):
        raise EmbedError("a host function is declared twice")
    sections = sections_of(runtime)
    by_id = {s.id: s for s in sections if s.id}
    types = _type_entries(by_id[SECTION_TYPE].payload) if SECTION_TYPE in by_id else []
    out = []
    seen: set[int] = set()
    slot_functions: dict[int, int] = {}
    for section in sections:
        if section.id != SECTION_IMPORT:
            out.append(section)
            continue
        count, r = read_vec(section.payload)
        entries = bytearray(encode_uleb(count))
        functions = 0
        for _ in range(count):
            module, field = r.text(), r.text()
            start = r.pos
            try:
                skip_import_description(r)
            except ValueError as exc:
                raise EmbedError(str(exc)) from None
            desc = r.data[start:r.pos]
            if module == USER_MODULE and field.startswith(SLOT_PREFIX):
                slot = int(field[len(SLOT_PREFIX):])
                seen.add(slot)
                if slot < len(declared):
                    module, field = USER_MODULE, declared[slot].name
                    desc = b"\x00" + encode_uleb(_type_index(types, declared[slot].wasm_type))
                    slot_functions[slot] = functions
                else:
                    module, field = UNUSED_SLOT
            if desc[0] == 0:
                functions += 1
            entries += encode_name(module) + encode_name(field) + desc
        out.append(Section(SECTION_IMPORT, bytes(entries)))
    if seen != set(range(HOST_SLOTS)):
        raise EmbedError("not a wasmplug JS runtime: it has no host-function slots "
                         f"(imports {USER_MODULE}.{SLOT_PREFIX}0..{HOST_SLOTS - 1})")
    if not declared:
        return assemble(out)
    exports = read_exports(by_id[SECTION_EXPORT].payload)
    dispatch = next((index for name, kind, index in exports if kind == 0 and name == DISPATCH), None)
    if dispatch is None:
        raise EmbedError(f"not a wasmplug JS runtime: no export {DISPATCH}")
    imported = count_imports(by_id[SECTION_IMPORT].payload)
    bodies = read_entries(by_id[SECTION_CODE].payload)
    bodies[dispatch - imported] = dispatch_body([(slot_functions[k], f) for k, f in enumerate(declared)])
    replaced = {SECTION_TYPE: _types_section(types),
                SECTION_CODE: Section(SECTION_CODE, encode_uleb(len(bodies)) + b"".join(
                    encode_uleb(len(b)) + b for b in bodies))}
    return assemble([replaced.get(s.id, s) if s.id else s for s in out])


def embed(runtime: bytes, blob: bytes, names: list[str],
          host_functions: Sequence[str | FuncType] = (),
          typed: Mapping[str, FuncType] | None = None) -> bytes:
    """`runtime` with `blob` embedded, one exported thunk per name in `names`, and
    its host-function slots importing `host_functions` (see the module docstring).
    `typed`: the exports with a declared signature other than ``() -> i32``."""
    typed = dict(typed or {})
    sections = sections_of(resolve_host_slots(runtime, host_functions))
    by_id = {s.id: s for s in sections if s.id}
    for needed in (SECTION_TYPE, SECTION_FUNCTION, SECTION_EXPORT, SECTION_CODE):
        if needed not in by_id:
            raise EmbedError(f"the runtime binary has no section {needed}")
    imported = count_imports(by_id[SECTION_IMPORT].payload) if SECTION_IMPORT in by_id else 0
    exports = read_exports(by_id[SECTION_EXPORT].payload)
    funcs = {name: index for name, kind, index in exports if kind == 0}
    try:
        len_fn = funcs["__wasmplug_source_len"]
        copy_fn = funcs["__wasmplug_source_copy"]
        dispatch = funcs["__wasmplug_call"]
    except KeyError as exc:
        raise EmbedError(f"not a wasmplug JS runtime: no export {exc}") from None
    taken = {name for name, _, _ in exports}
    for name in names:
        if name in taken or name.startswith(INTERNAL_PREFIX):
            raise EmbedError(f"the JS export {name!r} clashes with a name the runtime exports itself; "
                             "rename it")
    if len(set(names)) != len(names):
        raise EmbedError("duplicate export names")
    unknown = sorted(set(typed) - set(names))
    if unknown:
        raise EmbedError(f"the interface declares {', '.join(unknown)}, which the code does not export")
    types = _type_entries(by_id[SECTION_TYPE].payload)

    # function section: plain thunks take the stub __wasmplug_source_len's type,
    # () -> i32; typed ones their declared type
    count, r = read_vec(by_id[SECTION_FUNCTION].payload)
    func_types = [r.uleb() for _ in range(count)]
    thunk_type = func_types[len_fn - imported]
    first_thunk = imported + count
    thunk_types = [_type_index(types, typed[n].wasm_type) if n in typed else thunk_type for n in names]
    function_payload = encode_uleb(count + len(names)) + b"".join(
        encode_uleb(t) for t in func_types + thunk_types)

    # data: a passive segment holding the blob
    if SECTION_DATA in by_id:
        data_count, r = read_vec(by_id[SECTION_DATA].payload)
        data_payload = encode_uleb(data_count + 1) + by_id[SECTION_DATA].payload[r.pos:]
    else:
        data_count, data_payload = 0, encode_uleb(1)
    segment = data_count
    data_payload += b"\x01" + encode_uleb(len(blob)) + blob

    # code: new stub bodies and the thunks
    bodies = read_entries(by_id[SECTION_CODE].payload)
    bodies[len_fn - imported] = b"\x00" + b"\x41" + encode_sleb(len(blob)) + b"\x0b"
    bodies[copy_fn - imported] = (b"\x00" + b"\x20\x00" + b"\x41\x00" + b"\x41" + encode_sleb(len(blob))
                                  + b"\xfc\x08" + encode_uleb(segment) + b"\x00" + b"\x0b")
    for index, name in enumerate(names):
        if name in typed:
            bodies.append(_typed_thunk(index, typed[name], funcs))
        else:
            bodies.append(b"\x00" + b"\x41" + encode_sleb(index) + b"\x10" + encode_uleb(dispatch)
                          + b"\x0b")
    code_payload = encode_uleb(len(bodies)) + b"".join(encode_uleb(len(b)) + b for b in bodies)

    # Only the user's functions (and the memory, and _initialize if the runtime was
    # not pre-initialised) are exported: the runtime's own entry points stay
    # internal, so no caller can load other code into the plug-in or reset it.
    kept = [e for e in exports if not e[0].startswith(INTERNAL_PREFIX)]
    export_payload = (encode_uleb(len(kept) + len(names))
                      + b"".join(encode_name(n) + bytes([k]) + encode_uleb(i) for n, k, i in kept)
                      + b"".join(encode_name(n) + b"\x00" + encode_uleb(first_thunk + i)
                                 for i, n in enumerate(names)))

    replaced = {SECTION_TYPE: _types_section(types).payload,
                SECTION_FUNCTION: function_payload, SECTION_CODE: code_payload,
                SECTION_EXPORT: export_payload, SECTION_DATA: data_payload,
                SECTION_DATACOUNT: encode_uleb(segment + 1)}
    out = [Section(s.id, replaced.get(s.id, s.payload)) for s in sections]
    for sid in (SECTION_DATACOUNT, SECTION_DATA):
        if sid not in by_id:
            _insert(out, Section(sid, replaced[sid]))
    out.append(Section(0, encode_name(MARK_SECTION) + b"1"))
    return assemble(out)


_ARG = {"i": "i32", "I": "i64", "f": "f32", "F": "f64", "": "void"}


def _typed_thunk(index: int, sig: FuncType, funcs: dict[str, int]) -> bytes:
    """The body of a typed export: pass each parameter, then call by the result type."""
    try:
        code = bytearray(b"\x00\x10" + encode_uleb(funcs["__wasmplug_arg_start"]))
        for j, t in enumerate(sig.params):
            code += b"\x20" + encode_uleb(j) + b"\x10" + encode_uleb(funcs[f"__wasmplug_arg_{_ARG[t]}"])
        code += (b"\x41" + encode_sleb(index) + b"\x10"
                 + encode_uleb(funcs[f"__wasmplug_call_{_ARG[sig.result]}"]) + b"\x0b")
    except KeyError as exc:
        raise EmbedError(f"this runtime does not support typed exports (no export {exc})") from None
    return bytes(code)


MARK_SECTION = "wasmplug.js"  # a custom section marking a built JS plug-in


def is_js_plugin(wasm: bytes) -> bool:
    """True if `wasm` is a plug-in `wasmplug js build` made (it carries the mark section)."""
    try:
        sections = sections_of(wasm)
    except (EmbedError, IndexError, ValueError):
        return False
    for section in sections:
        if section.id == 0:
            try:
                if Reader(section.payload).text() == MARK_SECTION:
                    return True
            except (IndexError, ValueError, UnicodeDecodeError):
                continue
    return False


def _insert(sections: list[Section], new: Section) -> None:
    """Insert a known section at its place in the standard order."""
    rank = SECTION_ORDER[new.id]
    for i, s in enumerate(sections):
        if s.id and SECTION_ORDER.get(s.id, 0) > rank:
            sections.insert(i, new)
            return
    sections.append(new)

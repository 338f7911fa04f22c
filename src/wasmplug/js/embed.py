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

Host functions: the runtime imports ``HOST_SLOTS`` functions
``extism:host/user.__wasmplug_host_<i>`` of type ``(i64) -> i64`` (the JS
PDK's host-function type). :func:`resolve_host_slots` renames the import of
slot ``i`` to ``extism:host/user.<i-th declared name>`` and every unused slot
to ``extism:host/env.length_unsafe`` (the same type, which every Extism host
offers), so the plug-in imports exactly the host functions it declared and,
again, no index changes: only the import section's names are rewritten.
"""

from __future__ import annotations

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


HOST_SLOTS = 16
INTERNAL_PREFIX = "__wasmplug"
SLOT_PREFIX = "__wasmplug_host_"
USER_MODULE = "extism:host/user"
UNUSED_SLOT = ("extism:host/env", "length_unsafe")


def make_blob(source: bytes, names: list[str], *, kind: str, filename: str,
              host_functions: list[str] | tuple[str, ...] = ()) -> bytes:
    """The bytes the runtime reads back: kind, names, host functions, file name, source."""
    if kind not in ("m", "s", "?"):
        raise ValueError("kind must be 'm' (ES module), 's' (script/CommonJS) or '?' (detect)")
    return (kind.encode() + "\n".join(names).encode() + b"\0" + "\n".join(host_functions).encode()
            + b"\0" + filename.encode() + b"\0" + source)


def resolve_host_slots(runtime: bytes, host_functions: list[str] | tuple[str, ...] = ()) -> bytes:
    """`runtime` whose host-function slots import `host_functions` (the rest: a harmless kernel function)."""
    if len(host_functions) > HOST_SLOTS:
        raise EmbedError(f"{len(host_functions)} host functions declared; the runtime has "
                         f"{HOST_SLOTS} slots")
    if len(set(host_functions)) != len(host_functions):
        raise EmbedError("a host function is declared twice")
    sections = sections_of(runtime)
    out = []
    seen: set[int] = set()
    for section in sections:
        if section.id != SECTION_IMPORT:
            out.append(section)
            continue
        count, r = read_vec(section.payload)
        entries = bytearray(encode_uleb(count))
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
                module, field = ((USER_MODULE, host_functions[slot]) if slot < len(host_functions)
                                 else UNUSED_SLOT)
            entries += encode_name(module) + encode_name(field) + desc
        out.append(Section(SECTION_IMPORT, bytes(entries)))
    if seen != set(range(HOST_SLOTS)):
        raise EmbedError("not a wasmplug JS runtime: it has no host-function slots "
                         f"(imports {USER_MODULE}.{SLOT_PREFIX}0..{HOST_SLOTS - 1})")
    return assemble(out)


def embed(runtime: bytes, blob: bytes, names: list[str],
          host_functions: list[str] | tuple[str, ...] = ()) -> bytes:
    """`runtime` with `blob` embedded, one exported thunk per name in `names`, and
    its host-function slots importing `host_functions` (see the module docstring)."""
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

    # function section: the thunks take the stub __wasmplug_source_len's type, () -> i32
    count, r = read_vec(by_id[SECTION_FUNCTION].payload)
    types = [r.uleb() for _ in range(count)]
    thunk_type = types[len_fn - imported]
    first_thunk = imported + count
    function_payload = encode_uleb(count + len(names)) + b"".join(
        encode_uleb(t) for t in types + [thunk_type] * len(names))

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
    for index in range(len(names)):
        bodies.append(b"\x00" + b"\x41" + encode_sleb(index) + b"\x10" + encode_uleb(dispatch) + b"\x0b")
    code_payload = encode_uleb(len(bodies)) + b"".join(encode_uleb(len(b)) + b for b in bodies)

    # Only the user's functions (and the memory, and _initialize if the runtime was
    # not pre-initialised) are exported: the runtime's own entry points stay
    # internal, so no caller can load other code into the plug-in or reset it.
    kept = [e for e in exports if not e[0].startswith(INTERNAL_PREFIX)]
    export_payload = (encode_uleb(len(kept) + len(names))
                      + b"".join(encode_name(n) + bytes([k]) + encode_uleb(i) for n, k, i in kept)
                      + b"".join(encode_name(n) + b"\x00" + encode_uleb(first_thunk + i)
                                 for i, n in enumerate(names)))

    replaced = {SECTION_FUNCTION: function_payload, SECTION_CODE: code_payload,
                SECTION_EXPORT: export_payload, SECTION_DATA: data_payload,
                SECTION_DATACOUNT: encode_uleb(segment + 1)}
    out = [Section(s.id, replaced.get(s.id, s.payload)) for s in sections]
    for sid in (SECTION_DATACOUNT, SECTION_DATA):
        if sid not in by_id:
            _insert(out, Section(sid, replaced[sid]))
    out.append(Section(0, encode_name(MARK_SECTION) + b"1"))
    return assemble(out)


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

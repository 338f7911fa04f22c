"""Facts read straight from a wasm binary, and the pieces to read and write one.

wasmtime's `Module` shows only exported and imported memories; limits must
also count a memory the module keeps private. And wasmtime-py cannot describe
every signature (v128, GC references), so imports and exports are read here.

This is the one module that reads and writes the Wasm binary format; it is
public for tools built on wasmplug (the memory-budget rewriter, the JS
runtime's embedder and snapshotter):

- reading: `Reader` (a cursor: `byte`, `uleb`, `take`, `text`, `limits`),
  `split_sections` (a module as `Section`s: id and payload), `read_vec`,
  `read_imports` / `skip_import_description` / `count_imports`,
  `read_exports`, `read_entries` (size-prefixed entries: code bodies),
  `read_limits`, `read_types`, `read_valtype`;
- writing: `encode_uleb`, `encode_sleb`, `encode_name`, `encode_section`,
  `assemble` (sections back into a module);
- facts: `signatures`, `memory_minimums`, `memories`, `custom_sections`,
  `producers`, `item_counts`, `ModuleFacts`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from ._records import record


class Reader:
    """A cursor over a wasm binary: LEB128 numbers, bytes, names (IndexError past the end)."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def byte(self) -> int:
        value = self.data[self.pos]
        self.pos += 1
        return value

    def uleb(self) -> int:
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos:self.pos + n]
        if len(chunk) != n:
            raise IndexError("truncated wasm binary")
        self.pos += n
        return bytes(chunk)

    def text(self) -> str:
        """A name (length-prefixed UTF-8)."""
        return self.take(self.uleb()).decode("utf-8")

    def skip_name(self) -> None:
        length = self.uleb()  # read first: `pos += uleb()` would add to the old pos
        self.pos += length

    def limits(self) -> tuple[int, int]:
        """(flags, minimum); the maximum (and, for memory64/shared, the rest) is skipped."""
        limits = read_limits(self)
        return limits.flags, limits.minimum


class Limits(NamedTuple):
    """A table's or memory's limits; flag 4 marks a 64-bit memory."""

    minimum: int
    maximum: int | None
    flags: int

    @property
    def is64(self) -> bool:
        return bool(self.flags & 4)


def read_limits(r: Reader) -> Limits:
    flags = r.uleb()
    minimum = r.uleb()
    maximum = r.uleb() if flags & 1 else None
    if flags & 8:  # custom page size (proposal)
        r.uleb()
    return Limits(minimum, maximum, flags)


HEADER = b"\0asm\x01\0\0\0"
# Where each known section goes in a module (custom sections, id 0, may sit anywhere).
SECTION_ORDER = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}


class Section(NamedTuple):
    """One section of a module: its id and its payload (what follows the size)."""

    id: int
    payload: bytes


def split_sections(wasm: bytes) -> list[Section]:
    """The module's sections in order; IndexError if truncated."""
    r = Reader(wasm, 8)
    found: list[Section] = []
    while r.pos < len(wasm):
        section = r.byte()
        found.append(Section(section, r.take(r.uleb())))
    return found


def read_vec(payload: bytes) -> tuple[int, Reader]:
    """A vector's length, and a reader at its first entry."""
    r = Reader(payload)
    return r.uleb(), r


def read_exports(payload: bytes) -> list[tuple[str, int, int]]:
    """The export section's entries: (name, kind, index)."""
    count, r = read_vec(payload)
    return [(r.text(), r.byte(), r.uleb()) for _ in range(count)]


def read_entries(payload: bytes) -> list[bytes]:
    """The raw entries of a vector of size-prefixed entries (the code section)."""
    count, r = read_vec(payload)
    return [r.take(r.uleb()) for _ in range(count)]


def count_imports(payload: bytes, kind: int = 0) -> int:
    """How many imports of `kind` (0 functions, 2 memories, 3 globals) an import section has."""
    return sum(1 for _, _, k, _ in read_imports(Reader(payload)) if k == kind)


def encode_section(section: int, payload: bytes) -> bytes:
    return bytes([section]) + encode_uleb(len(payload)) + payload


def assemble(sections: Iterable[tuple[int, bytes]], header: bytes = HEADER) -> bytes:
    """A module made of `sections` ((id, payload) pairs, in order)."""
    return header + b"".join(encode_section(section, payload) for section, payload in sections)


def encode_uleb(n: int) -> bytes:
    """`n` (>= 0) as unsigned LEB128."""
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode_sleb(n: int) -> bytes:
    """`n` as signed LEB128."""
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        done = (n == 0 and not b & 0x40) or (n == -1 and b & 0x40)
        out.append(b if done else b | 0x80)
        if done:
            return bytes(out)


def encode_name(text: str) -> bytes:
    """`text` as a wasm name (length-prefixed UTF-8)."""
    raw = text.encode()
    return encode_uleb(len(raw)) + raw


def memory_minimums(wasm: bytes, imported: bool = True) -> list[int]:
    """Initial sizes (in pages) of every memory the module defines (and, with
    `imported`, imports).

    Returns [] for anything that is not a wasm binary (WAT text, say); a
    malformed binary is the compiler's to report, so this never raises.
    """
    if not wasm.startswith(b"\0asm"):
        return []
    try:
        return _scan(Reader(wasm), imported)
    except (IndexError, ValueError):
        return []


def _scan(r: Reader, imported: bool) -> list[int]:
    pages: list[int] = []
    for section, _ in _sections(r):
        if section == 2 and imported:
            pages.extend(limits[0] for _, _, _, limits in _imported_memories(r))
        elif section == 5:  # memories
            pages.extend(r.limits()[1] for _ in range(r.uleb()))
    return pages


def _sections(r: Reader) -> Iterator[tuple[int, int]]:
    """(id, end offset) of each section, with `r` at its contents; the walk
    moves on to the next section by its size, whatever the caller read."""
    r.pos = 8
    while r.pos < len(r.data):
        section = r.byte()
        size = r.uleb()
        end = r.pos + size
        yield section, end
        r.pos = end


ImportDetail = int | Limits | None


def read_imports(r: Reader) -> Iterator[tuple[str, str, int, ImportDetail]]:
    """The entries of the import section at `r`: (module, name, kind, detail), where
    detail is the type index of a function, the `Limits` of a memory, and None for
    the other kinds (kind 0 function, 1 table, 2 memory, 3 global, 4 tag)."""
    for _ in range(r.uleb()):
        module, name = r.text(), r.text()
        kind, detail = skip_import_description(r)
        yield module, name, kind, detail


def skip_import_description(r: Reader) -> tuple[int, ImportDetail]:
    """Read what follows an import's names: its kind and detail (see `read_imports`)."""
    kind = r.byte()
    detail: ImportDetail = None
    if kind == 0:        # function: type index
        detail = r.uleb()
    elif kind == 1:      # table: reftype + limits
        read_valtype(r)
        read_limits(r)
    elif kind == 2:      # memory: limits
        detail = read_limits(r)
    elif kind == 3:      # global: valtype + mutability
        read_valtype(r)
        r.byte()
    elif kind == 4:      # tag: attribute + type index
        r.byte()
        r.uleb()
    else:
        raise ValueError(f"unknown import kind {kind}")
    return kind, detail


def _imported_memories(r: Reader) -> Iterator[tuple[str, str, int, Limits]]:
    for module, name, kind, detail in read_imports(r):
        if kind == 2:
            assert isinstance(detail, Limits)
            yield module, name, kind, detail


# ---------------------------------------------------------------- signatures
#
# Function signatures of imports and exports, as strings ("i32", "i64",
# "f32", "f64", "v128", "funcref", "externref", "ref" ...). wasmtime-py can
# only describe the four number types and two reference types: asking it
# about a v128 or GC-reference signature aborts the process, so signatures
# are read here instead.

Signature = tuple[tuple[str, ...], tuple[str, ...]]
# What an import or export is: a function's signature, or the kind of a
# non-function ("table", "memory", "global", "tag"; "func" if its type is not
# a function type the reader understands).
Item = Signature | str
_KINDS = {0: "func", 1: "table", 2: "memory", 3: "global", 4: "tag"}

_NUMBER_TYPES = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64", 0x7B: "v128",
                 0x78: "i8", 0x77: "i16"}
_SHORT_REFS = {0x70: "funcref", 0x6F: "externref"}


def read_valtype(r: Reader) -> str:
    """A value type's name ("i32", "funcref", "ref" ...), its bytes consumed."""
    code = r.byte()
    if code in _NUMBER_TYPES:
        return _NUMBER_TYPES[code]
    if code in _SHORT_REFS:
        return _SHORT_REFS[code]
    if code in (0x63, 0x64):  # (ref null? heaptype): heaptype is an s33
        _sleb(r)
        return "ref"
    if 0x65 <= code <= 0x74:  # other abstract heap types in short form
        return "ref"
    raise ValueError(f"unknown value type 0x{code:02x}")


def _sleb(r: Reader) -> None:
    while r.byte() & 0x80:
        pass


def _comptype(r: Reader) -> Signature | None:
    form = r.byte()
    if form == 0x60:  # func
        params = tuple(read_valtype(r) for _ in range(r.uleb()))
        results = tuple(read_valtype(r) for _ in range(r.uleb()))
        return params, results
    if form == 0x5F:  # struct: fields
        for _ in range(r.uleb()):
            read_valtype(r)
            r.byte()
        return None
    if form == 0x5E:  # array: one field
        read_valtype(r)
        r.byte()
        return None
    raise ValueError(f"unknown composite type 0x{form:02x}")


def _subtype(r: Reader) -> Signature | None:
    if r.data[r.pos] in (0x50, 0x4F):  # sub / sub final: supertypes, then the type
        r.byte()
        for _ in range(r.uleb()):
            r.uleb()
    return _comptype(r)


def read_types(r: Reader) -> list[Signature | None]:
    types: list[Signature | None] = []
    for _ in range(r.uleb()):
        if r.data[r.pos] == 0x4E:  # rec group
            r.byte()
            types.extend(_subtype(r) for _ in range(r.uleb()))
        else:
            types.append(_subtype(r))
    return types


def signatures(wasm: bytes) -> tuple[dict[tuple[str, str], Item], dict[str, Item]]:
    """({(module, name): item} of the imports, {name: item} of the exports),
    where an item is a function's signature or another kind's name.

    Call it on modules wasmtime has compiled; ValueError if it cannot read one.
    """
    try:
        return _scan_signatures(Reader(wasm))
    except (IndexError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the module's imports and exports: {exc}") from None


def _scan_signatures(r: Reader) -> tuple[dict[tuple[str, str], Item], dict[str, Item]]:
    types: list[Signature | None] = []
    functions: list[Signature | None] = []  # the function index space, imports first
    imports: dict[tuple[str, str], Item] = {}
    exports: dict[str, Item] = {}
    for section, end in _sections(r):
        if section == 1:
            types = read_types(r)
        elif section == 2:
            for module, name, kind, detail in read_imports(r):
                imports[(module, name)] = _KINDS.get(kind, "unknown")
                if kind == 0:
                    assert isinstance(detail, int)
                    sig = types[detail]
                    functions.append(sig)
                    if sig is not None:
                        imports[(module, name)] = sig
        elif section == 3:
            count = r.uleb()
            if end - r.pos == count:  # every type index is one byte (< 128): the common case
                functions.extend(map(types.__getitem__, r.data[r.pos:end]))
            else:
                functions.extend(types[r.uleb()] for _ in range(count))
        elif section == 7:
            for _ in range(r.uleb()):
                name = r.text()
                kind = r.byte()
                index = r.uleb()
                sig = functions[index] if kind == 0 else None
                exports[name] = sig if sig is not None else _KINDS.get(kind, "unknown")
    return imports, exports


# ---------------------------------------------------------------- inspection
#
# For `wasmplug info`: what a module declares, read without instantiating it.


def memories(wasm: bytes) -> list[tuple[str, int, int | None]]:
    """(origin, initial pages, maximum pages or None) of every memory, imports first.

    `origin` is "import module.name" or "defined"; ValueError if unreadable.
    """
    r = Reader(wasm)
    found: list[tuple[str, int, int | None]] = []
    try:
        for section, _ in _sections(r):
            if section == 2:
                found.extend((f"import {module}.{name}", limits.minimum, limits.maximum)
                             for module, name, _, limits in _imported_memories(r))
            elif section == 5:
                found.extend(("defined", *read_limits(r)[:2]) for _ in range(r.uleb()))
    except (IndexError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the module's memories: {exc}") from None
    return found


def custom_sections(wasm: bytes) -> list[tuple[str, bytes]]:
    """(name, contents) of every custom section, in order; ValueError if unreadable."""
    r = Reader(wasm)
    found: list[tuple[str, bytes]] = []
    try:
        for section, end in _sections(r):
            if section == 0:
                name = r.text()
                found.append((name, r.data[r.pos:end]))
    except (IndexError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the module's custom sections: {exc}") from None
    return found


def producers(contents: bytes) -> dict[str, list[str]]:
    """The `producers` custom section: {"language": ["Rust 1.78"], "processed-by": [...], ...}."""
    r = Reader(contents)
    out: dict[str, list[str]] = {}
    try:
        for _ in range(r.uleb()):
            field_name = r.text()
            out[field_name] = [f"{r.text()} {r.text()}".strip() for _ in range(r.uleb())]
    except (IndexError, UnicodeDecodeError) as exc:
        raise ValueError(f"malformed producers section: {exc}") from None
    return out


# ---------------------------------------------------------------- counts

_COUNTED = {2: "imports", 3: "functions", 4: "tables", 5: "memories", 7: "exports"}


def item_counts(wasm: bytes) -> dict[str, int]:
    """How many imports, functions, tables, memories and exports a module
    declares, read from the section headers alone (cheap, before compiling).

    Imported tables and memories are counted with the imports only. A binary
    too malformed to read gives what could be read: the compiler reports it.
    """
    counts = dict.fromkeys(_COUNTED.values(), 0)
    if not wasm.startswith(b"\0asm"):
        return counts
    r = Reader(wasm)
    try:
        for section, _ in _sections(r):
            if section in _COUNTED:
                counts[_COUNTED[section]] = r.uleb()
    except IndexError:
        pass
    return counts


# ---------------------------------------------------------------- facts


@record(frozen=True)
class ModuleFacts:
    """What the host reads from a module's binary besides compiling it.

    Computed once per module (`ModuleFacts.of`); for a module loaded from a
    file, `source_memo` keeps them across processes with the file's SHA-256.
    """

    counts: dict[str, int]
    memory_minimums: tuple[int, ...]  # every memory, imported ones included
    own_memory_minimums: tuple[int, ...]  # the memories the module defines
    imports: dict[tuple[str, str], Item]
    exports: dict[str, Item]
    unreadable: str = ""  # why the imports and exports could not be read

    @classmethod
    def of(cls, wasm: bytes) -> ModuleFacts:
        """The facts of a wasm binary (for anything else, the compiler reports the problem)."""
        try:
            imports, exports = signatures(wasm) if wasm.startswith(b"\0asm") else ({}, {})
            unreadable = ""
        except ValueError as exc:
            imports, exports, unreadable = {}, {}, str(exc)
        return cls(item_counts(wasm), tuple(memory_minimums(wasm)),
                   tuple(memory_minimums(wasm, imported=False)), imports, exports, unreadable)

    def signatures(self) -> tuple[dict[tuple[str, str], Item], dict[str, Item]]:
        """(imports, exports) as `signatures` gives them; ValueError if they were unreadable."""
        if self.unreadable:
            raise ValueError(self.unreadable)
        return self.imports, self.exports

    def to_json(self) -> dict[str, Any]:
        return {"counts": self.counts, "memory_minimums": list(self.memory_minimums),
                "own_memory_minimums": list(self.own_memory_minimums),
                "imports": [[module, name, _item_json(item)]
                            for (module, name), item in self.imports.items()],
                "exports": [[name, _item_json(item)] for name, item in self.exports.items()],
                "unreadable": self.unreadable}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModuleFacts:
        """The inverse of `to_json`; KeyError, TypeError or ValueError if `data` is not one."""
        return cls({str(k): int(v) for k, v in data["counts"].items()},
                   tuple(int(p) for p in data["memory_minimums"]),
                   tuple(int(p) for p in data["own_memory_minimums"]),
                   {(str(module), str(name)): _item_from_json(item)
                    for module, name, item in data["imports"]},
                   {str(name): _item_from_json(item) for name, item in data["exports"]},
                   str(data["unreadable"]))


def _item_json(item: Item) -> Any:
    return item if isinstance(item, str) else [list(item[0]), list(item[1])]


def _item_from_json(data: Any) -> Item:
    if isinstance(data, str):
        return data
    params, results = data
    return tuple(str(t) for t in params), tuple(str(t) for t in results)

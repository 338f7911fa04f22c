"""Facts read straight from a wasm binary: the memories a module declares.

wasmtime's `Module` shows only exported and imported memories; limits must
also count a memory the module keeps private.
"""

from __future__ import annotations


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

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

    def name(self) -> None:
        length = self.uleb()  # read first: `pos += uleb()` would add to the old pos
        self.pos += length

    def limits(self) -> tuple[int, int]:
        """(flags, minimum); the maximum (and, for memory64/shared, the rest) is skipped."""
        flags = self.uleb()
        minimum = self.uleb()
        if flags & 1:
            self.uleb()
        if flags & 8:  # custom page size (proposal)
            self.uleb()
        return flags, minimum


def memory_minimums(wasm: bytes, imported: bool = True) -> list[int]:
    """Initial sizes (in pages) of every memory the module defines (and, with
    `imported`, imports).

    Returns [] for anything that is not a wasm binary (WAT text, say); a
    malformed binary is the compiler's to report, so this never raises.
    """
    if not wasm.startswith(b"\0asm"):
        return []
    try:
        return _scan(_Reader(wasm), imported)
    except (IndexError, ValueError):
        return []


def _scan(r: _Reader, imported: bool) -> list[int]:
    r.pos = 8
    pages: list[int] = []
    while r.pos < len(r.data):
        section = r.byte()
        size = r.uleb()
        end = r.pos + size
        if section == 2:  # imports
            for _ in range(r.uleb()):
                r.name()
                r.name()
                kind = r.byte()
                if kind == 0:        # function: type index
                    r.uleb()
                elif kind == 1:      # table: reftype + limits
                    r.byte()
                    r.limits()
                elif kind == 2:      # memory
                    minimum = r.limits()[1]
                    if imported:
                        pages.append(minimum)
                elif kind == 3:      # global: valtype + mutability
                    _skip_valtype(r)
                    r.byte()
                elif kind == 4:      # tag: attribute + type index
                    r.byte()
                    r.uleb()
                else:
                    raise ValueError(f"unknown import kind {kind}")
        elif section == 5:  # memories
            for _ in range(r.uleb()):
                pages.append(r.limits()[1])
        r.pos = end
    return pages


def _skip_valtype(r: _Reader) -> None:
    kind = r.byte()
    if kind in (0x63, 0x64):  # (ref null? heaptype)
        r.uleb()  # heap type (abstract types are single negative-looking bytes; s33 fits)


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


def _valtype(r: _Reader) -> str:
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


def _sleb(r: _Reader) -> None:
    while r.byte() & 0x80:
        pass


def _comptype(r: _Reader) -> Signature | None:
    form = r.byte()
    if form == 0x60:  # func
        params = tuple(_valtype(r) for _ in range(r.uleb()))
        results = tuple(_valtype(r) for _ in range(r.uleb()))
        return params, results
    if form == 0x5F:  # struct: fields
        for _ in range(r.uleb()):
            _valtype(r)
            r.byte()
        return None
    if form == 0x5E:  # array: one field
        _valtype(r)
        r.byte()
        return None
    raise ValueError(f"unknown composite type 0x{form:02x}")


def _subtype(r: _Reader) -> Signature | None:
    if r.data[r.pos] in (0x50, 0x4F):  # sub / sub final: supertypes, then the type
        r.byte()
        for _ in range(r.uleb()):
            r.uleb()
    return _comptype(r)


def _types(r: _Reader) -> list[Signature | None]:
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
        return _scan_signatures(_Reader(wasm))
    except (IndexError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the module's imports and exports: {exc}") from None


def _text(r: _Reader) -> str:
    length = r.uleb()
    text = r.data[r.pos:r.pos + length].decode("utf-8")
    r.pos += length
    return text


def _scan_signatures(r: _Reader) -> tuple[dict[tuple[str, str], Item], dict[str, Item]]:
    r.pos = 8
    types: list[Signature | None] = []
    functions: list[Signature | None] = []  # the function index space, imports first
    imports: dict[tuple[str, str], Item] = {}
    exports: dict[str, Item] = {}
    while r.pos < len(r.data):
        section = r.byte()
        size = r.uleb()
        end = r.pos + size
        if section == 1:
            types = _types(r)
        elif section == 2:
            for _ in range(r.uleb()):
                module, name = _text(r), _text(r)
                kind = r.byte()
                imports[(module, name)] = _KINDS.get(kind, "unknown")
                if kind == 0:
                    sig = types[r.uleb()]
                    functions.append(sig)
                    if sig is not None:
                        imports[(module, name)] = sig
                elif kind == 1:
                    _valtype(r)
                    r.limits()
                elif kind == 2:
                    r.limits()
                elif kind == 3:
                    _valtype(r)
                    r.byte()
                elif kind == 4:
                    r.byte()
                    r.uleb()
                else:
                    raise ValueError(f"unknown import kind {kind}")
        elif section == 3:
            functions.extend(types[r.uleb()] for _ in range(r.uleb()))
        elif section == 7:
            for _ in range(r.uleb()):
                name = _text(r)
                kind = r.byte()
                index = r.uleb()
                sig = functions[index] if kind == 0 else None
                exports[name] = sig if sig is not None else _KINDS.get(kind, "unknown")
        r.pos = end
    return imports, exports


# ---------------------------------------------------------------- inspection
#
# For `wasmplug info`: what a module declares, read without instantiating it.


def _limits_with_max(r: _Reader) -> tuple[int, int | None]:
    flags = r.uleb()
    minimum = r.uleb()
    maximum = r.uleb() if flags & 1 else None
    if flags & 8:  # custom page size (proposal)
        r.uleb()
    return minimum, maximum


def memories(wasm: bytes) -> list[tuple[str, int, int | None]]:
    """(origin, initial pages, maximum pages or None) of every memory, imports first.

    `origin` is "import module.name" or "defined"; ValueError if unreadable.
    """
    r = _Reader(wasm)
    r.pos = 8
    found: list[tuple[str, int, int | None]] = []
    try:
        while r.pos < len(r.data):
            section = r.byte()
            size = r.uleb()
            end = r.pos + size
            if section == 2:
                for _ in range(r.uleb()):
                    module, name = _text(r), _text(r)
                    kind = r.byte()
                    if kind == 0:
                        r.uleb()
                    elif kind == 1:
                        _valtype(r)
                        r.limits()
                    elif kind == 2:
                        found.append((f"import {module}.{name}", *_limits_with_max(r)))
                    elif kind == 3:
                        _valtype(r)
                        r.byte()
                    elif kind == 4:
                        r.byte()
                        r.uleb()
                    else:
                        raise ValueError(f"unknown import kind {kind}")
            elif section == 5:
                found.extend(("defined", *_limits_with_max(r)) for _ in range(r.uleb()))
            r.pos = end
    except (IndexError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the module's memories: {exc}") from None
    return found


def custom_sections(wasm: bytes) -> list[tuple[str, bytes]]:
    """(name, contents) of every custom section, in order; ValueError if unreadable."""
    r = _Reader(wasm)
    r.pos = 8
    found: list[tuple[str, bytes]] = []
    try:
        while r.pos < len(r.data):
            section = r.byte()
            size = r.uleb()
            end = r.pos + size
            if section == 0:
                name = _text(r)
                found.append((name, r.data[r.pos:end]))
            r.pos = end
    except (IndexError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the module's custom sections: {exc}") from None
    return found


def producers(contents: bytes) -> dict[str, list[str]]:
    """The `producers` custom section: {"language": ["Rust 1.78"], "processed-by": [...], ...}."""
    r = _Reader(contents)
    out: dict[str, list[str]] = {}
    try:
        for _ in range(r.uleb()):
            field_name = _text(r)
            out[field_name] = [f"{_text(r)} {_text(r)}".strip() for _ in range(r.uleb())]
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
    r = _Reader(wasm)
    r.pos = 8
    try:
        while r.pos < len(wasm):
            section = r.byte()
            size = r.uleb()
            end = r.pos + size
            if section in _COUNTED:
                counts[_COUNTED[section]] = r.uleb()
            r.pos = end
    except IndexError:
        pass
    return counts

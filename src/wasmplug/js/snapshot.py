"""Pre-initialising the sandbox runtime: start QuickJS once, keep the result.

Every new sandbox used to start a JS runtime and a context and evaluate the
PDK's globals (about 1.5 ms of a new process's first result). `preinitialise`
does that once, when the bare runtime is made (`prebuilt.bare_runtime_path`):
it instantiates the module with plain wasmtime, calls `_initialize` (the C
library's constructors) and `__wasmplug_preinit` (runtime, context, globals),
and writes a new module whose initial memory and mutable globals are the
instance's, and which no longer exports those two functions. wasmtime maps
that memory copy-on-write, so an instance starts with QuickJS ready; the first
load applies the heap limit and re-seeds Math.random (see wasmplug_js.c).

The same technique as Wizer's, for this one module: the module may not import
anything the pre-initialisation would need from the host (its imports get
stubs that trap), and its data must be active segments of memory 0.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable

from wasmplug.binary import (
    Section,
    assemble,
    count_imports,
    encode_name,
    encode_sleb,
    encode_uleb,
    read_exports,
    read_vec,
)

from .embed import EmbedError, sections_of

PREINIT = "__wasmplug_preinit"
CONSTRUCTORS = "_initialize"
FORMAT = 1  # part of the bare runtime's file name: a new format makes a new file
_SECTION_MEMORY, _SECTION_GLOBAL, _SECTION_EXPORT, _SECTION_START = 5, 6, 7, 8
_SECTION_DATA, _SECTION_DATACOUNT, _SECTION_IMPORT = 11, 12, 2
_GLOBAL_EXPORT = "__wasmplug_snapshot_global_"
# A data segment: non-zero bytes, with runs of fewer than 64 zeros inside.
_NONZERO = re.compile(rb"[^\0]+(?:\0{1,63}[^\0]+)*")


class SnapshotError(EmbedError):
    """The module cannot be pre-initialised (it is used as it is)."""


def preinitialise(wasm: bytes) -> bytes:
    """`wasm` (the bare runtime) with its runtime and context already made."""
    import wasmtime  # (only when a runtime is built: ~40 ms a process need not pay)

    sections = sections_of(wasm)
    ids = [s.id for s in sections]
    if _SECTION_START in ids or _SECTION_DATA not in ids:
        raise SnapshotError("the module has a start function or no data")
    by_id = {s.id: s for s in sections if s.id}
    exports = {name for name, _, _ in read_exports(by_id[_SECTION_EXPORT].payload)}
    if PREINIT not in exports:
        raise SnapshotError(f"the module exports no {PREINIT}")
    imported_globals = (count_imports(by_id[_SECTION_IMPORT].payload, kind=3)
                        if _SECTION_IMPORT in by_id else 0)
    globals_ = _globals(by_id.get(_SECTION_GLOBAL))
    mutable = [i for i, (_, mut, _) in enumerate(globals_) if mut]
    # An instrumented copy exports every mutable global, so their values can be read.
    extra = [(f"{_GLOBAL_EXPORT}{i}", 3, imported_globals + i) for i in mutable]
    probe = _rebuild(sections, {_SECTION_EXPORT: _export_section(by_id[_SECTION_EXPORT], set(),
                                                                  extra)})
    memory, pages, values = _run(probe, CONSTRUCTORS in exports, [name for name, _, _ in extra])
    replaced = {
        _SECTION_EXPORT: _export_section(by_id[_SECTION_EXPORT], {PREINIT, CONSTRUCTORS}, []),
        _SECTION_MEMORY: _memory_section(by_id[_SECTION_MEMORY], pages),
        _SECTION_DATA: _data_section(memory, by_id.get(_SECTION_DATA)),
    }
    if mutable:
        replaced[_SECTION_GLOBAL] = _global_section(globals_, dict(zip(mutable, values, strict=True)))
    if _SECTION_DATACOUNT in by_id:
        replaced[_SECTION_DATACOUNT] = encode_uleb(read_vec(replaced[_SECTION_DATA])[0])
    out = _rebuild(sections, replaced)
    wasmtime.Module.validate(wasmtime.Engine(), out)
    return out


def _run(wasm: bytes, constructors: bool, global_names: list[str]
         ) -> tuple[bytes, int, list[int | float]]:
    """Instantiate, pre-initialise, and return (memory, pages, mutable global values)."""
    import wasmtime

    engine = wasmtime.Engine()
    module = wasmtime.Module(engine, wasm)
    linker = wasmtime.Linker(engine)
    linker.allow_shadowing = True  # unused host-function slots share one import
    linker.define_wasi()
    for item in module.imports:
        if item.module == "wasi_snapshot_preview1":
            continue
        if not isinstance(item.type, wasmtime.FuncType):
            raise SnapshotError(f"the module imports {item.module}.{item.name}, not a function")
        linker.define_func(item.module, item.name or "", item.type, _refuse(item.module, item.name))
    store = wasmtime.Store(engine)
    store.set_wasi(wasmtime.WasiConfig())
    instance = linker.instantiate(store, module)
    exports = instance.exports(store)

    def call(name: str) -> object:
        func = exports[name]
        assert isinstance(func, wasmtime.Func)
        return func(store)
    if constructors:
        call(CONSTRUCTORS)
    if call(PREINIT) != 0:
        raise SnapshotError(f"{PREINIT} failed")
    memory = exports["memory"]
    assert isinstance(memory, wasmtime.Memory)
    values: list[int | float] = []
    for name in global_names:
        glob = exports[name]
        assert isinstance(glob, wasmtime.Global)
        value = glob.value(store)
        assert isinstance(value, int | float)
        values.append(value)
    return bytes(memory.read(store, 0, memory.data_len(store))), memory.size(store), values


def _refuse(module: str, name: str | None) -> Callable[..., None]:
    def stub(*args: object) -> None:
        import wasmtime

        raise wasmtime.Trap(f"{module}.{name} called while pre-initialising")
    return stub


def _globals(section: Section | None) -> list[tuple[int, bool, bytes]]:
    """(value type, mutable, init expression) of each global the module defines."""
    if section is None:
        return []
    count, r = read_vec(section.payload)
    out = []
    for _ in range(count):
        valtype, mutable = r.byte(), r.byte()
        start = r.pos
        while True:  # a constant expression: const/global.get instructions, then end
            op = r.byte()
            if op == 0x0B:
                break
            if op in (0x41, 0x42):
                while r.byte() & 0x80:
                    pass
            elif op == 0x43:
                r.take(4)
            elif op == 0x44:
                r.take(8)
            elif op == 0x23:
                r.uleb()
            else:
                raise SnapshotError(f"unsupported instruction 0x{op:02x} in a global's initialiser")
        out.append((valtype, bool(mutable), r.data[start:r.pos]))
    return out


def _global_section(globals_: list[tuple[int, bool, bytes]], values: dict[int, int | float]) -> bytes:
    out = bytearray(encode_uleb(len(globals_)))
    for i, (valtype, mutable, init) in enumerate(globals_):
        if i in values:
            init = _const(valtype, values[i])
        out += bytes([valtype, mutable]) + init
    return bytes(out)


def _const(valtype: int, value: int | float) -> bytes:
    if valtype in (0x7F, 0x7E):  # i32, i64: signed LEB128 of the two's-complement value
        bits = 32 if valtype == 0x7F else 64
        number = int(value) & (2**bits - 1)
        number -= 2**bits if number >> (bits - 1) else 0
        return bytes([0x41 if bits == 32 else 0x42]) + encode_sleb(number) + b"\x0b"
    if valtype == 0x7D:
        return b"\x43" + struct.pack("<f", value) + b"\x0b"
    if valtype == 0x7C:
        return b"\x44" + struct.pack("<d", value) + b"\x0b"
    raise SnapshotError(f"cannot snapshot a mutable global of type 0x{valtype:02x}")


def _export_section(section: Section, drop: set[str], extra: list[tuple[str, int, int]]) -> bytes:
    kept = [e for e in read_exports(section.payload) if e[0] not in drop] + extra
    return encode_uleb(len(kept)) + b"".join(
        encode_name(name) + bytes([kind]) + encode_uleb(index) for name, kind, index in kept)


def _memory_section(section: Section, pages: int) -> bytes:
    count, r = read_vec(section.payload)
    if count != 1:
        raise SnapshotError(f"the module defines {count} memories, not one")
    flags, minimum = r.uleb(), r.uleb()
    maximum = r.uleb() if flags & 1 else None
    if flags & ~1:
        raise SnapshotError("the module's memory is shared or 64-bit")
    if maximum is not None and pages > maximum:
        raise SnapshotError("the memory grew past its maximum")
    out = encode_uleb(1) + encode_uleb(flags) + encode_uleb(max(minimum, pages))
    return out + (encode_uleb(maximum) if maximum is not None else b"")


def _data_section(memory: bytes, original: Section | None) -> bytes:
    if original is not None:
        count, r = read_vec(original.payload)
        for _ in range(count):
            if r.uleb() != 0:
                raise SnapshotError("the module has passive data segments")
            while r.byte() != 0x0B:
                pass
            r.take(r.uleb())
    segments = [m.span() for m in _NONZERO.finditer(memory)]
    out = bytearray(encode_uleb(len(segments)))
    for start, end in segments:
        out += b"\x00\x41" + encode_sleb(start) + b"\x0b" + encode_uleb(end - start) + memory[start:end]
    return bytes(out)


def _rebuild(sections: list[Section], replaced: dict[int, bytes]) -> bytes:
    return assemble([Section(s.id, replaced.get(s.id, s.payload) if s.id else s.payload)
                      for s in sections])

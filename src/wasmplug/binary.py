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


def memory_minimums(wasm: bytes) -> list[int]:
    """Initial sizes (in pages) of every memory the module defines or imports.

    Returns [] for anything that is not a wasm binary (WAT text, say); a
    malformed binary is the compiler's to report, so this never raises.
    """
    if not wasm.startswith(b"\0asm"):
        return []
    try:
        return _scan(_Reader(wasm))
    except (IndexError, ValueError):
        return []


def _scan(r: _Reader) -> list[int]:
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
                    pages.append(r.limits()[1])
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

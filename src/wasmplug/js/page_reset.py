"""Put a Wasm memory back to a saved state by copying only the pages changed since.

A Sandbox with fresh state per call (the default) starts every call from its
memory as it was right after the code was evaluated. Copying that whole state
back costs in proportion to its size (megabytes) while a call changes a few
dozen pages. `PageReset` lets the kernel tell which pages changed:

* the saved state goes into a sealed memfd (`os.memfd_create`), and that file is
  mapped ``MAP_PRIVATE | MAP_FIXED`` over the memory's first bytes (the base is
  the instance's memory address; the engine never moves a memory, and growing it
  only opens pages above the mapped ones). A page the guest only reads stays the
  file's page; the first write to a page makes it a private anonymous copy;
* `written` asks the kernel (one ``PAGEMAP_SCAN`` ioctl, Linux 6.7+; without it
  the Sandbox copies the whole state, and `reset` reads ``/proc/self/pagemap``)
  for the pages that are anonymous (present or swapped
  out): exactly those written since the mapping was made. The Sandbox passes their
  runs to the runtime, which copies them back from its own copy of the state (see
  restore_pages in runtime/wasmplug_js.c); `reset` does the same from the host's
  side (the self-check). A page so restored stays anonymous (and is copied again at
  the next reset, without a page fault in between); when those pile up past a
  quarter of the mapping they are dropped instead (``MADV_DONTNEED``: read back
  from the file at their next use).

It relies on how Linux and wasmtime map memory, so `PageReset` checks itself
when made (pages written, reset, the whole region compared with the state byte
for byte) and raises `PageResetUnavailable` if anything is off; the Sandbox then
copies the whole state inside the instance instead (see sandbox.py). The
memfd's pages are the only host memory this costs (the size of the state).
Linux only.
"""

from __future__ import annotations

import ctypes
import fcntl
import mmap
import os
import re
import threading
import weakref

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_MAP_FIXED = 0x10
_MADV_DONTNEED = 4
_MAP_FAILED = ctypes.c_void_p(-1).value
# PAGEMAP_SCAN (Linux 6.7+): the written pages as ranges, from one ioctl.
_PAGEMAP_SCAN = 0xC0606610  # _IOWR('f', 16, struct pm_scan_arg)
_IS_FILE, _IS_PRESENT, _IS_SWAPPED = 1 << 2, 1 << 3, 1 << 4
_RANGES = 64


class _ScanArg(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in (
        "size", "flags", "start", "end", "walk_end", "vec", "vec_len", "max_pages",
        "category_inverted", "category_mask", "category_anyof_mask", "return_mask")]


class _Range(ctypes.Structure):
    _fields_ = [("start", ctypes.c_uint64), ("end", ctypes.c_uint64), ("categories", ctypes.c_uint64)]


# Without PAGEMAP_SCAN, one 8-byte entry per page. Its top byte: bit 7 present,
# bit 6 swapped, bit 5 a file (or shared) page. Written since the mapping: swapped,
# or present and not the file's page.
_WRITTEN = bytes(1 if b & 0x40 or (b & 0x80 and not b & 0x20) else 0 for b in range(256))
_RUNS = re.compile(rb"\x01+")

_libc: ctypes.CDLL | None = None
_pagemap_fd: int | None = None
_setup_lock = threading.Lock()


class PageResetUnavailable(Exception):
    """The pages cannot be managed this way here (the reason says why)."""


def _system() -> tuple[ctypes.CDLL, int]:
    """libc's mmap/munmap/madvise and a descriptor of /proc/self/pagemap (one per process)."""
    global _libc, _pagemap_fd
    with _setup_lock:
        if _libc is None or _pagemap_fd is None:
            if not hasattr(os, "memfd_create") or not hasattr(fcntl, "F_ADD_SEALS"):
                raise PageResetUnavailable("no memfd with seals on this system")
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                libc.mmap.restype = ctypes.c_void_p
                libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                                      ctypes.c_int, ctypes.c_long]
                libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
                libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
                libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
                fd = os.open("/proc/self/pagemap", os.O_RDONLY | os.O_CLOEXEC)
            except (OSError, AttributeError) as exc:
                raise PageResetUnavailable(f"cannot use mmap or /proc/self/pagemap: {exc}") from None
            _libc, _pagemap_fd = libc, fd
        return _libc, _pagemap_fd


class PageReset:
    """The memory at `address` restorable to `image` (its first ``len(image)`` bytes).

    `address` and ``len(image)`` must be page-aligned, and the region must be the
    live, writable memory of an instance that stays alive (and in place) while
    this object is used. Making it replaces the region's mapping with the image
    (the region's bytes must already equal `image`); after a failure the region's
    contents are unknown: drop the instance.
    """

    def __init__(self, address: int, image: bytes) -> None:
        self.address, self.length = address, len(image)
        self.pages = self.length // _PAGE
        if address % _PAGE or self.length % _PAGE or not self.length:
            raise PageResetUnavailable(f"region {address:#x}+{self.length} is not whole pages")
        libc, self._pagemap = _system()
        self._madvise, self._ioctl = libc.madvise, libc.ioctl
        self._pagemap_at = address // _PAGE * 8
        # Pages that are (present or swapped out) and not the file's: written since mapped.
        self._ranges = (_Range * _RANGES)()
        self._scan = _ScanArg(size=ctypes.sizeof(_ScanArg), end=address + self.length,
                              vec=ctypes.addressof(self._ranges), vec_len=_RANGES,
                              category_inverted=_IS_FILE, category_mask=_IS_FILE,
                              category_anyof_mask=_IS_PRESENT | _IS_SWAPPED)
        self._scan_ref = ctypes.byref(self._scan)
        self._use_scan = True
        self.dropped_past = max(16, self.pages // 4) * _PAGE
        fd = os.memfd_create("wasmplug-js-state", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            os.ftruncate(fd, self.length)
            view, step = memoryview(image), 1 << 16
            for start in range(0, self.length, step):  # holes stay holes (read as zeros)
                if image.count(0, start, start + step) != step:
                    os.pwrite(fd, view[start:start + step], start)
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW
                        | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL)
            source = libc.mmap(None, self.length, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
            if source in (None, _MAP_FAILED):
                raise PageResetUnavailable(f"mmap of the saved state failed (errno {ctypes.get_errno()})")
            self._source: int = source
            self._finalizer = weakref.finalize(self, libc.munmap, source, self.length)
            placed = libc.mmap(address, self.length, mmap.PROT_READ | mmap.PROT_WRITE,
                               mmap.MAP_PRIVATE | _MAP_FIXED, fd, 0)
            if placed != address:
                self.close()
                raise PageResetUnavailable(f"mmap over the memory failed (errno {ctypes.get_errno()})")
        finally:
            os.close(fd)
        self._self_check(image)

    def _self_check(self, image: bytes) -> None:
        """Write into pages across the region, reset, and compare it all with the image."""
        for page in sorted({0, 1, self.pages // 3, self.pages // 2, self.pages - 1}):
            if page < self.pages:
                ctypes.memset(self.address + page * _PAGE + 123, 0xA5, 1000)
        if not self.reset() or ctypes.string_at(self.address, self.length) != image:
            self.close()
            raise PageResetUnavailable("the self-check failed: a reset did not restore the saved state")

    def written(self) -> tuple[bytes, int, int] | None:
        """The pages written since the last reset, for the runtime to copy back itself:
        (PAGEMAP_SCAN's page_region records -- start, end, flags as u64 -- their count,
        their bytes), or None (no PAGEMAP_SCAN, or the kernel refused: use `reset`)."""
        if not self._use_scan:
            return None
        scan, found_all, count, total = self._scan, b"", 0, 0
        scan.start = self.address
        raw = memoryview(self._ranges).cast("B")
        while True:
            found = self._ioctl(self._pagemap, _PAGEMAP_SCAN, self._scan_ref)
            if found < 0:
                self._use_scan = False
                return None
            chunk = bytes(raw[:found * 24])
            found_all += chunk
            count += found
            ends = memoryview(chunk).cast("Q")
            total += sum(ends[1::3]) - sum(ends[0::3])
            if scan.walk_end >= scan.end:
                return found_all, count, total
            if scan.walk_end <= scan.start:
                self._use_scan = False
                return None
            scan.start = scan.walk_end

    def drop(self, records: bytes) -> bool:
        """Give the written pages back (`written`'s records): read from the file when next used."""
        runs = memoryview(records).cast("Q")
        for i in range(0, len(runs), 3):
            if self._madvise(runs[i], runs[i + 1] - runs[i], _MADV_DONTNEED):
                return False
        return True

    def reset(self) -> bool:
        """Copy back every page written since the last reset from the host's side (the
        self-check's way; the Sandbox lets the runtime copy them, see `written`)."""
        written = self.written()
        if written is not None:
            records = memoryview(written[0]).cast("Q")
            runs = [(records[i] - self.address, records[i + 1] - records[i])
                    for i in range(0, len(records), 3)]
        else:
            found = self._written_pagemap()
            if found is None:
                return False
            runs = found
        if sum(n for _, n in runs) > self.dropped_past:  # give the copies back instead
            return all(not self._madvise(self.address + offset, n, _MADV_DONTNEED) for offset, n in runs)
        for offset, n in runs:
            ctypes.memmove(self.address + offset, self._source + offset, n)
        return True

    def _written_pagemap(self) -> list[tuple[int, int]] | None:
        """(offset, bytes) of the written runs, from the pagemap entries; None if unreadable."""
        entries = os.pread(self._pagemap, self.pages * 8, self._pagemap_at)
        if len(entries) != self.pages * 8:
            return None
        written = entries[7::8].translate(_WRITTEN)
        return [(m.start() * _PAGE, (m.end() - m.start()) * _PAGE) for m in _RUNS.finditer(written)]

    def close(self) -> None:
        """Unmap the saved state's source (the region's mapping goes with the instance)."""
        self._finalizer()

"""Run untrusted JavaScript: evaluate a code string, call the function it defines.

Usage::

    from wasmplug.js import Sandbox

    code = "function solve(text) { return text.split(' ').length }"
    with Sandbox(code, timeout_ms=500) as box:
        box.call("a b c")            # b"3"   (input: str/bytes, result: bytes)
        box.call_json({"x": 1})      # JSON in, JSON out (the function gets the parsed value)

The code runs in wasmplug's QuickJS runtime inside a Wasm sandbox: no files,
no network unless `allowed_hosts` lists the host (then `Http.request`), no
access to the Python process. See :class:`Sandbox` for the limits and errors.
"""

from __future__ import annotations

import ctypes
import functools
import json
import struct
import threading
from typing import Any

import wasmplug

from . import prebuilt
from .errors import JSError, from_call_error
from .page_reset import PageReset, PageResetUnavailable
from .plugin_build import listing_names, load_request, with_heap_limit

MiB = 1024 * 1024
_PAGE = 65_536
_RENEW = 2  # __wasmplug_invoke's return code: the saved state needs a new instance


# Whether the host can put back a call's pages (page_reset.py); False after its
# self-check failed once in this process: every Sandbox then copies inside.
_pages_usable = True


def _disable_pages() -> None:
    global _pages_usable
    _pages_usable = False


@functools.lru_cache(maxsize=32)
def _compiled(runtime: str, max_pages: int, timeout_ms: int, allowed_hosts: tuple[str, ...],
              config: tuple[tuple[str, str], ...], fuel: int | None) -> wasmplug.CompiledPlugin:
    """The runtime, set up with these limits; shared by every Sandbox that has them."""
    manifest: dict[str, Any] = {
        "wasm": [{"path": runtime}],
        "memory": {"max_pages": max_pages},
        "timeout_ms": timeout_ms,
        "allowed_hosts": list(allowed_hosts) or None,
    }
    if config:
        manifest["config"] = dict(config)
    return wasmplug.CompiledPlugin(with_heap_limit(manifest), wasi=True, fuel_limit=fuel)


class Sandbox:
    """One piece of untrusted JS code, ready to be called many times.

    Args:
        code: JS source: a script (``function f(input) {...}``), CommonJS
            (``module.exports = {f}``) or an ES module (``export function f``).
        entry: the function to call. Default: the only function the code
            exports (``module.exports = function`` counts), else the only
            function it defines at the top level, as evaluated (``function f``,
            ``const f = () => ...``); if that is ambiguous, pass `entry`.
        timeout_ms: wall-clock bound of one call (and of evaluating the code).
        max_memory: bytes the sandbox may grow its memory by. A JS
            allocation beyond it fails inside JS with ``InternalError: out of
            memory`` (catchable by the code; uncaught it is a `JSError`).
        fuel: optional instruction budget per call (deterministic CPU bound).
        allowed_hosts: host names (globs) `Http.request` may reach; empty
            (the default): no network at all.
        keep_state: False (default): every call starts from the state right
            after the code was evaluated -- a copy of the runtime's memory
            saved then is put back first -- so no JS value survives from one
            call to the next (nor anything else the code left in the JS heap
            or the runtime's memory). True:
            globals persist across calls (the code is evaluated once). Values
            the code stores with ``Var.set`` live on the host side and last as
            long as the Sandbox either way.
        config: values the code can read with ``Config.get(key)``.
        filename: the name the code has in stack traces.

    `call(input)` passes `input` (str or UTF-8 bytes) as a string argument
    and returns the result as bytes: a string as UTF-8, a number or boolean
    as its text, an ArrayBuffer or typed array as is, any other value as
    JSON; ``Host.outputString`` also works. `call_json(value)` passes a JSON-able value and returns the
    function's result decoded from JSON.

    Errors (all subclasses of `wasmplug.Error`):
        `JSError`: the code threw or does not compile; `.message`
            (``TypeError: ...``), `.stack`, `.line`, `.column`.
        `wasmplug.CallTimeout`: `timeout_ms` passed (`.limit == "timeout_ms"`).
        `wasmplug.CallError` with `.limit` set: another limit stopped the
            call (``"fuel_limit"``, ``"memory.max_pages"``).
    The sandbox stays usable after any error; after a limit stopped a call
    it starts again from freshly evaluated code (even with keep_state).
    """

    def __init__(self, code: str, *, entry: str | None = None, timeout_ms: int = 2000,
                 max_memory: int = 32 * MiB, fuel: int | None = None,
                 allowed_hosts: tuple[str, ...] | list[str] = (), keep_state: bool = False,
                 config: dict[str, str] | None = None, filename: str = "sandbox.js") -> None:
        if not isinstance(code, str):
            raise TypeError("code must be a str of JavaScript")
        if max_memory < _PAGE:
            raise wasmplug.Error(f"max_memory must be at least {_PAGE} bytes, got {max_memory}")
        self.code = code
        self.filename = filename
        self.keep_state = keep_state
        self._compiled = _compiled(str(prebuilt.bare_runtime_path()), max_memory // _PAGE, timeout_ms,
                                   tuple(allowed_hosts), tuple(sorted((config or {}).items())), fuel)
        self._plugin: wasmplug.Plugin | None = None
        self._fresh = False
        self._saved = False
        self._pages: PageReset | None = None
        self._lost = False  # saving the state trapped: the loaded code is gone
        self._lock = threading.RLock()  # a reset and the call after it go together
        exported = self._load()
        self.entry = entry or self._pick_entry(exported)

    def _pick_entry(self, listing: tuple[list[str], list[str]]) -> str:
        """The only exported function, else the only function the code defined at the top
        level (as evaluated: declarations, `const f = () => ...`, assignments to globals)."""
        exported, top_level = listing
        candidates = exported or top_level
        if len(candidates) == 1:
            return candidates[0]
        found = ", ".join(candidates) or "none"
        which, what = ("function", "exports") if exported else ("top-level function", "defines")
        raise wasmplug.Error(f"which {which} should the sandbox call? The code {what} {found}; "
                             "pass entry='name'")

    def _load(self) -> tuple[list[str], list[str]]:
        if self._plugin is None:
            self._plugin = wasmplug.Plugin(self._compiled)
        try:
            listing: bytes = self._plugin.call("__wasmplug_load", load_request(self.code, self.filename))
        except wasmplug.CallError as exc:
            self._drop()
            raise from_call_error(exc, self.filename) from None
        self._fresh = True
        self._saved = False
        if not self.keep_state:
            # The state right after loading is saved: each call starts from it, without
            # a new instance or evaluating the code again. Best: the host keeps it and
            # puts back only the pages a call changed (page_reset.py); else the runtime
            # keeps a copy and puts it all back (see __wasmplug_snapshot in wasmplug_js.c).
            self._lost = False
            self._saved = self._save_pages()
            if not self._saved and not self._lost:
                self._saved = self._save_inside()
            if self._lost:
                # saving trapped (no memory left for the copy): the runtime dropped the
                # loaded code, so evaluate it in a new instance; calls then renew it each time
                self._plugin.renew()
                self._plugin.call("__wasmplug_load", load_request(self.code, self.filename))
        return listing_names(listing)

    def _save_pages(self) -> bool:
        assert self._plugin is not None
        if not _pages_usable:
            return False
        try:  # the runtime's own copy, and the region it covers: "start length"
            start, length = map(int, self._plugin.call("__wasmplug_snapshot", b"host").split())
        except wasmplug.CallError as exc:
            self._lost = exc.code != 1  # not an error the runtime reported: it trapped
            return False
        except ValueError:
            return False
        region = self._plugin.memory_region()
        if region is not None and start >= 0 and start + length <= region[1]:
            address = region[0] + start
            try:
                self._pages = PageReset(address, ctypes.string_at(address, length))
                return True
            except PageResetUnavailable:
                _disable_pages()
        # the region may be half replaced: a new instance, the code evaluated again
        self._plugin.renew()
        self._plugin.call("__wasmplug_load", load_request(self.code, self.filename))
        return False

    def _save_inside(self) -> bool:
        assert self._plugin is not None
        try:
            return self._plugin.call("__wasmplug_snapshot", b"") == b""
        except wasmplug.CallError as exc:
            self._lost = exc.code != 1  # e.g. no memory left for the copy: renew per call instead
            return False

    def _region_base(self) -> int | None:
        """The memory's address, if the saved pages still belong to this instance."""
        pages, plugin = self._pages, self._plugin
        if pages is None or plugin is None:
            return None
        region = plugin.memory_region()
        if region is None or not region[0] <= pages.address <= region[0] + region[1] - pages.length:
            return None
        return region[0]

    def _put_back_pages(self) -> bool:
        """Restore the saved state's pages from the host (the self-check's way)."""
        return self._pages is not None and self._region_base() is not None and self._pages.reset()

    def _restore_header(self, base: int) -> bytes:
        """The 'P' invoke's header: the runs of pages the last call wrote, which the
        runtime copies back from its own copy (see restore_pages in wasmplug_js.c);
        b"" if only a whole copy will do."""
        pages = self._pages
        assert pages is not None
        written = pages.written()
        if written is None:
            return b""
        records, count, total = written
        if total > pages.dropped_past:  # many pages: give them back instead of copying
            if not pages.drop(records):
                return b""
            records, count = b"", 0
        return b"P" + struct.pack("<QI", base, count) + records

    def _forget_pages(self) -> None:
        if self._pages is not None:
            self._pages.close()
        self._pages = None

    def _renew(self) -> None:
        assert self._plugin is not None
        self._forget_pages()
        self._plugin.renew()
        self._load()

    def _drop(self) -> None:
        self._forget_pages()
        if self._plugin is not None:
            self._plugin.close()
        self._plugin = None
        self._fresh = False
        self._saved = False

    def _invoke(self, mode: bytes, data: bytes) -> bytes:
        with self._lock:
            return self._invoke_locked(mode, data)

    def _invoke_locked(self, mode: bytes, data: bytes) -> bytes:
        restore = not self.keep_state and self._saved and self._plugin is not None
        header = b""
        if restore and self._pages is not None:
            base = self._region_base()
            if base is None:  # not the instance the pages were saved from: start anew
                restore = False
                self._forget_pages()
                self._fresh = self._saved = False
            else:
                header = self._restore_header(base)
                if not header:
                    self._forget_pages()  # the runtime copies all of it, now and from now on
        if not restore and (self._plugin is None or not (self.keep_state or self._fresh)):
            if self._plugin is not None:
                # A fresh instance, not just a fresh JS context: nothing the last
                # call left in memory survives.
                self._forget_pages()
                self._plugin.renew()
            self._load()
            restore = self._saved
        assert self._plugin is not None
        self._fresh = False
        request = (header + mode if header else mode.upper() if restore else mode) \
            + self.entry.encode() + b"\0" + data
        try:
            return self._plugin.call("__wasmplug_invoke", request)
        except wasmplug.CallError as exc:
            if restore and exc.code == _RENEW:
                # the instance's memory grew too much since the state was saved: start anew
                self._renew()
                return self._invoke_locked(mode, data)
            error = from_call_error(exc, self.filename)
            if not isinstance(error, JSError):
                self._drop()  # a limit stopped it mid-flight: start from a fresh instance
            raise error from None

    def call(self, input: str | bytes = b"") -> bytes:
        """Call the entry function with `input` as a string; its result as bytes."""
        data = input.encode() if isinstance(input, str) else bytes(input)
        return self._invoke(b"s", data)

    def call_json(self, value: Any = None) -> Any:
        """Call the entry function with a JSON-able `value`; its result decoded from JSON."""
        return json.loads(self._invoke(b"j", json.dumps(value).encode()))

    def close(self) -> None:
        with self._lock:
            self._drop()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

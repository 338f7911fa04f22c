"""Where the JavaScript runtime comes from: built once, on first use, into a cache.

The runtime contains QuickJS-ng, so it is not shipped in the repository or the
wheel; :func:`runtime_path` builds it from the pinned PyPI sources with the
``ziglang`` compiler (``pip install 'wasmplug[js]'``) the first time it is
needed (about a minute on 2 cores, ~1 MB) and reuses it afterwards.

Location: ``$WASMPLUG_JS_RUNTIME`` (a runtime.wasm you built or downloaded
yourself; it is used as is), else ``$WASMPLUG_JS_RUNTIME_DIR``, else
``$XDG_CACHE_HOME/wasmplug/js`` (``~/.cache/wasmplug/js``). The file name
carries a digest of the runtime's own C sources and pinned versions, so a new
wasmplug version builds a new runtime instead of using a stale one.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import wasmplug

from . import recipe, snapshot


def _log() -> Any:
    """The `wasmplug.js` logger: `logging` is imported only to warn (a build, a failed snapshot)."""
    import logging

    return logging.getLogger("wasmplug.js")


class RuntimeMissing(wasmplug.Error):
    """The JavaScript runtime is not built and could not be built."""


@functools.cache
def recipe_digest() -> str:
    """A digest of everything the runtime is built from (our sources, pinned versions, flags)."""
    h = hashlib.sha256()
    for name in recipe.OUR_SOURCES:
        h.update((recipe.RUNTIME_SOURCE_DIR / name).read_bytes())
    h.update(repr((recipe.QUICKJS_SDIST_SHA256, recipe.ZIGLANG_VERSION,
                   recipe.CFLAGS, recipe.LDFLAGS, recipe.SOURCE_EDITS)).encode())
    return h.hexdigest()[:16]


def runtime_dir() -> Path:
    configured = os.environ.get("WASMPLUG_JS_RUNTIME_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "wasmplug" / "js"


def runtime_path(*, build: bool = True) -> Path:
    """The runtime's path, building it first if needed (`build=False`: raise instead)."""
    given = os.environ.get("WASMPLUG_JS_RUNTIME")
    if given:
        path = Path(given)
        if not path.is_file():
            raise RuntimeMissing(f"WASMPLUG_JS_RUNTIME points to {path}, which is not a file")
        return path
    path = runtime_dir() / f"runtime-{recipe_digest()}.wasm"
    if path.is_file():
        return path
    if not build:
        raise RuntimeMissing(f"the JavaScript runtime is not built yet ({path}); build it with "
                             "`python -m wasmplug.js.build_runtime -o <path>` or let wasmplug build it")
    from . import build_runtime

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; the others wait and reuse it
        with contextlib.suppress(OSError):
            if path.is_file():
                return path
        _log().warning("building wasmplug's JavaScript runtime (QuickJS-ng) into %s: this happens "
                    "once and takes about a minute", path)
        try:
            build_runtime.build(path)
        except build_runtime.BuildError as exc:
            raise RuntimeMissing(f"could not build the JavaScript runtime: {exc}") from None
    return path


_cached: tuple[Path, bytes] | None = None
_derived_paths: dict[str, tuple[Path, Path]] = {}
_base: tuple[Path, bytes] | None = None


def runtime_bytes() -> bytes:
    """The runtime binary as built (built on first use); `wasmplug js build` edits it."""
    global _cached
    path = runtime_path()
    if _cached is None or _cached[0] != path:
        _cached = (path, path.read_bytes())
    return _cached[1]


def bare_runtime_path() -> Path:
    """The runtime as a plug-in of its own (the sandbox): no host functions imported,
    QuickJS started (`snapshot.preinitialise`). Made once, see `_derived`."""
    from .embed import resolve_host_slots

    return _derived("bare", lambda runtime: _preinitialised(resolve_host_slots(runtime)))


def build_base_path() -> Path:
    """The file of `build_base_bytes()`."""
    return _derived("base", _preinitialised)


def build_base_bytes() -> bytes:
    """What `js build` embeds code into: the runtime with QuickJS started. Made once."""
    global _base
    path = build_base_path()
    if _base is None or _base[0] != path:
        _base = (path, path.read_bytes())
    return _base[1]


def _derived(kind: str, make: Callable[[bytes], bytes]) -> Path:
    """The file `make(runtime_bytes())`, made once and kept beside the runtime.

    Named after the runtime it was made from (its recipe digest, or the
    sha256 of a runtime given by $WASMPLUG_JS_RUNTIME), so a new process reads
    only this file; in a read-only runtime folder it goes to a temporary file
    for this process.
    """
    source = runtime_path()
    known = _derived_paths.get(kind)
    if known is not None and known[0] == source:
        return known[1]
    if os.environ.get("WASMPLUG_JS_RUNTIME"):
        tag = hashlib.sha256(runtime_bytes()).hexdigest()[:16]
    else:
        tag = recipe_digest()  # what runtime-<digest>.wasm was built from
    path = runtime_dir() / f"{kind}-{tag}-s{snapshot.FORMAT}.wasm"
    if not path.is_file():
        data = make(runtime_bytes())
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            partial.write_bytes(data)
            os.replace(partial, path)
        except OSError:
            import tempfile  # here: only a read-only runtime folder needs it

            fd, name = tempfile.mkstemp(prefix=f"wasmplug-{kind}-{tag}-", suffix=".wasm")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            path = Path(name)
            atexit.register(path.unlink, missing_ok=True)
    _derived_paths[kind] = (source, path)
    return path


def _preinitialised(runtime: bytes) -> bytes:
    """`runtime` pre-initialised (`snapshot.preinitialise`), or as it is if that fails."""
    import wasmtime  # snapshot uses the wasmtime package itself (not the core's bindings)

    try:
        return snapshot.preinitialise(runtime)
    except (snapshot.SnapshotError, wasmtime.WasmtimeError) as exc:
        _log().warning("the JavaScript runtime could not be pre-initialised (%s): every instance "
                    "starts QuickJS itself, which is slower", exc)
        return runtime


def bare_runtime_bytes() -> bytes:
    """The bytes of `bare_runtime_path()`."""
    return bare_runtime_path().read_bytes()

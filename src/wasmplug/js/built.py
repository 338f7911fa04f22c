"""Built JavaScript plug-ins kept on disk: `wasmplug call game.js` builds a file once.

Building a .js file (a run of the runtime to list its exports, then embedding
the code into the pre-initialised runtime) was most of a `wasmplug call x.js`
process, repeated on every run. `built_path` keeps the result beside the
runtime, as `built/<key>.wasm`, the key being the SHA-256 of the runtime it
was built on (its file's name, which names its recipe), the file name and the
source, and the code that builds (`embed.py`, `plugin_build.py`): any change to
one of them is another key. The next process loads that
file like any `.wasm` (so the module cache and the source memo spare it the
compilation and the hashing).

Bounded: at most `MAX_KEPT` files; writing one more removes the ones written
longest ago. Written atomically (a temporary file renamed into place), so a
reader never sees half a file. A folder that cannot be written: `None`, and the
caller builds in memory as before.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from . import prebuilt

MAX_KEPT = 64
FOLDER = "built"


def built_path(source: bytes, filename: str, build: Callable[[], bytes]) -> Path | None:
    """The built plug-in of `source` (read from a file called `filename`), `build()` if not kept yet."""
    base = prebuilt.build_base_path()
    if base.parent != prebuilt.runtime_dir():
        return None  # the runtime's folder is read-only: the base is a temporary file
    key = hashlib.sha256(b"\0".join((base.name.encode(), _builder_digest(), filename.encode(),
                                      source))).hexdigest()
    folder = base.parent / FOLDER
    path = folder / f"{key}.wasm"
    if path.is_file() and not path.is_symlink():
        return path
    wasm = build()  # a BuildError says what is wrong with the code
    partial = folder / f".{key}.{os.getpid()}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(wasm)
        os.replace(partial, path)
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink()
        return None
    _prune(folder, keep=path)
    return path


@functools.cache
def _builder_digest() -> bytes:
    """The SHA-256 of the modules that turn a source into a plug-in."""
    digest = hashlib.sha256()
    for name in ("embed.py", "plugin_build.py"):
        digest.update(Path(__file__).with_name(name).read_bytes())
    return digest.digest()


def _prune(folder: Path, keep: Path) -> None:
    """Remove the files written longest ago until at most MAX_KEPT are left."""
    found: list[tuple[int, str]] = []
    with contextlib.suppress(OSError), os.scandir(folder) as listing:
        for item in listing:
            if item.name.endswith(".wasm") and not item.name.startswith("."):
                with contextlib.suppress(OSError):
                    found.append((item.stat(follow_symlinks=False).st_mtime_ns, item.name))
    found.sort()
    for _, name in found[:max(0, len(found) - MAX_KEPT)]:
        if name != keep.name:
            with contextlib.suppress(OSError):
                (folder / name).unlink()

"""Build wasmplug's JavaScript runtime (QuickJS-ng + our Extism layer) to Wasm.

Nothing third-party is kept in the repository: this script fetches the
QuickJS-ng sources from the PyPI sdist ``quickjs-ng`` (pinned version and
sha256) with pip, and compiles them together with ``runtime/wasmplug_js.c`` and ``runtime/stack.S``
using the C compiler shipped in the PyPI package ``ziglang`` (the ``js`` extra:
``pip install 'wasmplug[js]'``) into a wasm32-wasi reactor.

Run it directly::

    python -m wasmplug.js.build_runtime [-o runtime.wasm]

or let :func:`wasmplug.js.runtime_path` build it on first use into the cache
directory. Cost on a 2-core machine: about a minute the first time (zig also
builds its wasi-libc once into its own cache), a ~1 MB result.

The build is reproducible: the same pinned inputs give the same bytes, whose
sha256 is recorded in ``RUNTIME_SHA256`` (checked by the tests).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import subprocess
import sys
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .recipe import (
    CFLAGS,
    GLOBALS_HEADER,
    GLOBALS_JS,
    LDFLAGS,
    LINKED,
    OBJECTS,
    OUR_SOURCES,
    QUICKJS_SDIST,
    QUICKJS_SDIST_FILE,
    QUICKJS_SDIST_SHA256,
    RUNTIME_SHA256,
    RUNTIME_SOURCE_DIR,
    SOURCE_EDITS,
    ZIGLANG_VERSION,
)

log = logging.getLogger("wasmplug.js.build")


# Each step (the download, one compilation) is bounded, so a build cannot hang.
STEP_TIMEOUT = 900


class BuildError(Exception):
    """The runtime could not be built (the message says why and what to do)."""


def _zig(args: list[str], cwd: Path) -> None:
    if importlib.util.find_spec("ziglang") is None:
        raise BuildError("building the JavaScript runtime needs the C compiler from the PyPI package "
                         "'ziglang': pip install 'wasmplug[js]'")
    try:
        done = subprocess.run([sys.executable, "-m", "ziglang", "cc", *args], cwd=cwd,
                              capture_output=True, text=True, check=False, timeout=STEP_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise BuildError(f"zig cc {' '.join(args)} took more than {STEP_TIMEOUT} s") from None
    if done.returncode != 0:
        raise BuildError(f"zig cc {' '.join(args)} failed:\n{done.stderr[-4000:]}")


def fetch_sources(workdir: Path) -> Path:
    """Download the pinned sdist with pip, check it, unpack; the `upstream-quickjs` folder."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
             QUICKJS_SDIST, "-d", str(workdir)],
            capture_output=True, text=True, check=False, timeout=STEP_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise BuildError(f"pip download {QUICKJS_SDIST} took more than {STEP_TIMEOUT} s") from None
    sdist = workdir / QUICKJS_SDIST_FILE
    if done.returncode != 0 or not sdist.exists():
        raise BuildError(f"pip could not download the QuickJS-ng sources ({QUICKJS_SDIST}): "
                         f"{done.stderr.strip()[-2000:]}")
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != QUICKJS_SDIST_SHA256:
        raise BuildError(f"{QUICKJS_SDIST_FILE} has sha256 {digest}, expected {QUICKJS_SDIST_SHA256}; "
                         "refusing to build from unexpected sources")
    src = workdir / "src"
    src.mkdir()
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if len(parts) == 3 and parts[1] == "upstream-quickjs" and member.isfile():
                member.name = parts[2]
                tar.extract(member, src, filter="data")
    return src


def edit_sources(src: Path) -> None:
    """Apply `recipe.SOURCE_EDITS`: each inserts text after a line that must occur once."""
    for name, anchor, insert in SOURCE_EDITS:
        path = src / name
        text = path.read_text("utf-8")
        if text.count(anchor) != 1:
            raise BuildError(f"{name} of {QUICKJS_SDIST} does not contain exactly one {anchor!r}: "
                             "the pinned sources changed")
        path.write_text(text.replace(anchor, anchor + insert), "utf-8")


def write_globals_header(src: Path) -> None:
    """runtime/globals.js as a C header: `static const char GLOBALS_JS[]`, NUL-terminated."""
    data = (src / GLOBALS_JS).read_bytes() + b"\0"
    rows = (", ".join(str(b) for b in data[i:i + 24]) for i in range(0, len(data), 24))
    (src / GLOBALS_HEADER).write_text(
        f"/* generated from {GLOBALS_JS} by wasmplug/js/build_runtime.py */\n"
        "static const char GLOBALS_JS[] = {\n" + ",\n".join(rows) + "\n};\n", "ascii")


def build(output: Path, workdir: Path | None = None) -> str:
    """Build the runtime into `output`; returns its sha256."""
    try:
        zig = importlib.metadata.version("ziglang")
    except importlib.metadata.PackageNotFoundError:
        zig = None
    if zig is not None and zig != ZIGLANG_VERSION:
        log.warning("ziglang %s is installed, the recorded build used %s: the runtime will work "
                    "but its sha256 will differ", zig, ZIGLANG_VERSION)
    with tempfile.TemporaryDirectory(prefix="wasmplug-js-build-") as tmp:
        work = Path(workdir or tmp)
        log.info("fetching %s from PyPI", QUICKJS_SDIST)
        src = fetch_sources(work)
        edit_sources(src)
        for name in OUR_SOURCES:
            (src / name).write_bytes((RUNTIME_SOURCE_DIR / name).read_bytes())
        write_globals_header(src)
        log.info("compiling QuickJS-ng to wasm32-wasi with zig (about a minute)")
        with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
            jobs = [pool.submit(_zig, [*CFLAGS, "-c", name, "-o", name[:-2] + ".o"], src)
                    for name in OBJECTS]
            for job in jobs:
                job.result()
        objects = [name[:-2] + ".o" for name in OBJECTS]
        _zig([*CFLAGS, *LDFLAGS, "-I.", "-o", "runtime.wasm", *LINKED, *objects], src)
        data = (src / "runtime.wasm").read_bytes()
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + f".{os.getpid()}.part")
    partial.write_bytes(data)
    partial.replace(output)
    digest = hashlib.sha256(data).hexdigest()
    log.info("built %s (%d bytes, sha256 %s)", output, len(data), digest)
    if digest != RUNTIME_SHA256:
        log.warning("the runtime's sha256 %s differs from the recorded %s (different inputs "
                    "or an unreproducible build)", digest, RUNTIME_SHA256)
    return digest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=Path("runtime.wasm"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        digest = build(args.output)
    except BuildError as exc:
        log.error("%s", exc)
        return 1
    sys.stdout.write(f"{args.output} sha256 {digest}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

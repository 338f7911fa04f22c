"""What wasmplug's JavaScript runtime is built from: pinned versions, sources, flags.

Kept apart from `build_runtime` (which needs tarfile, subprocess, ...) so that
finding an already built runtime (`prebuilt.recipe_digest`) imports nothing heavy.
"""

from __future__ import annotations

from pathlib import Path

QUICKJS_SDIST = "quickjs-ng==0.17.0.2"
QUICKJS_SDIST_FILE = "quickjs_ng-0.17.0.2.tar.gz"
QUICKJS_SDIST_SHA256 = "43d2e48272208721a7aaea8e3f02d4b9318f12ef20cc4f5421b59d9a470706ef"
ZIGLANG_VERSION = "0.17.1"
QUICKJS_SOURCES = ("quickjs.c", "libregexp.c", "libunicode.c", "dtoa.c")
OUR_SOURCES = ("wasmplug_js.c", "stack.S")
RUNTIME_SOURCE_DIR = Path(__file__).with_name("runtime")

#: sha256 of the runtime these pinned inputs produce (checked by the tests; see build_runtime).
RUNTIME_SHA256 = "192de12f6a319c158510bcadd21b19489df2ea33d3ee959157e541d300350766"

CFLAGS = ("--target=wasm32-wasi", "-O2", "-DNDEBUG")
# 1 MiB of C stack; the runtime stops JS recursion long before it is used up.
LDFLAGS = ("-mexec-model=reactor", "-Wl,-z,stack-size=1048576", "-s")

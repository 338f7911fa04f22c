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
OUR_SOURCES = ("wasmplug_js.c", "stack.S", "quickjs_unit.c")
# Compiled to objects first (quickjs_unit.c includes the sdist's quickjs.c), then
# linked with LINKED.
OBJECTS = ("quickjs_unit.c", "libregexp.c", "libunicode.c", "dtoa.c")
LINKED = ("wasmplug_js.c", "stack.S")
RUNTIME_SOURCE_DIR = Path(__file__).with_name("runtime")

#: sha256 of the runtime these pinned inputs produce (checked by the tests; see build_runtime).
RUNTIME_SHA256 = "ffc64c5cf963cd5be15cd324d29304bd8def752c68c48d12f1a59ec7ab92730c"

CFLAGS = ("--target=wasm32-wasi", "-O2", "-DNDEBUG")
# 1 MiB of C stack; the runtime stops JS recursion long before it is used up.
LDFLAGS = ("-mexec-model=reactor", "-Wl,-z,stack-size=1048576", "-s")

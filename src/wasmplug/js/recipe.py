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
OUR_SOURCES = ("wasmplug_js.c", "stack.S", "quickjs_unit.c", "globals.js")
# runtime/globals.js becomes this C header (a byte array) before compiling.
GLOBALS_JS, GLOBALS_HEADER = "globals.js", "globals_js.h"
# Compiled to objects first (quickjs_unit.c includes the sdist's quickjs.c), then
# linked with LINKED.
OBJECTS = ("quickjs_unit.c", "libregexp.c", "libunicode.c", "dtoa.c")
LINKED = ("wasmplug_js.c", "stack.S")
RUNTIME_SOURCE_DIR = Path(__file__).with_name("runtime")

#: sha256 of the runtime these pinned inputs produce (checked by the tests; see build_runtime).
RUNTIME_SHA256 = "2c4d2959182b6ae16ea047fde265531207f28264c8923cd391d25c5e0bfcf5eb"

# Edits to the sdist's sources before compiling (file, text, text with the edit): the
# recursive-descent parsers (JS statements and expressions, regular expressions) get
# C-stack padding in their frames, so that QuickJS's stack check, which measures the
# C stack, also bounds the Wasm stack they use (see runtime/quickjs_unit.c).
# (The padding's address escapes to a global, or the compiler would shrink it away.)
_PAD = ("    volatile char wasmplug_deep[{}];\n"
        "    {{ extern volatile char *volatile wasmplug_stack_sink; "
        "wasmplug_stack_sink = wasmplug_deep; }}\n")
SOURCE_EDITS = (
    ("quickjs.c", "static __exception int js_parse_unary(JSParseState *s, int parse_flags)\n{\n",
     _PAD.format(1024)),
    ("quickjs.c", "static __exception int js_parse_statement_or_decl(JSParseState *s,\n"
     "                                                  int decl_mask)\n{\n", _PAD.format(1024)),
    ("libregexp.c", "static int re_parse_disjunction(REParseState *s, bool is_backward_dir)\n{\n",
     _PAD.format(512)),
    # At the heap limit QuickJS could not even make its "out of memory" error and threw
    # null: the error object is made past the limit (which leaves room for it).
    ("quickjs.c", "        rt->in_out_of_memory = true;\n",
     "        size_t wasmplug_limit = rt->malloc_state.malloc_limit;\n"
     "        rt->malloc_state.malloc_limit = 0;\n"),
    ("quickjs.c", '        JS_ThrowInternalError(ctx, "out of memory");\n',
     "        rt->malloc_state.malloc_limit = wasmplug_limit;\n"),
    # JSON.parse made every number a float64 value, even 7 or 42: integers that fit
    # become int32 values, as in JS source, which the interpreter's fast paths and
    # JSON.stringify take without floating point (the same JS values; -0 stays a float).
    ("quickjs.c", "    s->token.u.num.val = js_float64(strtod((const char *)p_start, NULL));\n",
     "    s->token.u.num.val = js_number(JS_VALUE_GET_FLOAT64(s->token.u.num.val));\n"),
    # QuickJS's small blocks come from 4 KiB arenas, each one malloc'ed block: with the
    # runtime's header (see tracked_malloc) and malloc's own, 4 KiB took an 8 KiB slot
    # of malloc's powers of two, half of it unused. Arenas a little smaller fill 4 KiB.
    ("quickjs.c", "#define JS_ARENA_SIZE              4096\n",
     "#undef JS_ARENA_SIZE\n#define JS_ARENA_SIZE (4096 - 64)\n"),
)

CFLAGS = ("--target=wasm32-wasi", "-O2", "-DNDEBUG")
# 1 MiB of C stack; the runtime stops JS recursion long before it is used up.
LDFLAGS = ("-mexec-model=reactor", "-Wl,-z,stack-size=1048576", "-s")

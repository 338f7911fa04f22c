/*
 * QuickJS-ng's quickjs.c, compiled as one unit with what the runtime needs
 * from inside it (QuickJS has no public API for these).
 *
 * The stack check. QuickJS stops recursion when the C stack pointer passes a
 * limit, but in Wasm most frames live on the engine's own stack, not on the C
 * (shadow) stack in linear memory: JSON.parse 3,000 deep used almost no C
 * stack and exhausted the Wasm stack, a trap JS cannot catch. So every
 * function that checks the stack (the recursive ones: the interpreter, the
 * parsers, JSON, ...) gets WASMPLUG_STACK_PAD bytes of C stack in its frame:
 * the C stack then grows with the recursion depth, and QuickJS's limit
 * (JS_STACK_LIMIT in wasmplug_js.c) becomes a bound on the Wasm stack too.
 */
#ifndef WASMPLUG_STACK_PAD
#define WASMPLUG_STACK_PAD 160
#endif
#define __builtin_frame_address(level)                                            \
    ({                                                                            \
        volatile char wasmplug_stack_pad[WASMPLUG_STACK_PAD];                     \
        wasmplug_stack_pad[0] = 0;                                                \
        (void *)wasmplug_stack_pad;                                               \
    })
#include "quickjs.c"

/* Where the parsers' padding (recipe.SOURCE_EDITS) leaves its address. */
volatile char *volatile wasmplug_stack_sink;

/* Re-seed Math.random of a context made in an earlier process (a pre-initialised
 * runtime, see wasmplug_js.c): without this every instance would draw the same
 * numbers. The hash seed derived at creation is left alone: tables use it. */
void wasmplug_seed_random(JSContext *c, uint64_t seed) {
    c->random_state = seed ? seed : 1;
}

/* The object holding the global let/const bindings (the Sandbox picks its entry
 * among the functions the code defines at the top level, these included). */
JSValue wasmplug_global_lexicals(JSContext *c) {
    return js_dup(c->global_var_obj);
}

/*
 * QuickJS-ng's quickjs.c, compiled as one unit with what the runtime needs
 * from inside it (QuickJS has no public API for these).
 */
#include "quickjs.c"

/* Re-seed Math.random of a context made in an earlier process (a pre-initialised
 * runtime, see wasmplug_js.c): without this every instance would draw the same
 * numbers. The hash seed derived at creation is left alone: tables use it. */
void wasmplug_seed_random(JSContext *c, uint64_t seed) {
    c->random_state = seed ? seed : 1;
}

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
/*
 * Numbers in JSON. QuickJS reads them with libc's strtod (its only use of it),
 * which in wasi-libc computes in long double, a 128-bit float that wasm32 only
 * has in software: a tenth of JSON.parse's time. A number of at most 19 digits
 * whose value and power of ten are exact doubles is one exact multiplication or
 * division, so correctly rounded (Clinger's fast path); the rest goes to
 * QuickJS's own correctly rounding js_atod (dtoa.c). Anything that is not a
 * plain decimal number is left to strtod itself.
 */
#include <stdlib.h>
#include "dtoa.h"
static double wasmplug_strtod(const char *str, char **end);
#define strtod wasmplug_strtod
#include "quickjs.c"
#undef strtod

static const double WASMPLUG_POW10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static double wasmplug_strtod(const char *str, char **end) {
    const char *p = str;
    int negative = *p == '-';
    if (*p == '-' || *p == '+') p++;
    uint64_t mantissa = 0;
    int digits = 0, exp10 = 0, any = 0;
    for (; *p >= '0' && *p <= '9'; p++, any = 1) {
        if (mantissa || *p != '0') digits++;
        if (digits <= 19) mantissa = mantissa * 10 + (uint64_t)(*p - '0');
        else exp10++;
    }
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9')) any = 0;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (mantissa || *p != '0') digits++;
            if (digits <= 19) {
                mantissa = mantissa * 10 + (uint64_t)(*p - '0');
                exp10--;
            }
        }
    }
    if (!any) return strtod(str, end);  /* not a plain decimal number */
    if (*p == 'e' || *p == 'E') {
        const char *q = p + 1;
        int minus = *q == '-';
        if (*q == '-' || *q == '+') q++;
        if (!(*q >= '0' && *q <= '9')) return strtod(str, end);
        int e = 0;
        for (; *q >= '0' && *q <= '9'; q++) if (e < 100000) e = e * 10 + (*q - '0');
        exp10 += minus ? -e : e;
        p = q;
    }
    if (end) *end = (char *)p;
    double d;
    if (digits <= 19 && mantissa <= (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
        d = (double)mantissa;
        d = exp10 < 0 ? d / WASMPLUG_POW10[-exp10] : d * WASMPLUG_POW10[exp10];
        return negative ? -d : d;
    }
    JSATODTempMem tmp;
    return js_atod(str, NULL, 10, 0, &tmp);
}

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

/*
 * wasmplug's JavaScript runtime: QuickJS-ng speaking the Extism plug-in ABI.
 *
 * Built to a wasm32-wasi reactor by wasmplug/js/build_runtime.py (QuickJS-ng
 * from its PyPI sdist, compiled with the PyPI `ziglang`). The JS API is the
 * official JS PDK's: Host, Var, Config, Http, console, TextEncoder/TextDecoder.
 *
 * Exports (besides the memory and _initialize):
 *   __wasmplug_call(i32 index) -> i32    run the index-th function named in the
 *                                        embedded blob (called by the thunks that
 *                                        `wasmplug js build` adds, one per JS export)
 *   __wasmplug_source_len() -> i32       stub bodies, replaced by the builder:
 *   __wasmplug_source_copy(i32 dst)      size and copy of the embedded blob
 *   __wasmplug_load() -> i32             input = kind byte ('m' module, 's' script,
 *                                        '?' detect), file name, NUL, source: evaluate
 *                                        it; output = its exported function names,
 *                                        one per line
 *   __wasmplug_invoke() -> i32           input = mode ('s' string, 'j' JSON), name,
 *                                        NUL, argument: call the named function of the
 *                                        loaded code with the argument (parsed if 'j';
 *                                        then the result is returned as JSON too; with
 *                                        's' a returned number is output as text)
 *   __wasmplug_reset() -> i32            forget the loaded code and every JS value
 *
 * The embedded blob (what __wasmplug_source_copy writes) is
 *   kind byte, the export names separated by '\n', NUL, the declared host
 *   functions separated by '\n' (slot order), NUL, file name, NUL, source.
 *
 * A call that trapped (timeout, fuel, a host error) leaves QuickJS mid-flight
 * and the C stack pointer low. The next call notices (`in_call` still set),
 * puts the stack pointer back and starts a fresh JS runtime (the old heap is
 * abandoned, not freed: its bookkeeping cannot be trusted), so the plug-in
 * stays usable; only JS globals are lost (Var keeps its values).
 *
 * A function's result: a number is the call's return code; a string, an
 * ArrayBuffer or a typed array becomes the output; another object becomes its
 * JSON; undefined/null leave the output as Host.output* set it. A thrown value
 * fails the call with its message and stack (error_set).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <malloc.h>
#include <stddef.h>

#include "quickjs.h"

typedef uint64_t u64;

#define EXTISM(name) __attribute__((import_module("extism:host/env"), import_name(#name)))
EXTISM(alloc) u64 ex_alloc(u64 n);
EXTISM(free) void ex_free(u64 off);
EXTISM(length) u64 ex_length(u64 off);
EXTISM(load_u8) uint32_t ex_load_u8(u64 off);
EXTISM(load_u64) u64 ex_load_u64(u64 off);
EXTISM(store_u8) void ex_store_u8(u64 off, uint32_t v);
EXTISM(store_u64) void ex_store_u64(u64 off, u64 v);
EXTISM(input_length) u64 ex_input_length(void);
EXTISM(input_load_u8) uint32_t ex_input_load_u8(u64 i);
EXTISM(input_load_u64) u64 ex_input_load_u64(u64 i);
EXTISM(output_set) void ex_output_set(u64 off, u64 len);
EXTISM(error_set) void ex_error_set(u64 off);
EXTISM(config_get) u64 ex_config_get(u64 key);
EXTISM(var_get) u64 ex_var_get(u64 key);
EXTISM(var_set) void ex_var_set(u64 key, u64 value);
EXTISM(http_request) u64 ex_http_request(u64 req, u64 body);
EXTISM(http_status_code) int32_t ex_http_status_code(void);
EXTISM(http_headers) u64 ex_http_headers(void);
EXTISM(log_info) void ex_log_info(u64 msg);
EXTISM(log_debug) void ex_log_debug(u64 msg);
EXTISM(log_warn) void ex_log_warn(u64 msg);
EXTISM(log_error) void ex_log_error(u64 msg);
EXTISM(log_trace) void ex_log_trace(u64 msg);
EXTISM(get_log_level) int32_t ex_get_log_level(void);

/* Host-function slots: `wasmplug js build` renames the import of slot i to
 * extism:host/user.NAME (the i-th declared host function) and gives it the
 * declared type, and points every unused slot at extism:host/env.length_unsafe
 * (offered by every Extism host), so a plug-in imports exactly the functions it
 * declared and no function index changes. The slots are called only from
 * wasmplug_host_dispatch, whose body the builder replaces with one that loads
 * each argument with its declared type (see js/embed.py); as compiled here it
 * calls them as the JS PDK's default type, (i64) -> i64. */
#define HOST_SLOTS 64
#define HOST_MAX_PARAMS 32
#define SLOT(i) __attribute__((import_module("extism:host/user"), \
                               import_name("__wasmplug_host_" #i))) u64 host_slot_##i(u64 arg);
SLOT(0) SLOT(1) SLOT(2) SLOT(3) SLOT(4) SLOT(5) SLOT(6) SLOT(7)
SLOT(8) SLOT(9) SLOT(10) SLOT(11) SLOT(12) SLOT(13) SLOT(14) SLOT(15)
SLOT(16) SLOT(17) SLOT(18) SLOT(19) SLOT(20) SLOT(21) SLOT(22) SLOT(23)
SLOT(24) SLOT(25) SLOT(26) SLOT(27) SLOT(28) SLOT(29) SLOT(30) SLOT(31)
SLOT(32) SLOT(33) SLOT(34) SLOT(35) SLOT(36) SLOT(37) SLOT(38) SLOT(39)
SLOT(40) SLOT(41) SLOT(42) SLOT(43) SLOT(44) SLOT(45) SLOT(46) SLOT(47)
SLOT(48) SLOT(49) SLOT(50) SLOT(51) SLOT(52) SLOT(53) SLOT(54) SLOT(55)
SLOT(56) SLOT(57) SLOT(58) SLOT(59) SLOT(60) SLOT(61) SLOT(62) SLOT(63)

#define EXPORT(name) __attribute__((export_name(name)))


static JSRuntime *rt;
static JSContext *ctx;
static JSValue exported;          /* module namespace or module.exports */
static int loaded;                /* code evaluated in ctx */
static char *blob;                /* embedded blob, once copied out */
static uint32_t blob_len;
static int output_written;        /* Host.output* called during this call */
static int in_call;               /* set while an entry point runs */
static int32_t stack_base;        /* the C stack pointer when the host calls in */
static int pristine;              /* ctx was made by __wasmplug_preinit and never used */
static int record_globals;        /* load_code: note the global names before evaluating */
static JSValue globals_before;    /* ... here (an object used as a set), for load_input */
static size_t budget_bytes;       /* config wasmplug.js.max_memory, 0 if not set */

int32_t wasmplug_stack_get(void);  /* stack.S */
void wasmplug_stack_set(int32_t sp);

/* ---- moving bytes between the kernel's memory and ours ---- */

static void kernel_read(u64 off, char *dst, size_t len) {
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        u64 v = ex_load_u64(off + i);
        memcpy(dst + i, &v, 8);
    }
    for (; i < len; i++) dst[i] = (char)ex_load_u8(off + i);
}

static void kernel_copy(u64 off, const char *src, size_t len) {
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        u64 v;
        memcpy(&v, src + i, 8);
        ex_store_u64(off + i, v);
    }
    for (; i < len; i++) ex_store_u8(off + i, (uint8_t)src[i]);
}

static u64 kernel_write(const char *src, size_t len) {
    if (len == 0) return 0;
    u64 off = ex_alloc(len);
    if (off == 0) return 0;
    kernel_copy(off, src, len);
    return off;
}

/* The call's input, copied into a malloc'ed buffer (NUL-terminated). */
static char *input_copy(size_t *plen) {
    size_t len = (size_t)ex_input_length();
    char *buf = malloc(len + 1);
    if (!buf) return NULL;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        u64 v = ex_input_load_u64(i);
        memcpy(buf + i, &v, 8);
    }
    for (; i < len; i++) buf[i] = (char)ex_input_load_u8(i);
    buf[len] = 0;
    *plen = len;
    return buf;
}

/* A kernel block as a JS string (or an ArrayBuffer if `bytes`), freeing it. */
static JSValue kernel_take(JSContext *c, u64 off, int bytes) {
    if (off == 0) return JS_NULL;
    size_t len = (size_t)ex_length(off);
    char *buf = malloc(len + 1);
    if (!buf) {
        ex_free(off);
        return JS_ThrowOutOfMemory(c);
    }
    kernel_read(off, buf, len);
    ex_free(off);
    JSValue v = bytes ? JS_NewArrayBufferCopy(c, (uint8_t *)buf, len) : JS_NewStringLen(c, buf, len);
    free(buf);
    return v;
}

static void set_error(const char *msg, size_t len) {
    ex_error_set(kernel_write(msg, len));
}

static void set_error_str(const char *msg) { set_error(msg, strlen(msg)); }

/* ---- values in and out ---- */

/* The bytes of a string, ArrayBuffer or typed array (a view or a copy). */
typedef struct {
    const char *ptr;
    size_t len;
    const char *cstr;  /* to JS_FreeCString */
    JSValue buffer;    /* to JS_FreeValue */
} Bytes;

static int bytes_of(JSContext *c, JSValueConst v, Bytes *b) {
    b->cstr = NULL;
    b->buffer = JS_UNDEFINED;
    if (JS_IsString(v)) {
        b->cstr = JS_ToCStringLen(c, &b->len, v);
        b->ptr = b->cstr;
        return b->cstr ? 0 : -1;
    }
    size_t size;
    uint8_t *p = JS_GetArrayBuffer(c, &size, v);
    if (p) {
        b->ptr = (const char *)p;
        b->len = size;
        return 0;
    }
    JS_FreeValue(c, JS_GetException(c));
    size_t offset, length, per;
    JSValue buf = JS_GetTypedArrayBuffer(c, v, &offset, &length, &per);
    if (!JS_IsException(buf)) {
        p = JS_GetArrayBuffer(c, &size, buf);
        if (p) {
            b->ptr = (const char *)p + offset;
            b->len = length;
            b->buffer = buf;
            return 0;
        }
        JS_FreeValue(c, buf);
    }
    JS_FreeValue(c, JS_GetException(c));
    JS_ThrowTypeError(c, "expected a string, an ArrayBuffer or a typed array");
    return -1;
}

static void bytes_free(JSContext *c, Bytes *b) {
    if (b->cstr) JS_FreeCString(c, b->cstr);
    JS_FreeValue(c, b->buffer);
}

/* A JS value as a new kernel block (string, bytes, or String(value)). */
static int to_kernel(JSContext *c, JSValueConst v, u64 *off) {
    Bytes b;
    if (JS_IsString(v) || JS_IsObject(v)) {
        if (bytes_of(c, v, &b) < 0) return -1;
    } else {
        JSValue s = JS_ToString(c, v);
        if (JS_IsException(s)) return -1;
        int r = bytes_of(c, s, &b);
        JS_FreeValue(c, s);
        if (r < 0) return -1;
    }
    *off = kernel_write(b.ptr, b.len);
    int failed = b.len != 0 && *off == 0;
    bytes_free(c, &b);
    if (failed) {
        JS_ThrowOutOfMemory(c);
        return -1;
    }
    return 0;
}

/* ---- Host ---- */

static JSValue host_input(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv, int bytes) {
    size_t len;
    char *buf = input_copy(&len);
    if (!buf) return JS_ThrowOutOfMemory(c);
    JSValue v = bytes ? JS_NewArrayBufferCopy(c, (uint8_t *)buf, len) : JS_NewStringLen(c, buf, len);
    free(buf);
    return v;
}

static JSValue host_input_bytes(JSContext *c, JSValueConst t, int argc, JSValueConst *argv) {
    return host_input(c, t, argc, argv, 1);
}

static JSValue host_input_string(JSContext *c, JSValueConst t, int argc, JSValueConst *argv) {
    return host_input(c, t, argc, argv, 0);
}

static int output_value(JSContext *c, JSValueConst v) {
    Bytes b;
    if (bytes_of(c, v, &b) < 0) return -1;
    u64 off = kernel_write(b.ptr, b.len);
    int failed = b.len != 0 && off == 0;
    if (!failed) ex_output_set(off, b.len);
    bytes_free(c, &b);
    if (failed) {
        JS_ThrowOutOfMemory(c);
        return -1;
    }
    output_written = 1;
    return 0;
}

static JSValue host_output(JSContext *c, JSValueConst t, int argc, JSValueConst *argv) {
    if (argc < 1) return JS_ThrowTypeError(c, "Host.output*: missing the output");
    if (output_value(c, argv[0]) < 0) return JS_EXCEPTION;
    return JS_TRUE;
}

/* ---- Var and Config ---- */

static JSValue lookup(JSContext *c, int argc, JSValueConst *argv, int is_var, int bytes) {
    if (argc < 1) return JS_ThrowTypeError(c, "missing the key");
    u64 key;
    if (to_kernel(c, argv[0], &key) < 0) return JS_EXCEPTION;
    u64 value = is_var ? ex_var_get(key) : ex_config_get(key);
    return kernel_take(c, value, bytes);
}

static JSValue var_get_string(JSContext *c, JSValueConst t, int argc, JSValueConst *argv) {
    return lookup(c, argc, argv, 1, 0);
}

static JSValue var_get_bytes(JSContext *c, JSValueConst t, int argc, JSValueConst *argv) {
    return lookup(c, argc, argv, 1, 1);
}

static JSValue config_get(JSContext *c, JSValueConst t, int argc, JSValueConst *argv) {
    return lookup(c, argc, argv, 0, 0);
}

static JSValue var_set(JSContext *c, JSValueConst t, int argc, JSValueConst *argv) {
    if (argc < 2) return JS_ThrowTypeError(c, "Var.set(name, value): missing arguments");
    u64 key, value = 0;
    if (to_kernel(c, argv[0], &key) < 0) return JS_EXCEPTION;
    if (!JS_IsNull(argv[1]) && !JS_IsUndefined(argv[1]) && to_kernel(c, argv[1], &value) < 0) {
        ex_free(key);
        return JS_EXCEPTION;
    }
    ex_var_set(key, value);
    return JS_UNDEFINED;
}

static JSValue var_delete(JSContext *c, JSValueConst t, int argc, JSValueConst *argv) {
    if (argc < 1) return JS_ThrowTypeError(c, "Var.delete(name): missing the name");
    u64 key;
    if (to_kernel(c, argv[0], &key) < 0) return JS_EXCEPTION;
    ex_var_set(key, 0);
    return JS_UNDEFINED;
}

/* ---- Http ---- */

/* __http(requestJson, body) -> [status, body string, headers JSON or null] */
static JSValue http_call(JSContext *c, JSValueConst t, int argc, JSValueConst *argv) {
    u64 req, body = 0;
    if (argc < 1 || to_kernel(c, argv[0], &req) < 0) return JS_EXCEPTION;
    if (argc > 1 && !JS_IsNull(argv[1]) && !JS_IsUndefined(argv[1]) && to_kernel(c, argv[1], &body) < 0) {
        ex_free(req);
        return JS_EXCEPTION;
    }
    u64 response = ex_http_request(req, body);
    JSValue text = kernel_take(c, response, 0);
    if (JS_IsException(text)) return text;
    if (JS_IsNull(text)) text = JS_NewString(c, "");
    JSValue result = JS_NewArray(c);
    JS_SetPropertyUint32(c, result, 0, JS_NewInt32(c, ex_http_status_code()));
    JS_SetPropertyUint32(c, result, 1, text);
    JSValue headers = kernel_take(c, ex_http_headers(), 0);  /* 0 when the host keeps none */
    if (JS_IsException(headers)) {
        JS_FreeValue(c, result);
        return headers;
    }
    JS_SetPropertyUint32(c, result, 2, headers);
    return result;
}

/* ---- console ---- */

/* __log(level, message): 0 trace, 1 debug, 2 info, 3 warn, 4 error */
static JSValue log_call(JSContext *c, JSValueConst t, int argc, JSValueConst *argv) {
    int32_t level;
    if (argc < 2 || JS_ToInt32(c, &level, argv[0]) < 0) return JS_EXCEPTION;
    if (level < ex_get_log_level()) return JS_UNDEFINED;
    u64 msg;
    if (to_kernel(c, argv[1], &msg) < 0) return JS_EXCEPTION;
    switch (level) {
    case 0: ex_log_trace(msg); break;
    case 1: ex_log_debug(msg); break;
    case 3: ex_log_warn(msg); break;
    case 4: ex_log_error(msg); break;
    default: ex_log_info(msg); break;
    }
    return JS_UNDEFINED;
}

/* ---- UTF-8 for TextEncoder / TextDecoder ---- */

static JSValue utf8_encode(JSContext *c, JSValueConst t, int argc, JSValueConst *argv) {
    size_t len;
    const char *s = JS_ToCStringLen(c, &len, argc > 0 ? argv[0] : JS_UNDEFINED);
    if (!s) return JS_EXCEPTION;
    JSValue v = JS_NewArrayBufferCopy(c, (const uint8_t *)s, len);
    JS_FreeCString(c, s);
    return v;
}

static int utf8_valid(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t b = p[i];
        size_t k;
        uint32_t cp;
        if (b < 0x80) { i++; continue; }
        if ((b & 0xE0) == 0xC0) { k = 1; cp = b & 0x1F; }
        else if ((b & 0xF0) == 0xE0) { k = 2; cp = b & 0x0F; }
        else if ((b & 0xF8) == 0xF0) { k = 3; cp = b & 0x07; }
        else return 0;
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (p[i + j] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (p[i + j] & 0x3F);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* __utf8Decode(bytes, fatal) -> string (invalid sequences become U+FFFD unless fatal) */
static JSValue utf8_decode(JSContext *c, JSValueConst t, int argc, JSValueConst *argv) {
    Bytes b;
    if (argc < 1) return JS_NewString(c, "");
    if (bytes_of(c, argv[0], &b) < 0) return JS_EXCEPTION;
    int fatal = argc > 1 && JS_ToBool(c, argv[1]);
    JSValue v;
    if (fatal && !utf8_valid((const uint8_t *)b.ptr, b.len))
        v = JS_ThrowTypeError(c, "The encoded data was not valid utf-8");
    else
        v = JS_NewStringLen(c, b.ptr, b.len);
    bytes_free(c, &b);
    return v;
}

/* ---- Memory (kernel blocks) and host functions ---- */

static int to_offset(JSContext *c, JSValueConst v, u64 *off) {
    int64_t n;
    if (JS_ToInt64Ext(c, &n, v) < 0) return -1;
    *off = (u64)n;
    return 0;
}

/* __memAlloc(bytes) -> offset of a new kernel block holding them */
static JSValue mem_alloc(JSContext *c, JSValueConst t, int argc, JSValueConst *argv) {
    u64 off;
    if (argc < 1 || to_kernel(c, argv[0], &off) < 0) return JS_EXCEPTION;
    return JS_NewInt64(c, (int64_t)off);
}

/* __memLength(offset) -> the block's length (0 if it is not a block) */
static JSValue mem_length(JSContext *c, JSValueConst t, int argc, JSValueConst *argv) {
    u64 off;
    if (argc < 1 || to_offset(c, argv[0], &off) < 0) return JS_EXCEPTION;
    return JS_NewInt64(c, (int64_t)ex_length(off));
}

/* __memRead(offset) -> ArrayBuffer copy of the block */
static JSValue mem_read(JSContext *c, JSValueConst t, int argc, JSValueConst *argv) {
    u64 off;
    if (argc < 1 || to_offset(c, argv[0], &off) < 0) return JS_EXCEPTION;
    size_t len = off ? (size_t)ex_length(off) : 0;
    char *buf = malloc(len + 1);
    if (!buf) return JS_ThrowOutOfMemory(c);
    kernel_read(off, buf, len);
    JSValue v = JS_NewArrayBufferCopy(c, (uint8_t *)buf, len);
    free(buf);
    return v;
}

static JSValue mem_free(JSContext *c, JSValueConst t, int argc, JSValueConst *argv) {
    u64 off;
    if (argc < 1 || to_offset(c, argv[0], &off) < 0) return JS_EXCEPTION;
    if (off) ex_free(off);
    return JS_UNDEFINED;
}

static const char *blob_host_names(size_t *plen);

/* The i-th line of the blob's host-function list: "name\tPARAMS\tRESULT", where
 * PARAMS and RESULT are letters: i (I32), I (I64), f (F32), F (F64); no RESULT: void. */
static const char *host_line(uint32_t slot, size_t *plen) {
    size_t len;
    const char *p = blob_host_names(&len), *end = p ? p + len : NULL;
    for (uint32_t i = 0; p && p < end; i++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        if (i == slot) {
            *plen = (size_t)(stop - p);
            return p;
        }
        p = stop + 1;
    }
    return NULL;
}

/* __hostNames() -> the host functions declared at build time, in slot order */
static JSValue host_names(JSContext *c, JSValueConst t, int argc, JSValueConst *argv) {
    JSValue list = JS_NewArray(c);
    size_t len;
    const char *line;
    for (uint32_t i = 0; i < HOST_SLOTS && (line = host_line(i, &len)) != NULL; i++) {
        const char *tab = memchr(line, '\t', len);
        JS_SetPropertyUint32(c, list, i, JS_NewStringLen(c, line, tab ? (size_t)(tab - line) : len));
    }
    return list;
}

/* Replaced by `wasmplug js build` (js/embed.py): call host-function slot `slot`
 * with args[k] read as the k-th declared parameter type, store the result (if
 * any) in *result; 0 on success, 1 for a slot with no function. */
EXPORT("__wasmplug_host_dispatch") __attribute__((noinline))
int32_t wasmplug_host_dispatch(int32_t slot, u64 *args, u64 *result) {
    switch (slot) {
    case 0: *result = host_slot_0(args[0]); break;
    case 1: *result = host_slot_1(args[0]); break;
    case 2: *result = host_slot_2(args[0]); break;
    case 3: *result = host_slot_3(args[0]); break;
    case 4: *result = host_slot_4(args[0]); break;
    case 5: *result = host_slot_5(args[0]); break;
    case 6: *result = host_slot_6(args[0]); break;
    case 7: *result = host_slot_7(args[0]); break;
    case 8: *result = host_slot_8(args[0]); break;
    case 9: *result = host_slot_9(args[0]); break;
    case 10: *result = host_slot_10(args[0]); break;
    case 11: *result = host_slot_11(args[0]); break;
    case 12: *result = host_slot_12(args[0]); break;
    case 13: *result = host_slot_13(args[0]); break;
    case 14: *result = host_slot_14(args[0]); break;
    case 15: *result = host_slot_15(args[0]); break;
    case 16: *result = host_slot_16(args[0]); break;
    case 17: *result = host_slot_17(args[0]); break;
    case 18: *result = host_slot_18(args[0]); break;
    case 19: *result = host_slot_19(args[0]); break;
    case 20: *result = host_slot_20(args[0]); break;
    case 21: *result = host_slot_21(args[0]); break;
    case 22: *result = host_slot_22(args[0]); break;
    case 23: *result = host_slot_23(args[0]); break;
    case 24: *result = host_slot_24(args[0]); break;
    case 25: *result = host_slot_25(args[0]); break;
    case 26: *result = host_slot_26(args[0]); break;
    case 27: *result = host_slot_27(args[0]); break;
    case 28: *result = host_slot_28(args[0]); break;
    case 29: *result = host_slot_29(args[0]); break;
    case 30: *result = host_slot_30(args[0]); break;
    case 31: *result = host_slot_31(args[0]); break;
    case 32: *result = host_slot_32(args[0]); break;
    case 33: *result = host_slot_33(args[0]); break;
    case 34: *result = host_slot_34(args[0]); break;
    case 35: *result = host_slot_35(args[0]); break;
    case 36: *result = host_slot_36(args[0]); break;
    case 37: *result = host_slot_37(args[0]); break;
    case 38: *result = host_slot_38(args[0]); break;
    case 39: *result = host_slot_39(args[0]); break;
    case 40: *result = host_slot_40(args[0]); break;
    case 41: *result = host_slot_41(args[0]); break;
    case 42: *result = host_slot_42(args[0]); break;
    case 43: *result = host_slot_43(args[0]); break;
    case 44: *result = host_slot_44(args[0]); break;
    case 45: *result = host_slot_45(args[0]); break;
    case 46: *result = host_slot_46(args[0]); break;
    case 47: *result = host_slot_47(args[0]); break;
    case 48: *result = host_slot_48(args[0]); break;
    case 49: *result = host_slot_49(args[0]); break;
    case 50: *result = host_slot_50(args[0]); break;
    case 51: *result = host_slot_51(args[0]); break;
    case 52: *result = host_slot_52(args[0]); break;
    case 53: *result = host_slot_53(args[0]); break;
    case 54: *result = host_slot_54(args[0]); break;
    case 55: *result = host_slot_55(args[0]); break;
    case 56: *result = host_slot_56(args[0]); break;
    case 57: *result = host_slot_57(args[0]); break;
    case 58: *result = host_slot_58(args[0]); break;
    case 59: *result = host_slot_59(args[0]); break;
    case 60: *result = host_slot_60(args[0]); break;
    case 61: *result = host_slot_61(args[0]); break;
    case 62: *result = host_slot_62(args[0]); break;
    case 63: *result = host_slot_63(args[0]); break;
    default: return 1;
    }
    return 0;
}

/* __hostCall(slot, ...args) -> the host function's result, converted from its
 * declared type (I32, F32, F64: a number; I64: a number, as in the JS PDK;
 * void: undefined). I64 arguments may be numbers or BigInts. */
static JSValue host_call(JSContext *c, JSValueConst t, int argc, JSValueConst *argv) {
    int32_t slot;
    if (argc < 1 || JS_ToInt32(c, &slot, argv[0]) < 0) return JS_EXCEPTION;
    size_t len;
    const char *line = slot >= 0 ? host_line((uint32_t)slot, &len) : NULL;
    const char *tab1 = line ? memchr(line, '\t', len) : NULL;
    const char *tab2 = tab1 ? memchr(tab1 + 1, '\t', (size_t)(line + len - tab1 - 1)) : NULL;
    if (!tab2) return JS_ThrowRangeError(c, "no host function in slot %d", (int)slot);
    const char *params = tab1 + 1;
    int nparams = (int)(tab2 - params);
    char result_type = tab2 + 1 < line + len ? tab2[1] : 0;
    if (argc - 1 != nparams || nparams > HOST_MAX_PARAMS)
        return JS_ThrowTypeError(c, "host function %.*s takes %d argument%s, not %d",
                                 (int)(tab1 - line), line, nparams, nparams == 1 ? "" : "s", argc - 1);
    u64 args[HOST_MAX_PARAMS];
    for (int k = 0; k < nparams; k++) {
        JSValueConst v = argv[k + 1];
        args[k] = 0;
        if (params[k] == 'i') {
            int32_t x;
            if (JS_ToInt32(c, &x, v) < 0) return JS_EXCEPTION;
            uint32_t bits = (uint32_t)x;
            memcpy(&args[k], &bits, 4);
        } else if (params[k] == 'I') {
            int64_t x;
            if ((JS_IsBigInt(v) ? JS_ToBigInt64(c, &x, v) : JS_ToInt64Ext(c, &x, v)) < 0) return JS_EXCEPTION;
            args[k] = (u64)x;
        } else {
            double x;
            if (JS_ToFloat64(c, &x, v) < 0) return JS_EXCEPTION;
            if (params[k] == 'f') {
                float f = (float)x;
                memcpy(&args[k], &f, 4);
            } else {
                memcpy(&args[k], &x, 8);
            }
        }
    }
    u64 r = 0;
    if (wasmplug_host_dispatch(slot, args, &r) != 0)
        return JS_ThrowRangeError(c, "no host function in slot %d", (int)slot);
    switch (result_type) {
    case 'i': { int32_t x; memcpy(&x, &r, 4); return JS_NewInt32(c, x); }
    case 'I': return JS_NewInt64(c, (int64_t)r);
    case 'f': { float x; memcpy(&x, &r, 4); return JS_NewFloat64(c, x); }
    case 'F': { double x; memcpy(&x, &r, 8); return JS_NewFloat64(c, x); }
    default: return JS_UNDEFINED;
    }
}

/* ---- crypto: random bytes and SHA digests ---- */

#include <unistd.h>  /* getentropy: WASI random_get */

/* __random(u8array): fill it with random bytes from the host */
static JSValue random_fill(JSContext *c, JSValueConst t, int argc, JSValueConst *argv) {
    size_t offset, length, per, size;
    JSValue buf = argc > 0 ? JS_GetTypedArrayBuffer(c, argv[0], &offset, &length, &per) : JS_EXCEPTION;
    if (JS_IsException(buf)) return JS_EXCEPTION;
    uint8_t *p = JS_GetArrayBuffer(c, &size, buf);
    JS_FreeValue(c, buf);
    if (!p) return JS_EXCEPTION;
    for (size_t done = 0; done < length;) {
        size_t n = length - done < 256 ? length - done : 256;
        if (getentropy(p + offset + done, n) != 0) return JS_ThrowInternalError(c, "no randomness");
        done += n;
    }
    return JS_UNDEFINED;
}

static uint32_t rol32(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }
static uint32_t ror32(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
static uint64_t ror64(uint64_t x, int n) { return (x >> n) | (x << (64 - n)); }

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static const uint64_t K512[80] = {
    0x428a2f98d728ae22ULL, 0x7137449123ef65cdULL, 0xb5c0fbcfec4d3b2fULL, 0xe9b5dba58189dbbcULL,
    0x3956c25bf348b538ULL, 0x59f111f1b605d019ULL, 0x923f82a4af194f9bULL, 0xab1c5ed5da6d8118ULL,
    0xd807aa98a3030242ULL, 0x12835b0145706fbeULL, 0x243185be4ee4b28cULL, 0x550c7dc3d5ffb4e2ULL,
    0x72be5d74f27b896fULL, 0x80deb1fe3b1696b1ULL, 0x9bdc06a725c71235ULL, 0xc19bf174cf692694ULL,
    0xe49b69c19ef14ad2ULL, 0xefbe4786384f25e3ULL, 0x0fc19dc68b8cd5b5ULL, 0x240ca1cc77ac9c65ULL,
    0x2de92c6f592b0275ULL, 0x4a7484aa6ea6e483ULL, 0x5cb0a9dcbd41fbd4ULL, 0x76f988da831153b5ULL,
    0x983e5152ee66dfabULL, 0xa831c66d2db43210ULL, 0xb00327c898fb213fULL, 0xbf597fc7beef0ee4ULL,
    0xc6e00bf33da88fc2ULL, 0xd5a79147930aa725ULL, 0x06ca6351e003826fULL, 0x142929670a0e6e70ULL,
    0x27b70a8546d22ffcULL, 0x2e1b21385c26c926ULL, 0x4d2c6dfc5ac42aedULL, 0x53380d139d95b3dfULL,
    0x650a73548baf63deULL, 0x766a0abb3c77b2a8ULL, 0x81c2c92e47edaee6ULL, 0x92722c851482353bULL,
    0xa2bfe8a14cf10364ULL, 0xa81a664bbc423001ULL, 0xc24b8b70d0f89791ULL, 0xc76c51a30654be30ULL,
    0xd192e819d6ef5218ULL, 0xd69906245565a910ULL, 0xf40e35855771202aULL, 0x106aa07032bbd1b8ULL,
    0x19a4c116b8d2d0c8ULL, 0x1e376c085141ab53ULL, 0x2748774cdf8eeb99ULL, 0x34b0bcb5e19b48a8ULL,
    0x391c0cb3c5c95a63ULL, 0x4ed8aa4ae3418acbULL, 0x5b9cca4f7763e373ULL, 0x682e6ff3d6b2b8a3ULL,
    0x748f82ee5defb2fcULL, 0x78a5636f43172f60ULL, 0x84c87814a1f0ab72ULL, 0x8cc702081a6439ecULL,
    0x90befffa23631e28ULL, 0xa4506cebde82bde9ULL, 0xbef9a3f7b2c67915ULL, 0xc67178f2e372532bULL,
    0xca273eceea26619cULL, 0xd186b8c721c0c207ULL, 0xeada7dd6cde0eb1eULL, 0xf57d4f7fee6ed178ULL,
    0x06f067aa72176fbaULL, 0x0a637dc5a2c898a6ULL, 0x113f9804bef90daeULL, 0x1b710b35131c471bULL,
    0x28db77f523047d84ULL, 0x32caab7b40c72493ULL, 0x3c9ebe0a15c9bebcULL, 0x431d67c49c100d4cULL,
    0x4cc5d4becb3e42b6ULL, 0x597f299cfc657e2aULL, 0x5fcb6fab3ad6faecULL, 0x6c44198c4a475817ULL};

static void sha1_block(uint32_t *h, const uint8_t *p) {
    uint32_t w[80];
    for (int i = 0; i < 16; i++) w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++) w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) { f = (b & c) | (~b & d); k = 0x5a827999; }
        else if (i < 40) { f = b ^ c ^ d; k = 0x6ed9eba1; }
        else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc; }
        else { f = b ^ c ^ d; k = 0xca62c1d6; }
        uint32_t t = rol32(a, 5) + f + e + k + w[i];
        e = d; d = c; c = rol32(b, 30); b = a; a = t;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}

/* SHA-256 and SHA-512 (FIPS 180-4, 6.2 and 6.4) have one shape, but the word, the
 * number of rounds, the constants and all twelve rotation and shift amounts differ:
 * two functions that read as the standard does, rather than one macro of a dozen
 * parameters. */
static void sha256_block(uint32_t *h, const uint8_t *p) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++) w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = k + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
        uint32_t t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}

static void sha512_block(uint64_t *h, const uint8_t *p) {
    uint64_t w[80];
    for (int i = 0; i < 16; i++) {
        w[i] = 0;
        for (int j = 0; j < 8; j++) w[i] = w[i] << 8 | p[8 * i + j];
    }
    for (int i = 16; i < 80; i++) {
        uint64_t s0 = ror64(w[i - 15], 1) ^ ror64(w[i - 15], 8) ^ (w[i - 15] >> 7);
        uint64_t s1 = ror64(w[i - 2], 19) ^ ror64(w[i - 2], 61) ^ (w[i - 2] >> 6);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint64_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 80; i++) {
        uint64_t t1 = k + (ror64(e, 14) ^ ror64(e, 18) ^ ror64(e, 41)) + ((e & f) ^ (~e & g)) + K512[i] + w[i];
        uint64_t t2 = (ror64(a, 28) ^ ror64(a, 34) ^ ror64(a, 39)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}

/* One block of the digest `bits` names (SHA-384 shares SHA-512's block function). */
static void digest_block(int32_t bits, uint32_t *h32, uint64_t *h64, const uint8_t *p) {
    if (bits == 1) sha1_block(h32, p);
    else if (bits == 256) sha256_block(h32, p);
    else sha512_block(h64, p);
}

/* __digest(bits, u8array) -> ArrayBuffer: SHA-1 (bits 1), SHA-256, SHA-384, SHA-512 */
static JSValue digest(JSContext *c, JSValueConst t, int argc, JSValueConst *argv) {
    int32_t bits;
    Bytes in;
    if (argc < 2 || JS_ToInt32(c, &bits, argv[0]) < 0 || bytes_of(c, argv[1], &in) < 0) return JS_EXCEPTION;
    const uint8_t *p = (const uint8_t *)in.ptr;
    size_t len = in.len;
    int wide = bits == 384 || bits == 512;
    size_t block = wide ? 128 : 64;
    uint32_t h32[8];
    uint64_t h64[8];
    if (bits == 1) {
        const uint32_t init[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
        memcpy(h32, init, sizeof(init));
    } else if (bits == 256) {
        const uint32_t init[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                  0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
        memcpy(h32, init, sizeof(init));
    } else if (bits == 384) {
        const uint64_t init[8] = {0xcbbb9d5dc1059ed8ULL, 0x629a292a367cd507ULL, 0x9159015a3070dd17ULL,
                                  0x152fecd8f70e5939ULL, 0x67332667ffc00b31ULL, 0x8eb44a8768581511ULL,
                                  0xdb0c2e0d64f98fa7ULL, 0x47b5481dbefa4fa4ULL};
        memcpy(h64, init, sizeof(init));
    } else if (bits == 512) {
        const uint64_t init[8] = {0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL,
                                  0xa54ff53a5f1d36f1ULL, 0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
                                  0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL};
        memcpy(h64, init, sizeof(init));
    } else {
        bytes_free(c, &in);
        return JS_ThrowRangeError(c, "unsupported digest");
    }
    size_t whole = len - len % block;
    for (size_t i = 0; i < whole; i += block) digest_block(bits, h32, h64, p + i);
    uint8_t tail[256] = {0};
    size_t rest = len - whole;
    memcpy(tail, p + whole, rest);
    tail[rest] = 0x80;
    size_t tail_len = rest + 1 + (wide ? 16 : 8) <= block ? block : 2 * block;
    uint64_t bitlen = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++) tail[tail_len - 1 - i] = (uint8_t)(bitlen >> (8 * i));
    for (size_t i = 0; i < tail_len; i += block) digest_block(bits, h32, h64, tail + i);
    bytes_free(c, &in);
    uint8_t out[64];
    size_t out_len = bits == 1 ? 20 : (size_t)bits / 8;
    for (size_t i = 0; i < out_len; i++)
        out[i] = wide ? (uint8_t)(h64[i / 8] >> (56 - 8 * (i % 8))) : (uint8_t)(h32[i / 4] >> (24 - 8 * (i % 4)));
    return JS_NewArrayBufferCopy(c, out, out_len);
}

/* ---- the JS side of the API ---- */

static const char PRELUDE[] =
    "(function(g, n){\n"
    "'use strict';\n"
    "const B64='ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';\n"
    "const fmt=(a)=>a.map(x=>{if(typeof x==='string')return x;"
    " if(x instanceof Error)return x.stack?String(x)+'\\n'+x.stack:String(x);"
    " try{const j=JSON.stringify(x);return j===undefined?String(x):j}catch(e){return String(x)}}).join(' ');\n"
    "const log=(l)=>(...a)=>n.log(l,fmt(a));\n"
    "g.console={trace:log(0),debug:log(1),log:log(2),info:log(2),warn:log(3),error:log(4)};\n"
    "g.Host={inputBytes:n.inputBytes,inputString:n.inputString,outputBytes:n.output,outputString:n.output,\n"
    " getFunctions(){const f={};n.hostNames().forEach((k,i)=>{f[k]=(...a)=>n.hostCall(i,...a)});\n"
    "  return new Proxy(f,{get(t,k){if(typeof k!=='string'||k==='then')return undefined;\n"
    "   if(Object.hasOwn(t,k))return t[k];return ()=>{throw new Error('host function '+k+' was not declared "
    "when this plug-in was built: `wasmplug js build --host-function '+k+' ...`')}}})},\n"
    " arrayBufferToBase64(buf){const b=new Uint8Array(buf);let s='';let i=0;\n"
    "  for(;i+2<b.length;i+=3){const v=(b[i]<<16)|(b[i+1]<<8)|b[i+2];"
    "s+=B64[v>>18]+B64[(v>>12)&63]+B64[(v>>6)&63]+B64[v&63]}\n"
    "  if(i<b.length){const v=(b[i]<<16)|((i+1<b.length?b[i+1]:0)<<8);"
    "s+=B64[v>>18]+B64[(v>>12)&63]+(i+1<b.length?B64[(v>>6)&63]:'=')+'='}return s},\n"
    " base64ToArrayBuffer(str){const s=String(str).replace(/[^A-Za-z0-9+/]/g,'');"
    "const out=new Uint8Array(Math.floor(s.length*3/4));let o=0,v=0,bits=0;\n"
    "  for(const ch of s){v=(v<<6)|B64.indexOf(ch);bits+=6;if(bits>=8){bits-=8;out[o++]=(v>>bits)&255}}"
    "return out.buffer.slice(0,o)}};\n"
    "class MemoryHandle{constructor(offset,len){this.offset=offset;this.len=len}\n"
    " readBytes(){return n.memRead(this.offset)}readString(){return n.utf8Decode(n.memRead(this.offset),false)}\n"
    " readJsonObject(){return JSON.parse(this.readString())}free(){n.memFree(this.offset)}\n"
    " readUInt32(){return new DataView(this.readBytes()).getUint32(0,true)}\n"
    " readUInt64(){return new DataView(this.readBytes()).getBigUint64(0,true)}\n"
    " readFloat32(){return new DataView(this.readBytes()).getFloat32(0,true)}\n"
    " readUFloat64(){return new DataView(this.readBytes()).getFloat64(0,true)}}\n"
    "const num=(size,set)=>(v)=>{const b=new ArrayBuffer(size);set(new DataView(b),v);return g.Memory.fromBuffer(b)};\n"
    "g.MemoryHandle=MemoryHandle;\n"
    "g.Memory={fromBuffer(b){const o=n.memAlloc(b);return new MemoryHandle(o,n.memLength(o))},\n"
    " fromString(s){return g.Memory.fromBuffer(n.utf8Encode(String(s)))},\n"
    " fromJsonObject(o){return g.Memory.fromString(JSON.stringify(o))},\n"
    " find(o){return new MemoryHandle(o,n.memLength(o))},\n"
    " allocUInt32:num(4,(d,v)=>d.setUint32(0,v,true)),allocUInt64:num(8,(d,v)=>d.setBigUint64(0,BigInt(v),true)),\n"
    " allocFloat32:num(4,(d,v)=>d.setFloat32(0,v,true)),allocFloat64:num(8,(d,v)=>d.setFloat64(0,v,true))};\n"
    "g.Host.find=g.Memory.find;\n"
    "g.Var={set:n.varSet,getString:n.varGetString,getBytes:n.varGetBytes,delete:n.varDelete};\n"
    "g.Config={get:n.configGet};\n"
    "g.Http={request(req,body){if(req===null||typeof req!=='object'||typeof req.url!=='string')"
    " throw new TypeError('Http.request: the request needs a url string');\n"
    " const headers={};for(const [k,v] of Object.entries(req.headers||{}))headers[k]=String(v);\n"
    " const r=n.http(JSON.stringify({url:req.url,method:(req.method||'GET').toUpperCase(),headers}),body);\n"
    " return {status:r[0],body:r[1],headers:r[2]===null?{}:JSON.parse(r[2])}}};\n"
    "class TextEncoder{get encoding(){return 'utf-8'}\n"
    " encode(s=''){return new Uint8Array(n.utf8Encode(String(s)))}\n"
    " encodeInto(s,dst){const b=this.encode(s);const k=Math.min(b.length,dst.length);dst.set(b.subarray(0,k));"
    "return {read:String(s).length,written:k}}}\n"
    "class TextDecoder{constructor(label='utf-8',opts={}){const l=String(label).toLowerCase();\n"
    " if(l!=='utf-8'&&l!=='utf8')throw new RangeError('TextDecoder: only utf-8 is supported, not '+label);\n"
    " this.fatal=!!opts.fatal;this.ignoreBOM=!!opts.ignoreBOM}\n"
    " get encoding(){return 'utf-8'}\n"
    " decode(input,opts){if(input===undefined)return '';let v=input;\n"
    "  if(ArrayBuffer.isView(v))v=new Uint8Array(v.buffer,v.byteOffset,v.byteLength);\n"
    "  let s=n.utf8Decode(v,this.fatal);if(!this.ignoreBOM&&s.charCodeAt(0)===0xFEFF)s=s.slice(1);return s}}\n"
    "g.TextEncoder=TextEncoder;g.TextDecoder=TextDecoder;\n"
    "})";

static const JSCFunctionListEntry NATIVES[] = {
    JS_CFUNC_DEF("inputBytes", 0, host_input_bytes),
    JS_CFUNC_DEF("inputString", 0, host_input_string),
    JS_CFUNC_DEF("output", 1, host_output),
    JS_CFUNC_DEF("varSet", 2, var_set),
    JS_CFUNC_DEF("varGetString", 1, var_get_string),
    JS_CFUNC_DEF("varGetBytes", 1, var_get_bytes),
    JS_CFUNC_DEF("varDelete", 1, var_delete),
    JS_CFUNC_DEF("configGet", 1, config_get),
    JS_CFUNC_DEF("http", 2, http_call),
    JS_CFUNC_DEF("log", 2, log_call),
    JS_CFUNC_DEF("utf8Encode", 1, utf8_encode),
    JS_CFUNC_DEF("utf8Decode", 2, utf8_decode),
    JS_CFUNC_DEF("memAlloc", 1, mem_alloc),
    JS_CFUNC_DEF("memLength", 1, mem_length),
    JS_CFUNC_DEF("memRead", 1, mem_read),
    JS_CFUNC_DEF("memFree", 1, mem_free),
    JS_CFUNC_DEF("hostNames", 0, host_names),
    JS_CFUNC_DEF("hostCall", 1, host_call),
    JS_CFUNC_DEF("random", 1, random_fill),
    JS_CFUNC_DEF("digest", 2, digest),
};

#include "globals_js.h"  /* GLOBALS_JS: runtime/globals.js, written by build_runtime.py */

/* ---- errors ---- */

/* A C string (JS_FreeCString) of `v`, or NULL with no exception left pending. */
static const char *text_of(JSValueConst v) {
    const char *text = JS_ToCString(ctx, v);
    if (!text) JS_FreeValue(ctx, JS_GetException(ctx));
    return text;
}

/* "name: message" of an Error read directly (its toString threw), or NULL. */
static char name_message[256];

static const char *error_name_message(JSValueConst exc) {
    JSValue name = JS_GetPropertyStr(ctx, exc, "name");
    JSValue message = JS_GetPropertyStr(ctx, exc, "message");
    if (JS_IsException(name) || JS_IsException(message)) JS_FreeValue(ctx, JS_GetException(ctx));
    const char *n = JS_IsString(name) ? text_of(name) : NULL;
    const char *m = JS_IsString(message) ? text_of(message) : NULL;
    snprintf(name_message, sizeof(name_message), "%s: %s (its toString threw)", n ? n : "Error",
             m ? m : "");
    if (n) JS_FreeCString(ctx, n);
    if (m) JS_FreeCString(ctx, m);
    JS_FreeValue(ctx, name);
    JS_FreeValue(ctx, message);
    return name_message;
}

/* The text of a thrown value: an Error as its toString; a string as it is;
 * anything else as JSON where it can be (`{"code":7}`, not `[object Object]`),
 * else as String(value). A toString or toJSON that throws is not followed. */
static const char *thrown_text(JSValueConst exc) {
    if (JS_IsString(exc) || (!JS_IsObject(exc) && !JS_IsSymbol(exc) && !JS_IsUndefined(exc)))
        return text_of(exc);
    if (JS_IsObject(exc) && !JS_IsError(exc) && !JS_IsFunction(ctx, exc)) {
        JSValue json = JS_JSONStringify(ctx, exc, JS_UNDEFINED, JS_UNDEFINED);
        if (JS_IsException(json)) JS_FreeValue(ctx, JS_GetException(ctx));
        const char *text = JS_IsString(json) ? text_of(json) : NULL;
        JS_FreeValue(ctx, json);
        if (text) return text;
    }
    if (JS_IsObject(exc) || JS_IsSymbol(exc)) {
        JSValue s = JS_IsSymbol(exc) ? JS_UNDEFINED : JS_ToString(ctx, exc);
        if (JS_IsException(s)) JS_FreeValue(ctx, JS_GetException(ctx));
        const char *text = JS_IsString(s) ? text_of(s) : NULL;
        JS_FreeValue(ctx, s);
        if (text) return text;
        if (JS_IsError(exc)) return error_name_message(exc);  /* its toString threw */
    }
    return NULL;
}

/* Fail the call with the pending exception's text and JS stack. */
static void report_exception(void) {
    JSValue exc = JS_GetException(ctx);
    const char *text = thrown_text(exc);
    JSValue stack = JS_IsError(exc) ? JS_GetPropertyStr(ctx, exc, "stack") : JS_UNDEFINED;
    if (JS_IsException(stack)) JS_FreeValue(ctx, JS_GetException(ctx));
    const char *trace = JS_IsString(stack) ? text_of(stack) : NULL;
    const char *head = text ? text
                            : JS_IsUndefined(exc) ? "undefined was thrown"
                            : "a value was thrown that cannot be shown as text (its toString failed)";
    size_t n = strlen(head), m = trace ? strlen(trace) : 0;
    while (m && trace[m - 1] == '\n') m--;  /* drop the trailing newline */
    /* written straight into a kernel block: no malloc here, which may have
     * nothing left after a memory hog */
    u64 off = ex_alloc(n + (m ? m + 1 : 0));
    if (off) {
        kernel_copy(off, head, n);
        if (m) {
            ex_store_u8(off + n, '\n');
            kernel_copy(off + n + 1, trace, m);
        }
    }
    ex_error_set(off);
    if (trace) JS_FreeCString(ctx, trace);
    if (text && text != name_message) JS_FreeCString(ctx, text);
    JS_FreeValue(ctx, stack);
    JS_FreeValue(ctx, exc);
}

/* Run queued jobs; settle `v` if it is a promise. Returns the value or JS_EXCEPTION. */
static JSValue settle(JSValue v) {
    for (;;) {
        JSContext *c;
        int r = JS_ExecutePendingJob(rt, &c);
        if (r < 0) {
            JS_FreeValue(ctx, v);
            return JS_EXCEPTION;
        }
        if (r == 0) break;
    }
    if (!JS_IsPromise(v)) return v;
    JSPromiseStateEnum state = JS_PromiseState(ctx, v);
    JSValue result = JS_PromiseResult(ctx, v);
    JS_FreeValue(ctx, v);
    if (state == JS_PROMISE_FULFILLED) return result;
    if (state == JS_PROMISE_REJECTED) return JS_Throw(ctx, result);
    JS_FreeValue(ctx, result);
    return JS_ThrowInternalError(ctx, "the function's promise never settled (nothing left to run)");
}

/* ---- loading code ---- */

static void unload(void) {
    if (loaded) JS_FreeValue(ctx, exported);
    loaded = 0;
    pristine = 0;
    if (ctx) JS_FreeContext(ctx);
    if (rt) JS_FreeRuntime(rt);
    ctx = NULL;
    rt = NULL;
}

/* Forget the loaded code and its context; the runtime is kept for the next load. */
static void drop_context(void) {
    if (loaded) JS_FreeValue(ctx, exported);
    loaded = 0;
    if (ctx) {
        JS_FreeContext(ctx);
        ctx = NULL;
        JS_RunGC(rt);  /* collect the old context's cycles now, not at some later allocation */
    }
}

/*
 * QuickJS's memory, tracked. Every block the JS runtime takes from malloc is
 * kept in one list, so that after a trap (a memory.grow past the host's
 * budget, a timeout, a host error) the abandoned runtime's memory can be given
 * back to malloc: the plug-in is usable again instead of staying out of memory.
 * The list is trusted only if the trap did not happen inside malloc, or happened
 * there while growing memory (dlmalloc asks for memory before it changes any of
 * its own state); otherwise the old heap is abandoned as it is.
 */
typedef struct Tracked {
    struct Tracked *prev, *next;
    uint64_t pad;  /* keeps malloc's 16-byte alignment for the caller */
    uint64_t pad2;
} Tracked;

static Tracked tracked = {&tracked, &tracked, 0, 0};
static volatile int in_malloc;         /* inside malloc/realloc/free for QuickJS */
static volatile size_t grow_request;   /* bytes the current malloc/realloc asks for */
static volatile int32_t pages_before;  /* memory size when it started */
static size_t tracked_bytes;           /* usable bytes of the tracked blocks */
static size_t learned_limit;           /* the JS heap size at which memory.grow trapped */

static void link_block(Tracked *t) {
    t->prev = &tracked;
    t->next = tracked.next;
    tracked.next->prev = t;
    tracked.next = t;
}

static void unlink_block(Tracked *t) {
    t->prev->next = t->next;
    t->next->prev = t->prev;
}

/*
 * Large blocks. libc's malloc for wasm32 (zig's) rounds every block up to a
 * power of two, and a block of 64 KiB or more to a power of two of 64 KiB
 * pages, which it never splits, merges or hands out for another size: a JS
 * array or string grown to N bytes took up to three times N. Blocks of
 * LARGE_MIN bytes or more are therefore taken here, straight from memory.grow,
 * rounded to whole pages: a block at the top of memory grows in place, freed
 * blocks go to an address-ordered list where neighbours merge, and a new block
 * takes the first free one that fits (splitting off the rest). Their size is
 * kept in the Tracked header (`pad`; 0 for libc's blocks).
 */
#define PAGE 65536u
#define LARGE_MIN (PAGE - 4096)

typedef struct Free {
    size_t size;
    struct Free *next;
} Free;

static Free *large_free;  /* address-ordered */

static size_t round_pages(size_t n) { return (n + PAGE - 1) / PAGE * PAGE; }

static size_t memory_end(void) { return (size_t)__builtin_wasm_memory_size(0) * PAGE; }

static void large_release(char *at, size_t size) {
    Free **link = &large_free;
    while (*link && (char *)*link < at) link = &(*link)->next;
    Free *next = *link, *node = (Free *)at;
    node->size = size;
    node->next = next;
    if (next && at + size == (char *)next) {  /* merge with the next one */
        node->size += next->size;
        node->next = next->next;
    }
    *link = node;
    if (link != &large_free) {  /* merge with the previous one */
        Free *prev = (Free *)((char *)link - offsetof(Free, next));
        if ((char *)prev + prev->size == at) {
            prev->size += node->size;
            prev->next = node->next;
        }
    }
}

/* A block of at least *psize bytes (*psize set to what it has), or NULL. */
static char *large_take(size_t *psize) {
    size_t size = *psize;
    for (Free **link = &large_free; *link; link = &(*link)->next) {
        Free *node = *link;
        if (node->size < size) continue;
        if (node->size - size >= PAGE) {
            Free *rest = (Free *)((char *)node + size);
            rest->size = node->size - size;
            rest->next = node->next;
            *link = rest;
        } else {
            *link = node->next;
            *psize = node->size;
        }
        return (char *)node;
    }
    int32_t page = (int32_t)__builtin_wasm_memory_grow(0, size / PAGE);
    return page < 0 ? NULL : (char *)((uintptr_t)page * PAGE);
}

static Tracked *large_alloc(size_t bytes) {
    size_t size = round_pages(bytes);
    char *at = large_take(&size);
    if (!at) return NULL;
    Tracked *t = (Tracked *)at;
    t->pad = size;
    return t;
}

/* Grow or shrink large block t in place to `bytes` (rounded to pages): 0 if done. */
static int large_resize(Tracked *t, size_t bytes) {
    size_t size = round_pages(bytes), old = (size_t)t->pad;
    char *at = (char *)t;
    if (size <= old) {
        if (old - size >= PAGE) {
            large_release(at + size, old - size);
            t->pad = size;
        }
        return 0;
    }
    if ((size_t)(at + old) == memory_end()) {  /* the top of memory: grow it */
        if ((int32_t)__builtin_wasm_memory_grow(0, (size - old) / PAGE) < 0) return -1;
        t->pad = size;
        return 0;
    }
    for (Free **link = &large_free; *link; link = &(*link)->next) {  /* a free neighbour */
        Free *node = *link;
        if ((char *)node != at + old) continue;
        if (old + node->size < size) return -1;
        *link = node->next;
        t->pad = old + node->size;
        return large_resize(t, bytes);
    }
    return -1;
}

/* What to ask libc's malloc for so that a block of `total` bytes fills its slot:
 * zig's malloc puts a 16-byte header and its allocator a 4-byte link in a slot
 * of a power of two, and reports only the bytes asked for as usable. Asking for
 * the whole slot makes QuickJS count (and use) what the block really takes. */
static size_t small_request(size_t total) {
    size_t slot = 32;
    while (slot < total + 20) slot <<= 1;
    return slot - 20;
}

static size_t block_size(Tracked *t) { return t->pad ? (size_t)t->pad : malloc_usable_size(t); }

static void block_release(Tracked *t) {
    if (t->pad) large_release((char *)t, (size_t)t->pad);
    else free(t);
}

static void *tracked_malloc(void *opaque, size_t size) {
    if (size > (size_t)-1 - sizeof(Tracked) - PAGE) return NULL;
    grow_request = size;
    pages_before = (int32_t)__builtin_wasm_memory_size(0);
    in_malloc = 1;
    Tracked *t;
    if (sizeof(Tracked) + size >= LARGE_MIN) {
        t = large_alloc(sizeof(Tracked) + size);
    } else {
        t = malloc(small_request(sizeof(Tracked) + size));
        if (t) t->pad = 0;
    }
    in_malloc = 0;
    if (!t) return NULL;
    link_block(t);
    tracked_bytes += block_size(t);
    return t + 1;
}

static void *tracked_calloc(void *opaque, size_t count, size_t size) {
    if (size && count > ((size_t)-1 - sizeof(Tracked)) / size) return NULL;
    void *p = tracked_malloc(opaque, count * size);
    if (p) memset(p, 0, count * size);
    return p;
}

static void tracked_free(void *opaque, void *ptr) {
    if (!ptr) return;
    Tracked *t = (Tracked *)ptr - 1;
    unlink_block(t);
    tracked_bytes -= block_size(t);
    in_malloc = 2;
    block_release(t);
    in_malloc = 0;
}

static void *tracked_realloc(void *opaque, void *ptr, size_t size) {
    if (!ptr) return tracked_malloc(opaque, size);
    if (size > (size_t)-1 - sizeof(Tracked) - PAGE) return NULL;
    Tracked *t = (Tracked *)ptr - 1;
    size_t old = block_size(t);
    if (t->pad || sizeof(Tracked) + size >= LARGE_MIN) {
        grow_request = size;
        pages_before = (int32_t)__builtin_wasm_memory_size(0);
        in_malloc = 1;
        int resized = t->pad && large_resize(t, sizeof(Tracked) + size) == 0;
        in_malloc = 0;
        if (resized) {
            tracked_bytes += block_size(t) - old;
            return ptr;
        }
        /* move: a new block, the bytes, then the old one freed */
        void *moved = tracked_malloc(opaque, size);
        if (!moved) return NULL;
        size_t keep = old - sizeof(Tracked);
        memcpy(moved, ptr, keep < size ? keep : size);
        tracked_free(opaque, ptr);
        return moved;
    }
    grow_request = size;
    pages_before = (int32_t)__builtin_wasm_memory_size(0);
    in_malloc = 1;
    Tracked *moved = realloc(t, small_request(sizeof(Tracked) + size));
    in_malloc = 0;
    if (!moved) return NULL;
    moved->prev->next = moved;  /* the links moved with the block */
    moved->next->prev = moved;
    tracked_bytes += malloc_usable_size(moved) - old;
    return moved + 1;
}

static size_t tracked_usable_size(const void *ptr) {
    return ptr ? block_size((Tracked *)ptr - 1) - sizeof(Tracked) : 0;
}

static const JSMallocFunctions TRACKED = {
    tracked_calloc, tracked_malloc, tracked_free, tracked_realloc, tracked_usable_size,
};

/* After a trap: give the abandoned runtime's memory back, if malloc can be trusted. */
static void release_abandoned(void) {
    int grew_out = in_malloc == 1 && (int32_t)__builtin_wasm_memory_size(0) == pages_before;
    if (grew_out) {
        /* memory.grow trapped: the JS heap cannot grow past about this size */
        size_t reached = tracked_bytes + grow_request;
        size_t limit = reached / 4 * 3;  /* malloc's fragmentation needs the rest */
        if (!learned_limit || limit < learned_limit) learned_limit = limit;
    }
    if (in_malloc && !grew_out) {
        tracked.prev = tracked.next = &tracked;  /* malloc's state is unknown: abandon */
        large_free = NULL;
    } else {
        in_malloc = 0;
        while (tracked.next != &tracked) {
            Tracked *t = tracked.next;
            unlink_block(t);
            block_release(t);
        }
    }
    in_malloc = 0;
    tracked_bytes = 0;
}

/*
 * The JS heap limit. The host's memory.max_pages budget is invisible to the
 * guest, and a memory.grow past it traps the call. Two sources tell the
 * runtime where the budget ends:
 *   - the config `wasmplug.js.max_memory` (bytes; `wasmplug.js.with_heap_limit`
 *     and the Sandbox set it from the manifest): QuickJS gets most of the budget
 *     (see apply_limits), so a hog gets a catchable `InternalError: out of
 *     memory` from the first time on;
 *   - without it, the first memory.grow that traps: the call fails (`oom`), the
 *     next one gives the abandoned heap back to malloc (see release_abandoned)
 *     and caps the JS heap below the size it had reached, so later hogs get the
 *     catchable error and the plug-in stays usable.
 * The budget counts growth after instantiation (ABI 7.1), so what the module
 * started with (the snapshot, `baseline_bytes`) is not part of it.
 */
#define HEAP_LIMIT_KEY "wasmplug.js.max_memory"
#define HEAP_LIMIT_MIN (256 * 1024)
#define HEAP_SHARE_PERCENT 75  /* of the budget, for QuickJS (see apply_limits) ... */
#define HEAP_ROOM (4ull << 20)    /* ... leaving at least this much for the rest ... */
#define HEAP_SHARE_MIN_PERCENT 50 /* ... but never less than this share */

static size_t baseline_bytes;  /* QuickJS's bytes in the pre-initialised snapshot */

/* The config value `key` as a number (0 if unset or not a number). */
static unsigned long long config_number(const char *key) {
    u64 k = kernel_write(key, strlen(key));
    u64 value = k ? ex_config_get(k) : 0;
    if (k) ex_free(k);
    if (!value) return 0;
    char text[24];
    size_t len = (size_t)ex_length(value);
    if (len >= sizeof(text)) len = sizeof(text) - 1;
    kernel_read(value, text, len);
    ex_free(value);
    text[len] = 0;
    return strtoull(text, NULL, 10);
}

/*
 * The JS stack limit. QuickJS measures the C stack (see quickjs_unit.c: the
 * recursive functions carry padding there so that it grows with the depth),
 * while what traps is the engine's Wasm stack, which the C stack cannot see.
 * Measured, no recursion of QuickJS takes more than STACK_RATIO times as much
 * Wasm stack as C stack, so the limit is the Wasm stack / STACK_RATIO (with
 * room to spare). The Wasm stack is the config `wasmplug.js.wasm_stack`
 * (bytes; wasmplug's hosts set it) or wasmtime's default, 512 KiB (the
 * official SDK's). With wasmplug's 1.5 MiB, JSON 3,000 deep parses.
 */
#define WASM_STACK_KEY "wasmplug.js.wasm_stack"
#define WASM_STACK_DEFAULT (512 * 1024)
#define STACK_RATIO_X10 27
#define C_STACK_USABLE (900 * 1024)  /* of the 1 MiB linked C stack */

static void apply_limits(void) {
    unsigned long long wasm_stack = config_number(WASM_STACK_KEY);
    if (wasm_stack < 64 * 1024) wasm_stack = WASM_STACK_DEFAULT;
    unsigned long long stack = wasm_stack * 10 / STACK_RATIO_X10;
    if (stack > C_STACK_USABLE) stack = C_STACK_USABLE;
    JS_SetMaxStackSize(rt, (size_t)stack);
    size_t limit = learned_limit;
    unsigned long long total = config_number(HEAP_LIMIT_KEY);
    budget_bytes = (size_t)total;
    if (total) {
        /* QuickJS counts its blocks as what they take (small_request, large
         * blocks in whole pages), but a large block that moves needs the old and
         * the new one at once, and freed pages are reused only by blocks that fit
         * in them. So the JS heap gets HEAP_SHARE_PERCENT of the budget on top of
         * what it held when the instance started (the rest: that fragmentation,
         * the Sandbox's saved state, the kernel's blocks for input and output).
         * The rest needs a few MiB whatever the budget (the saved state, a moving
         * block), so small budgets keep HEAP_SHARE_MIN_PERCENT. Measured under a
         * 64 MiB budget: one 48 MiB string or typed array, or an array of 5.3
         * million numbers (at half the budget: 32 MiB, 3.5 million). */
        unsigned long long share = total / 100 * HEAP_SHARE_PERCENT;
        if (share > total - HEAP_ROOM || total < HEAP_ROOM) share = total < HEAP_ROOM ? 0 : total - HEAP_ROOM;
        if (share < total / 100 * HEAP_SHARE_MIN_PERCENT) share = total / 100 * HEAP_SHARE_MIN_PERCENT;
        unsigned long long from_config = (unsigned long long)baseline_bytes + share;
        if (from_config > (size_t)-1) from_config = (size_t)-1;
        if (!limit || from_config < limit) limit = (size_t)from_config;
    }
    if (!limit) return;
    if (limit < HEAP_LIMIT_MIN) limit = HEAP_LIMIT_MIN;
    JS_SetMemoryLimit(rt, limit);
}

static int new_runtime(void) {
    rt = JS_NewRuntime2(&TRACKED, NULL);
    if (!rt) return -1;
    JS_SetMaxStackSize(rt, WASM_STACK_DEFAULT * 10 / STACK_RATIO_X10);
    return 0;
}

static int new_context(void);

/* A fresh context (and the runtime, the first time) with the PDK's globals. */
static int start_context(void) {
    if (!rt) {
        if (new_runtime() < 0) return -1;
        apply_limits();
    }
    return new_context();
}

static int new_context(void) {
    ctx = JS_NewContext(rt);
    if (!ctx) return -1;
    JSValue natives = JS_NewObject(ctx);
    JS_SetPropertyFunctionList(ctx, natives, NATIVES, sizeof(NATIVES) / sizeof(NATIVES[0]));
    JSValue fn = JS_Eval(ctx, PRELUDE, sizeof(PRELUDE) - 1, "<wasmplug>", JS_EVAL_TYPE_GLOBAL);
    if (JS_IsException(fn)) {
        JS_FreeValue(ctx, natives);
        return -1;
    }
    JSValue global = JS_GetGlobalObject(ctx);
    JSValue args[2] = {global, natives};
    JSValue r = JS_Call(ctx, fn, JS_UNDEFINED, 2, args);
    JS_FreeValue(ctx, fn);
    if (!JS_IsException(r)) {
        JS_FreeValue(ctx, r);
        fn = JS_Eval(ctx, GLOBALS_JS, sizeof(GLOBALS_JS) - 1, "<wasmplug-globals>", JS_EVAL_TYPE_GLOBAL);
        r = JS_IsException(fn) ? fn : JS_Call(ctx, fn, JS_UNDEFINED, 2, args);
        JS_FreeValue(ctx, fn);
    }
    JS_FreeValue(ctx, global);
    JS_FreeValue(ctx, natives);
    if (JS_IsException(r)) return -1;
    JS_FreeValue(ctx, r);
    return 0;
}

/*
 * Pre-initialisation. The host may run __wasmplug_preinit once, before any
 * other entry point, and save the instance's memory as the module's initial
 * memory (wasmplug/js/snapshot.py): every instance of that module then starts
 * with a runtime and a context that has the PDK's globals, made once instead
 * of on every start. Preinit uses no host function, so the heap limit (from
 * config) is applied, and Math.random seeded, when the context is first used.
 */
void wasmplug_seed_random(JSContext *c, uint64_t seed);  /* quickjs_unit.c */
static void enter(void);

static void take_pristine_context(void) {
    pristine = 0;
    struct timespec now;  /* as QuickJS seeds a new context: from the clock */
    clock_gettime(CLOCK_REALTIME, &now);
    wasmplug_seed_random(ctx, (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec);
    JS_UpdateStackTop(rt);
    apply_limits();
}

/* QuickJS makes each built-in function (JSON.parse, Array.prototype.map, ...) and
 * namespace object (JSON, Math, Reflect) the first time it is read. Made here,
 * they are part of the pre-initialised state, instead of being made again by
 * every instance, and by every call that starts from a saved state. Descriptors
 * only: no getter runs. */
static const char INSTANTIATE_BUILTINS[] =
    "(() => { const seen = new Set(), own = Object.getOwnPropertyDescriptor;\n"
    "  const touch = (o) => { if (o === null || (typeof o !== 'object' && typeof o !== 'function')"
    " || seen.has(o)) return; seen.add(o);\n"
    "    for (const k of Reflect.ownKeys(o)) own(o, k);\n"
    "    const p = typeof o === 'function' ? own(o, 'prototype') : undefined;\n"
    "    if (p && 'value' in p) touch(p.value);\n"
    "    touch(Object.getPrototypeOf(o)); };\n"
    "  for (const k of Reflect.ownKeys(globalThis)) { const d = own(globalThis, k);"
    " if (d && 'value' in d) touch(d.value); } })()";

static int instantiate_builtins(void) {
    JSValue r = JS_Eval(ctx, INSTANTIATE_BUILTINS, sizeof(INSTANTIATE_BUILTINS) - 1, "<wasmplug-preinit>",
                        JS_EVAL_TYPE_GLOBAL);
    int failed = JS_IsException(r);
    JS_FreeValue(ctx, failed ? JS_GetException(ctx) : r);
    JS_RunGC(rt);  /* the walk's own garbage (the set, the key lists) */
    return failed ? -1 : 0;
}

EXPORT("__wasmplug_preinit") int32_t wasmplug_preinit(void) {
    enter();
    int32_t rc = rt || ctx || new_runtime() < 0 || new_context() < 0 || instantiate_builtins() < 0;
    pristine = !rc;
    baseline_bytes = tracked_bytes;
    in_call = 0;
    return rc;
}

/* True if a script's compile error is about import/export statements. */
static int mentions_module_syntax(JSValueConst error) {
    const char *text = text_of(error);
    int found = text && (strstr(text, "import") || strstr(text, "export"));
    if (text) JS_FreeCString(ctx, text);
    return found;
}

/* Evaluate `source` (NUL-terminated at source[len]). kind: 'm', 's' or '?'. */
static int load_code(const char *filename, const char *source, size_t len, char kind) {
    if (pristine) {
        take_pristine_context();
    } else {
        drop_context();
    }
    if (!ctx && start_context() < 0) {
        if (ctx) report_exception();
        else set_error_str("could not start the JavaScript runtime: out of memory");
        unload();
        return -1;
    }
    if (len >= 3 && !memcmp(source, "\xEF\xBB\xBF", 3)) {  /* a UTF-8 byte order mark */
        source += 3;
        len -= 3;
    }
    JSValue global = JS_GetGlobalObject(ctx);
    globals_before = JS_UNDEFINED;
    if (record_globals) {
        JSPropertyEnum *props;
        uint32_t count;
        globals_before = JS_NewObject(ctx);
        if (JS_GetOwnPropertyNames(ctx, &props, &count, global, JS_GPN_STRING_MASK) == 0) {
            for (uint32_t i = 0; i < count; i++)
                JS_SetProperty(ctx, globals_before, props[i].atom, JS_TRUE);
            JS_FreePropertyEnum(ctx, props, count);
        }
        JS_SetPropertyStr(ctx, globals_before, "module", JS_TRUE);  /* ours, not the code's */
        JS_SetPropertyStr(ctx, globals_before, "exports", JS_TRUE);
    }
    JSValue module = JS_UNDEFINED, script = JS_UNDEFINED, compiled = JS_UNDEFINED;
    if (kind != 'm') {
        /* CommonJS and plain scripts see `module` and `exports` */
        module = JS_NewObject(ctx);
        JSValue exports = JS_NewObject(ctx);
        JS_SetPropertyStr(ctx, module, "exports", JS_DupValue(ctx, exports));
        JS_SetPropertyStr(ctx, global, "exports", exports);
        JS_SetPropertyStr(ctx, global, "module", JS_DupValue(ctx, module));
        script = JS_Eval(ctx, source, len, filename, JS_EVAL_TYPE_GLOBAL | JS_EVAL_FLAG_COMPILE_ONLY);
    }
    /* '?': what compiles as a script is a script (CommonJS); what only compiles
     * as a module (import/export statements) is a module. QuickJS's parser
     * decides, so `export` inside a comment or a string changes nothing. */
    int is_module = kind == 'm' || (kind == '?' && JS_IsException(script));
    if (is_module) {
        JSValue script_error = JS_IsException(script) ? JS_GetException(ctx) : JS_UNDEFINED;
        compiled = JS_Eval(ctx, source, len, filename, JS_EVAL_TYPE_MODULE | JS_EVAL_FLAG_COMPILE_ONLY);
        if (JS_IsException(compiled) && !JS_IsUndefined(script_error) && !mentions_module_syntax(script_error)) {
            /* neither compiles, and the script's error is not about import/export: report it */
            JS_FreeValue(ctx, JS_GetException(ctx));
            JS_Throw(ctx, script_error);
        } else {
            JS_FreeValue(ctx, script_error);
        }
        if (!JS_IsException(compiled)) {
            JSModuleDef *m = JS_VALUE_GET_PTR(compiled);
            JSValue r = settle(JS_EvalFunction(ctx, compiled));
            if (!JS_IsException(r)) {
                JS_FreeValue(ctx, r);
                exported = JS_GetModuleNamespace(ctx, m);
                loaded = !JS_IsException(exported);
            }
        }
    } else if (!JS_IsException(script)) {
        JSValue r = settle(JS_EvalFunction(ctx, script));
        if (!JS_IsException(r)) {
            JS_FreeValue(ctx, r);
            exported = JS_GetPropertyStr(ctx, module, "exports");
            loaded = !JS_IsException(exported);
        }
    }
    JS_FreeValue(ctx, module);
    JS_FreeValue(ctx, global);
    if (!loaded) {
        report_exception();
        JS_FreeValue(ctx, globals_before);
        globals_before = JS_UNDEFINED;
        unload();
        return -1;
    }
    return 0;
}

/* The function `name` defines: an export, else a global. */
JSValue wasmplug_global_lexicals(JSContext *c);  /* quickjs_unit.c */

static JSValue find_function(const char *name) {
    JSValue f = JS_UNDEFINED;
    if (JS_IsFunction(ctx, exported) && !strcmp(name, "default")) return JS_DupValue(ctx, exported);
    if (JS_IsObject(exported)) f = JS_GetPropertyStr(ctx, exported, name);
    if (JS_IsException(f)) return f;
    if (!JS_IsFunction(ctx, f)) {  /* a global function, var, let or const */
        JS_FreeValue(ctx, f);
        JSValue global = JS_GetGlobalObject(ctx);
        f = JS_GetPropertyStr(ctx, global, name);
        JS_FreeValue(ctx, global);
        if (JS_IsException(f)) return f;
        if (!JS_IsFunction(ctx, f)) {
            JS_FreeValue(ctx, f);
            JSValue lexicals = wasmplug_global_lexicals(ctx);
            f = JS_GetPropertyStr(ctx, lexicals, name);
            JS_FreeValue(ctx, lexicals);
            if (JS_IsException(f)) return f;
        }
    }
    if (!JS_IsFunction(ctx, f)) {
        JS_FreeValue(ctx, f);
        return JS_ThrowReferenceError(ctx, "the JavaScript code defines no function named '%s'", name);
    }
    return f;
}

/* Call `name`, turn its result into output / return code. */
enum { RESULT_PDK, RESULT_TEXT, RESULT_JSON };

/* How the result becomes output. RESULT_PDK: a number is the return code.
 * RESULT_TEXT: a number or boolean is output as its text. RESULT_JSON: the
 * result is always JSON.stringify'ed into the output. */
/* Call `name` and settle its result (JS_EXCEPTION if it threw). */
static JSValue call_named(const char *name, int argc, JSValueConst *argv) {
    JS_UpdateStackTop(rt);
    output_written = 0;
    JSValue f = find_function(name);
    if (JS_IsException(f)) return f;
    JSValue r = settle(JS_Call(ctx, f, JS_UNDEFINED, argc, argv));
    JS_FreeValue(ctx, f);
    return r;
}

static int32_t run(const char *name, int argc, JSValueConst *argv, int mode) {
    JSValue r = call_named(name, argc, argv);
    if (JS_IsException(r)) {
        report_exception();
        return 1;
    }
    int32_t rc = 0;
    if (mode == RESULT_JSON) {
        JSValue text = JS_JSONStringify(ctx, r, JS_UNDEFINED, JS_UNDEFINED);
        if (JS_IsUndefined(text)) text = JS_NewString(ctx, "null");
        if (JS_IsException(text) || output_value(ctx, text) < 0) {
            report_exception();
            rc = 1;
        }
        JS_FreeValue(ctx, text);
    } else if (mode == RESULT_PDK && JS_IsBool(r)) {
        rc = 0;  /* the PDK's Host.output* return true: a boolean is success */
    } else if (mode == RESULT_PDK && JS_IsNumber(r)) {
        JS_ToInt32(ctx, &rc, r);
    } else if (JS_IsNumber(r) || JS_IsBool(r)) {
        JSValue text = JS_ToString(ctx, r);
        if (JS_IsException(text) || output_value(ctx, text) < 0) {
            report_exception();
            rc = 1;
        }
        JS_FreeValue(ctx, text);
    } else if (!JS_IsUndefined(r) && !JS_IsNull(r)) {
        int failed;
        size_t size;
        if (JS_IsString(r) || JS_GetArrayBuffer(ctx, &size, r) || JS_GetTypedArrayType(r) >= 0) {
            failed = output_value(ctx, r) < 0;
        } else {
            JS_FreeValue(ctx, JS_GetException(ctx));
            JSValue json = JS_JSONStringify(ctx, r, JS_UNDEFINED, JS_UNDEFINED);
            failed = JS_IsException(json) || (!JS_IsUndefined(json) && output_value(ctx, json) < 0);
            JS_FreeValue(ctx, json);
        }
        if (failed) {
            report_exception();
            rc = 1;
        }
    }
    JS_FreeValue(ctx, r);
    return rc;
}

/* ---- the embedded blob (written into the binary by `wasmplug js build`) ---- */

volatile int32_t wasmplug_no_source = 0;

EXPORT("__wasmplug_source_len") __attribute__((noinline)) int32_t wasmplug_source_len(void) {
    return wasmplug_no_source;  /* replaced by `i32.const <length>` */
}

EXPORT("__wasmplug_source_copy") __attribute__((noinline)) void wasmplug_source_copy(char *dst) {
    dst[0] = (char)wasmplug_no_source;  /* replaced by a memory.init of the blob's segment */
}

/* The index-th name of the blob, or NULL. */
static const char *blob_name(int32_t index, size_t *plen) {
    const char *p = blob + 1, *end = blob + blob_len;
    const char *names_end = memchr(p, 0, (size_t)(end - p));
    if (!names_end) return NULL;
    for (int32_t i = 0; p < names_end; i++) {
        const char *nl = memchr(p, '\n', (size_t)(names_end - p));
        const char *stop = nl ? nl : names_end;
        if (i == index) {
            *plen = (size_t)(stop - p);
            return p;
        }
        p = stop + 1;
    }
    return NULL;
}

/* The blob's host-function names ('\n'-separated), or NULL (no blob: the bare runtime). */
static const char *blob_host_names(size_t *plen) {
    if (!blob) return NULL;
    const char *hosts = (const char *)memchr(blob + 1, 0, blob_len - 1) + 1;
    *plen = strlen(hosts);
    return hosts;
}

/* Copy the blob out and evaluate the code (the first time), and put the
 * index-th export's name in `name`; -1 (the error set) if that fails. */
static int load_export(int32_t index, char *name, size_t size) {
    if (!blob) {
        int32_t n = wasmplug_source_len();
        if (n <= 1) {
            set_error_str("this is wasmplug's bare JavaScript runtime: build a plug-in with "
                          "`wasmplug js build code.js -o plugin.wasm`");
            return -1;
        }
        blob = malloc((size_t)n + 1);
        if (!blob) {
            set_error_str("out of memory while loading the embedded JavaScript");
            return -1;
        }
        wasmplug_source_copy(blob);
        blob[n] = 0;
        blob_len = (uint32_t)n;
    }
    size_t name_len;
    const char *name_at = blob_name(index, &name_len);
    if (!name_at) {
        set_error_str("wasmplug JS runtime: no export with this index (the plug-in binary is damaged)");
        return -1;
    }
    if (!loaded) {
        const char *hosts = (const char *)memchr(blob + 1, 0, blob_len - 1) + 1;
        const char *filename = hosts + strlen(hosts) + 1;
        const char *source = filename + strlen(filename) + 1;
        if (load_code(filename, source, (size_t)(blob + blob_len - source), blob[0]) < 0) return -1;
    }
    if (name_len >= size) name_len = size - 1;
    memcpy(name, name_at, name_len);
    name[name_len] = 0;
    return 0;
}

__attribute__((noinline)) static int32_t call_index(int32_t index) {
    char name[256];
    if (load_export(index, name, sizeof(name)) < 0) return 1;
    return run(name, 0, NULL, RESULT_PDK);
}

/*
 * Typed exports (declared in the interface file with parameters or a result
 * other than I32, as the JS PDK allows). `wasmplug js build` gives each one a
 * thunk of its declared type that calls __wasmplug_arg_start, then
 * __wasmplug_arg_<type> once per parameter, then __wasmplug_call_<result type>
 * with the export's index. The JS function gets the arguments (I64 as a BigInt,
 * as in the JS PDK) and its result is converted to the declared type; a thrown
 * error sets the call's error and the result is -1 (the JS PDK's convention).
 */
#define TYPED_MAX_ARGS 32
static struct { char type; u64 bits; } typed_args[TYPED_MAX_ARGS];
static int typed_argc;

EXPORT("__wasmplug_arg_start") void wasmplug_arg_start(void) { typed_argc = 0; }

static void typed_arg(char type, u64 bits) {
    if (typed_argc < TYPED_MAX_ARGS) {
        typed_args[typed_argc].type = type;
        typed_args[typed_argc].bits = bits;
    }
    typed_argc++;
}

EXPORT("__wasmplug_arg_i32") void wasmplug_arg_i32(int32_t v) { typed_arg('i', (u64)(uint32_t)v); }
EXPORT("__wasmplug_arg_i64") void wasmplug_arg_i64(int64_t v) { typed_arg('I', (u64)v); }
EXPORT("__wasmplug_arg_f32") void wasmplug_arg_f32(float v) {
    double d = v;
    u64 bits;
    memcpy(&bits, &d, 8);
    typed_arg('F', bits);
}
EXPORT("__wasmplug_arg_f64") void wasmplug_arg_f64(double v) {
    u64 bits;
    memcpy(&bits, &v, 8);
    typed_arg('F', bits);
}

/* Call the index-th export with the recorded arguments; its result as `type`
 * ('i', 'I', 'F' or 0 for void) in *out. 0, or -1 with the error set. */
static int call_typed(int32_t index, char type, u64 *out) {
    char name[256];
    *out = 0;
    int argc = typed_argc;
    typed_argc = 0;
    if (argc > TYPED_MAX_ARGS) {
        set_error_str("wasmplug JS runtime: too many arguments for a typed export");
        return -1;
    }
    if (load_export(index, name, sizeof(name)) < 0) return -1;
    JSValue argv[TYPED_MAX_ARGS];
    for (int k = 0; k < argc; k++) {
        u64 bits = typed_args[k].bits;
        double d;
        switch (typed_args[k].type) {
        case 'i': argv[k] = JS_NewInt32(ctx, (int32_t)(uint32_t)bits); break;
        case 'I': argv[k] = JS_NewBigInt64(ctx, (int64_t)bits); break;
        default: memcpy(&d, &bits, 8); argv[k] = JS_NewFloat64(ctx, d); break;
        }
    }
    JSValue r = call_named(name, argc, (JSValueConst *)argv);
    for (int k = 0; k < argc; k++) JS_FreeValue(ctx, argv[k]);
    int failed = JS_IsException(r);
    if (!failed && type == 'i') {
        int64_t x = 0;
        failed = (JS_IsBigInt(r) ? JS_ToBigInt64(ctx, &x, r) : JS_ToInt64Ext(ctx, &x, r)) < 0;
        *out = (u64)(uint32_t)(int32_t)x;
    } else if (!failed && type == 'I') {
        int64_t x = 0;
        failed = (JS_IsBigInt(r) ? JS_ToBigInt64(ctx, &x, r) : JS_ToInt64Ext(ctx, &x, r)) < 0;
        *out = (u64)x;
    } else if (!failed && type == 'F') {
        double d = 0;
        failed = JS_ToFloat64(ctx, &d, r) < 0;
        memcpy(out, &d, 8);
    }
    JS_FreeValue(ctx, r);
    if (failed) {
        report_exception();
        return -1;
    }
    return 0;
}

/* ---- the sandbox's entry points ---- */

/* Append to `names` the own enumerable function-valued properties of `obj`
 * that `skip` (an object used as a set, or undefined) does not have. */
static uint32_t function_names(JSValueConst obj, JSValueConst skip, JSValue names, uint32_t k) {
    JSPropertyEnum *props;
    uint32_t count;
    if (!JS_IsObject(obj) ||
        JS_GetOwnPropertyNames(ctx, &props, &count, obj, JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY) < 0) {
        JS_FreeValue(ctx, JS_GetException(ctx));
        return k;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (JS_IsObject(skip) && JS_HasProperty(ctx, skip, props[i].atom) > 0) continue;
        JSValue v = JS_GetProperty(ctx, obj, props[i].atom);
        if (JS_IsFunction(ctx, v)) JS_SetPropertyUint32(ctx, names, k++, JS_AtomToString(ctx, props[i].atom));
        JS_FreeValue(ctx, v);
    }
    JS_FreePropertyEnum(ctx, props, count);
    return k;
}

__attribute__((noinline)) static int32_t load_input(void) {
    size_t len;
    char *input = input_copy(&len);
    if (!input) {
        set_error_str("out of memory while reading the JavaScript source");
        return 1;
    }
    size_t name_len = len ? strlen(input + 1) : 0;
    record_globals = 1;
    int r = len && name_len + 1 < len
                ? load_code(input + 1, input + 2 + name_len, len - 2 - name_len, input[0])
                : (set_error_str("__wasmplug_load: the input must be kind, file name, NUL, source"), -1);
    record_globals = 0;
    free(input);
    if (r < 0) return 1;
    /* output: the exported function names, one per line ("default" if the
     * export is itself a function); then a line "\1" and the functions the code
     * defined at the top level (new global properties, global let/const) */
    JSValue names = JS_NewArray(ctx);
    uint32_t k = 0;
    if (JS_IsFunction(ctx, exported)) {
        JS_SetPropertyUint32(ctx, names, k++, JS_NewString(ctx, "default"));
    } else {
        k = function_names(exported, JS_UNDEFINED, names, k);
    }
    JS_SetPropertyUint32(ctx, names, k++, JS_NewString(ctx, "\x01"));
    JSValue global = JS_GetGlobalObject(ctx);
    k = function_names(global, globals_before, names, k);
    JS_FreeValue(ctx, global);
    JS_FreeValue(ctx, globals_before);
    globals_before = JS_UNDEFINED;
    JSValue lexicals = wasmplug_global_lexicals(ctx);
    k = function_names(lexicals, JS_UNDEFINED, names, k);
    JS_FreeValue(ctx, lexicals);
    JSValue sep = JS_NewString(ctx, "\n");
    JSValue join = JS_GetPropertyStr(ctx, names, "join");
    JSValue joined = JS_Call(ctx, join, names, 1, (JSValueConst *)&sep);
    JS_FreeValue(ctx, join);
    JS_FreeValue(ctx, sep);
    JS_FreeValue(ctx, names);
    int failed = JS_IsException(joined) || output_value(ctx, joined) < 0;
    JS_FreeValue(ctx, joined);
    if (failed) {
        report_exception();
        return 1;
    }
    return 0;
}

/*
 * Fresh state without a new instance (the Sandbox's default). Right after the
 * code is loaded, __wasmplug_snapshot copies the runtime's whole state -- its
 * statics and heap, everything above the C stack (the stack comes first in
 * memory) up to the end of memory -- into pages of its own, grown for it. An
 * invoke with the mode in capitals ('S', 'J') first copies that image back:
 * the JS values, QuickJS and malloc are as they were after loading, and
 * Math.random is re-seeded. Memory the previous call grew stays grown but
 * unused (malloc's restored state does not know it); when more than
 * IMAGE_SLACK of it has piled up the invoke fails with return code 2 and the
 * host starts a new instance instead. With the input "host", __wasmplug_snapshot
 * keeps no image: the host saves the memory and puts back, before each call, the
 * pages the last one changed (wasmplug/js/page_reset.py), which costs in
 * proportion to those pages instead of the whole state.
 */
static char *image;           /* the saved state, in pages grown for it */
static size_t image_len;      /* bytes from image_start */
static uintptr_t image_start; /* the first byte above the C stack */
static int32_t image_pages;   /* memory size with the image */
static int reseed;            /* re-seed Math.random at the next invoke */
#define IMAGE_SLACK_DEFAULT (4u << 20)

/* The image as runs of 4 KiB chunks: a run's first chunk and length, with
 * RUN_ZERO set if every byte of it was zero (restored with a fill, not a copy). */
#define CHUNK 4096
#define RUN_ZERO 0x80000000u
static uint32_t *image_runs;
static uint32_t image_run_count;

static int chunk_is_zero(const uint64_t *p) {
    uint64_t any = 0;
    for (size_t i = 0; i < CHUNK / 8; i++) any |= p[i];
    return any == 0;
}

/* malloc's size classes (zig's: powers of two, each filled from 64 KiB pages) are
 * given a page of free blocks each before the state is saved: in the saved state a
 * class with none left would take a new page from memory.grow on every call that
 * starts from it (memory the restored state never reuses). */
static void prime_size_classes(void) {
    for (size_t slot = 32; slot < LARGE_MIN; slot <<= 1) {
        void *chain = NULL;
        for (size_t n = 0; n < PAGE / slot; n++) {
            void **block = malloc(slot - 20);
            if (!block) break;
            *block = chain;
            chain = block;
        }
        while (chain) {
            void *next = *(void **)chain;
            free(chain);
            chain = next;
        }
    }
}

__attribute__((noinline)) static int32_t snapshot_state(int external) {
    if (!loaded || image) {
        set_error_str("__wasmplug_snapshot: load code first, once");
        return 1;
    }
    prime_size_classes();
    uintptr_t start = (uintptr_t)stack_base;
    if ((uintptr_t)&image < start || (uintptr_t)&loaded < start || start % CHUNK) {
        set_error_str("__wasmplug_snapshot: the runtime's statics lie below its stack");
        return 1;
    }
    size_t end = (size_t)__builtin_wasm_memory_size(0) * 65536;
    size_t len = end - start, chunks = len / CHUNK;
    size_t need = len + 2 * sizeof(uint32_t) * chunks;
    int32_t grown = (int32_t)__builtin_wasm_memory_grow(0, (need + 65535) / 65536);
    if (grown < 0) {
        set_error_str("__wasmplug_snapshot: no memory left for the image");
        return 1;
    }
    image = (char *)((uintptr_t)grown * 65536);
    image_runs = (uint32_t *)(image + len);
    image_run_count = 0;
    for (size_t c = 0; c < chunks; c++) {
        uint32_t zero = chunk_is_zero((const uint64_t *)(start + c * CHUNK)) ? RUN_ZERO : 0;
        if (image_run_count && (image_runs[2 * image_run_count - 1] & RUN_ZERO) == zero) {
            image_runs[2 * image_run_count - 1]++;
        } else {
            image_runs[2 * image_run_count] = (uint32_t)c;
            image_runs[2 * image_run_count + 1] = zero | 1;
            image_run_count++;
        }
    }
    image_len = len;
    image_start = start;
    image_pages = (int32_t)__builtin_wasm_memory_size(0);
    reseed = 1;
    memcpy(image, (const void *)start, len);  /* these variables included */
    if (external) {
        /* The saved region, "start length", for the host, which tracks the pages
         * written in it (wasmplug/js/page_reset.py) and names them in each 'P' invoke. */
        char text[32];
        int n = snprintf(text, sizeof(text), "%u %u", (unsigned)start, (unsigned)len);
        u64 off = kernel_write(text, (size_t)n);
        if (!off) {
            set_error_str("__wasmplug_snapshot: out of memory for the output");
            return 1;
        }
        ex_output_set(off, (u64)n);
    }
    return 0;
}

/* Input: empty (the runtime keeps the image) or "host" (the host keeps it). */
EXPORT("__wasmplug_snapshot") int32_t wasmplug_snapshot(void) {
    enter();
    int32_t rc = snapshot_state(ex_input_length() == 4 && ex_input_load_u8(0) == 'h');
    in_call = 0;
    return rc;
}

/* 0 if a state was saved and memory has not grown too much since; else 1, or 2 if
 * the host should start anew (the error set). */
static int32_t can_restore(void) {
    if (!image) {
        set_error_str("no state was saved (call __wasmplug_snapshot first)");
        return 1;
    }
    size_t slack = budget_bytes ? budget_bytes / 8 : IMAGE_SLACK_DEFAULT;
    size_t grown = (size_t)((int32_t)__builtin_wasm_memory_size(0) - image_pages) * 65536;
    if (grown > slack) {
        set_error_str("wasmplug.js: the saved state needs a new instance (memory grew)");
        return 2;
    }
    return 0;
}

/* The 'P' invoke's header: 'P', the host address of memory offset 0 (u64), a count
 * (u32), and that many (start, end, flags) u64 triples: host addresses of the runs of
 * pages written since the last call (PAGEMAP_SCAN's page_region). */
#define PAGES_HEADER 13u
#define PAGES_RUN 24u

/* Put back only the runs the header names: the header's length, or 0 (error set). */
__attribute__((noinline)) static size_t restore_pages(void) {
    if (can_restore()) return 0;
    u64 base = ex_input_load_u64(1);
    uint32_t count = 0;
    for (int i = 3; i >= 0; i--) count = count << 8 | ex_input_load_u8(9 + (u64)i);
    u64 header = PAGES_HEADER + (u64)count * PAGES_RUN;
    if (count > image_len / CHUNK || header > ex_input_length()) {
        set_error_str("__wasmplug_invoke: the runs of pages do not fit the input");
        return 0;
    }
    for (uint32_t i = 0; i < count; i++) {
        u64 at = PAGES_HEADER + (u64)i * PAGES_RUN;
        u64 start = ex_input_load_u64(at) - base, end = ex_input_load_u64(at + 8) - base;
        if (start < image_start || end > image_start + image_len || start >= end
                || start % CHUNK || end % CHUNK) {
            set_error_str("__wasmplug_invoke: a run of pages lies outside the saved state");
            return 0;
        }
        memcpy((char *)(uintptr_t)start, image + (start - image_start), (size_t)(end - start));
    }
    return (size_t)header;
}

/* Put the state back as __wasmplug_snapshot saved it: 0, or 2 (the error set) if
 * too much memory has been grown since and the host should start anew. */
__attribute__((noinline)) static int32_t restore_state(void) {
    int32_t rc = can_restore();
    if (rc) return rc;
    /* locals: the statics are overwritten as the runs are put back */
    char *from = image, *to = (char *)image_start;
    const uint32_t *runs = image_runs;
    uint32_t count = image_run_count;
    for (uint32_t i = 0; i < count; i++) {
        size_t at = (size_t)runs[2 * i] * CHUNK, n = (size_t)(runs[2 * i + 1] & ~RUN_ZERO) * CHUNK;
        if (runs[2 * i + 1] & RUN_ZERO) memset(to + at, 0, n);
        else memcpy(to + at, from + at, n);
    }
    return 0;
}

__attribute__((noinline)) static int32_t invoke_input(void) {
    uint32_t first = ex_input_length() > 0 ? ex_input_load_u8(0) : 0;
    size_t skip = 0;
    if (first == 'S' || first == 'J') {
        int32_t rc = restore_state();
        if (rc) return rc;
    } else if (first == 'P' && ex_input_length() >= PAGES_HEADER) {
        skip = restore_pages();
        if (!skip) return can_restore() == 2 ? 2 : 1;
    }
    if (reseed && ctx) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        wasmplug_seed_random(ctx, (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec);
        reseed = 0;
    }
    if (!loaded) {
        set_error_str("no JavaScript code is loaded (call __wasmplug_load first)");
        return 1;
    }
    size_t len;
    char *copy = input_copy(&len), *input = copy + skip;
    if (!copy) {
        set_error_str("out of memory while reading the input");
        return 1;
    }
    len -= skip;
    size_t name_len = len ? strlen(input + 1) : 0;
    int32_t rc;
    if (len == 0 || name_len + 1 == len || !strchr("sjSJ", input[0]) || !input[0]) {
        set_error_str("__wasmplug_invoke: the input must be the mode ('s' or 'j'; 'S', 'J': from the "
                      "saved state), the function name, NUL, the argument");
        rc = 1;
    } else {
        int json = input[0] == 'j' || input[0] == 'J';
        const char *text = input + name_len + 2;
        size_t text_len = len - name_len - 2;
        JSValue arg = json ? JS_ParseJSON(ctx, text, text_len, "<input>")
                           : JS_NewStringLen(ctx, text, text_len);
        if (JS_IsException(arg)) {
            report_exception();
            rc = 1;
        } else {
            rc = run(input + 1, 1, (JSValueConst *)&arg, json ? RESULT_JSON : RESULT_TEXT);
            JS_FreeValue(ctx, arg);
        }
    }
    free(copy);
    return rc;
}

/* ---- entry points: trap recovery around each ---- */

/* Called first thing by each entry point, which keeps no C stack frame itself. */
__attribute__((noinline)) static void enter(void) {
    if (!stack_base) stack_base = wasmplug_stack_get();
    if (in_call) {
        /* The previous call trapped: abandon its JS runtime (see the top). */
        wasmplug_stack_set(stack_base);
        release_abandoned();
        rt = NULL;
        ctx = NULL;
        loaded = 0;
        pristine = 0;
    }
    in_call = 1;
}

EXPORT("__wasmplug_call") int32_t wasmplug_call(int32_t index) {
    enter();
    int32_t rc = call_index(index);
    in_call = 0;
    return rc;
}

/* The typed entry points keep no C stack frame of their own (see enter): the
 * work is done in these. */
__attribute__((noinline)) static int32_t typed_i32(int32_t index) {
    u64 r;
    return call_typed(index, 'i', &r) < 0 ? -1 : (int32_t)(uint32_t)r;
}

__attribute__((noinline)) static int64_t typed_i64(int32_t index) {
    u64 r;
    return call_typed(index, 'I', &r) < 0 ? -1 : (int64_t)r;
}

__attribute__((noinline)) static double typed_f64(int32_t index) {
    u64 r;
    double v = -1;
    if (call_typed(index, 'F', &r) == 0) memcpy(&v, &r, 8);
    return v;
}

__attribute__((noinline)) static void typed_void(int32_t index) {
    u64 r;
    call_typed(index, 0, &r);
}

EXPORT("__wasmplug_call_i32") int32_t wasmplug_call_i32(int32_t index) {
    enter();
    int32_t v = typed_i32(index);
    in_call = 0;
    return v;
}

EXPORT("__wasmplug_call_i64") int64_t wasmplug_call_i64(int32_t index) {
    enter();
    int64_t v = typed_i64(index);
    in_call = 0;
    return v;
}

EXPORT("__wasmplug_call_f64") double wasmplug_call_f64(int32_t index) {
    enter();
    double v = typed_f64(index);
    in_call = 0;
    return v;
}

EXPORT("__wasmplug_call_f32") float wasmplug_call_f32(int32_t index) {
    enter();
    float v = (float)typed_f64(index);
    in_call = 0;
    return v;
}

EXPORT("__wasmplug_call_void") void wasmplug_call_void(int32_t index) {
    enter();
    typed_void(index);
    in_call = 0;
}

EXPORT("__wasmplug_load") int32_t wasmplug_load(void) {
    enter();
    int32_t rc = load_input();
    in_call = 0;
    return rc;
}

EXPORT("__wasmplug_invoke") int32_t wasmplug_invoke(void) {
    enter();
    int32_t rc = invoke_input();
    in_call = 0;
    return rc;
}

EXPORT("__wasmplug_reset") int32_t wasmplug_reset(void) {
    enter();
    unload();
    in_call = 0;
    return 0;
}

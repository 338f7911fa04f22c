/*
 * stats: an example extension in C, freestanding (no libc, no WASI): it needs
 * nothing but the Extism kernel functions declared below.
 *
 *   initialize(config) -> {"status":"ready"}
 *   capabilities()     -> stats and info
 *   stats(params)      -> {"bytes":B,"depth":D,"strings":S}: the params' size in
 *                         bytes, deepest nesting of objects/arrays, number of strings
 *   info()             -> {"name":"stats","language":"c"}
 */
#include <stdint.h>

#define EXTISM_IMPORT(name) __attribute__((import_module("extism:host/env"), import_name(name)))
#define EXPORT(name) __attribute__((export_name(name)))

EXTISM_IMPORT("input_length") uint64_t extism_input_length(void);
EXTISM_IMPORT("input_load_u8") uint8_t extism_input_load_u8(uint64_t offset);
EXTISM_IMPORT("alloc") uint64_t extism_alloc(uint64_t length);
EXTISM_IMPORT("store_u8") void extism_store_u8(uint64_t offset, uint8_t value);
EXTISM_IMPORT("output_set") void extism_output_set(uint64_t offset, uint64_t length);

static const char CAPABILITIES[] =
    "[{\"name\":\"stats\",\"description\":\"Counts the bytes, nesting depth and strings of the params\","
    "\"params_schema\":{\"type\":\"object\"},"
    "\"return_schema\":{\"type\":\"object\",\"required\":[\"bytes\",\"depth\",\"strings\"],"
    "\"properties\":{\"bytes\":{\"type\":\"integer\"},\"depth\":{\"type\":\"integer\"},"
    "\"strings\":{\"type\":\"integer\"}}}},"
    "{\"name\":\"info\",\"description\":\"Which extension this is\"}]";

static uint64_t length_of(const char *s) {
    uint64_t n = 0;
    while (s[n]) n++;
    return n;
}

static void output(const char *data, uint64_t len) {
    uint64_t block = extism_alloc(len);
    for (uint64_t i = 0; i < len; i++) extism_store_u8(block + i, (uint8_t)data[i]);
    extism_output_set(block, len);
}

static void output_str(const char *s) { output(s, length_of(s)); }

/* Appends the decimal digits of v at out; returns how many were written. */
static int put_u64(char *out, uint64_t v) {
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++) out[i] = digits[n - 1 - i];
    return n;
}

static int put_str(char *out, const char *s) {
    int n = 0;
    while (s[n]) {
        out[n] = s[n];
        n++;
    }
    return n;
}

EXPORT("initialize") int32_t initialize(void) {
    output_str("{\"status\":\"ready\"}");
    return 0;
}

EXPORT("capabilities") int32_t capabilities(void) {
    output_str(CAPABILITIES);
    return 0;
}

EXPORT("stats") int32_t stats(void) {
    uint64_t len = extism_input_length();
    uint64_t depth = 0, deepest = 0, strings = 0;
    int in_string = 0;
    for (uint64_t i = 0; i < len; i++) {
        uint8_t c = extism_input_load_u8(i);
        if (in_string) {
            if (c == '\\') i++;
            else if (c == '"') in_string = 0;
        } else if (c == '"') {
            in_string = 1;
            strings++;
        } else if (c == '{' || c == '[') {
            if (++depth > deepest) deepest = depth;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    char buf[128];
    int n = put_str(buf, "{\"bytes\":");
    n += put_u64(buf + n, len);
    n += put_str(buf + n, ",\"depth\":");
    n += put_u64(buf + n, deepest);
    n += put_str(buf + n, ",\"strings\":");
    n += put_u64(buf + n, strings);
    buf[n++] = '}';
    output(buf, (uint64_t)n);
    return 0;
}

EXPORT("info") int32_t info(void) {
    output_str("{\"name\":\"stats\",\"language\":\"c\"}");
    return 0;
}

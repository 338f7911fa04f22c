/*
 * wasi_files: an Extism plug-in in C, built as a WASI (preview 1) reactor with
 * wasi-libc (see build.sh). It exercises the WASI filesystem (preopened
 * directories from the manifest's allowed_paths), the environment and
 * stdout/stderr. The Extism kernel functions are declared below; no PDK
 * header is used.
 *
 * Every export is () -> i32 (0 = success). On failure the plug-in sets the
 * Extism error to "<export>: <path>: <strerror> (<ERRNAME>, errno <n>)" and
 * returns 1. errno values are wasi-libc's (e.g. ENOENT = 44), not Linux's.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXTISM_IMPORT(name) \
    __attribute__((import_module("extism:host/env"), import_name(name)))
#define EXPORT(name) __attribute__((export_name(name)))

EXTISM_IMPORT("input_length") uint64_t extism_input_length(void);
EXTISM_IMPORT("input_load_u8") uint8_t extism_input_load_u8(uint64_t offset);
EXTISM_IMPORT("input_load_u64") uint64_t extism_input_load_u64(uint64_t offset);
EXTISM_IMPORT("alloc") uint64_t extism_alloc(uint64_t length);
EXTISM_IMPORT("store_u8") void extism_store_u8(uint64_t offset, uint8_t value);
EXTISM_IMPORT("store_u64") void extism_store_u64(uint64_t offset, uint64_t value);
EXTISM_IMPORT("output_set") void extism_output_set(uint64_t offset, uint64_t length);
EXTISM_IMPORT("error_set") void extism_error_set(uint64_t offset);

extern char **environ;

/* ---- Extism helpers ------------------------------------------------------ */

/* Copies the call input into a new NUL-terminated malloc'd buffer. */
static char *read_input(size_t *len_out) {
    uint64_t len = extism_input_length();
    char *buf = malloc((size_t)len + 1);
    if (buf == NULL) return NULL;
    uint64_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t word = extism_input_load_u64(i);
        memcpy(buf + i, &word, 8);
    }
    for (; i < len; i++) buf[i] = (char)extism_input_load_u8(i);
    buf[len] = '\0';
    if (len_out != NULL) *len_out = (size_t)len;
    return buf;
}

/* Copies bytes into a new kernel block; returns its offset (0 if empty). */
static uint64_t to_block(const char *data, size_t len) {
    if (len == 0) return 0;
    uint64_t offs = extism_alloc(len);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t word;
        memcpy(&word, data + i, 8);
        extism_store_u64(offs + i, word);
    }
    for (; i < len; i++) extism_store_u8(offs + i, (uint8_t)data[i]);
    return offs;
}

static void output(const char *data, size_t len) {
    uint64_t offs = to_block(data, len);
    if (offs != 0) extism_output_set(offs, len);
}

static void output_str(const char *s) { output(s, strlen(s)); }

static int fail_msg(const char *msg) {
    extism_error_set(to_block(msg, strlen(msg)));
    return 1;
}

static const char *errno_name(int e) {
    switch (e) {
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EROFS: return "EROFS";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EEXIST: return "EEXIST";
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case ENOSPC: return "ENOSPC";
    case ENOTCAPABLE: return "ENOTCAPABLE";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENOTEMPTY: return "ENOTEMPTY";
    case ENOMEM: return "ENOMEM";
    case EIO: return "EIO";
    default: return "E?";
    }
}

/* Sets "<what>: <path>: <strerror> (<ERRNAME>, errno <n>)" and returns 1. */
static int fail_errno(const char *what, const char *path, int e) {
    const char *reason = strerror(e);
    const char *name = errno_name(e);
    size_t n = strlen(what) + strlen(path) + strlen(reason) + strlen(name) + 48;
    char *msg = malloc(n);
    if (msg == NULL) return fail_msg("out of memory");
    snprintf(msg, n, "%s: %s: %s (%s, errno %d)", what, path, reason, name, e);
    fail_msg(msg);
    free(msg);
    return 1;
}

/* ---- exports -------------------------------------------------------------- */

/* input = path; output = the file's bytes. */
EXPORT("read_file") int32_t read_file(void) {
    char *path = read_input(NULL);
    if (path == NULL) return fail_msg("read_file: out of memory");
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        int e = errno;
        fail_errno("read_file", path, e);
        free(path);
        return 1;
    }
    size_t cap = 4096, len = 0;
    char *data = malloc(cap);
    for (;;) {
        if (data == NULL) {
            fclose(f);
            free(path);
            return fail_msg("read_file: out of memory");
        }
        size_t got = fread(data + len, 1, cap - len, f);
        len += got;
        if (len < cap) break;
        cap *= 2;
        data = realloc(data, cap);
    }
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        free(data);
        fail_errno("read_file", path, e);
        free(path);
        return 1;
    }
    fclose(f);
    output(data, len);
    free(data);
    free(path);
    return 0;
}

/* input = path "\n" content (split at the first newline); creates or
 * truncates the file and writes the content; output "ok". */
EXPORT("write_file") int32_t write_file(void) {
    size_t len;
    char *in = read_input(&len);
    if (in == NULL) return fail_msg("write_file: out of memory");
    char *nl = memchr(in, '\n', len);
    if (nl == NULL) {
        free(in);
        return fail_msg("write_file: expected input path\\ncontent");
    }
    *nl = '\0';
    const char *path = in;
    const char *content = nl + 1;
    size_t clen = len - (size_t)(content - in);
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        int e = errno;
        fail_errno("write_file", path, e);
        free(in);
        return 1;
    }
    size_t put = fwrite(content, 1, clen, f);
    int e = errno;
    if (put != clen) {
        fclose(f);
        fail_errno("write_file", path, e);
        free(in);
        return 1;
    }
    if (fclose(f) != 0) {
        e = errno;
        fail_errno("write_file", path, e);
        free(in);
        return 1;
    }
    free(in);
    output_str("ok");
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* input = directory path; output = entry names (without "." and ".."),
 * sorted bytewise, joined by "\n" (no trailing newline; empty dir = empty). */
EXPORT("list_dir") int32_t list_dir(void) {
    char *path = read_input(NULL);
    if (path == NULL) return fail_msg("list_dir: out of memory");
    DIR *d = opendir(path);
    if (d == NULL) {
        int e = errno;
        fail_errno("list_dir", path, e);
        free(path);
        return 1;
    }
    size_t n = 0, cap = 16, total = 0;
    char **names = malloc(cap * sizeof *names);
    struct dirent *ent;
    errno = 0;
    while (names != NULL && (ent = readdir(d)) != NULL) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0) continue;
        if (n == cap) {
            cap *= 2;
            names = realloc(names, cap * sizeof *names);
            if (names == NULL) break;
        }
        names[n] = strdup(ent->d_name);
        total += strlen(ent->d_name) + 1;
        n++;
    }
    int e = errno;
    closedir(d);
    if (names == NULL) {
        free(path);
        return fail_msg("list_dir: out of memory");
    }
    if (e != 0) {
        fail_errno("list_dir", path, e);
        free(path);
        return 1;
    }
    qsort(names, n, sizeof *names, cmp_str);
    char *joined = malloc(total + 1);
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(names[i]);
        if (i > 0) joined[pos++] = '\n';
        memcpy(joined + pos, names[i], l);
        pos += l;
        free(names[i]);
    }
    free(names);
    output(joined, pos);
    free(joined);
    free(path);
    return 0;
}

/* output = every environment variable as a "NAME=VALUE\n" line, in environ
 * order (empty output when the environment is empty). */
EXPORT("getenv_all") int32_t getenv_all(void) {
    size_t total = 0;
    for (char **e = environ; e != NULL && *e != NULL; e++) total += strlen(*e) + 1;
    char *buf = malloc(total + 1);
    if (buf == NULL) return fail_msg("getenv_all: out of memory");
    size_t pos = 0;
    for (char **e = environ; e != NULL && *e != NULL; e++) {
        size_t l = strlen(*e);
        memcpy(buf + pos, *e, l);
        pos += l;
        buf[pos++] = '\n';
    }
    output(buf, pos);
    free(buf);
    return 0;
}

/* Writes the input to stdout (printf) and to stderr (fprintf), flushes both
 * and outputs "printed". The input is written up to its first NUL byte. */
EXPORT("print_stdout") int32_t print_stdout(void) {
    size_t len;
    char *in = read_input(&len);
    if (in == NULL) return fail_msg("print_stdout: out of memory");
    printf("%s", in);
    fflush(stdout);
    fprintf(stderr, "%s", in);
    fflush(stderr);
    free(in);
    output_str("printed");
    return 0;
}

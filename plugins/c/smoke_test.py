#!/usr/bin/env python3
"""Smoke test for the C test plug-ins, using the official Extism SDK.

Developer tool, not part of the test suite. Run after ./build.sh with a Python
that has `extism` (and optionally `wasmtime`, for the module-shape checks):

    /tmp/venv/bin/python plugins/c/smoke_test.py
"""

import os
import shutil
import subprocess
import sys
import tempfile

import extism

HERE = os.path.dirname(os.path.abspath(__file__))
WASM = os.path.join(HERE, "wasi_files.wasm")

PASSED = 0
FAILED = 0


def check(name, cond, detail=""):
    global PASSED, FAILED
    if cond:
        PASSED += 1
        print(f"ok   {name}")
    else:
        FAILED += 1
        print(f"FAIL {name} {detail}")


def call(p, fn, data=b""):
    """Output bytes, or the error message as str."""
    try:
        return p.call(fn, data)
    except extism.Error as e:
        return str(e)


def test_module_shape():
    try:
        import wasmtime
    except ImportError:
        print("skip module-shape checks (no wasmtime module)")
        return
    m = wasmtime.Module(wasmtime.Engine(), open(WASM, "rb").read())
    funcs = {e.name: e.type for e in m.exports if isinstance(e.type, wasmtime.FuncType)}
    expected = {"_initialize", "read_file", "write_file", "list_dir", "getenv_all", "print_stdout"}
    check("exports", set(funcs) == expected, sorted(funcs))
    for fn, t in funcs.items():
        shape = (list(map(str, t.params)), list(map(str, t.results)))
        want = ([], []) if fn == "_initialize" else ([], ["i32"])
        check(f"{fn} shape", shape == want, shape)
    mods = {i.module for i in m.imports}
    check("imports: extism:host/env + wasi_snapshot_preview1 only",
          mods == {"extism:host/env", "wasi_snapshot_preview1"}, mods)
    kernel = {i.name for i in m.imports if i.module == "extism:host/env"}
    check("kernel imports", kernel == {"input_length", "input_load_u8", "input_load_u64", "alloc",
                                       "store_u8", "store_u64", "output_set", "error_set"}, sorted(kernel))


def test_files():
    rw = tempfile.mkdtemp(prefix="wasi_rw_")
    ro = tempfile.mkdtemp(prefix="wasi_ro_")
    try:
        with open(os.path.join(ro, "hello.txt"), "w", encoding="utf-8") as f:
            f.write("read only ü\n")
        os.mkdir(os.path.join(ro, "sub"))
        open(os.path.join(ro, "B"), "w").close()
        open(os.path.join(ro, "a"), "w").close()
        manifest = {"wasm": [{"path": WASM}], "allowed_paths": {rw: "/data", "ro:" + ro: "/ro"}}
        p = extism.Plugin(manifest, wasi=True, functions=[])

        check("read_file /ro", call(p, "read_file", "/ro/hello.txt") == "read only ü\n".encode())
        out = call(p, "list_dir", "/ro")
        check("list_dir /ro (sorted bytewise)", out == b"B\na\nhello.txt\nsub", out)
        check("list_dir empty dir", call(p, "list_dir", "/data") == b"")

        out = call(p, "write_file", "/data/new.txt\nline 1\nline 2 ü")
        with open(os.path.join(rw, "new.txt"), "rb") as f:
            disk = f.read()
        check("write_file /data", out == b"ok" and disk == "line 1\nline 2 ü".encode(), (out, disk))
        check("read_file back", call(p, "read_file", "/data/new.txt") == disk)
        check("write_file empty content", call(p, "write_file", "/data/empty\n") == b"ok"
              and os.path.getsize(os.path.join(rw, "empty")) == 0)
        check("list_dir /data", call(p, "list_dir", "/data") == b"empty\nnew.txt")
        big = os.urandom(300_000)
        with open(os.path.join(rw, "big.bin"), "wb") as f:
            f.write(big)
        check("read_file 300 kB binary", call(p, "read_file", "/data/big.bin") == big)

        err = call(p, "write_file", "/ro/x.txt\nnope")
        check("write_file /ro new file fails",
              err == "write_file: /ro/x.txt: Operation not permitted (EPERM, errno 63)"
              and not os.path.exists(os.path.join(ro, "x.txt")), err)
        err = call(p, "write_file", "/ro/hello.txt\nnope")
        check("write_file /ro existing file fails",
              err == "write_file: /ro/hello.txt: Operation not permitted (EPERM, errno 63)", err)
        with open(os.path.join(ro, "hello.txt"), encoding="utf-8") as f:
            check("/ro file unchanged", f.read() == "read only ü\n")

        for path, msg in (
            ("/data/missing", "No such file or directory (ENOENT, errno 44)"),
            ("/etc/passwd", "No such file or directory (ENOENT, errno 44)"),
            ("/data/../../etc/passwd", "Operation not permitted (EPERM, errno 63)"),
            ("/ro", "Bad file descriptor (EBADF, errno 8)"),
        ):
            err = call(p, "read_file", path)
            check(f"read_file {path} fails", err == f"read_file: {path}: {msg}", err)
        for path, msg in (
            ("/", "No such file or directory (ENOENT, errno 44)"),
            ("/nope", "No such file or directory (ENOENT, errno 44)"),
            ("/ro/hello.txt", "Not a directory (ENOTDIR, errno 54)"),
        ):
            err = call(p, "list_dir", path)
            check(f"list_dir {path} fails", err == f"list_dir: {path}: {msg}", err)
        err = call(p, "write_file", "/data/sub/x\ny")
        check("write_file into missing dir", err == "write_file: /data/sub/x: No such file or directory (ENOENT, errno 44)", err)
        err = call(p, "write_file", "no newline")
        check("write_file without newline", err == "write_file: expected input path\\ncontent", err)

        check("getenv_all: empty environment", call(p, "getenv_all") == b"")

        q = extism.Plugin({"wasm": [{"path": WASM}]}, wasi=True, functions=[])
        err = call(q, "read_file", "/data/new.txt")
        check("no allowed_paths: nothing preopened",
              err == "read_file: /data/new.txt: No such file or directory (ENOENT, errno 44)", err)
        try:
            extism.Plugin({"wasm": [{"path": WASM}]}, wasi=False, functions=[])
            err = "<created>"
        except extism.Error as e:
            err = str(e)
        check("wasi=False fails to load", err.startswith("Unable to create Extism plugin: unknown import: `wasi_snapshot_preview1::"), err)
    finally:
        shutil.rmtree(rw)
        shutil.rmtree(ro)


PRINT_CHILD = r"""
import sys, extism
p = extism.Plugin({"wasm": [{"path": sys.argv[1]}]}, wasi=True, functions=[])
out = p.call("print_stdout", "from wasm ü\n")
sys.stdout.write("|" + out.decode() + "|\n")
"""


def test_print_stdout():
    """WASI stdout/stderr are discarded unless EXTISM_ENABLE_WASI_OUTPUT is set
    (then they are the host process's own fds 1 and 2)."""
    for enabled in (False, True):
        env = {k: v for k, v in os.environ.items() if k != "EXTISM_ENABLE_WASI_OUTPUT"}
        if enabled:
            env["EXTISM_ENABLE_WASI_OUTPUT"] = "1"
        r = subprocess.run([sys.executable, "-c", PRINT_CHILD, WASM], env=env, capture_output=True, timeout=60)
        want_out = ("from wasm ü\n|printed|\n" if enabled else "|printed|\n").encode()
        want_err = "from wasm ü\n".encode() if enabled else b""
        check(f"print_stdout (EXTISM_ENABLE_WASI_OUTPUT {'set' if enabled else 'unset'})",
              r.returncode == 0 and r.stdout == want_out and r.stderr == want_err, (r.stdout, r.stderr))


def main():
    print(f"extism runtime {extism.extism_version()}")
    test_module_shape()
    test_files()
    test_print_stdout()
    print(f"{PASSED} passed, {FAILED} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Generate a deterministic ~2 MB WebAssembly module for the load benchmarks.

The module has `FUNCS` functions with real arithmetic bodies (multiply, xor,
rotate, add, a data-dependent branch and a short loop), so the compiler has
real work to do, plus an Extism-style export `run: () -> i32` that calls a few
of them and returns 0. It imports nothing and exports a one-page memory.

Usage: python benchmarks/make_big_module.py [OUTPUT.wasm]
(default: benchmarks/results/big_module_v1.wasm). `path()` is what
bench_core.py uses: it builds the file once and reuses it afterwards.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

VERSION = 1          # bump when the generator changes (new file name)
FUNCS = 2800         # number of generated functions
ROUNDS = 24          # arithmetic rounds per function body
SEED = 0x5EED_2024

DEFAULT = Path(__file__).resolve().parent / "results" / f"big_module_v{VERSION}.wasm"


def _lcg(seed: int):
    state = seed & 0xFFFFFFFF
    while True:
        state = (state * 1664525 + 1013904223) & 0xFFFFFFFF
        yield state


def _i32(value: int) -> int:
    """Signed view of a 32-bit value (as WAT's i32.const wants it)."""
    return value - (1 << 32) if value & 0x80000000 else value


def generate_wat(funcs: int = FUNCS, rounds: int = ROUNDS, seed: int = SEED) -> str:
    rnd = _lcg(seed)
    out: list[str] = ["(module", '  (memory (export "memory") 1)']
    for k in range(funcs):
        body: list[str] = []
        for r in range(rounds):
            mul = _i32(next(rnd) | 1)
            add = _i32(next(rnd))
            rot = next(rnd) % 31 + 1
            body.append(
                f"    local.get $a i32.const {mul} i32.mul local.get $b i32.xor "
                f"i32.const {rot} i32.rotl i32.const {add} i32.add local.set $a")
            if r % 8 == 7:
                # a data-dependent branch
                body.append(
                    "    local.get $a i32.const 1 i32.and\n"
                    f"    if local.get $b i32.const {_i32(next(rnd))} i32.add local.set $b\n"
                    f"    else local.get $b i32.const {next(rnd) % 29 + 1} i32.shr_u "
                    "local.set $b end")
        # a short loop folding $a into $b
        body.append(
            "    i32.const 4 local.set $i\n"
            "    loop $l\n"
            f"      local.get $b local.get $a i32.const {_i32(next(rnd) | 1)} i32.mul i32.add "
            "local.set $b\n"
            "      local.get $i i32.const 1 i32.sub local.tee $i br_if $l\n"
            "    end")
        body.append("    local.get $a local.get $b i32.xor")
        out.append(f"  (func $f{k} (param $a i32) (param $b i32) (result i32) (local $i i32)")
        out.extend(body)
        out.append("  )")
    calls = " ".join(
        f"i32.const {j} i32.const {j * 7 + 1} call $f{j * (funcs // 8)} drop" for j in range(8))
    out.append(f'  (func (export "run") (result i32)\n    {calls}\n    i32.const 0)')
    out.append(")")
    return "\n".join(out) + "\n"


def build(dest: Path = DEFAULT) -> Path:
    import wasmtime

    wasm = wasmtime.wat2wasm(generate_wat())
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    tmp.write_bytes(bytes(wasm))
    tmp.replace(dest)
    return dest


def path(dest: Path = DEFAULT) -> Path:
    """The generated module's path, building it if it does not exist yet."""
    if not dest.exists():
        build(dest)
    return dest


def main() -> None:
    dest = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    build(dest)
    data = dest.read_bytes()
    print(f"{dest}: {len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""What `import wasmtime` costs a new process, and what a lazily-bound core would pay instead.

    python benchmarks/bench_wasmtime_import.py              # 21 alternating runs per row
    python benchmarks/bench_wasmtime_import.py --runs 31
    python benchmarks/bench_wasmtime_import.py --callgrind  # also instruction counts (valgrind)

`import wasmtime` runs the wheel's package `__init__`, which imports its whole
high-level API, and `_bindings`, which declares every C function of
libwasmtime (~760 ctypes prototypes, each with its `restype`, `argtypes` and a
Python wrapper) whether it is used or not. This benchmark times, in fresh
processes (CPU: user + system from `rusage`; rows alternate run by run,
medians), what is left when less of that runs:

| row | what the process does |
| --- | --- |
| python alone | `pass` |
| import wasmtime | the wheel as it ships |
| import wasmplug | for scale (its core has its own lazy bindings: no `import wasmtime`) |
| wasmplug one-shot | import, load count_vowels.wasm (cached), one call |
| load the library | `ctypes.CDLL(<wheel>/_libwasmtime.so)` only (found with `find_spec`, |
|                  | which does not run the package) |
| + the one-shot's prototypes | and declare the C functions a one-shot call uses, make an engine |
| + every prototype | and declare all of them, as `_bindings` does (no wrappers, no structures) |
| lazy `_bindings` | a patched copy of the wheel: each prototype declared on its first call |
| lazy `_bindings` + `__init__` | also the package's names imported on first use (PEP 562), |
|                               | then `wasmtime.Engine()` |

The prototypes a one-shot call uses are recorded first: those
`wasmplug._wasmtime` declared (each on its first call) in a process that runs
wasmplug's one-shot (load count_vowels.wasm, call it once). The patched copies are made in a
temporary folder and never installed or committed: they measure what an
upstream change to wasmtime-py would give. Writes
benchmarks/results/wasmtime_import.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_startup import COUNT_VOWELS, ONE_SHOT, RESULTS, Clock, run, uptime

RECORD = """\
import json
import wasmplug
from wasmplug._wasmtime._lib import SIGNATURES, lib, lib_holding_gil
p = wasmplug.Plugin({path!r})
assert p.call("count_vowels", "Hello, world")
p.close()
print(json.dumps(sorted({n for table in (lib, lib_holding_gil) for n in vars(table) if n in SIGNATURES})))
"""

# Declares `names` on the library as plain pointers-in, pointer-out prototypes: the cost
# of a ctypes declaration does not depend much on which types it names.
RAW = """\
import ctypes
lib = ctypes.CDLL({library!r})
for name in {names!r}:
    fn = getattr(lib, name)
    fn.restype = ctypes.c_void_p
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
{engine}
"""
ENGINE = ("lib.wasm_engine_new.restype, lib.wasm_engine_new.argtypes = ctypes.c_void_p, []\n"
          "engine = lib.wasm_engine_new()\nassert engine\n")

_DECLARATION = re.compile(
    r"^(?P<var>_(?P<name>\w+)) = dll\.(?P=name)\n"
    r"(?P=var)\.restype = (?P<restype>.*)\n"
    r"(?P=var)\.argtypes = (?P<argtypes>.*)\n", re.MULTILINE)


def wheel_dir() -> Path:
    spec = importlib.util.find_spec("wasmtime")  # does not execute wasmtime/__init__.py
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations)))


def library() -> Path:
    found = sorted(wheel_dir().glob("*/_libwasmtime.*"))
    if not found:
        raise SystemExit(f"no _libwasmtime in {wheel_dir()}")
    return found[0]


def all_functions() -> list[str]:
    text = (wheel_dir() / "_bindings.py").read_text()
    return [m["name"] for m in _DECLARATION.finditer(text)]


def lazy_bindings(text: str) -> str:
    """`_bindings.py` with each prototype declared on its first call instead of at import."""
    def declare(m: re.Match[str]) -> str:
        var, name = m["var"], m["name"]
        return (f"{var} = None\n"
                f"def {var}_declare():\n"
                f"    global {var}\n"
                f"    {var} = dll.{name}\n"
                f"    {var}.restype = {m['restype']}\n"
                f"    {var}.argtypes = {m['argtypes']}\n"
                f"    return {var}\n")
    lazy = _DECLARATION.sub(declare, text)
    # the wrappers call `_name(...)`: make them call `(_name or _name_declare())(...)`
    return re.sub(r"return (_wasm\w+|_wasi\w+)\(", r"return (\1 or \1_declare())(", lazy)


def lazy_init(text: str) -> str:
    """The package `__init__` with its `from ._x import A, B` names imported on first use."""
    lazy: dict[str, str] = {}
    kept = []
    for line in text.splitlines():
        m = re.match(r"from (\._\w+) import (.+)$", line)
        if m:
            for name in m[2].split(","):
                lazy[name.strip()] = m[1]
        else:
            kept.append(line)
    return "\n".join(kept) + f"""
_LAZY = {lazy!r}
def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(name)
    import importlib
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value
"""


def patched_copy(folder: Path, *, init: bool) -> Path:
    """A copy of the wheel's package under `folder`, lazily bound (and with a lazy `__init__`)."""
    target = folder / ("lazy_init" if init else "lazy_bindings") / "wasmtime"
    shutil.copytree(wheel_dir(), target, ignore=shutil.ignore_patterns("__pycache__", "component"))
    shutil.copytree(wheel_dir() / "component", target / "component",
                    ignore=shutil.ignore_patterns("__pycache__"))
    bindings = target / "_bindings.py"
    bindings.write_text(lazy_bindings(bindings.read_text()))
    if init:
        package = target / "__init__.py"
        package.write_text(lazy_init(package.read_text()))
    return target.parent


def recorded_functions(env: dict[str, str]) -> list[str]:
    """The C functions a one-shot call declares (wasmplug._wasmtime declares each on first use)."""
    _, out = run([sys.executable, "-c", RECORD.format(path=str(COUNT_VOWELS))], env)
    return list(json.loads(out.decode().splitlines()[-1]))


def instructions(cmd: list[str], env: dict[str, str]) -> int | None:
    if shutil.which("valgrind") is None:
        return None
    with tempfile.NamedTemporaryFile(suffix=".callgrind") as out:
        done = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out.name}",
                               *cmd], env=env, capture_output=True, text=True, timeout=600)
    found = re.search(r"Collected : (\d+)", done.stderr)
    return int(found[1]) if found else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21, help="runs of each row (default 21)")
    parser.add_argument("--callgrind", action="store_true", help="also count instructions (valgrind)")
    args = parser.parse_args()
    py = sys.executable
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    clock = Clock()
    used = recorded_functions(env)
    declared = all_functions()
    lib = str(library())
    with tempfile.TemporaryDirectory() as tmp:
        lazy_b, lazy_i = patched_copy(Path(tmp), init=False), patched_copy(Path(tmp), init=True)
        rows: dict[str, list[str]] = {
            "python alone": [py, "-c", "pass"],
            "import wasmtime": [py, "-c", "import wasmtime"],
            "import wasmplug": [py, "-c", "import wasmplug"],
            "wasmplug one-shot (count_vowels, cached)": [
                py, "-c", ONE_SHOT["wasmplug"].format(path=str(COUNT_VOWELS), wasi=False,
                                                      function="count_vowels", data="Hello, world")],
            "load the library": [py, "-c", f"import ctypes\nctypes.CDLL({lib!r})"],
            f"+ the one-shot's {len(used)} prototypes, an engine": [
                py, "-c", RAW.format(library=lib, names=used, engine=ENGINE)],
            f"+ every prototype ({len(declared)})": [
                py, "-c", RAW.format(library=lib, names=declared, engine=ENGINE)],
            "lazy _bindings (patched copy)": [
                py, "-c", f"import sys\nsys.path.insert(0, {str(lazy_b)!r})\nimport wasmtime\n"
                          "wasmtime.Engine()"],
            "lazy _bindings + __init__ (patched copy)": [
                py, "-c", f"import sys\nsys.path.insert(0, {str(lazy_i)!r})\nimport wasmtime\n"
                          "wasmtime.Engine()"],
        }
        for cmd in rows.values():  # bytecode written, the page cache warm
            run(cmd, env)
            run(cmd, env)
        load_before = uptime()
        cpu: dict[str, list[float]] = {row: [] for row in rows}
        order = list(rows)
        for n in range(args.runs):
            for row in order if n % 2 == 0 else reversed(order):
                _, spent, _ = clock.measure(rows[row], env)
                cpu[row].append(spent)
        load_after = uptime()
        counted = {row: instructions(cmd, env) for row, cmd in rows.items()} if args.callgrind else {}

    base = statistics.median(cpu["python alone"]) * 1000
    summary = {}
    print(f"load before: {load_before}\nload after:  {load_after}\n")
    print(f"{'row':<48} {'CPU ms':>8} {'over python':>12} {'instructions':>14}")
    for row, samples in cpu.items():
        ms = statistics.median(samples) * 1000
        count = counted.get(row)
        summary[row] = {"cpu_ms": ms, "over_python_ms": ms - base, "instructions": count}
        shown = f"{count / 1e6:>12.0f} M" if count else ""
        print(f"{row:<48} {ms:>8.1f} {ms - base:>12.1f} {shown:>14}")
    print(f"\nthe one-shot's prototypes: {', '.join(used)}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "wasmtime_import.json").write_text(json.dumps(
        {"runs": args.runs, "load_before": load_before, "load_after": load_after,
         "one_shot_functions": used, "rows": summary,
         "samples_ms": {row: [s * 1000 for s in v] for row, v in cpu.items()}}, indent=2))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Coverage-guided fuzzing of plug-in loading and calling with atheris.

Every input is one of four shapes, chosen by its first byte (mod 4):

  0  raw bytes given to `Plugin(...)`: wasm, WAT, a JSON / TOML manifest, or junk;
  1  the same bytes decoded as text (the `str` path: file names, JSON, TOML, WAT);
  2  wasm bytes in a manifest with `timeout_ms` and `memory.max_pages`; when the
     module loads, every export is called with two small inputs;
  3  a manifest assembled field by field from the input (atheris'
     FuzzedDataProvider): sources, limits, config, hosts, WASI paths, hashes;
     loaded with `Plugin(manifest, config=..., wasi=...)` and, when it has a
     timeout, called.

The only acceptable outcomes are success and `wasmplug.Error`. Anything else
is a finding: the input is saved under fuzz/findings/ with its traceback
(`<ExceptionType>-<sha1>.bin` / `.txt`). By default the first finding stops
the run (libFuzzer then also writes `crash-*`); with `--keep-going` each new
kind of finding (exception type + where it was raised) is saved once and the
run goes on. A crash of the process itself (signal) is caught by libFuzzer.

The seed corpus (every committed plug-in in shapes 0 and 2, the WAT sources
in shape 0, and a few manifests) is written into the first corpus directory
given (created if missing) before fuzzing starts; fuzz/corpus/ is git-ignored.

No network: HTTP(S) goes through a proxy at 127.0.0.1:9 that refuses
connections, so URL sources and plug-in requests fail fast. No compiled
module cache on disk (WASMPLUG_CACHE_DIR=off).

    python fuzz/fuzz_load.py -atheris_runs=200000 -artifact_prefix=fuzz/ fuzz/corpus
    python fuzz/fuzz_load.py --keep-going -max_total_time=600 -timeout=30 -artifact_prefix=fuzz/ fuzz/corpus
    python fuzz/fuzz_load.py fuzz/findings/crash-SIGABRT-86719e299b69.bin   # replay one input
"""

from __future__ import annotations

import base64
import collections
import hashlib
import json
import os
import sys
import tempfile
import traceback
from pathlib import Path

os.environ["WASMPLUG_CACHE_DIR"] = "off"
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ[_var] = "http://127.0.0.1:9"
os.environ.pop("NO_PROXY", None)
os.environ.pop("no_proxy", None)

import atheris  # noqa: E402

with atheris.instrument_imports(include=["wasmplug"]):
    import wasmplug
    import wasmplug._http  # imported lazily by wasmplug: instrument it too
    from wasmplug._host_functions import Function, ValType

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FINDINGS = HERE / "findings"
PLUGIN_FILES = sorted((ROOT / "plugins" / "assemblyscript").glob("*.wasm")) + sorted(
    (ROOT / "plugins" / "wat").glob("*.wasm"))
SEEDS = [p.read_bytes() for p in PLUGIN_FILES]
SCRATCH = tempfile.mkdtemp(prefix="wasmplug-fuzz-")   # the only directory WASI may map
NEVER_CALL = {"forever"}     # loop.wasm: every call would cost the whole timeout
CALL_INPUTS = [b"", b'{"url": "http://127.0.0.1:9/", "n": 3} a,e,i,o,u 1,2']
KEEP_GOING = "--keep-going" in sys.argv
if KEEP_GOING:
    sys.argv.remove("--keep-going")
STATS: collections.Counter[str] = collections.Counter()   # outcomes (see print_stats)


# ------------------------------------------------------------ host functions
def _echo_handle(plugin, params, results):
    plugin.return_bytes(results[0], plugin.input_bytes(params[0]))


def _same(plugin, params, results):
    results[0].value = params[0].value


def _add(plugin, params, results):
    v = (params[0].value + params[1].value) & (2**64 - 1)
    results[0].value = v - 2**64 if v >= 2**63 else v


def _raise(plugin, params, results):
    raise RuntimeError("host function failed on purpose")


HOST_FUNCTIONS = [
    Function(None, "hello_world", [ValType.I64], [ValType.I64], _echo_handle),
    Function(None, "host_json", [ValType.I64], [ValType.I64], _echo_handle),
    Function(None, "add_i64", [ValType.I64, ValType.I64], [ValType.I64], _add),
    Function(None, "scale_f64", [ValType.F64], [ValType.F64], _same),
    Function(None, "flag_i32", [ValType.I32], [ValType.I32], _same),
    Function(None, "no_args", [], [], _raise),
]


# ------------------------------------------------------------------- shapes
def call_all(plugin: wasmplug.Plugin, compiled: wasmplug.CompiledPlugin) -> None:
    for export in list(compiled.main.exports)[:16]:
        if export.name in NEVER_CALL:
            continue
        for data in CALL_INPUTS:
            try:
                plugin.call(export.name, data)
                STATS["call ok"] += 1
            except wasmplug.Error as exc:
                STATS[f"call {type(exc).__name__}"] += 1


def load_and_call(source, *, call: bool, **kwargs) -> None:
    compiled = wasmplug.CompiledPlugin(source, functions=HOST_FUNCTIONS,
                                       wasi=kwargs.pop("wasi", False))
    plugin = wasmplug.Plugin(compiled, **kwargs)
    STATS["loaded"] += 1
    if call:
        call_all(plugin, compiled)
    plugin.close()


def structured_manifest(fdp: atheris.FuzzedDataProvider) -> tuple[dict, dict]:
    """A manifest (and Plugin keyword arguments) chosen field by field."""
    def text(n: int = 24) -> str:
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, n))

    def scalar():
        kind = fdp.ConsumeIntInRange(0, 6)
        return [None, True, fdp.ConsumeInt(9), fdp.ConsumeRegularFloat(), text(),
                fdp.ConsumeIntInRange(0, 2**64), [text()]][kind]

    def module_bytes() -> bytes:
        seed = bytearray(SEEDS[fdp.ConsumeIntInRange(0, len(SEEDS) - 1)])
        for _ in range(fdp.ConsumeIntInRange(0, 3)):       # a few in-place byte changes
            if seed:
                seed[fdp.ConsumeIntInRange(0, len(seed) - 1)] = fdp.ConsumeIntInRange(0, 255)
        return bytes(seed)

    def source() -> dict:
        shape = fdp.ConsumeIntInRange(0, 5)
        entry: dict = {}
        if shape == 0:
            entry["data"] = module_bytes()
        elif shape == 1:
            entry["data"] = base64.b64encode(module_bytes()).decode()
        elif shape == 2:
            entry["data"] = text(40)                   # (mostly) invalid base64
        elif shape == 3:
            entry["path"] = str(PLUGIN_FILES[fdp.ConsumeIntInRange(0, len(PLUGIN_FILES) - 1)]) \
                if fdp.ConsumeBool() else text()
        elif shape == 4:
            entry["url"] = ("http://127.0.0.1:9/" + text()) if fdp.ConsumeBool() else text()
            if fdp.ConsumeBool():
                entry["headers"] = {text(8): text(8)}
            if fdp.ConsumeBool():
                entry["method"] = text(8)
        else:
            entry[text(8)] = scalar()
        if fdp.ConsumeBool():
            entry["name"] = ["main", "lib_math", "commander", text(8)][fdp.ConsumeIntInRange(0, 3)]
        if fdp.ConsumeProbability() < 0.2:
            data = entry.get("data")
            entry["hash"] = hashlib.sha256(data).hexdigest() if isinstance(data, bytes) \
                else text(70)
        return entry

    manifest: dict = {"wasm": [source() for _ in range(fdp.ConsumeIntInRange(0, 3))]}
    if fdp.ConsumeBool():
        manifest["memory"] = {k: (fdp.ConsumeIntInRange(0, 2**33) if fdp.ConsumeBool()
                                  else scalar())
                              for k in ("max_pages", "max_http_response_bytes", "max_var_bytes",
                                        "max_output_bytes", "max")
                              if fdp.ConsumeBool()}
    if fdp.ConsumeBool():
        manifest["timeout_ms"] = fdp.ConsumeIntInRange(0, 300) if fdp.ConsumeBool() else scalar()
    if fdp.ConsumeBool():
        manifest["config"] = {text(8): text() for _ in range(fdp.ConsumeIntInRange(0, 3))} \
            if fdp.ConsumeBool() else scalar()
    if fdp.ConsumeBool():
        manifest["allowed_hosts"] = [["*", "127.0.0.1", text(12)][fdp.ConsumeIntInRange(0, 2)]
                                     for _ in range(fdp.ConsumeIntInRange(0, 2))]
    if fdp.ConsumeBool():
        manifest["allowed_paths"] = {("ro:" if fdp.ConsumeBool() else "") +
                                     (SCRATCH if fdp.ConsumeBool() else text(12)): text(12)}
    if fdp.ConsumeProbability() < 0.1:
        manifest[text(10)] = scalar()
    kwargs: dict = {"wasi": fdp.ConsumeBool()}
    if fdp.ConsumeBool():
        kwargs["config"] = {text(8): (text() if fdp.ConsumeBool() else None)} \
            if fdp.ConsumeBool() else scalar()
    return manifest, kwargs


def run(data: bytes) -> None:
    if not data:
        return
    shape, body = data[0] % 4, data[1:]
    if shape == 0:
        load_and_call(body, call=False)
    elif shape == 1:
        load_and_call(body.decode("utf-8", errors="surrogateescape").encode(
            "utf-8", errors="replace").decode("utf-8"), call=False)
    elif shape == 2:
        load_and_call({"wasm": [{"data": body}], "timeout_ms": 100,
                       "memory": {"max_pages": 64}}, call=True)
    else:
        manifest, kwargs = structured_manifest(atheris.FuzzedDataProvider(body))
        timeout = manifest.get("timeout_ms")
        call = isinstance(timeout, int) and not isinstance(timeout, bool) and timeout <= 300
        load_and_call(manifest, call=call, **kwargs)


# ----------------------------------------------------------------- findings
_seen: set[tuple[str, str]] = set()


def record(data: bytes, exc: BaseException) -> bool:
    """Save a finding; True if it is a new kind (type and place raised)."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = f"{tb[-1].filename}:{tb[-1].lineno}" if tb else "?"
    key = (type(exc).__name__, where)
    new = key not in _seen
    _seen.add(key)
    if new:
        FINDINGS.mkdir(exist_ok=True)
        stem = FINDINGS / f"{type(exc).__name__}-{hashlib.sha1(data).hexdigest()[:12]}"
        stem.with_suffix(".bin").write_bytes(data)
        stem.with_suffix(".txt").write_text(
            f"shape {data[0] % 4 if data else '-'}; {len(data)} bytes; "
            f"input (repr, first 600): {data[:600]!r}\n\n"
            + "".join(traceback.format_exception(exc)))
        print(f"\n=== FINDING {key}: saved {stem}.bin", file=sys.stderr, flush=True)
    return new


def TestOneInput(data: bytes) -> None:
    STATS[f"shape {data[0] % 4 if data else '-'}"] += 1
    STATS["inputs"] += 1
    if STATS["inputs"] % 50_000 == 0:
        print_stats()
    try:
        run(data)
    except wasmplug.Error as exc:
        STATS[f"load/parse {type(exc).__name__}"] += 1
    except Exception as exc:
        STATS["finding"] += 1
        record(data, exc)
        if not KEEP_GOING:
            raise


# ------------------------------------------------------------------ corpus
def write_seed_corpus(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    seeds: list[bytes] = []
    for wasm in SEEDS:
        seeds += [b"\x00" + wasm, b"\x02" + wasm]
    for wat in sorted((ROOT / "plugins" / "wat").glob("*.wat")):
        seeds.append(b"\x00" + wat.read_bytes())
    first = str(PLUGIN_FILES[0])
    for manifest in (
        {"wasm": [{"path": first}], "timeout_ms": 100, "memory": {"max_pages": 4}},
        {"wasm": [{"data": base64.b64encode(SEEDS[-1]).decode(), "name": "main"}],
         "config": {"a": "b"}, "allowed_hosts": ["*.example.com"]},
        {"wasm": [{"url": "http://127.0.0.1:9/x.wasm", "headers": {"a": "b"}, "method": "get"}]},
    ):
        seeds.append(b"\x01" + json.dumps(manifest).encode())
        seeds.append(b"\x00" + f'[[wasm]]\npath = "{first}"\n'.encode())
    seeds += [b"\x03" + bytes(range(i, 256)) for i in range(0, 256, 32)]
    for seed in seeds:
        (directory / f"seed-{hashlib.sha1(seed).hexdigest()[:16]}").write_bytes(seed)


def print_stats() -> None:
    """(libFuzzer exits without running Python's atexit: printed every 50 000 inputs.)"""
    print("outcomes: " + ", ".join(f"{k}: {v}" for k, v in sorted(STATS.items())),
          file=sys.stderr, flush=True)


def main() -> None:
    dirs = [a for a in sys.argv[1:] if not a.startswith("-") and not Path(a).is_file()]
    if dirs:
        write_seed_corpus(Path(dirs[0]))
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

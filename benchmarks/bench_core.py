#!/usr/bin/env python3
"""wasmplug vs the official extism Python SDK, side by side, on the same .wasm files.

    python benchmarks/bench_core.py            # full run (a few minutes)
    python benchmarks/bench_core.py --quick    # short run (under a minute)

Prints one table row per benchmark (extism median, wasmplug median, the ratio
wasmplug/extism, the target ratio and PASS/MISS) and writes everything,
including the raw samples, to benchmarks/results/core.json. See
benchmarks/README.md for what each row measures.

Method: in-process rows time batches of calls with time.perf_counter (batch
size calibrated after a warm-up so a batch lasts `batch_s`), alternating the
two runtimes batch by batch, and report the median per-operation time over
all batches. New-process rows run one subprocess per sample and time inside
it, so Python start-up and imports are not counted.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PLUGINS = ROOT / "plugins" / "assemblyscript"
RESULTS = HERE / "results"
ECHO = PLUGINS / "echo.wasm"
COUNT_VOWELS = PLUGINS / "count_vowels.wasm"
HOST_FUNCTIONS = PLUGINS / "host_functions.wasm"
CONFIG = {"vowels": "aeiouAEIOU"}
RUNTIMES = ("extism", "wasmplug")

perf_counter = time.perf_counter


# ---------------------------------------------------------------- settings

@dataclass(frozen=True)
class Settings:
    batch_s: float        # target duration of one timed batch
    budget_s: float       # per in-process row, both runtimes together
    min_reps: int         # minimum batches per runtime
    max_reps: int
    load_runs: int        # new-process load samples per runtime
    mem_plugins: int      # live plug-ins per memory sample
    mem_runs: int         # memory samples (subprocesses) per runtime


FULL = Settings(batch_s=0.05, budget_s=12.0, min_reps=9, max_reps=400,
                load_runs=9, mem_plugins=200, mem_runs=3)
QUICK = Settings(batch_s=0.02, budget_s=1.2, min_reps=5, max_reps=100,
                 load_runs=3, mem_plugins=100, mem_runs=1)


@dataclass
class Row:
    key: str
    title: str
    unit: str                      # "s" (time per operation) or "B" (bytes)
    target: float | None           # max ratio wasmplug/extism; None = informational
    extism: float = float("nan")   # median
    wasmplug: float = float("nan")
    samples: dict[str, list[float]] = field(default_factory=dict)
    batch: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    label: str = ""

    @property
    def ratio(self) -> float:
        return self.wasmplug / self.extism if self.extism else float("nan")

    @property
    def verdict(self) -> str:
        if self.error:
            return "ERROR"
        if self.target is None:
            return "info"
        return "PASS" if self.ratio <= self.target else "MISS"


# ---------------------------------------------------------------- timing

Runner = Callable[[int], float]  # run(n): perform n operations, return seconds
KEEP_MAX = 100


def loop_runner(op: Callable[[], Any], keep: bool = False) -> Runner:
    """Time `n` calls of `op`. With keep=True the results stay alive until the
    clock has stopped (so a `Plugin(...)` row does not also time the previous
    plug-in's destruction)."""
    if keep:
        def run(n: int) -> float:
            # At most KEEP_MAX live results at once: libextism runs out of its
            # engine's GC heap ("GC heap out of memory") with a few thousand
            # live plug-ins from one CompiledPlugin.
            elapsed = 0.0
            while n > 0:
                chunk = min(n, KEEP_MAX)
                kept: list[Any] = []
                append = kept.append
                rng = range(chunk)
                t0 = perf_counter()
                for _ in rng:
                    append(op())
                elapsed += perf_counter() - t0
                kept.clear()
                n -= chunk
            return elapsed
    else:
        def run(n: int) -> float:
            rng = range(n)
            t0 = perf_counter()
            for _ in rng:
                op()
            return perf_counter() - t0
    return run


def calibrate(run: Runner, batch_s: float) -> int:
    """Warm up, then the batch size that makes one batch last about `batch_s`."""
    spent, calls = 0.0, 0
    while calls < 3 or (spent < batch_s and calls < 1000):
        spent += run(1)
        calls += 1
    one = min(run(1) for _ in range(3))
    n = max(1, int(batch_s / max(one, 1e-9)))
    # refine with a real batch (run(1) includes the timer's own overhead)
    t = run(n)
    return max(1, int(n * batch_s / max(t, 1e-9)))


def measure_pair(row: Row, runners: dict[str, Runner], cfg: Settings) -> None:
    sizes = {rt: calibrate(runners[rt], cfg.batch_s) for rt in RUNTIMES}
    samples: dict[str, list[float]] = {rt: [] for rt in RUNTIMES}
    start = perf_counter()
    rep = 0
    while True:
        order = RUNTIMES if rep % 2 == 0 else RUNTIMES[::-1]
        for rt in order:
            gc.collect()
            n = sizes[rt]
            samples[rt].append(runners[rt](n) / n)
        rep += 1
        if rep >= cfg.max_reps or (rep >= cfg.min_reps and perf_counter() - start > cfg.budget_s):
            break
    gc.collect()
    row.samples = samples
    row.batch = sizes
    row.extism = statistics.median(samples["extism"])
    row.wasmplug = statistics.median(samples["wasmplug"])


# ---------------------------------------------------------------- subprocess scripts

LOAD_SCRIPT = r"""
import json, sys, time
runtime, path, export = sys.argv[1:4]
if runtime == "wasmplug":
    import wasmplug as sdk
else:
    import extism as sdk
data = open(path, "rb").read()
t0 = time.perf_counter()
plugin = sdk.Plugin(data)
t1 = time.perf_counter()
out = plugin.call(export, b"")
t2 = time.perf_counter()
print(json.dumps({"create": t1 - t0, "first_call": t2 - t1, "total": t2 - t0,
                  "output": bytes(out).hex()}))
"""

MEMORY_SCRIPT = r"""
import gc, json, os, sys
runtime, path, count, config = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
PAGE = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE
if runtime == "wasmplug":
    import wasmplug as sdk
    Compiled = sdk.CompiledPlugin
else:
    import extism as sdk
    Compiled = sdk.extism.CompiledPlugin
compiled = Compiled(open(path, "rb").read())
# one plug-in first, so one-time costs (engine, kernel, code) are not counted
first = sdk.Plugin(compiled, config=config)
expected = first.call("count_vowels", b"hello world")
gc.collect()
before = rss()
live = []
for _ in range(count):
    p = sdk.Plugin(compiled, config=config)
    out = p.call("count_vowels", b"hello world")
    assert out == expected, (out, expected)
    live.append(p)
gc.collect()
after = rss()
print(json.dumps({"before": before, "after": after, "count": count,
                  "per_plugin": (after - before) / count}))
"""


def run_script(script: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", script, *args], env=env,
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"subprocess {args[0]} failed (exit {proc.returncode}):\n"
                           f"{proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def child_env(cache: str, extism_cache: str = "") -> dict[str, str]:
    """Environment of a subprocess. `cache`: WASMPLUG_CACHE_DIR. `extism_cache`:
    EXTISM_CACHE_CONFIG, a wasmtime cache config file; "" disables extism's
    cache (unset, extism uses wasmtime's default cache in ~/.cache/wasmtime)."""
    env = dict(os.environ)
    env["EXTISM_CACHE_CONFIG"] = extism_cache
    env["WASMPLUG_CACHE_DIR"] = cache
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


# ---------------------------------------------------------------- benchmarks

HOST_FN_LOOP_CALLS = 100
# Calls extism:host/user.bump 100 times, threading the value through, and
# outputs the final value (100) as 8 bytes.
HOST_FN_LOOP_WAT = """
(module
  (import "extism:host/user" "bump" (func $bump (param i64) (result i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func (export "loop") (result i32)
    (local $i i32) (local $v i64) (local $p i64)
    (loop $again
      (local.set $v (call $bump (local.get $v)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 100))))
    (local.set $p (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $p) (local.get $v))
    (call $output_set (local.get $p) (i64.const 8))
    (i32.const 0)))
"""


def text(size: int) -> bytes:
    base = b"The quick brown fox jumps over the lazy dog; AEIOU and sometimes y. "
    return (base * (size // len(base) + 1))[:size]


class Bench:
    def __init__(self, cfg: Settings, cache_dir: str, console: Any) -> None:
        import extism

        import wasmplug

        self.cfg = cfg
        self.cache_dir = cache_dir
        self.console = console
        self.sdk = {"extism": extism, "wasmplug": wasmplug}
        self.compiled_cls = {"extism": extism.extism.CompiledPlugin,
                             "wasmplug": wasmplug.CompiledPlugin}
        self.echo = ECHO.read_bytes()
        self.count_vowels = COUNT_VOWELS.read_bytes()

    # -- helpers
    def plugin(self, rt: str, wasm: Any, **kw: Any) -> Any:
        return self.sdk[rt].Plugin(wasm, **kw)

    def call_row(self, row: Row, wasm: Any, export: str, data: bytes,
                 config: dict[str, str] | None = None) -> None:
        runners: dict[str, Runner] = {}
        outputs = {}
        for rt in RUNTIMES:
            p = self.plugin(rt, wasm, config=config)
            outputs[rt] = p.call(export, data)
            runners[rt] = loop_runner(functools.partial(p.call, export, data))
        if export == "echo":
            assert outputs["extism"] == outputs["wasmplug"] == data
        else:
            assert outputs["extism"] == outputs["wasmplug"], outputs
            row.extra["output"] = outputs["wasmplug"].decode()
        measure_pair(row, runners, self.cfg)

    # -- rows
    def echo_16(self, row: Row) -> None:
        self.call_row(row, self.echo, "echo", b"0123456789abcdef")

    def vowels(self, size: int) -> Callable[[Row], None]:
        def bench(row: Row) -> None:
            self.call_row(row, self.count_vowels, "count_vowels", text(size), CONFIG)
        return bench

    def vowels_budgeted(self, row: Row) -> None:
        # With memory.max_pages wasmplug runs a rewritten module (every
        # memory.grow draws from the kernel's budget); calls that do not grow
        # memory must cost what they cost without it (row 2).
        manifest = {"wasm": [{"path": str(COUNT_VOWELS)}], "memory": {"max_pages": 64}}
        self.call_row(row, manifest, "count_vowels", text(10), CONFIG)

    def echo_big(self, size: int) -> Callable[[Row], None]:
        def bench(row: Row) -> None:
            self.call_row(row, self.echo, "echo", os.urandom(size))
        return bench

    def host_functions(self, rt: str) -> list[Any]:
        """The same host functions, defined through each SDK's own decorator."""
        sdk = self.sdk[rt]
        V = sdk.ValType

        @sdk.host_fn()
        def hello_world(name: str) -> str:
            return "Hello, " + name + "!"

        @sdk.host_fn(signature=([V.I64], [V.I64]))
        def bump(plugin: Any, params: Any, results: Any) -> None:
            results[0].value = params[0].value + 1

        def unused(name: str) -> Any:
            return sdk.host_fn(name=name, signature=([V.I64, V.I64], [V.I64]))(
                lambda plugin, params, results: None)

        return [hello_world, bump, unused("add_i64"),
                sdk.host_fn(name="scale_f64", signature=([V.F64], [V.F64]))(lambda *a: None),
                sdk.host_fn(name="flag_i32", signature=([V.I32], [V.I32]))(lambda *a: None),
                sdk.host_fn(name="host_json", signature=([V.I64], [V.I64]))(lambda *a: None),
                sdk.host_fn(name="no_args", signature=([], []))(lambda *a: None)]

    def host_fn_loop(self, row: Row) -> None:
        runners: dict[str, Runner] = {}
        for rt in RUNTIMES:
            import wasmtime  # extism takes wasm bytes only

            wasm = bytes(wasmtime.wat2wasm(HOST_FN_LOOP_WAT))
            p = self.plugin(rt, wasm, functions=self.host_functions(rt))
            assert int.from_bytes(p.call("loop", b""), "little") == HOST_FN_LOOP_CALLS
            runners[rt] = loop_runner(functools.partial(p.call, "loop", b""))
        measure_pair(row, runners, self.cfg)
        row.extra["host_calls_per_plugin_call"] = HOST_FN_LOOP_CALLS

    def host_fn_string(self, row: Row) -> None:
        runners: dict[str, Runner] = {}
        wasm = HOST_FUNCTIONS.read_bytes()
        for rt in RUNTIMES:
            p = self.plugin(rt, wasm, functions=self.host_functions(rt))
            assert p.call("say_hello", b"abc") == b"Hello, abc!"
            runners[rt] = loop_runner(functools.partial(p.call, "say_hello", b"abc"))
        measure_pair(row, runners, self.cfg)

    def create(self, first_call: bool) -> Callable[[Row], None]:
        def bench(row: Row) -> None:
            runners: dict[str, Runner] = {}
            for rt in RUNTIMES:
                compiled = self.compiled_cls[rt](self.count_vowels)
                Plugin = self.sdk[rt].Plugin
                if first_call:
                    def op(Plugin: Any = Plugin, compiled: Any = compiled) -> Any:
                        p = Plugin(compiled, config=CONFIG)
                        p.call("count_vowels", b"hello world")
                        return p
                else:
                    op = functools.partial(Plugin, compiled, config=CONFIG)
                runners[rt] = loop_runner(op, keep=True)  # op holds the CompiledPlugin
            measure_pair(row, runners, self.cfg)
        return bench

    def load_new_process(self, rows: dict[str, Row]) -> None:
        """Rows 6a-c. Four subprocess set-ups, each timing Plugin(bytes) + first call:

        extism_cold    EXTISM_CACHE_CONFIG="" (extism's wasmtime cache disabled)
        extism_warm    extism's own default wasmtime cache, in a private directory, warm
        wasmplug_warm  wasmplug's compiled-module cache, warm
        wasmplug_cold  WASMPLUG_CACHE_DIR=off
        """
        import make_big_module

        wasm = str(make_big_module.path())
        size = os.path.getsize(wasm)
        base = Path(tempfile.mkdtemp(prefix="load-", dir=self.cache_dir))
        wasmtime_toml = base / "wasmtime-cache.toml"
        wasmtime_toml.write_text(f'[cache]\ndirectory = "{base / "wasmtime-cache"}"\n')
        setups = {
            "extism_cold": ("extism", child_env("off", extism_cache="")),
            "extism_warm": ("extism", child_env("off", extism_cache=str(wasmtime_toml))),
            "wasmplug_warm": ("wasmplug", child_env(str(base / "wasmplug-cache"))),
            "wasmplug_cold": ("wasmplug", child_env("off")),
        }
        # warm-ups: fill both warm caches (and bring the shared libraries into
        # the page cache)
        first = {key: run_script(LOAD_SCRIPT, [rt, wasm, "run"], env)
                 for key, (rt, env) in setups.items()}
        if not list((base / "wasmplug-cache").glob("*.cwasm")):
            raise RuntimeError("wasmplug wrote no compiled-module cache entry")
        if not any(p.is_file() for p in (base / "wasmtime-cache").rglob("*")):
            raise RuntimeError("extism wrote no wasmtime cache entry")
        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in setups}
        keys = list(setups)
        for i in range(self.cfg.load_runs):
            for key in (keys if i % 2 == 0 else keys[::-1]):
                rt, env = setups[key]
                runs[key].append(run_script(LOAD_SCRIPT, [rt, wasm, "run"], env))
        outs = {r["output"] for k in runs for r in runs[k]}
        assert outs == {""}, outs
        pairs = {"load_2mb_new_process": ("extism_cold", "wasmplug_warm"),
                 "load_2mb_new_process_both_warm": ("extism_warm", "wasmplug_warm"),
                 "load_2mb_new_process_both_cold": ("extism_cold", "wasmplug_cold")}
        for key, (ex, wp) in pairs.items():
            row = rows[key]
            row.samples = {"extism": [r["total"] for r in runs[ex]],
                           "wasmplug": [r["total"] for r in runs[wp]]}
            row.extism = statistics.median(row.samples["extism"])
            row.wasmplug = statistics.median(row.samples["wasmplug"])
            row.extra["module_bytes"] = size
            row.extra["setups"] = {"extism": ex, "wasmplug": wp}
            for rt, k in (("extism", ex), ("wasmplug", wp)):
                row.extra[f"{rt}_create_median"] = statistics.median(r["create"] for r in runs[k])
                row.extra[f"{rt}_first_call_median"] = statistics.median(
                    r["first_call"] for r in runs[k])
                row.extra[f"{rt}_warm_up_run"] = first[k]

    def thread_scaling(self, row: Row) -> None:
        """Row 9: wall time per call with 2 threads over that with 1 thread (count_vowels 10 B,
        one plug-in per thread), per runtime: 0.5 would be perfect scaling on 2 cores, 1.0
        none. The ratio compares wasmplug's scaling with the SDK's (<= 1: at least as good)."""
        import threading

        data = text(10)
        window = max(self.cfg.batch_s * 4, 0.1)

        def per_call(plugins: list[Any]) -> float:
            counts = [0] * len(plugins)
            start = threading.Barrier(len(plugins) + 1)
            stop = threading.Event()

            def work(i: int) -> None:
                call = functools.partial(plugins[i].call, "count_vowels", data)
                start.wait()
                n = 0
                while not stop.is_set():
                    for _ in range(20):
                        call()
                    n += 20
                counts[i] = n

            workers = [threading.Thread(target=work, args=(i,)) for i in range(len(plugins))]
            for w in workers:
                w.start()
            start.wait()
            t0 = perf_counter()
            stop.wait(window)  # the measurement window (the workers run meanwhile)
            stop.set()
            for w in workers:
                w.join()
            return (perf_counter() - t0) / sum(counts)

        plugins = {rt: [self.plugin(rt, self.count_vowels, config=CONFIG) for _ in range(2)]
                   for rt in RUNTIMES}
        for rt in RUNTIMES:
            per_call(plugins[rt][:1])  # warm-up
        samples: dict[str, list[float]] = {rt: [] for rt in RUNTIMES}
        singles: dict[str, list[float]] = {rt: [] for rt in RUNTIMES}
        reps = max(self.cfg.min_reps, 5)
        for rep in range(reps):
            for rt in (RUNTIMES if rep % 2 == 0 else RUNTIMES[::-1]):
                gc.collect()
                one = per_call(plugins[rt][:1])
                two = per_call(plugins[rt])
                singles[rt].append(one)
                samples[rt].append(two / one)
        row.samples = samples
        row.extism = statistics.median(samples["extism"])
        row.wasmplug = statistics.median(samples["wasmplug"])
        row.extra = {f"{rt}_speedup_2_threads": 1 / statistics.median(samples[rt]) for rt in RUNTIMES}
        row.extra.update({f"{rt}_one_thread_per_call_s": statistics.median(singles[rt])
                          for rt in RUNTIMES})

    def memory(self, row: Row) -> None:
        env = child_env(tempfile.mkdtemp(prefix="wasmplug-bench-cache-", dir=self.cache_dir))
        args = [str(COUNT_VOWELS), str(self.cfg.mem_plugins), json.dumps(CONFIG)]
        runs: dict[str, list[dict[str, Any]]] = {rt: [] for rt in RUNTIMES}
        for i in range(self.cfg.mem_runs):
            for rt in (RUNTIMES if i % 2 == 0 else RUNTIMES[::-1]):
                runs[rt].append(run_script(MEMORY_SCRIPT, [rt, *args], env))
        row.samples = {rt: [r["per_plugin"] for r in runs[rt]] for rt in RUNTIMES}
        row.extism = statistics.median(row.samples["extism"])
        row.wasmplug = statistics.median(row.samples["wasmplug"])
        row.extra["plugins"] = self.cfg.mem_plugins
        row.extra["runs"] = runs


# ---------------------------------------------------------------- output

def fmt(value: float, unit: str) -> str:
    if value != value:  # nan
        return "-"
    if unit == "B":
        for div, name in ((1 << 20, "MiB"), (1 << 10, "KiB")):
            if abs(value) >= div:
                return f"{value / div:.1f} {name}"
        return f"{value:.0f} B"
    if unit == "x":
        return f"{value:.2f}x"
    for div, name in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if value >= div:
            return f"{value / div:.3g} {name}"
    return f"{value / 1e-9:.3g} ns"


def render(rows: list[Row], meta: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    table = Table(title=f"wasmplug vs extism ({meta['mode']} run)", title_justify="left")
    for name, justify in (("#", "right"), ("benchmark", "left"), ("extism", "right"),
                          ("wasmplug", "right"), ("ratio", "right"), ("target", "right"),
                          ("result", "center")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    styles = {"PASS": "bold green", "MISS": "bold red", "ERROR": "bold red", "info": "dim"}
    for row in rows:
        ratio = "-" if row.error else f"{row.ratio:.2f}"
        target = "-" if row.target is None else f"≤ {row.target:.2f}"
        table.add_row(row.label, row.title, fmt(row.extism, row.unit), fmt(row.wasmplug, row.unit),
                      ratio, target, f"[{styles[row.verdict]}]{row.verdict}[/]")
    console.print(table)
    console.print(
        f"[dim]medians; ratio = wasmplug / extism. extism {meta['extism']} "
        f"(runtime {meta['extism_runtime']}), wasmplug {meta['wasmplug']}, wasmtime-py "
        f"{meta['wasmtime']}, Python {meta['python']}, {meta['cpus']} CPUs, "
        f"{meta['duration_s']:.0f} s[/]")
    shown: set[str] = set()
    for row in rows:
        if row.error and row.error not in shown:
            shown.add(row.error)
            console.print(f"[bold red]{row.label} {row.title}: error[/]")
            console.print(row.error, markup=False, highlight=False)


def spread(samples: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    out = {}
    for rt, xs in samples.items():
        if not xs:
            continue
        q = statistics.quantiles(xs, n=4) if len(xs) > 1 else [xs[0]] * 3
        out[rt] = {"n": len(xs), "min": min(xs), "p25": q[0], "median": q[1], "p75": q[2],
                   "max": max(xs)}
    return out


def finite(value: float) -> float | None:
    return None if value != value else value


def metadata(mode: str) -> dict[str, Any]:
    from importlib.metadata import version

    import extism

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "mode": mode,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "extism": version("extism"),
        "extism_runtime": extism.extism_version(),
        "wasmplug": version("wasmplug"),
        "wasmtime": version("wasmtime"),
    }


# ---------------------------------------------------------------- main

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run (under a minute)")
    parser.add_argument("--only", default="",
                        help="comma-separated row keys to run (default: all)")
    parser.add_argument("--output", type=Path, default=RESULTS / "core.json")
    args = parser.parse_args()
    cfg = QUICK if args.quick else FULL

    # wasmplug's compiled-module cache: a private temporary directory, never ~/.cache
    tmp = tempfile.TemporaryDirectory(prefix="wasmplug-bench-")
    os.environ["WASMPLUG_CACHE_DIR"] = os.path.join(tmp.name, "inprocess")
    # extism: no on-disk cache in this process (keeps ~/.cache/wasmtime untouched)
    os.environ["EXTISM_CACHE_CONFIG"] = ""
    sys.path.insert(0, str(HERE))

    from rich.console import Console

    console = Console() if sys.stdout.isatty() else Console(width=132)
    started = perf_counter()
    bench = Bench(cfg, tmp.name, console)
    load_rows = {
        "load_2mb_new_process": Row(
            "load_2mb_new_process", "~2 MB module, new process: extism cold vs wasmplug cache "
            "warm (Plugin + 1st call)", "s", 0.5, label="6"),
        "load_2mb_new_process_both_warm": Row(
            "load_2mb_new_process_both_warm", "same, both on-disk caches warm (extism's "
            "default wasmtime cache)", "s", None, label="6b"),
        "load_2mb_new_process_both_cold": Row(
            "load_2mb_new_process_both_cold", "same, both caches off (compile in the new "
            "process)", "s", None, label="6c"),
    }
    plan: list[tuple[Row, Callable[[Row], None] | None]] = [
        (Row("echo_16b", "echo 16 B (pure call overhead)", "s", 0.5, label="1"), bench.echo_16),
        (Row("count_vowels_10b", "count_vowels 10 B (config + var each call)", "s", 1.0,
             label="2"), bench.vowels(10)),
        (Row("count_vowels_10b_max_pages", "count_vowels 10 B, memory.max_pages 64 "
             "(memory.grow rewritten)", "s", 1.0, label="2b"), bench.vowels_budgeted),
        (Row("count_vowels_10kb", "count_vowels 10 KB", "s", 1.0, label="3a"),
         bench.vowels(10_000)),
        (Row("count_vowels_1mb", "count_vowels 1 MB", "s", 1.0, label="3b"),
         bench.vowels(1_000_000)),
        (Row("echo_1mb", "echo round trip 1 MB", "s", 1.0, label="4a"), bench.echo_big(1_000_000)),
        (Row("echo_10mb", "echo round trip 10 MB", "s", 1.0, label="4b"),
         bench.echo_big(10_000_000)),
        (Row("create_from_compiled", "Plugin(CompiledPlugin), creation only", "s", 1.0,
             label="5a"), bench.create(first_call=False)),
        (Row("create_from_compiled_first_call", "Plugin(CompiledPlugin) + first call", "s", 1.0,
             label="5b"), bench.create(first_call=True)),
        (load_rows["load_2mb_new_process"], lambda row: bench.load_new_process(load_rows)),
        (load_rows["load_2mb_new_process_both_warm"], None),  # filled in by row 6
        (load_rows["load_2mb_new_process_both_cold"], None),
        (Row("host_fn_loop", f"host function round trip x{HOST_FN_LOOP_CALLS} "
             "(i64 -> i64, explicit signature, WAT loop)", "s", 1.0, label="8a"),
         bench.host_fn_loop),
        (Row("host_fn_string", "host function str -> str (AssemblyScript say_hello)", "s", 1.0,
             label="8b"), bench.host_fn_string),
        (Row("threads_2_vs_1", "2 threads / 1 thread: time per count_vowels 10 B call "
             "(one plug-in each; lower scales better)", "x", 1.0, label="9"), bench.thread_scaling),
        (Row("memory_per_plugin", f"RSS per extra live Plugin ({cfg.mem_plugins} x "
             "count_vowels, called once)", "B", 1.0, label="7"), bench.memory),
    ]
    only = {k for k in args.only.split(",") if k}
    if only & set(load_rows):
        only |= set(load_rows)
    rows: list[Row] = []
    for row, run in plan:
        if only and row.key not in only:
            continue
        rows.append(row)
        if run is None:
            continue
        t0 = perf_counter()
        with console.status(f"{row.title} ..."):
            try:
                run(row)
            except Exception:
                import traceback

                row.error = traceback.format_exc()
                if row.key in load_rows:
                    for other in load_rows.values():
                        other.error = row.error
        console.print(f"[dim]{row.label} {row.title}: extism {fmt(row.extism, row.unit)}, "
                      f"wasmplug {fmt(row.wasmplug, row.unit)} ({perf_counter() - t0:.1f} s)[/]")

    meta = metadata("quick" if args.quick else "full")
    meta["duration_s"] = perf_counter() - started
    meta["settings"] = asdict(cfg)
    render(rows, meta, console)

    args.output.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "meta": meta,
        "rows": [{
            "label": r.label, "key": r.key, "title": r.title,
            "unit": {"s": "seconds", "B": "bytes"}.get(r.unit, "ratio"),
            "extism_median": finite(r.extism), "wasmplug_median": finite(r.wasmplug),
            "ratio": None if r.error else finite(r.ratio), "target": r.target,
            "result": r.verdict, "batch_size": r.batch, "stats": spread(r.samples),
            "samples": r.samples,
            "extra": r.extra, "error": r.error,
        } for r in rows],
    }
    args.output.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    console.print(f"[dim]results written to {args.output}[/]")
    tmp.cleanup()
    return 1 if any(r.error for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())

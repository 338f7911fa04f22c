"""Concurrency benchmarks: pool scaling over threads, asyncio overhead, Ray throughput.

    python benchmarks/bench_concurrency.py [--quick] [--no-ray]

1. Pool scaling: CPU-bound calls (a Wasm loop, no host calls) through a
   `PluginPool`, from 1 thread and from 2 threads; target: 2 threads reach
   >= 1.8x the throughput of 1 (Wasm runs without the GIL).
2. asyncio overhead: `await plugin.call_async(...)` vs `plugin.call(...)`
   on a 16-byte echo, per call; and an `AsyncPluginPool` with 2 instances
   under 64 concurrent tasks.
3. Ray: calls per second through a `RayPluginPool` of 2 actors on a local
   Ray instance (2 CPUs), echo of 16 bytes, submitted in batches with `map`.
Results are printed as a table and written to benchmarks/results/concurrency.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import wasmtime
from rich.console import Console
from rich.table import Table

import wasmplug

ROOT = Path(__file__).resolve().parent.parent
ECHO = ROOT / "plugins" / "assemblyscript" / "echo.wasm"
RESULTS = ROOT / "benchmarks" / "results" / "concurrency.json"

# `spin`: a CPU-bound loop of ITERATIONS additions, no host calls.
SPIN_WAT = """
(module
  (func (export "spin") (result i32)
    (local $i i32) (local $acc i32)
    (loop $l
      (local.set $acc (i32.add (local.get $acc) (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 2000000))))
    (i32.and (local.get $acc) (i32.const 0))))
"""


def throughput(pool: wasmplug.PluginPool, threads: int, seconds: float) -> float:
    """Calls per second of `spin` from `threads` threads sharing `pool`."""
    stop = time.monotonic() + seconds
    counts = [0] * threads

    def work(slot: int) -> None:
        while time.monotonic() < stop:
            pool.call("spin", b"")
            counts[slot] += 1

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    start = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts) / (time.monotonic() - start)


def _process_worker(seconds: float) -> int:
    """The same workload in its own process (no shared interpreter at all)."""
    spin = bytes(wasmtime.wat2wasm(SPIN_WAT))
    pool = wasmplug.PluginPool(spin, max_instances=1)
    pool.call("spin", b"")
    return round(throughput(pool, 1, seconds) * seconds)


def pool_scaling(seconds: float, repeats: int) -> dict[str, Any]:
    spin = bytes(wasmtime.wat2wasm(SPIN_WAT))
    pool = wasmplug.PluginPool(spin, max_instances=2)
    throughput(pool, 2, 0.5)  # warm up both instances
    one = [throughput(pool, 1, seconds) for _ in range(repeats)]
    two = [throughput(pool, 2, seconds) for _ in range(repeats)]
    # What this machine itself gives two copies of the workload: two processes.
    with multiprocessing.get_context("spawn").Pool(2) as procs:
        two_procs = [sum(procs.map(_process_worker, [seconds, seconds])) / seconds
                     for _ in range(repeats)]
    speedup = statistics.median(two) / statistics.median(one)
    ceiling = statistics.median(two_procs) / statistics.median(one)
    return {"one_thread_calls_s": statistics.median(one),
            "two_threads_calls_s": statistics.median(two),
            "two_processes_calls_s": statistics.median(two_procs), "speedup": speedup,
            "process_speedup": ceiling, "threads_vs_processes": speedup / ceiling,
            "target": 1.8, "pass": speedup >= 1.8}


def per_call(fn: Any, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def async_overhead(n: int) -> dict[str, Any]:
    plugin = wasmplug.Plugin(ECHO.read_bytes())
    data = b"0123456789abcdef"
    per_call(lambda: plugin.call("echo", data), 2000)
    sync = statistics.median(per_call(lambda: plugin.call("echo", data), n) for _ in range(5))

    async def sequential() -> float:
        for _ in range(200):
            await plugin.call_async("echo", data)
        start = time.perf_counter()
        for _ in range(n):
            await plugin.call_async("echo", data)
        return (time.perf_counter() - start) / n

    async_times = [asyncio.run(sequential()) for _ in range(5)]
    pool = wasmplug.AsyncPluginPool(ECHO.read_bytes(), max_instances=2)

    async def concurrent() -> float:
        start = time.perf_counter()
        await asyncio.gather(*(pool.call("echo", data) for _ in range(n)))
        return n / (time.perf_counter() - start)

    asyncio.run(concurrent())
    pooled = statistics.median(asyncio.run(concurrent()) for _ in range(3))
    a = statistics.median(async_times)
    return {"sync_us": sync * 1e6, "async_us": a * 1e6, "overhead_us": (a - sync) * 1e6,
            "async_pool_calls_s": pooled}


def ray_throughput(n: int) -> dict[str, Any]:
    import ray

    from wasmplug.distributed import RayPluginPool

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        pool = RayPluginPool(str(ECHO), num_actors=2)
        inputs = [b"0123456789abcdef"] * n
        pool.map("echo", inputs[:200])
        start = time.perf_counter()
        pool.map("echo", inputs)
        batched = n / (time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(n // 10):
            pool.call("echo", b"0123456789abcdef")
        single = (n // 10) / (time.perf_counter() - start)
        pool.shutdown()
        return {"map_calls_s": batched, "sequential_calls_s": single, "actors": 2}
    finally:
        ray.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    console = Console()
    results: dict[str, Any] = {}
    with console.status("pool scaling ..."):
        results["pool_scaling"] = pool_scaling(1.0 if args.quick else 3.0, 3)
    with console.status("asyncio overhead ..."):
        results["asyncio"] = async_overhead(2000 if args.quick else 20000)
    if not args.no_ray:
        with console.status("Ray throughput ..."):
            results["ray"] = ray_throughput(2000 if args.quick else 10000)

    table = Table(title="wasmplug concurrency")
    for column in ("benchmark", "figure", "target", "result"):
        table.add_column(column)
    ps = results["pool_scaling"]
    table.add_row("pool, 1 thread", f"{ps['one_thread_calls_s']:.0f} calls/s", "", "")
    table.add_row("pool, 2 threads", f"{ps['two_threads_calls_s']:.0f} calls/s", "", "")
    table.add_row("2 processes (the machine's ceiling)", f"{ps['two_processes_calls_s']:.0f} calls/s",
                  "", "")
    table.add_row("2-thread speed-up", f"{ps['speedup']:.2f}x", ">= 1.8x",
                  "PASS" if ps["pass"] else "MISS")
    table.add_row("2-process speed-up (same work)", f"{ps['process_speedup']:.2f}x", "", "info")
    table.add_row("threads / processes", f"{ps['threads_vs_processes']:.2f}", "", "info")
    a = results["asyncio"]
    table.add_row("echo 16 B, sync call", f"{a['sync_us']:.1f} µs", "", "")
    table.add_row("echo 16 B, await call_async", f"{a['async_us']:.1f} µs", "", "")
    table.add_row("async overhead per call", f"{a['overhead_us']:.1f} µs", "", "info")
    table.add_row("AsyncPluginPool (2), 64+ tasks", f"{a['async_pool_calls_s']:.0f} calls/s", "",
                  "info")
    if "ray" in results:
        r = results["ray"]
        table.add_row("Ray pool (2 actors), map", f"{r['map_calls_s']:.0f} calls/s", "", "info")
        table.add_row("Ray pool (2 actors), one by one", f"{r['sequential_calls_s']:.0f} calls/s",
                      "", "info")
    console.print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

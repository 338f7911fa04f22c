"""GameBox under load: WebSocket players in many arenas, on loopback.

    python benchmarks/bench_gamebox.py                 # 50 arenas x 4, 30 s
    python benchmarks/bench_gamebox.py --duration 10   # shorter

Starts `wasmplug gamebox serve` in its own process (so its RSS is the
server's alone), creates the arenas over HTTP like browsers do (2 players and
2 spectators each: half play the event-log game, half tic-tac-toe) and opens
one WebSocket per person (the players are `gamebox_players.py`, shared with
the other GameBox benchmarks). In each arena one event is in flight at a time
(arenas start at random offsets, so their clicks are not in step).

Two phases, each half of --duration:
  paced   each arena clicks every 1/--rate s (default 10/s: 500 events/s and
          2,000 renders/s over 50 arenas, the target load); latency here is
          the figure to compare with the 50 ms p99 target
  flat    each arena clicks as soon as the previous re-render has arrived:
          the server's ceiling (renders/s), latency includes queueing

Reported per phase: event -> re-render-received latency at each viewer
(p50/p99/max), events/s, renders/s, errors (timeouts, flashes, failures;
target 0), and the server's RSS per arena. The client runs on the same
machine and takes CPU too. Results also go to benchmarks/results/gamebox.json.
GAMEBOX_BENCH_SERVER overrides the server command (e.g. to run it under a profiler).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from gamebox_players import Arena, Stats, close_arenas, cpu_seconds, open_arena, rss_kib, summary

RESULTS = Path(__file__).parent / "results"


async def setup(base: str, arenas: int) -> list[Arena]:
    results = []
    for start in range(0, arenas, 10):  # ten at a time, like people arriving
        results += await asyncio.gather(*(open_arena(base, i) for i in range(start, min(arenas, start + 10))))
    return results


async def main(args: argparse.Namespace) -> dict[str, Any]:
    command = os.environ.get("GAMEBOX_BENCH_SERVER", f"{sys.executable} -m wasmplug gamebox serve --port 0")
    server = subprocess.Popen(command.split(),
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        match = re.search(r"(http://\S+?)/?$", line.strip())
        if match is None:
            raise RuntimeError(f"the server did not start: {line!r}")
        base = match.group(1).rstrip("/")
        await asyncio.sleep(0.5)
        rss_base = rss_kib(server.pid)
        arenas = await setup(base, args.arenas)
        rss_ready = rss_kib(server.pid)
        report: dict[str, Any] = {"arenas": len(arenas), "viewers": 4 * len(arenas),
                                  "cpus": os.cpu_count(), "load_before": os.getloadavg()}
        for phase, interval in (("paced", 1 / args.rate), ("flat", 0.0)):
            stats = Stats()
            start = time.perf_counter()
            until = start + args.duration / 2
            cap = args.max_events // 2
            server_cpu, client_cpu = cpu_seconds(server.pid), time.process_time()
            await asyncio.gather(*(a.drive(stats, until, interval, cap) for a in arenas))
            report[phase] = summary(stats, time.perf_counter() - start)
            user, system = (after - before for after, before in zip(cpu_seconds(server.pid), server_cpu,
                                                                  strict=True))
            server_cpu = user + system
            report[phase]["server_cpu_s"] = round(server_cpu, 2)
            report[phase]["server_cpu_system_s"] = round(system, 2)
            report[phase]["client_cpu_s"] = round(time.process_time() - client_cpu, 2)
            # What the server would do with the machine's cores to itself (an estimate).
            report[phase]["renders_per_server_cpu_s"] = round(stats.renders / max(server_cpu, 1e-9), 1)
        rss_end = rss_kib(server.pid)
        report["errors_flash"] = sum(v.flashes for a in arenas for v in a.viewers)
        report["rss_base_mib"] = round(rss_base / 1024, 1)
        report["rss_end_mib"] = round(rss_end / 1024, 1)
        report["rss_per_arena_kib_ready"] = round((rss_ready - rss_base) / len(arenas))
        report["rss_per_arena_kib_end"] = round((rss_end - rss_base) / len(arenas))
        report["load_after"] = os.getloadavg()
        await close_arenas(arenas)
        return report
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arenas", type=int, default=50)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds, both phases together")
    parser.add_argument("--rate", type=float, default=10.0, help="events/s per arena in the paced phase")
    parser.add_argument("--max-events", type=int, default=200_000)
    result = asyncio.run(main(parser.parse_args()))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "gamebox.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    for phase in ("paced", "flat"):
        r = result[phase]
        print(f"{phase}: p50 {r['latency_p50_ms']} ms, p99 {r['latency_p99_ms']} ms (target < 50), "
              f"{r['events_per_s']} events/s, {r['renders_per_s']} renders/s (target >= 2000), "
              f"errors {r['errors'] + result['errors_flash']}; server CPU {r['server_cpu_s']} s, "
              f"client CPU {r['client_cpu_s']} s, {r['renders_per_server_cpu_s']} renders per server CPU-s")

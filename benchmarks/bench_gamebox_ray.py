"""GameBox under load with arenas on Ray across two servers, side by side with in-process.

    python benchmarks/bench_gamebox_ray.py                  # 6 arenas x 4 viewers, 20 s a mode
    python benchmarks/bench_gamebox_ray.py --arenas 10 --duration 30

The part-1 load test (`bench_gamebox.py`: 2 players and 2 spectators per
arena, half event-log, half tic-tac-toe, one event in flight per arena; a
paced phase at --rate events/s per arena, then a flat-out phase), run twice
in the same run on the same catalogue database (one SQLite file):

  local   one `wasmplug gamebox serve` process, arenas in-process (as today)
  ray     two `serve --ray` processes on one local Ray instance; each arena
          is a Ray actor (its own worker process), its host and one spectator
          are on server A, the other player and spectator on server B

Reported per mode and phase: event -> re-render-received latency at each
viewer (p50/p99/max), events/s, renders/s and errors; and the ratio
ray / local of the latencies: the cost of going through Ray. Every arena is
a Ray worker process, so keep --arenas small on a small machine. Results go
to benchmarks/results/gamebox_ray.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).parent))
import gamebox_players as load  # (the players of the load tests: viewers, arenas, stats)

RESULTS = Path(__file__).parent / "results"

RAY_HEAD = """
import sys, ray
ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
         _temp_dir=sys.argv[1])
print(ray.get_runtime_context().gcs_address, flush=True)
sys.stdin.read()
ray.shutdown()
"""
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
ENV = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
       "PYTHONUNBUFFERED": "1"}


def start(args: list[str], pattern: str, stdin: bool = False) -> tuple[subprocess.Popen[str], str]:
    """Start a process; wait (60 s at most) for `pattern` in its output; keep draining it."""
    process = subprocess.Popen(args, stdin=subprocess.PIPE if stdin else None, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=ENV)
    assert process.stdout is not None
    found: list[str] = []
    ready = threading.Event()

    def drain() -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            match = re.search(pattern, line)
            if match and not found:
                found.append(match.group(1))
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(60) or not found:
        process.kill()
        raise RuntimeError(f"{args[:6]} did not start")
    return process, found[0]


def serve(database_url: str, ray: str | None) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "wasmplug", "gamebox", "serve", "--port", "0",
               "--database-url", database_url, "--session-secret", "bench"]
    return start(command + (["--ray", ray] if ray else []), r"serving on (http://\S+?)/?\s")


async def enter(http: httpx.AsyncClient, path: str, **form: str) -> str:
    """Post an arena form as a browser would; the arena's code."""
    csrf = CSRF.search((await http.get("/")).text)
    assert csrf is not None
    response = await http.post(path, data={**form, "csrf": csrf.group(1)})
    if response.status_code != 303:
        raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")
    return str(response.headers["location"]).rsplit("/", 1)[-1]


async def setup(bases: list[str], arenas: int) -> list[load.Arena]:
    async def one(index: int) -> load.Arena:
        game = "event_log" if index % 2 == 0 else "tictactoe"
        names = [f"p{index}a", f"p{index}b", f"p{index}c", f"p{index}d"]
        homes = [bases[i % len(bases)] for i in range(4)]  # players on A and B, spectators too
        clients = [httpx.AsyncClient(base_url=home, timeout=60) for home in homes]
        try:
            code = await enter(clients[0], "/arenas", name=names[0])
            for client, name in zip(clients[1:], names[1:], strict=True):
                await enter(client, "/join", code=code, name=name)
            viewers = []
            for client, home, name in zip(clients, homes, names, strict=True):
                cookie = f"gamebox_{code}={client.cookies[f'gamebox_{code}']}"
                ws = await connect(home.replace("http", "ws") + f"/arena/{code}/ws",
                                   additional_headers={"cookie": cookie}, max_size=2**22,
                                   compression=None)
                viewers.append(load.Viewer(name, ws))
        finally:
            for client in clients:
                await client.aclose()
        return await load.start_game(code, game, viewers, settle=0.5, timeout=60)

    return list(await asyncio.gather(*(one(i) for i in range(arenas))))


async def measure(bases: list[str], args: argparse.Namespace) -> dict[str, Any]:
    arenas = await setup(bases, args.arenas)
    report: dict[str, Any] = {"servers": len(bases), "arenas": len(arenas)}
    for phase, interval in (("paced", 1 / args.rate), ("flat", 0.0)):
        stats = load.Stats()
        begin = time.perf_counter()
        until = begin + args.duration / 2
        await asyncio.gather(*(a.drive(stats, until, interval, 1_000_000) for a in arenas))
        report[phase] = load.summary(stats, time.perf_counter() - begin)
    report["errors_flash"] = sum(v.flashes for a in arenas for v in a.viewers)
    for arena in arenas:
        for viewer in arena.viewers:
            await viewer.ws.close()
    return report


def main(args: argparse.Namespace) -> dict[str, Any]:
    temp = Path(tempfile.mkdtemp(prefix="wpbench", dir="/tmp"))  # short: Ray's socket paths
    database = f"sqlite:///{temp / 'gamebox.db'}"
    head, address = start([sys.executable, "-c", RAY_HEAD, str(temp / "ray")],
                          r"(\d+\.\d+\.\d+\.\d+:\d+)", stdin=True)
    result: dict[str, Any] = {"cpus": os.cpu_count(), "load_before": os.getloadavg()}
    try:
        for mode in ("local", "ray"):
            servers = [serve(database, address if mode == "ray" else None)]
            if mode == "ray":
                servers.append(serve(database, address))
            try:
                result[mode] = asyncio.run(measure([url for _, url in servers], args))
            finally:
                for process, _ in servers:
                    process.terminate()
                    process.wait(30)
        for phase in ("paced", "flat"):
            local, ray = result["local"][phase], result["ray"][phase]
            result[f"{phase}_ray_over_local"] = {
                key: round(ray[key] / max(local[key], 1e-9), 2)
                for key in ("latency_p50_ms", "latency_p99_ms", "events_per_s")}
        result["load_after"] = os.getloadavg()
        return result
    finally:
        assert head.stdin is not None
        head.stdin.close()
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            head.kill()
        shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arenas", type=int, default=6)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds a mode, both phases")
    parser.add_argument("--rate", type=float, default=10.0, help="events/s per arena in the paced phase")
    result = main(parser.parse_args())
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "gamebox_ray.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    for phase in ("paced", "flat"):
        for mode in ("local", "ray"):
            r = result[mode][phase]
            print(f"{phase:5} {mode:5}: p50 {r['latency_p50_ms']} ms, p99 {r['latency_p99_ms']} ms, "
                  f"{r['events_per_s']} events/s, {r['renders_per_s']} renders/s, errors {r['errors']}")
        ratio = result[f"{phase}_ray_over_local"]
        print(f"{phase:5} ray/local: p50 x{ratio['latency_p50_ms']}, p99 x{ratio['latency_p99_ms']}, "
              f"events/s x{ratio['events_per_s']}")

"""GameBox under load: WebSocket players in many arenas, on loopback.

    python benchmarks/bench_gamebox.py                 # 50 arenas x 4, 30 s
    python benchmarks/bench_gamebox.py --duration 10   # shorter

Starts `wasmplug gamebox serve` in its own process (so its RSS is the
server's alone), creates the arenas over HTTP like browsers do (2 players and
2 spectators each: half play the event-log game, half tic-tac-toe) and opens
one WebSocket per person. In each arena one event is in flight at a time
(arenas start at random offsets, so their clicks are not in step):
the player whose move it is clicks (event-log: the two players take turns;
tic-tac-toe: whoever's board says "Your turn", the host resets a finished
game), and the next click waits until all four viewers have the re-render.

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
import random
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

RESULTS = Path(__file__).parent / "results"
EMPTY_CELL = re.compile(r'phx-value-cell="(\d)"></button>')
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class Viewer:
    name: str
    ws: ClientConnection
    version: Any = None
    html: str = ""
    received: float = 0.0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    flashes: int = 0

    async def read(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            if message["t"] == "board":
                self.version, self.html = message["version"], message["html"]
                self.received = time.perf_counter()
                self.changed.set()
            elif message["t"] == "flash":
                self.flashes += 1


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    events: int = 0
    renders: int = 0
    errors: int = 0


class Arena:
    def __init__(self, code: str, game: str, viewers: list[Viewer]) -> None:
        self.code, self.game, self.viewers = code, game, viewers
        self.players = viewers[:2]
        self.turn = 0

    def sender(self) -> tuple[Viewer, dict[str, Any]]:
        if self.game == "event_log":
            self.turn ^= 1
            return self.players[self.turn], {"t": "event", "name": "cell-clicked",
                                             "value": {"cell": "0", "value": ""}}
        host = self.players[0]
        if "Draw!" in host.html or "wins!" in host.html or "You win!" in host.html:
            return host, {"t": "event", "name": "reset", "value": {"value": ""}}
        for player in self.players:
            if "Your turn" in player.html:
                cells = EMPTY_CELL.findall(player.html)
                cell = cells[len(cells) // 2]
                return player, {"t": "event", "name": "cell-clicked", "value": {"cell": cell, "value": ""}}
        raise RuntimeError(f"arena {self.code}: nobody's turn in {host.html[:200]!r}")

    async def drive(self, stats: Stats, until: float, interval: float, max_events: int) -> None:
        # Arenas are independent people: their clicks are not in step.
        next_at = time.perf_counter() + random.uniform(0, interval) - interval
        while time.perf_counter() < until and stats.events < max_events:
            if interval:
                next_at += interval
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            sender, event = self.sender()
            before = self.players[0].version
            for viewer in self.viewers:
                viewer.changed.clear()
            sent = time.perf_counter()
            await sender.ws.send(json.dumps(event))
            stats.events += 1
            try:
                for viewer in self.viewers:
                    while viewer.version == before:
                        await asyncio.wait_for(viewer.changed.wait(), 5.0)
                        viewer.changed.clear()
                    stats.latencies.append(viewer.received - sent)
                    stats.renders += 1
            except TimeoutError:
                stats.errors += 1


async def start_game(code: str, game: str, viewers: list[Viewer], settle: float = 0.2,
                     timeout: float = 20) -> Arena:
    """Read every viewer's socket, have the host (the first viewer) pick `game` and start it,
    and wait until every viewer has the first render."""
    for viewer in viewers:
        asyncio.get_running_loop().create_task(viewer.read())
    host = viewers[0].ws
    await host.send(json.dumps({"t": "action", "name": "select", "game": game}))
    await asyncio.sleep(settle)
    await host.send(json.dumps({"t": "action", "name": "start"}))
    deadline = time.monotonic() + timeout
    while any(v.version != 0 for v in viewers):
        if time.monotonic() > deadline:
            raise RuntimeError(f"arena {code} did not start")
        await asyncio.sleep(0.05)
    return Arena(code, game, viewers)


async def setup(base: str, arenas: int) -> list[Arena]:
    async def one(index: int) -> Arena:
        game = "event_log" if index % 2 == 0 else "tictactoe"
        # Each arena's people come from an address of their own (the server caps arenas per
        # address; it trusts X-Forwarded-For from loopback) and post the forms' CSRF token.
        headers = {"x-forwarded-for": f"10.0.{index // 250}.{index % 250 + 1}"}
        async with httpx.AsyncClient(base_url=base, headers=headers) as http:
            names = [f"p{index}a", f"p{index}b", f"p{index}c", f"p{index}d"]
            csrf = CSRF.search((await http.get("/")).text)
            assert csrf is not None
            created = await http.post("/arenas", data={"name": names[0], "csrf": csrf.group(1)})
            code = created.headers["location"].rsplit("/", 1)[-1]
            cookies = [f"gamebox_{code}={created.cookies[f'gamebox_{code}']}"]
            for name in names[1:]:
                joined = await http.post("/join", data={"code": code, "name": name, "csrf": csrf.group(1)})
                cookies.append(f"gamebox_{code}={joined.cookies[f'gamebox_{code}']}")
        ws_url = base.replace("http", "ws") + f"/arena/{code}/ws"
        viewers = []
        for name, cookie in zip(names, cookies, strict=True):
            ws = await connect(ws_url, additional_headers={"cookie": cookie}, max_size=2**22,
                               compression=None)
            viewers.append(Viewer(name, ws))
        return await start_game(code, game, viewers)

    results = []
    for start in range(0, arenas, 10):  # ten at a time, like people arriving
        results += await asyncio.gather(*(one(i) for i in range(start, min(arenas, start + 10))))
    return results


def summary(stats: Stats, seconds: float) -> dict[str, Any]:
    lat = sorted(stats.latencies) or [0.0]
    return {
        "events": stats.events, "renders": stats.renders, "errors": stats.errors,
        "seconds": round(seconds, 2),
        "events_per_s": round(stats.events / seconds, 1),
        "renders_per_s": round(stats.renders / seconds, 1),
        "latency_p50_ms": round(statistics.median(lat) * 1000, 2),
        "latency_p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 2),
        "latency_max_ms": round(lat[-1] * 1000, 2),
    }


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
        for arena in arenas:
            for viewer in arena.viewers:
                await viewer.ws.close()
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

"""GameBox's players, shared by the GameBox benchmarks: arenas made the way browsers make
them, WebSocket viewers that wait for every re-render, and the latency they measured.

    arena = await open_arena(base, 0)                # 4 people from an address of their own
    await arena.drive(stats, until, 1 / rate, 10**9)  # the player whose move it is clicks
    print(summary(stats, seconds))

In each arena one event is in flight at a time: the player whose move it is
clicks (event-log: the two players take turns; tic-tac-toe: whoever's board says
"Your turn", the host resets a finished game), and the next click waits until all
the viewers have the re-render. Latency is click -> re-render received, per viewer.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

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


async def open_arena(base: str, index: int) -> Arena:
    """Arena number `index`: 4 people (2 players, 2 spectators) from an address of their own
    (the server caps arenas per address and trusts X-Forwarded-For from loopback), made with
    the forms' CSRF token; half the arenas play the event-log game, half tic-tac-toe."""
    game = "event_log" if index % 2 == 0 else "tictactoe"
    headers = {"x-forwarded-for": f"10.0.{index // 250}.{index % 250 + 1}"}
    names = [f"p{index}a", f"p{index}b", f"p{index}c", f"p{index}d"]
    async with httpx.AsyncClient(base_url=base, headers=headers) as http:
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


async def close_arenas(arenas: list[Arena]) -> None:
    """Every viewer's socket closed (the people go home)."""
    for arena in arenas:
        for viewer in arena.viewers:
            await viewer.ws.close()

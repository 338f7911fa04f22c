"""GameBox's normal players alone, then beside one abusive client: what the abuse costs them.

    python benchmarks/bench_gamebox_abuse.py                  # 20 s per phase
    python benchmarks/bench_gamebox_abuse.py --duration 10

Starts `wasmplug gamebox serve --data-dir` (accounts on) in its own process.
Normal players, measured the same way in both phases:
  - arenas: --arenas arenas of 4 WebSocket viewers (event-log and tic-tac-toe,
    as in bench_gamebox.py), each clicking --rate times a second; latency is
    click -> re-render received by every viewer;
  - pages: --readers visitors loading /games and / one after the other; latency
    per page.
Phase "alone": only them. Phase "abused": the same, plus one abusive client in a
process of its own (see `abuse()`): a request flood, slowloris connections,
arena spam, oversized chunked bodies and a concurrent sign-in race on one account.
The abuser runs on this machine too (its own CPU competes with the server's), but
with its own address (X-Forwarded-For, believed from loopback as behind a proxy).
With --rounds N the two phases alternate N times (the machine's other load
drifts evenly over both). Reported: p50/p99 of both kinds of latency in every
phase, the median p99 of each kind, and the ratio abused / alone of the
medians (target < 1.2), plus what the abuser got (status
counts). Results also go to benchmarks/results/gamebox_abuse.json.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).parent))
from bench_gamebox import Arena, Stats, Viewer, cpu_seconds, start_game, summary

RESULTS = Path(__file__).parent / "results"
# The abuser is another machine: the server (which, like uvicorn by default, believes
# X-Forwarded-For from 127.0.0.1) sees it at its own address.
ABUSER = {"x-forwarded-for": "203.0.113.66"}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def new_arena(base: str, index: int) -> Arena:
    """An arena made the way browsers make it (CSRF token included), its game started."""
    game = "event_log" if index % 2 == 0 else "tictactoe"
    names = [f"p{index}{c}" for c in "abcd"]
    cookies = []
    code = ""
    for n, name in enumerate(names):
        async with httpx.AsyncClient(base_url=base) as http:
            page = await http.get("/" if not code else f"/?arena={code}")
            token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
            if n == 0:
                response = await http.post("/arenas", data={"name": name, "csrf": token})
                code = response.headers["location"].rsplit("/", 1)[-1]
            else:
                response = await http.post("/join", data={"code": code, "name": name, "csrf": token})
            cookies.append(f"gamebox_{code}={response.cookies[f'gamebox_{code}']}")
    ws_url = base.replace("http", "ws") + f"/arena/{code}/ws"
    viewers = [Viewer(name, await connect(ws_url, additional_headers={"cookie": cookie},
                                          max_size=2**22, compression=None))
               for name, cookie in zip(names, cookies, strict=True)]
    return await start_game(code, game, viewers)


async def read_pages(base: str, until: float, latencies: list[float]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        while time.perf_counter() < until:
            for url in ("/games", "/"):
                start = time.perf_counter()
                response = await http.get(url)
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - start)
            await asyncio.sleep(0.05)


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values) or [0.0]
    return {"n": len(values), "p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2)}


async def phase(base: str, arenas: list[Arena], args: argparse.Namespace, pid: int) -> dict[str, Any]:
    stats, pages = Stats(), []  # type: ignore[var-annotated]
    start = time.perf_counter()
    until = start + args.duration
    cpu_before = sum(cpu_seconds(pid))
    await asyncio.gather(*(a.drive(stats, until, 1 / args.rate, 10**9) for a in arenas),
                         *(read_pages(base, until, pages) for _ in range(args.readers)))
    return {"arena": summary(stats, time.perf_counter() - start), "pages": percentiles(pages),
            "server_cpu_s": round(sum(cpu_seconds(pid)) - cpu_before, 2)}


# -- the abusive client (its own process) ------------------------------------------
ATTACKS = ("flood", "sign-in", "arenas", "bodies", "slowloris")


async def abuse(base: str, seconds: float, kinds: tuple[str, ...] = ATTACKS) -> dict[str, int]:
    """Everything at once for `seconds`: what one hostile machine would send."""
    until = time.perf_counter() + seconds
    got: collections.Counter[str] = collections.Counter()
    host, port = base.removeprefix("http://").split(":")
    limits = httpx.Limits(max_connections=64)

    async def flood(http: httpx.AsyncClient) -> None:
        while time.perf_counter() < until:
            try:
                got[f"flood {(await http.get('/games?q=x&page=99999')).status_code}"] += 1
            except httpx.HTTPError:
                got["flood error"] += 1

    async def sign_in_race(http: httpx.AsyncClient) -> None:
        token = CSRF.search((await http.get("/login")).text).group(1)  # type: ignore[union-attr]
        while time.perf_counter() < until:
            guesses = [http.post("/login", data={"csrf": token, "username": "alice",
                                                 "password": f"guess {n}"}) for n in range(40)]
            for response in await asyncio.gather(*guesses, return_exceptions=True):
                got[f"sign-in {getattr(response, 'status_code', 'error')}"] += 1

    async def arena_spam(http: httpx.AsyncClient) -> None:
        while time.perf_counter() < until:
            try:
                page = await http.get("/")
                token = CSRF.search(page.text)
                response = await http.post("/arenas", data={"name": "spam",
                                                            "csrf": token.group(1) if token else ""})
                got[f"arena {response.status_code}"] += 1
            except httpx.HTTPError:
                got["arena error"] += 1

    async def big_bodies() -> None:
        while time.perf_counter() < until:
            try:
                reader, writer = await asyncio.open_connection(host, int(port))
                writer.write(b"POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                             b"X-Forwarded-For: " + ABUSER["x-forwarded-for"].encode() + b"\r\n"
                             b"Content-Type: application/x-www-form-urlencoded\r\n\r\n")
                for _ in range(64):  # 4 MB of small fields
                    writer.write(b"10000\r\n" + (b"&f=" + b"a" * 8189) * 8 + b"\r\n")
                    await writer.drain()
                got[f"body {(await reader.readline())[9:12].decode() or 'closed'}"] += 1
                writer.close()
            except OSError:
                got["body closed"] += 1

    async def slowloris() -> None:
        held: list[asyncio.StreamWriter] = []
        while time.perf_counter() < until:
            try:
                while len(held) < 300:
                    _, writer = await asyncio.open_connection(host, int(port))
                    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
                    held.append(writer)
                    got["slowloris opened"] += 1
            except OSError:
                got["slowloris refused"] += 1
            await asyncio.sleep(0.5)
            held = [w for w in held if not w.is_closing() and not w.transport.is_closing()]
            for writer in held:
                with contextlib.suppress(OSError):
                    writer.write(b"X-a: b\r\n")
        for writer in held:
            writer.close()

    def client() -> httpx.AsyncClient:  # one cookie jar (one session, one CSRF token) each
        return httpx.AsyncClient(base_url=base, limits=limits, timeout=30, headers=ABUSER)

    async with client() as flooder, client() as guesser, client() as spammer:
        attacks = {"flood": lambda: [flood(flooder) for _ in range(8)],
                   "sign-in": lambda: [sign_in_race(guesser)], "arenas": lambda: [arena_spam(spammer)],
                   "bodies": lambda: [big_bodies()], "slowloris": lambda: [slowloris()]}
        chosen = [task for name in kinds for task in attacks[name]()]
        await asyncio.gather(*chosen, return_exceptions=True)
    got["abuser cpu ms"] = round(time.process_time() * 1000)  # the abuser's own CPU, competing
    return dict(got)


def _p99(phase_report: dict[str, Any], kind: str, key: str) -> float:
    return float(phase_report[kind][key])


def abuser(base: str, seconds: float, kinds: tuple[str, ...], niceness: int, out: Any) -> None:
    os.nice(niceness)
    out.send(asyncio.run(abuse(base, seconds, kinds)))


async def main(args: argparse.Namespace) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="gamebox-abuse-"))
    subprocess.run([sys.executable, "-m", "wasmplug", "gamebox", "add-user", "alice", "--data-dir",
                    str(data), "--password", "the real password"], check=True, capture_output=True)
    server = subprocess.Popen([sys.executable, "-m", "wasmplug", "gamebox", "serve", "--port", "0",
                               "--data-dir", str(data)], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        found = re.search(r"http://\S+?(?=/?$)", server.stdout.readline().strip())
        if found is None:
            raise RuntimeError("the server did not start")
        base = found.group(0).rstrip("/")
        arenas = [await new_arena(base, i) for i in range(args.arenas)]
        report: dict[str, Any] = {"attacks": args.attacks, "abuser_nice": args.abuser_nice,
                                  "arenas": len(arenas),
                                  "readers": args.readers, "rate": args.rate, "rounds": args.rounds,
                                  "duration_s": args.duration, "cpus": os.cpu_count(),
                                  "load_before": os.getloadavg()}
        kinds = tuple(args.attacks.split(","))
        for round_ in range(args.rounds):  # alternating, so the machine's other load drifts evenly
            report[f"alone_{round_}"] = await phase(base, arenas, args, server.pid)
            receive, send = multiprocessing.Pipe(duplex=False)
            attacker = multiprocessing.Process(
                target=abuser, args=(base, args.duration + 2, kinds, args.abuser_nice, send))
            attacker.start()
            await asyncio.sleep(1.0)  # the abuse is under way
            report[f"abused_{round_}"] = await phase(base, arenas, args, server.pid)
            report[f"abuser_got_{round_}"] = await asyncio.to_thread(receive.recv)
            attacker.join(30)
        report["load_after"] = os.getloadavg()
        for kind, key in (("arena", "latency_p99_ms"), ("pages", "p99_ms")):
            for how in ("alone", "abused"):
                p99s = [_p99(report[f"{how}_{r}"], kind, key) for r in range(args.rounds)]
                report[f"{how}_{kind}_p99_ms"] = round(statistics.median(p99s), 2)
            report[f"ratio_{kind}_p99"] = round(report[f"abused_{kind}_p99_ms"]
                                                / report[f"alone_{kind}_p99_ms"], 2)
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
    parser.add_argument("--arenas", type=int, default=10)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--rate", type=float, default=5.0, help="clicks/s per arena")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per phase")
    parser.add_argument("--rounds", type=int, default=1,
                        help="alone/abused pairs, alternating (the p99s reported are their medians)")
    parser.add_argument("--attacks", default=",".join(ATTACKS), help="which abuse, comma-separated")
    parser.add_argument("--abuser-nice", type=int, default=0,
                        help="run the abuser at this niceness (19: its own CPU, which would be another "
                             "machine's, competes less with the server on a small shared machine)")
    result = asyncio.run(main(parser.parse_args()))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "gamebox_abuse.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    for kind in ("arena", "pages"):
        alone, abused = result[f"alone_{kind}_p99_ms"], result[f"abused_{kind}_p99_ms"]
        print(f"{kind}: p99 alone {alone} ms, abused {abused} ms, ratio "
              f"{result[f'ratio_{kind}_p99']} (target < 1.2; median of {result['rounds']} rounds)")

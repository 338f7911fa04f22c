"""GameBox part 2: upload-to-playable time and catalogue page latency, on loopback.

    python benchmarks/bench_gamebox_catalogue.py            # 10 uploads, 10,000 games, 300 pages
    python benchmarks/bench_gamebox_catalogue.py --games 2000 --uploads 3

Starts `wasmplug gamebox serve --data-dir TMP` (SQLite) in its own process.

upload-to-playable (target <= 1 s): a 1 MB game (the bundled tic-tac-toe,
37 KB of code, plus 1 MB of random bytes in a custom section, fresh bytes
each time so nothing is cached) is POSTed to /api/games (size cap, Wasm
checks, imports, the trial run, content-addressed storage), then an arena is
created over HTTP, the host's WebSocket picks the game and starts it, and
the clock stops when the first board arrives. Peer in the same run: the same
arena flow for the bundled tic-tac-toe, which needs no upload.

catalogue latency (target p99 <= 50 ms): the database gets --games games
(inserted directly), then GET /games (first page), /games?q=... (a search)
and /games?page=N (a deep page) in turn, one at a time. Peer in the same
run: GET / (the part-1 home page, no database).

Results also go to benchmarks/results/gamebox_catalogue.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

RESULTS = Path(__file__).parent / "results"
# A new connection per request: on a kept-alive connection httpx and uvicorn stall ~40 ms per
# request on loopback (a delayed-ACK interplay that curl does not show), which would measure
# the client, not GameBox.
NO_KEEPALIVE = httpx.Limits(max_keepalive_connections=0)


def padded(wasm: bytes, size: int) -> bytes:
    """`wasm` plus a custom section of random bytes, `size` bytes in all."""
    name = b"assets"
    payload = secrets.token_bytes(max(0, size - len(wasm) - 16))
    body = bytes([len(name)]) + name + payload
    n, leb = len(body), bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        leb.append(byte | (0x80 if n else 0))
        if not n:
            break
    return wasm + b"\x00" + bytes(leb) + body


def populate(data_dir: Path, games: int) -> str:
    """A user, a token and `games` games in the database; returns the token."""
    from sqlalchemy import insert

    from wasmplug.gamebox.catalogue.database import DatabaseCatalogue
    from wasmplug.gamebox.catalogue.folders import bundled_games_dir
    from wasmplug.gamebox.database import Blob, Game, GameBoxDatabase, GameVersion

    db = GameBoxDatabase.in_dir(data_dir)
    db.upgrade()
    library = DatabaseCatalogue(db)
    author = library.add_user("bench", "bench-password")
    token = library.new_token(author)
    wasm = (bundled_games_dir() / "tictactoe.wasm").read_bytes()
    import hashlib

    digest = hashlib.sha256(wasm).hexdigest()
    words = ["space", "race", "chess", "quiz", "snake", "cards", "maze", "tower", "dice", "word"]
    with db.session() as s:
        s.add(Blob(sha256=digest, size=len(wasm), data=wasm))
        s.flush()
        rows = [{"slug": f"game-{i}", "owner_id": author.id, "plays": i % 97,
                 "title": f"{words[i % 10].title()} {words[(i // 10) % 10]} {i}",
                 "description": f"A **{words[(i // 100) % 10]}** game number {i}."} for i in range(games)]
        s.execute(insert(Game), rows)
        ids = s.execute(Game.__table__.select().with_only_columns(Game.id)).scalars().all()
        s.execute(insert(GameVersion), [{"game_id": gid, "number": 1, "wasm_sha256": digest,
                                         "size": len(wasm)} for gid in ids])
    db.close()
    return token


async def arena_until_board(base: str, game: str) -> None:
    """Create an arena, a friend joins, the host picks `game` and starts it; return when the
    host's first board arrives."""
    async with httpx.AsyncClient(base_url=base, limits=NO_KEEPALIVE) as http:
        home = await http.get("/")
        token = re.search(r'name="csrf" value="([^"]+)"', home.text)
        created = await http.post("/arenas", data={"name": "host", "csrf": token.group(1) if token else ""})
        code = created.headers["location"].rsplit("/", 1)[-1]
        cookies = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    async with httpx.AsyncClient(base_url=base, limits=NO_KEEPALIVE) as friend:  # the second player
        page = await friend.get(f"/?arena={code}")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        joined = await friend.post("/join", data={"code": code, "name": "friend",
                                                  "csrf": token.group(1) if token else ""})
        assert joined.status_code == 303, joined.text
    ws_url = base.replace("http", "ws") + f"/arena/{code}/ws"
    async with connect(ws_url, additional_headers={"cookie": cookies}, max_size=2**22) as ws:
        await ws.send(json.dumps({"t": "action", "name": "select", "game": game}))
        started = False
        async for raw in ws:
            message = json.loads(raw)
            part = message.get("html", message.get("controls", ""))  # whole, or a change's controls
            if message["t"] == "arena" and not started and 'id="start"' in part:
                await ws.send(json.dumps({"t": "action", "name": "start"}))
                started = True
            elif message["t"] == "board" and message["version"] == 0 and message["html"]:
                return
            elif message["t"] == "flash":
                raise RuntimeError(message["text"])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(values) * 1000, 2),
            "p99_ms": round(percentile(values, 0.99) * 1000, 2),
            "max_ms": round(max(values) * 1000, 2), "n": len(values)}


async def run(base: str, token: str, uploads: int, pages: int) -> dict[str, Any]:
    from wasmplug.gamebox.catalogue.folders import bundled_games_dir

    code = (bundled_games_dir() / "tictactoe.wasm").read_bytes()
    upload_times, upload_only, bundled_times = [], [], []
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=NO_KEEPALIVE) as http:
        for i in range(uploads):
            wasm = padded(code, 1024 * 1024)
            t0 = time.perf_counter()
            response = await http.post("/api/games", headers={"authorization": f"Bearer {token}"},
                                       data={"game": f"big-{i}", "title": f"Big {i}"},
                                       files={"wasm": ("big.wasm", wasm, "application/wasm")})
            assert response.status_code == 201, response.text
            t1 = time.perf_counter()
            await arena_until_board(base, f"big-{i}")
            upload_times.append(time.perf_counter() - t0)
            upload_only.append(t1 - t0)
            t2 = time.perf_counter()
            await arena_until_board(base, "tictactoe")
            bundled_times.append(time.perf_counter() - t2)

        urls = ["/games", "/games?q=snake+maze", "/games?page=150"]
        timings: dict[str, list[float]] = {url: [] for url in [*urls, "/"]}
        for _ in range(10):  # warm-up
            for url in timings:
                (await http.get(url)).raise_for_status()
        for i in range(pages):
            for url in (urls[i % len(urls)], "/"):
                t0 = time.perf_counter()
                response = await http.get(url)
                timings[url].append(time.perf_counter() - t0)
                assert response.status_code == 200
    catalogue = [t for url in urls for t in timings[url]]
    return {
        "upload_to_playable_1mb": summary(upload_times),
        "upload_request_only_1mb": summary(upload_only),
        "peer_bundled_game_to_playable": summary(bundled_times),
        "upload_to_playable_over_peer_p50": round(statistics.median(upload_times)
                                                  / statistics.median(bundled_times), 2),
        "catalogue_pages": summary(catalogue),
        **{f"catalogue {url}": summary(timings[url]) for url in urls},
        "peer_home_page": summary(timings["/"]),
        "catalogue_over_home_p99": round(percentile(catalogue, 0.99) / percentile(timings["/"], 0.99), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--games", type=int, default=10_000)
    parser.add_argument("--uploads", type=int, default=10)
    parser.add_argument("--pages", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        t0 = time.perf_counter()
        token = populate(data, args.games)
        print(f"{args.games} games in the database in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        server = subprocess.Popen([sys.executable, "-m", "wasmplug", "gamebox", "serve", "--port", "0",
                                   "--data-dir", str(data)], stdout=subprocess.PIPE, text=True,
                                  env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            assert server.stdout is not None
            line = server.stdout.readline()
            base = re.search(r"http://[\d.]+:\d+", line).group(0)  # type: ignore[union-attr]
            result = asyncio.run(run(base, token, args.uploads, args.pages))
        finally:
            server.terminate()
            server.wait(15)
    result = {"games": args.games, "cpus": os.cpu_count(), **result}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "gamebox_catalogue.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""What an upload may cost: counts refused before compiling, the check in a bounded worker
process, artwork decoded within its budget, and a server that keeps answering meanwhile."""

from __future__ import annotations

import re
import struct
import threading
import zlib
from typing import Any

import httpx
import pytest

from wasmplug.binary import assemble, encode_uleb
from wasmplug.gamebox.app import create_app
from wasmplug.gamebox.errors import UploadRejected
from wasmplug.gamebox.upload_worker import WorkerBudget, run_in_worker
from wasmplug.gamebox.uploads import (
    ARTWORK_WORKER,
    MAX_ARTWORK_SIDE,
    MAX_STORED_ARTWORK_BYTES,
    UploadPolicy,
    artwork_job,
    check_artwork,
    check_game,
    game_job,
)

from .conftest import live_server
from .loopback import poll
from .wat_games import game_wasm

pytestmark = pytest.mark.timeout(120)


def many_functions(count: int, locals_each: int = 0) -> bytes:
    """A module of `count` empty functions () -> () (each with `locals_each` i32 locals)."""
    types = encode_uleb(1) + b"\x60\x00\x00"
    functions = encode_uleb(count) + b"\x00" * count
    decls = (encode_uleb(1) + encode_uleb(locals_each) + b"\x7f") if locals_each else encode_uleb(0)
    body = decls + b"\x0b"
    code = encode_uleb(count) + (encode_uleb(len(body)) + body) * count
    return assemble([(1, types), (3, functions), (10, code)])


def rejected(wasm: bytes, policy: UploadPolicy | None = None) -> list[str]:
    with pytest.raises(UploadRejected) as caught:
        check_game(wasm, policy or UploadPolicy(max_bytes=8 * 1024 * 1024))
    return caught.value.reasons


def test_a_200000_function_module_is_refused_before_compiling() -> None:
    assert rejected(many_functions(200_000)) == [
        "it declares 200000 functions, more than the 20000 a game may have"]


def test_locals_are_counted_before_compiling() -> None:
    assert rejected(many_functions(10, locals_each=60_000)) == [
        "function 0 declares more than 50000 locals, the most a game's function may have"]
    assert rejected(many_functions(40, locals_each=30_000)) == [
        "its functions declare more than 1000000 locals in all, the most a game may have"]


def test_the_check_runs_under_its_cpu_budget() -> None:
    """A trial of endless loops with a generous per-call limit is killed at the worker's CPU budget."""
    from wasmplug.gamebox.catalogue.base import GameLimits

    greedy = UploadPolicy(limits=GameLimits(timeout_ms=60_000), trial_seconds=120,
                          worker=WorkerBudget(cpu_seconds=2, wall_seconds=60))
    assert rejected(game_wasm(loop_in="init_game"), greedy) == [
        "checking it used more than its 2 s of CPU time"]


def test_the_check_runs_under_its_memory_budget() -> None:
    """A game may grow its memory to 480 MiB (its limit is 512 MiB) where the worker has 1 GiB,
    not where the worker has 256 MiB: the grow is refused and the game traps."""
    from wasmplug.gamebox.catalogue.base import GameLimits

    hungry = game_wasm(grow_in="init_game", grow_pages=480 * 16)
    roomy = UploadPolicy(limits=GameLimits(memory_mb=512), worker=WorkerBudget(memory_mb=1024))
    check_game(hungry, roomy)
    tight = UploadPolicy(limits=GameLimits(memory_mb=512), worker=WorkerBudget(memory_mb=256))
    (reason,) = rejected(hungry, tight)
    assert reason.startswith("init_game failed in the trial run: oom: the plug-in needed more memory")


def png(width: int, height: int, channels: int = 4) -> bytes:
    """A PNG of one colour, built row by row (never holding the pixels): tiny file, huge image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    squeeze = zlib.compressobj(9)
    row = b"\x00" + bytes(width * channels)
    pixels = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, {3: 2, 4: 6}[channels], 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def test_a_6300_pixel_png_is_refused_from_its_header() -> None:
    bomb = png(6300, 6300)
    assert len(bomb) < 200_000
    answer, images = run_in_worker(artwork_job, {"max_side": MAX_ARTWORK_SIDE}, bomb, ARTWORK_WORKER)
    assert answer["reasons"] == ["the artwork has more than the 16777216 pixels it may have "
                                 "(4096 x 4096): make it smaller"] and images == []
    assert answer["peak_rss_kb"] < 100 * 1024  # not decoded (it would take 160 MB to hold)


def test_the_largest_artwork_is_downscaled_within_its_memory() -> None:
    from PIL import Image

    answer, (art, thumb) = run_in_worker(artwork_job, {"max_side": MAX_ARTWORK_SIDE}, png(4096, 4096),
                                         ARTWORK_WORKER)
    assert answer["reasons"] == []
    assert answer["peak_rss_kb"] < 300 * 1024  # 4096 x 4096 RGBA is 64 MiB decoded
    import io

    assert Image.open(io.BytesIO(art)).size == (1024, 1024)
    assert Image.open(io.BytesIO(thumb)).size == (200, 200)


def test_stored_artwork_is_capped_in_bytes() -> None:
    """A 2 MB JPEG of noise becomes at most MAX_STORED_ARTWORK_BYTES of PNG (not 50 MB)."""
    import io
    import random

    from PIL import Image

    rng = random.Random(7)
    noise = Image.frombytes("RGB", (1400, 1400), rng.randbytes(1400 * 1400 * 3))
    out = io.BytesIO()
    noise.save(out, format="JPEG", quality=60)
    assert len(out.getvalue()) < 2 * 1024 * 1024
    art, _ = check_artwork(out.getvalue())
    assert len(art) <= MAX_STORED_ARTWORK_BYTES
    assert max(Image.open(io.BytesIO(art)).size) <= MAX_ARTWORK_SIDE


@pytest.mark.timeout(180)
def test_uploads_being_checked_do_not_hold_up_other_requests(library: Any) -> None:
    """Eight API uploads of a game that sleeps (2 s, its call limit) in its trial are checked at
    once, more than the default thread pool has threads; the catalogue page answers before the
    first of them is done."""
    from wasmplug.gamebox.catalogue.base import GameLimits

    library.policy = UploadPolicy(limits=GameLimits(timeout_ms=2000))
    library.add_user("alice", "correct horse")
    token = library.new_token(library.account(1))
    sleeper = game_wasm(sleep_in="init_game")
    order: list[str] = []
    lock = threading.Lock()
    with live_server(create_app(library, session_secret="s" * 32)) as url:
        def upload(n: int) -> None:
            response = httpx.post(url + "/api/games", headers={"authorization": f"Bearer {token}"},
                                  data={"game": f"nap{n}"}, timeout=120,
                                  files={"wasm": ("nap.wasm", sleeper, "application/wasm")})
            with lock:
                order.append(f"upload {response.status_code}")

        uploads = [threading.Thread(target=upload, args=(n,)) for n in range(8)]
        for thread in uploads:
            thread.start()
        poll(lambda: _checking() > 0, what="a check to start")
        page = httpx.get(url + "/games", timeout=120)
        with lock:
            order.append(f"games {page.status_code}")
        for thread in uploads:
            thread.join(150)
    assert order[0] == "games 200", order
    assert all(re.fullmatch(r"upload (400|429)|games 200", entry) for entry in order), order


def _checking() -> int:
    from wasmplug.gamebox import upload_worker

    return upload_worker._waiting[0]


def test_a_module_that_passed_is_not_checked_again_under_the_same_policy(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from wasmplug.gamebox import uploads

    wasm, policy = game_wasm("checked once"), UploadPolicy()
    check_game(wasm, policy)
    started: list[Any] = []
    real = uploads.run_in_worker

    def counting(*args: Any) -> Any:
        started.append(args[0])
        return real(*args)

    monkeypatch.setattr(uploads, "run_in_worker", counting)
    check_game(wasm, policy)  # the same code, the same policy: no second trial
    assert started == []
    check_game(wasm, UploadPolicy(worker=WorkerBudget(cpu_seconds=9)))  # another budget: checked
    assert started == [game_job]
    with pytest.raises(UploadRejected):
        check_game(game_wasm("checked once", trap_in="render"), policy)
    assert started == [game_job, game_job]

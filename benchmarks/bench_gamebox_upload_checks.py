"""What checking an upload costs, the bounded way (`check_game` / `check_artwork`: counts from
the sections, then a worker process under rlimits) side by side with the unbounded way it
replaced (everything in the server's process), in the same run.

    python benchmarks/bench_gamebox_upload_checks.py            # writes results/gamebox_upload_checks.json

Three cases:
- a good game: the worker's start-up is the price of the bound (ratio > 1);
- a module of 200,000 empty functions (5 MB cannot hold more cheaply): refused from its counts
  vs compiled in-process (`wasmplug.CompiledPlugin`, what the old check did first);
- a 6300 x 6300 PNG of one colour (154 KB): refused from its header in the worker vs decoded
  and re-encoded in a child process the old way (peak RSS of each process, VmHWM).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# (Imports are made in main(): the upload worker's fork server imports this script's
# module level, and its memory would count in every worker's peak RSS.)
RESULTS = Path(__file__).parent / "results"
OLD_ARTWORK = """
import io, sys
from PIL import Image
Image.MAX_IMAGE_PIXELS = 40_000_000
data = sys.stdin.buffer.read()
with Image.open(io.BytesIO(data)) as image:
    pixels = image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB")
clean = Image.new(pixels.mode, pixels.size)
clean.paste(pixels)
thumb = clean.copy()
thumb.thumbnail((320, 200))
out = io.BytesIO()
clean.save(out, format="PNG")
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        print(line.split()[1])
"""


def timed(work: Any) -> tuple[float, Any]:
    from wasmplug.gamebox.errors import UploadRejected

    started = time.perf_counter()
    try:
        value = work()
    except UploadRejected as exc:
        value = exc.reasons
    return time.perf_counter() - started, value


def main() -> dict[str, Any]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.gamebox.test_upload_limits import many_functions, png
    from tests.gamebox.wat_games import game_wasm
    from wasmplug import CompiledPlugin
    from wasmplug.binary import encode_name, encode_uleb
    from wasmplug.gamebox.upload_worker import run_in_worker
    from wasmplug.gamebox.uploads import (
        ARTWORK_WORKER,
        UploadPolicy,
        _check_game_here,
        _policy_json,
        artwork_job,
        check_game,
    )

    report: dict[str, Any] = {"load_before": os.getloadavg(), "cpus": os.cpu_count()}
    policy = UploadPolicy(max_bytes=8 * 1024 * 1024)
    check_game(game_wasm("warm-up"), policy)  # starts the worker's fork server

    good = game_wasm(f"bench {time.time()}")  # new bytes: no cache anywhere knows them

    old_s, old_reasons = timed(lambda: _check_game_here(good, _policy_json(policy)))
    new_s, new_reasons = timed(lambda: check_game(good, UploadPolicy(trial_seconds=5.01)))
    report["good_game"] = {"in_process_s": round(old_s, 3), "worker_s": round(new_s, 3),
                           "ratio_worker_over_in_process": round(new_s / old_s, 1),
                           "reasons": [old_reasons, new_reasons]}

    fresh = encode_name("fresh") + os.urandom(16)  # a custom section: no compile cache knows it
    big = many_functions(200_000) + b"\x00" + encode_uleb(len(fresh)) + fresh
    new_s, reasons = timed(lambda: check_game(big, policy))
    old_s, _ = timed(lambda: CompiledPlugin(big))
    report["functions_200000"] = {"bytes": len(big), "refused_from_counts_s": round(new_s, 3),
                                  "compiled_in_process_s": round(old_s, 3),
                                  "ratio_compile_over_refusal": round(old_s / new_s, 1), "reasons": reasons}

    bomb = png(6300, 6300)
    new_s, (answer, _) = timed(lambda: run_in_worker(artwork_job, {"max_side": 1024}, bomb, ARTWORK_WORKER))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", OLD_ARTWORK], input=bomb, capture_output=True, check=True)
    old_s = time.perf_counter() - started
    old_peak = int(done.stdout.split()[-1])
    report["png_6300"] = {"bytes": len(bomb), "worker_s": round(new_s, 3), "worker_peak_mb":
                          round(answer["peak_rss_kb"] / 1024, 1), "old_way_s": round(old_s, 3),
                          "old_way_peak_mb": round(old_peak / 1024, 1),
                          "ratio_old_peak_over_worker_peak": round(old_peak / answer["peak_rss_kb"], 1),
                          "reasons": answer["reasons"]}
    report["load_after"] = os.getloadavg()
    return report


if __name__ == "__main__":
    result = main()
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "gamebox_upload_checks.json").write_text(json.dumps(result, indent=2))

#!/usr/bin/env python3
"""wasmplug's JavaScript runtime vs two other ways to run JS from Python, side by side.

    pip install -e .[bench,js]
    python benchmarks/bench_js.py            # about a minute (plus the runtime build, once)
    python benchmarks/bench_js.py --quick
    python benchmarks/bench_js.py --cpu      # calls timed by thread CPU time (start-up: wall)

Peers, fetched in the setup (nothing is committed):
  * eval.wasm from PyPI `extism-func-gen` 0.4.0 (the official JS PDK of that
    era, `register_function` then `invoke`), downloaded with `pip download`
    and run by wasmplug;
  * `quickjs-rs` from PyPI (wasmtime + rquickjs), `Context.eval("f(...)")`.

Rows (median per operation; batches of the runtimes alternate so machine noise
hits all of them alike):
  js_trivial_call     a `js build` plug-in, export `noop` (target <= 50 us)
  small_function      the same small function (upper-case the input) called with
                      "hello world": wasmplug Sandbox (keep_state, and fresh state
                      per call) vs eval.wasm `invoke` vs quickjs-rs `eval`
                      (target <= 0.1x both peers)
  transform_10kb      parse a 10 KB JSON document, transform its items, stringify
                      (the same JS function on each side): Sandbox fresh state
                      and keep_state vs quickjs-rs (target fresh <= 0.6x)
  game_render         `render` of the tic-tac-toe game (plugins/js/game.js)
  startup_from_cache  new process, compiled module in the disk cache: create the
                      game plug-in and make its first call (target <= 10 ms);
                      peers: eval.wasm plug-in + register_function, quickjs-rs
                      Runtime + context + defining the function
Results go to benchmarks/results/js.json (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
GAME = ROOT / "plugins" / "js" / "game.js"
SMALL_JS = "function f(input) { return input.toUpperCase() }"
SMALL_CJS = "module.exports = function (input) { return input.toUpperCase() }"
INPUT = "hello world"
TRANSFORM_JS = """function t(input) {
  const doc = JSON.parse(input);
  const rows = doc.items.filter(x => x.qty > 0).map(x => ({
    id: x.id, name: x.name.toUpperCase(), total: Math.round(x.price * x.qty * 100) / 100,
    tags: x.tags.slice().sort().join(",") }));
  rows.sort((a, b) => b.total - a.total);
  return JSON.stringify({ count: rows.length, rows });
}"""
SETTLED_S = 2.1  # wasmplug trusts file times at least 2 s old


def fetch_eval_wasm(workdir: Path) -> bytes:
    """eval.wasm out of the extism-func-gen 0.4.0 wheel, fetched with pip."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "extism-func-gen==0.4.0", "-d", str(workdir)], check=True)
    wheel = next(workdir.glob("extism_func_gen-0.4.0-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        return zf.read("func_gen/eval.wasm")


def transform_input() -> str:
    """A JSON document of about 10 KB."""
    items = [{"id": i, "name": f"item number {i}", "price": 1.25 + i % 17, "qty": i % 5,
              "tags": ["red", "blue", "green", "x" * (i % 4)][: 1 + i % 4]} for i in range(110)]
    text = json.dumps({"items": items})
    assert 9_000 <= len(text) <= 11_000, len(text)
    return text


# What a batch is timed with: wall time, or (--cpu) this thread's CPU time, which a
# machine shared with other work disturbs less (every contender runs in this thread).
clock = time.perf_counter


def per_op(fn: Callable[[], object], batch: int) -> float:
    start = clock()
    for _ in range(batch):
        fn()
    return (clock() - start) / batch


def compare(rows: dict[str, Callable[[], object]], rounds: int, batch_s: float) -> dict[str, float]:
    """Median seconds per call of each contender, batches interleaved."""
    batches = {}
    for name, fn in rows.items():
        fn()
        once = max(per_op(fn, 3), 1e-7)
        batches[name] = max(1, int(batch_s / once))
    samples: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(rounds):
        for name, fn in rows.items():
            samples[name].append(per_op(fn, batches[name]))
    return {name: statistics.median(values) for name, values in samples.items()}


STARTUP = {
    "wasmplug": """
import gc, json, sys, time, wasmplug
wasm = open(sys.argv[1], 'rb').read()
gc.collect()  # the imports' garbage, before the clock starts (every peer alike)
t = time.perf_counter()
p = wasmplug.Plugin(wasm, wasi=True)
p.call('get_constraints', '')
print(time.perf_counter() - t)
""",
    "eval.wasm": """
import gc, sys, time, wasmplug
wasm = open(sys.argv[2], 'rb').read()
gc.collect()  # the imports' garbage, before the clock starts (every peer alike)
t = time.perf_counter()
p = wasmplug.Plugin(wasm, wasi=True)
p.call('register_function', sys.argv[3])
print(time.perf_counter() - t)
""",
    "quickjs-rs": """
import gc, sys, time, quickjs_rs
gc.collect()  # the imports' garbage, before the clock starts (every peer alike)
t = time.perf_counter()
rt = quickjs_rs.Runtime()
ctx = rt.new_context()
ctx.eval(sys.argv[4] + '; undefined')
print(time.perf_counter() - t)
""",
}


def startup(game_wasm: Path, eval_wasm: Path, samples: int) -> dict[str, float]:
    out: dict[str, list[float]] = {name: [] for name in STARTUP}
    args = [str(game_wasm), str(eval_wasm), SMALL_CJS, SMALL_JS]
    for i in range(samples + 2):
        for name, script in STARTUP.items():
            done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                                  text=True, check=True, env=os.environ)
            if i >= 2:
                out[name].append(float(done.stdout.strip().splitlines()[-1]))
        if i == 0:
            # The first round filled the disk cache; files at least 2 s old get
            # stamped (and remembered) in the second, as a cache filled by an
            # earlier run would be (see wasmplug/cache.py, wasmplug/source_memo.py).
            time.sleep(SETTLED_S)
    return {name: statistics.median(values) for name, values in out.items()}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cpu", action="store_true", help="time calls by thread CPU time")
    args = parser.parse_args()
    global clock
    if args.cpu:
        clock = time.thread_time
    rounds, batch_s, samples = (5, 0.05, 3) if args.quick else (15, 0.2, 7)

    import quickjs_rs

    import wasmplug
    from wasmplug import js

    js.runtime_path()  # builds the runtime on first use
    work = Path(tempfile.mkdtemp(prefix="bench-js-"))
    eval_wasm = work / "eval.wasm"
    eval_wasm.write_bytes(fetch_eval_wasm(work))
    game_wasm = work / "game.wasm"
    js.build_file(GAME, game_wasm)

    results: dict[str, dict[str, float]] = {}
    trivial = wasmplug.Plugin(js.build("export function noop() {}"), wasi=True)
    results["js_trivial_call"] = compare({"wasmplug": lambda: trivial.call("noop", b"")}, rounds, batch_s)

    kept = js.Sandbox(SMALL_JS, keep_state=True)
    fresh = js.Sandbox(SMALL_JS)
    legacy = wasmplug.Plugin(eval_wasm.read_bytes(), wasi=True)
    legacy.call("register_function", SMALL_CJS)
    qjs = quickjs_rs.Runtime().new_context()
    qjs.eval(SMALL_JS + "; undefined")
    expected = INPUT.upper().encode()
    assert kept.call(INPUT) == fresh.call(INPUT) == legacy.call("invoke", INPUT) == expected
    assert qjs.eval(f"f({json.dumps(INPUT)})") == INPUT.upper()
    results["small_function"] = compare({
        "wasmplug Sandbox keep_state": lambda: kept.call(INPUT),
        "wasmplug Sandbox fresh": lambda: fresh.call(INPUT),
        "eval.wasm (extism-func-gen 0.4.0)": lambda: legacy.call("invoke", INPUT),
        "quickjs-rs": lambda: qjs.eval(f"f({json.dumps(INPUT)})"),
    }, rounds, batch_s)

    document = transform_input()
    kept_t = js.Sandbox(TRANSFORM_JS, keep_state=True)
    fresh_t = js.Sandbox(TRANSFORM_JS)
    qjs_t = quickjs_rs.Runtime().new_context()
    qjs_t.eval(TRANSFORM_JS + "; undefined")
    call_t = f"t({json.dumps(document)})"
    assert json.loads(fresh_t.call(document)) == json.loads(kept_t.call(document)) == json.loads(
        qjs_t.eval(call_t))
    results["transform_10kb"] = compare({
        "wasmplug Sandbox keep_state": lambda: kept_t.call(document),
        "wasmplug Sandbox fresh": lambda: fresh_t.call(document),
        "quickjs-rs": lambda: qjs_t.eval(call_t),
    }, rounds, batch_s)

    game = wasmplug.Plugin(game_wasm.read_bytes(), wasi=True)
    game.call("init_game", json.dumps({"player_ids": ["ann", "bob"]}))
    game.call("handle_event", json.dumps({"player_id": "ann", "event_name": "cell-clicked",
                                          "value": {"cell": 4}}))
    assigns = json.dumps({"player_id": "bob"})
    results["game_render"] = compare({"wasmplug": lambda: game.call("render", assigns)}, rounds, batch_s)
    results["startup_from_cache"] = startup(game_wasm, eval_wasm, samples)

    small = results["small_function"]
    ratios = {
        f"{ours} / {peer}": small[ours] / small[peer]
        for ours in ("wasmplug Sandbox keep_state", "wasmplug Sandbox fresh")
        for peer in ("eval.wasm (extism-func-gen 0.4.0)", "quickjs-rs")
    }
    transform = results["transform_10kb"]
    ratios.update({f"transform_10kb {ours} / quickjs-rs": transform[ours] / transform["quickjs-rs"]
                   for ours in ("wasmplug Sandbox keep_state", "wasmplug Sandbox fresh")})
    start = results["startup_from_cache"]
    ratios.update({f"startup wasmplug / {peer}": start["wasmplug"] / start[peer]
                   for peer in ("eval.wasm", "quickjs-rs")})
    for row, values in results.items():
        for name, seconds in values.items():
            sys.stdout.write(f"{row:20} {name:36} {seconds * 1e6:12.1f} us\n")
    for name, ratio in ratios.items():
        sys.stdout.write(f"ratio {name:62} {ratio:8.3f}\n")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "js.json").write_text(json.dumps({
        "seconds": results, "ratios": ratios, "python": platform.python_version(),
        "machine": platform.machine(), "cpus": os.cpu_count(), "quick": args.quick,
        "clock": "thread CPU time" if args.cpu else "wall", "load": os.getloadavg()[0]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

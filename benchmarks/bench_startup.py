#!/usr/bin/env python3
"""What a new process costs: wasmplug vs the official extism SDK, whole processes timed from outside.

    pip install -e .[test,bench]
    python benchmarks/bench_startup.py            # 15 runs of each command (a few minutes)
    python benchmarks/bench_startup.py --quick    # 5 runs
    python benchmarks/bench_startup.py --runs 31

Each row runs two commands, wasmplug's and its peer on the official `extism`
SDK (1.x, the native Rust runtime), **alternating** run by run so load on a
shared machine hits both alike. Every run is a fresh `python` process, timed
from outside: wall clock around `subprocess` and CPU time (user + system, all
threads) from the child's `rusage`. Medians; ratios are wasmplug / SDK
(lower is better).

| row | wasmplug | official SDK |
| --- | --- | --- |
| python alone | `python -c pass` (the floor) | the same |
| import | `import wasmplug` | `import extism` |
| one-shot call | import, load count_vowels.wasm (module cached), call, print | the same, `extism.Plugin` |
| call x.wasm | `python -m wasmplug call count_vowels.wasm ...` | the one-shot script (no Python CLI) |
| call x.js | `python -m wasmplug call count_vowels.js ...` | one-shot: the same JS built by `js build` |
| gen run | `python -m wasmplug gen run vowels -i ...` | one-shot: the same JS function, built |

(The SDK has no `call` command and cannot run func-gen's original eval.wasm,
a 0.x plug-in with legacy `env` imports: its peers are one-shot scripts doing
the same work. The JS plug-ins it runs are wasmplug's runtime with the code
embedded, WASI on, as `wasmplug js build` writes them.)

Set-up, the same for both: every command runs a few times first (wasmplug's
compiled-module cache filled, aged past its 2 s racy-timestamp window and
stamped; Python's bytecode written, `PYTHONDONTWRITEBYTECODE` removed from the
children's environment, as a `pip install` leaves a package). The official SDK
runs with its default cache too (libextism enables wasmtime's compiled-code
cache in ~/.cache/wasmtime unless EXTISM_CACHE_CONFIG says otherwise), warm
after the same warm-up: both load compiled code. `uptime` is recorded before
and after.

Writes benchmarks/results/startup.json and the plot docs/startup.png.
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
from pathlib import Path
from typing import Any

from bench_gen import CODE as GEN_CODE  # the same JavaScript function as bench_gen.py

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
PLOT = ROOT / "docs" / "startup.png"
COUNT_VOWELS = ROOT / "plugins" / "assemblyscript" / "count_vowels.wasm"
COUNT_VOWELS_JS = ROOT / "plugins" / "js" / "count_vowels.js"
SETTLED_S = 2.1  # wasmplug._cache stamps entries whose ctime is at least 2 s old

ONE_SHOT = {
    "wasmplug": "import wasmplug\n"
                "p = wasmplug.Plugin({{'wasm': [{{'path': {path!r}}}]}}, wasi={wasi})\n"
                "print(p.call({function!r}, {data!r}).decode())\n",
    "extism": "import extism\n"
              "p = extism.Plugin({{'wasm': [{{'path': {path!r}}}]}}, wasi={wasi})\n"
              "print(p.call({function!r}, {data!r}).decode())\n",
}

# The gen function as a JS plug-in: `run` calls it on the input, as `wasmplug gen run` does.
GEN_AS_PLUGIN = """\
const f = (function () {{ const module = {{ exports: {{}} }}; {code}; return module.exports; }})();
function run() {{ Host.outputString(String(f(Host.inputString()))); }}
module.exports = {{ run }};
"""


def uptime() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "n/a"


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, bytes]:
    """(wall seconds, stdout) of one process, which must succeed."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = proc.communicate(timeout=300)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)[:200]} failed ({proc.returncode}): {err[-2000:]!r}")
    return wall, out


class Clock:
    """Measures children one at a time: CPU from the growth of RUSAGE_CHILDREN (the
    child is reaped by `communicate`, so its user + system time, all threads, is added)."""

    def __init__(self) -> None:
        import resource

        self._resource = resource

    def cpu(self) -> float:
        usage = self._resource.getrusage(self._resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    def measure(self, cmd: list[str], env: dict[str, str]) -> tuple[float, float, bytes]:
        before = self.cpu()
        wall, out = run(cmd, env)
        return wall, self.cpu() - before, out


def gen_store(root: Path) -> None:
    from wasmplug.gen import Function, Store

    Store(root).save(Function(name="vowels", code=GEN_CODE, description="count the vowels",
                              model="bench"))


def build_js(source: Path, target: Path, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "wasmplug", "js", "build", str(source), "-o", str(target)],
                   check=True, env=env, capture_output=True, timeout=600)


def rows(work: Path, env: dict[str, str]) -> dict[str, dict[str, list[str]]]:
    py = sys.executable
    vowels = {"path": str(COUNT_VOWELS), "function": "count_vowels", "data": "Hello, world",
              "wasi": False}
    built_js = work / "count_vowels_js.wasm"
    build_js(COUNT_VOWELS_JS, built_js, env)
    js = {"path": str(built_js), "function": "count_vowels", "data": "Hello, world", "wasi": True}
    gen_source, gen_built = work / "vowels.js", work / "vowels_js.wasm"
    gen_source.write_text(GEN_AS_PLUGIN.format(code=GEN_CODE))
    build_js(gen_source, gen_built, env)
    gen_store(work / "gen")
    gen = {"path": str(gen_built), "function": "run", "data": "hello world", "wasi": True}
    out: dict[str, dict[str, list[str]]] = {
        "python alone": {"wasmplug": [py, "-c", "pass"], "extism": [py, "-c", "pass"]},
        "import": {"wasmplug": [py, "-c", "import wasmplug"], "extism": [py, "-c", "import extism"]},
        "one-shot call": {"wasmplug": [py, "-c", ONE_SHOT["wasmplug"].format(**vowels)],
                          "extism": [py, "-c", ONE_SHOT["extism"].format(**vowels)]},
        "call x.wasm": {"wasmplug": [py, "-m", "wasmplug", "call", str(COUNT_VOWELS), "count_vowels",
                                     "-i", "Hello, world"],
                        "extism": [py, "-c", ONE_SHOT["extism"].format(**vowels)]},
        "call x.js": {"wasmplug": [py, "-m", "wasmplug", "call", str(COUNT_VOWELS_JS),
                                   "count_vowels", "-i", "Hello, world"],
                      "extism": [py, "-c", ONE_SHOT["extism"].format(**js)]},
    }
    out["gen run"] = {
        "wasmplug": [py, "-m", "wasmplug", "gen", "run", "vowels", "-i", "hello world"],
        "extism": [py, "-c", ONE_SHOT["extism"].format(**gen)],
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 runs of each command")
    parser.add_argument("--runs", type=int, default=15, help="runs of each command (default 15)")
    parser.add_argument("--no-plot", action="store_true", help="skip docs/startup.png")
    args = parser.parse_args()
    runs = 5 if args.quick else max(10, args.runs)

    RESULTS.mkdir(exist_ok=True)
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(WASMPLUG_CACHE_DIR=str(work / "cache"), WASMPLUG_GEN_DIR=str(work / "gen"))
        table = rows(work, env)
        for pair in table.values():  # bytecode, the module cache, the source memos
            for cmd in pair.values():
                run(cmd, env)
        time.sleep(SETTLED_S)
        for pair in table.values():  # stamps the aged cache entries as verified
            for cmd in pair.values():
                run(cmd, env)

        load_before = uptime()
        samples: dict[str, dict[str, dict[str, list[float]]]] = {}
        outputs: dict[str, dict[str, str]] = {}
        for row, pair in table.items():
            samples[row] = {peer: {"wall": [], "cpu": []} for peer in pair}
            for n in range(runs):
                for peer in (list(pair) if n % 2 == 0 else list(reversed(pair))):
                    wall, cpu, out = clock.measure(pair[peer], env)
                    samples[row][peer]["wall"].append(wall)
                    samples[row][peer]["cpu"].append(cpu)
                    outputs.setdefault(row, {})[peer] = out.decode(errors="replace").strip()[:80]
        load_after = uptime()

    summary: dict[str, Any] = {}
    print(f"load before: {load_before}\nload after:  {load_after}\n")
    print(f"{'row':<15} {'wasmplug cpu':>13} {'SDK cpu':>9} {'ratio':>6}   "
          f"{'wasmplug wall':>14} {'SDK wall':>9} {'ratio':>6}")
    for row, peers in samples.items():
        med = {peer: {kind: statistics.median(v) * 1000 for kind, v in kinds.items()}
               for peer, kinds in peers.items()}
        ratio = {kind: med["wasmplug"][kind] / med["extism"][kind] for kind in ("cpu", "wall")}
        summary[row] = {"median_ms": med, "ratio": ratio, "outputs": outputs[row]}
        print(f"{row:<15} {med['wasmplug']['cpu']:>10.1f} ms {med['extism']['cpu']:>6.1f} ms "
              f"{ratio['cpu']:>5.2f}x   {med['wasmplug']['wall']:>11.1f} ms "
              f"{med['extism']['wall']:>6.1f} ms {ratio['wall']:>5.2f}x")
    floor = summary["python alone"]["median_ms"]["wasmplug"]["cpu"]
    print(f"\n(python alone: {floor:.1f} ms CPU is in every row)")

    result = {"runs": runs, "load_before": load_before, "load_after": load_after,
              "python": sys.version.split()[0], "machine": platform.machine(),
              "cpus": os.cpu_count(), "rows": summary, "samples": samples}
    (RESULTS / "startup.json").write_text(json.dumps(result, indent=2))
    if not args.no_plot:
        plot(summary, runs, load_before, load_after)


def plot(summary: dict[str, Any], runs: int, load_before: str, load_after: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=False)
    for ax, kind, title in ((axes[0], "cpu", "CPU time (user + system)"), (axes[1], "wall", "wall clock")):
        xs = range(len(names))
        ours = [summary[n]["median_ms"]["wasmplug"][kind] for n in names]
        theirs = [summary[n]["median_ms"]["extism"][kind] for n in names]
        ax.bar([x - 0.2 for x in xs], ours, width=0.4, label="wasmplug", color="#3b7dd8")
        ax.bar([x + 0.2 for x in xs], theirs, width=0.4, label="official extism SDK", color="#b0b0b0")
        for x, a, b in zip(xs, ours, theirs, strict=True):
            ax.text(x - 0.2, a, f"{a / b:.2f}x", ha="center", va="bottom", fontsize=8)
        ax.set_xticks(list(xs), names, rotation=25, ha="right", fontsize=9)
        ax.set_ylabel("ms per process (median)")
        ax.set_title(title)
        ax.legend(fontsize=8)
    fig.suptitle(f"A new process, timed from outside: median of {runs} alternating runs "
                 f"(load {load_before.split()[0]} → {load_after.split()[0]}; labels: wasmplug / SDK)",
                 fontsize=10)
    fig.tight_layout()
    PLOT.parent.mkdir(exist_ok=True)
    fig.savefig(PLOT, dpi=110)
    print(f"plot: {PLOT}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Plot a bench_core.py results file: wasmplug's time (or memory) as a ratio of the official SDK's.

    python benchmarks/bench_core.py [--quick]          # writes benchmarks/results/core.json
    python benchmarks/plot_core.py                      # docs/core_ratios.png, docs/core_spread.png
    python benchmarks/plot_core.py RESULTS.json -o OUT.png --spread-output SPREAD.png --note "load 1.2"

The ratio chart has one horizontal bar per row (ratio = wasmplug / extism,
lower is better for wasmplug), a line at 1.0 (as fast as the SDK), each row's
target marked; rows that raised an error are left out (named in the figure).
The spread chart shows, for the in-process rows timed in microseconds, every
batch's time per operation for both runtimes (the batches alternate, so both
met the same moments of the machine's load): how far a median can be trusted.
Needs matplotlib (the `bench` extra).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_RESULTS = HERE / "results" / "core.json"
DEFAULT_PLOT = ROOT / "docs" / "core_ratios.png"
DEFAULT_SPREAD = ROOT / "docs" / "core_spread.png"
RUNTIMES = (("extism", "#f57c00"), ("wasmplug", "#3f51b5"))


def load_rows(results: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows that have a ratio, in the file's order, and the labels of those that do not."""
    rows = results.get("rows")
    if not isinstance(rows, list):
        raise ValueError("not a bench_core.py results file: no 'rows' list")
    plotted = [r for r in rows if isinstance(r.get("ratio"), int | float) and r["ratio"] > 0]
    missing = [str(r.get("label", r.get("key", "?"))) for r in rows if r not in plotted]
    return plotted, missing


def short_title(title: str, limit: int = 44) -> str:
    """A row's title without its details (after "(" or ": "), cut to `limit` characters."""
    title = title.split(" (")[0].split(": ")[0]
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


def plot(results: dict[str, Any], output: Path, note: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, missing = load_rows(results)
    if not rows:
        raise ValueError("the results file has no row with a ratio to plot")
    labels = [f"{r['label']}  {short_title(str(r['title']))}" for r in rows]
    ratios = [float(r["ratio"]) for r in rows]
    positions = list(range(len(rows)))[::-1]  # first row at the top

    fig, ax = plt.subplots(figsize=(9, 0.36 * len(rows) + 2.0))
    colours = ["#3f51b5" if r.get("target") is None or r["ratio"] <= r["target"] else "#e57373"
               for r in rows]
    ax.barh(positions, ratios, color=colours, height=0.6)
    for y, row, ratio in zip(positions, rows, ratios, strict=True):
        ax.text(ratio, y, f" {ratio:.2f}", va="center", fontsize=8)
        if row.get("target") is not None:
            ax.plot([row["target"]] * 2, [y - 0.35, y + 0.35], color="black", linewidth=1.2)
    ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(positions, labels, fontsize=8)
    ax.set_xlim(0, max(1.2, max(ratios) * 1.15))
    ax.set_xlabel("wasmplug / extism SDK, lower is better\n"
                  "(dashed line: as fast as the SDK; black tick: the row's target)", fontsize=9)
    meta = results.get("meta", {})
    title = (f"wasmplug {meta.get('wasmplug', '?')} vs extism {meta.get('extism', '?')} "
             f"(libextism {meta.get('extism_runtime', '?')}): time or memory, medians\n"
             f"{meta.get('mode', '?')} run, {str(meta.get('date', '?'))[:16].replace('T', ' ')} UTC, "
             f"{meta.get('cpus', '?')} CPUs")
    if note:
        title += f", {note}"
    ax.set_title(title, fontsize=9)
    if missing:
        fig.text(0.01, 0.01, f"not plotted (error or no ratio): {', '.join(missing)}", fontsize=7)
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=110)
    plt.close(fig)
    return output


def spread_rows(results: dict[str, Any], limit_s: float = 1e-3) -> list[dict[str, Any]]:
    """In-process rows in seconds whose batch samples of both runtimes are all under `limit_s`."""
    rows, _ = load_rows(results)
    chosen = []
    for row in rows:
        samples = row.get("samples")
        if row.get("unit") != "seconds" or not isinstance(samples, dict):
            continue
        series = [samples.get(name) for name, _ in RUNTIMES]
        if all(isinstance(s, list) and s and max(s) < limit_s for s in series):
            chosen.append(row)
    return chosen


def plot_spread(results: dict[str, Any], output: Path, note: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = spread_rows(results)
    if not rows:
        raise ValueError("the results file has no in-process row with batch samples to plot")
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(rows) + 2.0))
    for index, row in enumerate(rows):
        y = len(rows) - 1 - index
        for offset, (name, colour) in zip((0.15, -0.15), RUNTIMES, strict=True):
            times = [t * 1e6 for t in row["samples"][name]]
            ax.scatter(times, [y + offset] * len(times), s=12, color=colour, alpha=0.6,
                       label=name if index == 0 else None)
            median = sorted(times)[len(times) // 2]
            ax.plot([median] * 2, [y + offset - 0.12, y + offset + 0.12], color="black", linewidth=1.5)
    ax.set_yticks(range(len(rows))[::-1], [f"{r['label']}  {short_title(str(r['title']))}" for r in rows],
                  fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("time per operation in one batch (µs, log scale); black: the median", fontsize=9)
    meta = results.get("meta", {})
    title = (f"wasmplug vs extism {meta.get('extism', '?')}: every batch, "
             f"{meta.get('mode', '?')} run, {str(meta.get('date', '?'))[:16].replace('T', ' ')} UTC")
    if note:
        title += f"\n{note}"
    ax.set_title(title, fontsize=9)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=110)
    plt.close(fig)
    return output


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="?", type=Path, default=DEFAULT_RESULTS,
                        help=f"bench_core.py's JSON (default {DEFAULT_RESULTS.relative_to(ROOT)})")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_PLOT,
                        help=f"the PNG to write (default {DEFAULT_PLOT.relative_to(ROOT)})")
    parser.add_argument("--spread-output", type=Path, default=DEFAULT_SPREAD,
                        help=f"the spread PNG to write (default {DEFAULT_SPREAD.relative_to(ROOT)})")
    parser.add_argument("--note", default="", help="added to the title (e.g. the load average)")
    args = parser.parse_args()
    try:
        results = json.loads(args.results.read_text())
        written = [plot(results, args.output, args.note)]
        if spread_rows(results):
            written.append(plot_spread(results, args.spread_output, args.note))
        else:
            print("plot_core: no in-process row with batch samples: no spread chart", file=sys.stderr)
    except (OSError, ValueError) as exc:
        print(f"plot_core: {exc}", file=sys.stderr)
        return 1
    print("wrote " + ", ".join(str(path) for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())

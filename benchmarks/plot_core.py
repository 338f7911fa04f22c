#!/usr/bin/env python3
"""Plot a bench_core.py results file: wasmplug's time (or memory) as a ratio of the official SDK's.

    python benchmarks/bench_core.py [--quick]          # writes benchmarks/results/core.json
    python benchmarks/plot_core.py                      # writes docs/core_ratios.png
    python benchmarks/plot_core.py RESULTS.json -o OUT.png --note "load 1.2"

One horizontal bar per row (ratio = wasmplug / extism, lower is better for
wasmplug), a line at 1.0 (as fast as the SDK), each row's target marked, and
rows that raised an error left out (named in the figure). Needs matplotlib
(the `bench` extra).
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="?", type=Path, default=DEFAULT_RESULTS,
                        help=f"bench_core.py's JSON (default {DEFAULT_RESULTS.relative_to(ROOT)})")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_PLOT,
                        help=f"the PNG to write (default {DEFAULT_PLOT.relative_to(ROOT)})")
    parser.add_argument("--note", default="", help="added to the title (e.g. the load average)")
    args = parser.parse_args()
    try:
        results = json.loads(args.results.read_text())
        written = plot(results, args.output, args.note)
    except (OSError, ValueError) as exc:
        print(f"plot_core: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

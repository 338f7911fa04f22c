"""GameBox's sanitiser and descriptions: what the issue-24 bounds cost, and what they save.

    python benchmarks/bench_gamebox_sanitize.py

For each board, the median time of one uncached `sanitize` (the shape check,
nh3, the CSS read by tinycss2 and rescoped) beside its peer in the same run:
nh3 alone with the same allow-list (the floor: what any nh3-based sanitiser
pays). The hostile board (256 KiB of nested <div>) shows what the shape check
saves: nh3 alone parses it, `sanitize` refuses it unparsed. Then a game's
20,000-character Markdown description: the cached lookup a game page now does
per request beside rendering it per request (what it did before).

Results also go to benchmarks/results/gamebox_sanitize.json.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from wasmplug.gamebox import descriptions, sanitize

RESULTS = Path(__file__).parent / "results" / "gamebox_sanitize.json"


def tictactoe() -> str:
    cells = "".join(f'<button class="cell" phx-click="cell-clicked" phx-value-cell="{i}">'
                    f'{"XO "[i % 3]}</button>' for i in range(9))
    return f'<div class="ttt"><p class="status">Your turn (X)</p><div class="grid">{cells}</div></div>'


def event_log(entries: int = 300) -> str:
    rows = "".join(f"<li>{{&quot;player_id&quot;: &quot;p{i % 4}&quot;, &quot;n&quot;: {i}}}</li>"
                   for i in range(entries))
    return f'<h1>Version: {entries}</h1><button phx-click="go">Go</button><ol class="events">{rows}</ol>'


def styled(cells: int = 64) -> str:
    rules = "".join(f".c{i} {{ color: hsl({i * 5} 60% 40%); /* }} */ padding: {i % 4}px }}"
                    for i in range(30))
    grid = "".join(f'<span class="c{i % 30}" style="position: absolute; left: {i % 8 * 40}px; '
                   f'top: {i // 8 * 40}px">{i}</span>' for i in range(cells))
    return f'<style class="board">{rules} @media (max-width: 500px) {{ .c1 {{ top: 0 }} }}</style>{grid}'


def nested(size: int = 256 * 1024) -> str:
    return ("<div>" * (size // 5 + 1))[:size]


def median(run: Callable[[], object], repeat: int, budget: float = 20.0) -> float:
    times = []
    started = time.perf_counter()
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - started > budget:
            break
    return statistics.median(times)


def main() -> None:
    cleaner = sanitize._cleaner()
    rows = []
    boards = [("tic-tac-toe board", tictactoe(), 2000), ("event log, 300 entries", event_log(), 200),
              ("styled board, 30 rules + 64 positioned cells", styled(), 300),
              ("hostile: 256 KiB of nested <div>", nested(), 3)]
    for name, html, repeat in boards:
        ours = median(lambda html=html: sanitize._sanitize(html), repeat)
        floor = median(lambda html=html: cleaner.clean(html), repeat)
        rows.append({"board": name, "bytes": len(html), "ours_ms": ours * 1e3, "peer_ms": floor * 1e3,
                     "ratio": ours / floor})
    markdown = "**Bold** move. " + "Lorem ipsum *dolor* sit amet. " * 660
    assert len(markdown) > 19_000
    descriptions.html(markdown)
    cached = median(lambda: descriptions.html(markdown), 2000)
    per_request = median(lambda: descriptions.render(markdown), 50)
    rows.append({"board": "20,000-character description, per game page", "bytes": len(markdown),
                 "ours_ms": cached * 1e3, "peer_ms": per_request * 1e3, "ratio": cached / per_request})
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'what':48} {'bytes':>8} {'ours ms':>10} {'peer ms':>10} {'ratio':>8}")
    for row in rows:
        print(f"{row['board']:48} {row['bytes']:>8} {row['ours_ms']:>10.3f} {row['peer_ms']:>10.3f} "
              f"{row['ratio']:>8.3f}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"load": load, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()

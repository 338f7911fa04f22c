"""wasmplug serve under load, side by side with its peers, measured with wrk on loopback.

    python benchmarks/bench_serve.py                 # 10 s per run (the machine is shared)
    python benchmarks/bench_serve.py --duration 30   # the full run
    python benchmarks/bench_serve.py --plot docs/serve_latency.png

For each of echo (16 bytes) and count_vowels (a 100-byte sentence), 64 connections:
requests/s, p50/p99 latency and errors of (s) `wasmplug serve`, (a) a bare Starlette endpoint
returning the body (the ceiling) and (b) a Starlette endpoint calling the official `extism` SDK, each
one uvicorn process, measured in turns (short runs, alternating) so all three see the same load;
the ratios s/a and s/b, and PASS or MISS for each of the issue's targets. Each server's CPU time
per request (its process's CPU time over the requests it answered, Linux's /proc) is a figure the
machine's load disturbs far less than requests/s; so are serve's own counters, read from its
/metrics after the runs: the inline watchdog's wake-ups, inline cuts, and the event loop thread's
voluntary context switches (waits for the GIL), per 1,000 requests. Also: deploy -> first
response for a module already compiled (a new function name, so nothing is warm but the
compiled-code cache), and a quiet function's throughput alone and while a noisy one is flooded
at its cap.
Results go to benchmarks/results/serve.json; wrk is Debian's (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
AS = ROOT / "plugins" / "assemblyscript"
RESULTS = ROOT / "benchmarks" / "results"
CONNECTIONS = 64
ROUNDS = 5  # short runs of each server in turn (see `alternating`)
INPUTS = {"echo": b"0123456789abcdef",
          "count_vowels": b"The quick brown fox jumps over the lazy dog; pack my box with five dozen "
                          b"liquor jugs, said Oedipa."}
NOISY_JS = b"""function spin() {
  let x = 0;
  for (let i = 0; i < 2000000; i++) { x = (x * 31 + i) % 1000003; }
  Host.outputString(String(x));
}
module.exports = { spin };"""


def start(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a server process (its output discarded)."""
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
                            env={**os.environ, **(env or {})})


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def uvicorn_peer(app: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = start([sys.executable, "-m", "uvicorn", f"benchmarks.serve_peers:{app}", "--port", str(port),
                        "--log-level", "warning", "--no-access-log"], {"BENCH_WASM_DIR": str(AS),
                                                                      "PYTHONPATH": str(ROOT)})
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/")
    return process, url


def wrk(url: str, body: bytes, duration: int, connections: int = CONNECTIONS,
        threads: int = 2) -> dict[str, Any]:
    """One wrk run POSTing `body` to `url`: requests/s, p50/p99 in ms, errors."""
    script = post_script(body)
    try:
        out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s",
                              "--timeout", "10s", "--latency", "-s", script, url],
                             capture_output=True, text=True, timeout=duration + 60).stdout
    finally:
        os.unlink(script)
    return parse_wrk(out)


def cpu_seconds(pid: int) -> float | None:
    """The CPU time (user + system) process `pid` has used so far (None off Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def alternating(urls: dict[str, str], pids: dict[str, int], body: bytes, duration: int,
                counters: dict[str, Callable[[], dict[str, float]]]) -> dict[str, dict[str, Any]]:
    """Each of `urls` under the same load, in turns: ROUNDS short wrk runs of each, their order
    rotated every round, so a change of the machine's load falls on all of them alike. requests/s
    is over all rounds; p50 and p99 are the medians of the rounds' (and p99_max the worst);
    cpu_us_per_request is the server process's CPU time over the requests of its rounds, and
    `counters[label]()` is read before and after each of its rounds (the sums of the differences)."""
    rounds: dict[str, list[dict[str, Any]]] = {label: [] for label in urls}
    cpu: dict[str, float] = {label: 0.0 for label in urls}
    moved: dict[str, dict[str, float]] = {label: {} for label in urls}
    labels = list(urls)
    seconds = max(2, round(duration / ROUNDS))
    for turn in range(ROUNDS):
        for label in labels[turn % len(labels):] + labels[:turn % len(labels)]:
            read = counters.get(label, dict)
            before, counted = cpu_seconds(pids[label]), read()
            rounds[label].append(wrk(urls[label], body, seconds))
            after = cpu_seconds(pids[label])
            for key, value in read().items():
                moved[label][key] = moved[label].get(key, 0.0) + value - counted.get(key, 0.0)
            if before is not None and after is not None:
                cpu[label] += after - before
    return {label: {"counters": moved[label], "rps": sum(r["requests"] for r in runs) / (seconds * len(runs)),
                    "p50_ms": statistics.median(r["p50_ms"] for r in runs),
                    "p99_ms": statistics.median(r["p99_ms"] for r in runs),
                    "p99_max_ms": max(r["p99_ms"] for r in runs),
                    "errors": sum(r["errors"] for r in runs),
                    "requests": sum(r["requests"] for r in runs), "rounds": len(runs),
                    "cpu_us_per_request": cpu[label] / max(1, sum(r["requests"] for r in runs)) * 1e6}
            for label, runs in rounds.items()}


def serve_counters(url: str) -> dict[str, float]:
    """serve's own counters from its /metrics (see the module's docstring)."""
    wanted = {"wasmplug_serve_inline_watchdog_wakeups_total": "watchdog_wakeups",
              'wasmplug_serve_inline_cuts_total{reason="cpu"}': "cuts_cpu",
              'wasmplug_serve_inline_cuts_total{reason="wall"}': "cuts_wall",
              'wasmplug_serve_event_loop_switches_total{kind="voluntary"}': "loop_voluntary_switches",
              'wasmplug_serve_event_loop_switches_total{kind="involuntary"}': "loop_involuntary_switches"}
    counters = {}
    for line in httpx.get(url + "/metrics", timeout=30).text.splitlines():
        series, _, value = line.rpartition(" ")
        if series in wanted:
            counters[wanted[series]] = float(value)
    return counters


def verdicts(results: dict[str, Any]) -> list[str]:
    """The issue's targets, each with its figure and PASS or MISS."""
    def line(ok: bool, text: str) -> str:
        return f"{'PASS' if ok else 'MISS'}  {text}"

    out = []
    for name in INPUTS:
        r = results[name]
        s = r["serve"]
        out.append(f"{name}: serve {s['rps']:.0f} rps (p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms, "
                   f"{s['errors']} errors); bare {r['bare']['rps']:.0f} (p99 {r['bare']['p99_ms']:.1f} ms); "
                   f"sdk {r['sdk']['rps']:.0f}")
        out.append(f"{name}: CPU per request: serve {s['cpu_us_per_request']:.1f} us, bare "
                   f"{r['bare']['cpu_us_per_request']:.1f} us, sdk {r['sdk']['cpu_us_per_request']:.1f} us "
                   f"(serve/bare {s['cpu_us_per_request'] / max(r['bare']['cpu_us_per_request'], 1e-9):.2f})")
        out.append(line(r["serve_vs_bare"] >= 0.8, f"{name}: serve/bare {r['serve_vs_bare']:.2f} (>= 0.8)"))
        out.append(line(r["serve_vs_sdk"] >= 1.3, f"{name}: serve/sdk {r['serve_vs_sdk']:.2f} (>= 1.3)"))
        out.append(line(s["p99_ms"] < 20, f"{name}: serve p99 {s['p99_ms']:.1f} ms (< 20)"))
        out.append(line(s["errors"] == 0, f"{name}: serve errors {s['errors']} (0)"))
    per_k = results.get("serve_counters_per_1000_requests", {})
    if per_k:
        out.append("serve, per 1,000 requests: " + ", ".join(f"{k} {v:.2f}" for k, v in per_k.items()))
    deploy = results["deploy_to_first_response_ms"]
    out.append(line(deploy <= 100, f"deploy -> first response, cached module: {deploy:.1f} ms (<= 100)"))
    kept = results["noisy_neighbour"]["throughput_kept"]
    out.append(line(kept >= 0.8, f"quiet function beside a saturated noisy one keeps {kept:.0%} (>= 80%)"))
    return out


def post_script(body: bytes) -> str:
    """A wrk Lua script that POSTs `body` (its path)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(body.decode())}\n'
                     'wrk.headers["Content-Type"] = "application/octet-stream"\n')
    return script.name


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(out: str) -> dict[str, Any]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out):
        errors += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(g) for g in m.groups())
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "errors": errors, "requests": requests}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (full run: 30)")
    parser.add_argument("--plot", type=Path, default=None, help="draw the latency chart into this PNG")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench_serve.py needs wrk: apt-get install -y wrk")
    RESULTS.mkdir(exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    token = subprocess.run([sys.executable, "-m", "wasmplug", "serve", "token", "create", "bench",
                            "--data-dir", str(data)],
                           capture_output=True, text=True, check=True, cwd=ROOT).stdout.strip()
    port = free_port()
    serve = start([sys.executable, "-m", "wasmplug", "serve", "--port", str(port), "--data-dir", str(data)])
    url = f"http://127.0.0.1:{port}"
    processes: list[subprocess.Popen[bytes]] = [serve]
    results: dict[str, Any] = {"duration_s": args.duration, "connections": CONNECTIONS,
                               "load_before": os.getloadavg()}
    try:
        wait_http(url + "/healthz")
        client = httpx.Client(base_url=url, headers={"authorization": f"Bearer {token}"}, timeout=120)

        def deploy(name: str, module: bytes, **settings: Any) -> float:
            started = time.perf_counter()
            reply = client.put(f"/api/functions/{name}", files={
                "module": ("m", module),
                "settings": (None, json.dumps({"public": True, **settings}).encode())})
            reply.raise_for_status()
            first = httpx.post(f"{url}/f/{name}/{reply.json()['exports'][0]}", content=b"warm")
            first.raise_for_status()
            return (time.perf_counter() - started) * 1000

        for name in INPUTS:
            deploy(name, (AS / f"{name}.wasm").read_bytes(), max_instances=8)
        results["deploy_to_first_response_ms"] = sorted(
            deploy(f"cached-{i}", (AS / "count_vowels.wasm").read_bytes()) for i in range(5))[2]
        bare, bare_url = uvicorn_peer("bare")
        sdk, sdk_url = uvicorn_peer("sdk")
        processes += [bare, sdk]
        pids = {"serve": serve.pid, "bare": bare.pid, "sdk": sdk.pid}
        for name, body in INPUTS.items():
            bases = {"serve": url, "bare": bare_url, "sdk": sdk_url}
            for base in bases.values():
                wrk(f"{base}/f/{name}/{name}", body, 2)  # warm up
            row: dict[str, Any] = alternating({label: f"{base}/f/{name}/{name}" for label, base in
                                               bases.items()}, pids, body, args.duration,
                                              {"serve": lambda: serve_counters(url)})
            row["serve_vs_bare"] = row["serve"]["rps"] / row["bare"]["rps"]
            row["serve_vs_sdk"] = row["serve"]["rps"] / row["sdk"]["rps"]
            results[name] = row
            print(name, json.dumps(row, indent=1), flush=True)
        served = sum(results[name]["serve"]["requests"] for name in INPUTS)
        results["serve_counters_per_1000_requests"] = {
            key: sum(results[name]["serve"]["counters"].get(key, 0.0) for name in INPUTS) / served * 1000
            for key in results[next(iter(INPUTS))]["serve"]["counters"]}
        # Noisy neighbour: a CPU-bound function kept at its cap (1 instance, its queue full: 9
        # connections, so it is saturated without being hammered by rejections) beside count_vowels.
        deploy("noisy", NOISY_JS, max_instances=1, timeout_ms=30_000)
        quiet_alone = wrk(f"{url}/f/count_vowels/count_vowels", INPUTS["count_vowels"], args.duration, 32)
        flood_script = post_script(b"x")
        flood = subprocess.Popen(["wrk", "-t", "1", "-c", "9", "-d", f"{args.duration + 4}s", "--latency",
                                  "--timeout", "10s", "-s", flood_script, f"{url}/f/noisy/spin"],
                                 stdout=subprocess.PIPE, text=True)
        try:
            time.sleep(2)  # (a benchmark, not a test: let the flood reach its cap)
            quiet_noisy = wrk(f"{url}/f/count_vowels/count_vowels", INPUTS["count_vowels"], args.duration, 32)
        finally:
            flood_out = flood.communicate(timeout=args.duration + 60)[0]
            os.unlink(flood_script)
        results["noisy_neighbour"] = {"quiet_alone": quiet_alone, "quiet_with_noisy": quiet_noisy,
                                      "noisy": parse_wrk(flood_out),
                                      "throughput_kept": quiet_noisy["rps"] / quiet_alone["rps"]}
        print("noisy", json.dumps(results["noisy_neighbour"], indent=1), flush=True)
    finally:
        for process in processes:
            process.terminate()
            process.wait(30)
        shutil.rmtree(data, ignore_errors=True)
    results["load_after"] = os.getloadavg()
    (RESULTS / "serve.json").write_text(json.dumps(results, indent=1))
    print(f"load average {results['load_before']} -> {results['load_after']}")
    for line in verdicts(results):
        print(line)
    if args.plot:
        plot(results, args.plot)


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    labels = {"serve": "wasmplug serve", "bare": "bare Starlette", "sdk": "Starlette + extism SDK"}
    for ax, name in zip(axes, INPUTS, strict=True):
        xs = range(len(labels))
        p50 = [results[name][k]["p50_ms"] for k in labels]
        p99 = [results[name][k]["p99_ms"] for k in labels]
        ax.bar([x - 0.2 for x in xs], p50, 0.4, label="p50")
        ax.bar([x + 0.2 for x in xs], p99, 0.4, label="p99")
        ax.set_xticks(list(xs), [f"{v}\n{results[name][k]['rps']:.0f} rps" for k, v in labels.items()],
                      fontsize=8)
        ax.set_title(f"{name}, {results['connections']} connections")
        ax.set_ylabel("latency (ms)")
        ax.legend()
    fig.suptitle(f"wrk, {results['duration_s']} s per server in {ROUNDS} alternating runs; p50/p99: medians "
                 f"of the runs'; load average {results['load_before'][0]:.1f}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()

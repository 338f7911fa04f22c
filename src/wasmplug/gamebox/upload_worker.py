"""A bounded, killable process for the work an upload costs (checking a game, decoding artwork).

`run_in_worker` starts ``python -m wasmplug.gamebox.upload_worker``, hands it
the job on stdin and reads the answer from stdout (with the child's peak RSS,
`peak_rss_kb`). Before it starts on the job, the child caps its own CPU time
and memory with `resource.setrlimit`
(RLIMIT_CPU: the kernel kills it past its CPU seconds; RLIMIT_DATA: its
allocations fail past its memory), and the parent kills it at its wall-clock
deadline. So a module that takes a minute to compile, a game that loops or
sleeps, or an image that decodes to gigabytes costs at most its budget, and
never the server's memory, threads or event loop. At most `MAX_RUNNING`
workers run at once (the rest wait for a turn, at most `MAX_WAITING` of
them, then are told to try again). The answer is JSON and raw bytes, never
pickle: the child ran untrusted code.

The wire format both ways: a 4-byte big-endian length, a JSON header, then
the blobs whose lengths the header lists (``"blobs": [n, ...]``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import Any

from .errors import UploadRejected

MAX_RUNNING = 2
MAX_WAITING = 8
MAX_ANSWER_BYTES = 32 * 1024 * 1024
_turns = threading.BoundedSemaphore(MAX_RUNNING)
_waiting = [0]
_waiting_lock = threading.Lock()


@dataclass(frozen=True)
class WorkerBudget:
    """What one worker may use: CPU seconds (all its threads), memory (MiB), wall-clock seconds."""

    cpu_seconds: int = 10
    memory_mb: int = 768
    wall_seconds: float = 30.0


def pack(header: dict[str, Any], blobs: list[bytes]) -> bytes:
    text = json.dumps({**header, "blobs": [len(blob) for blob in blobs]}).encode()
    return len(text).to_bytes(4, "big") + text + b"".join(blobs)


def unpack(data: bytes) -> tuple[dict[str, Any], list[bytes]]:
    """The header and blobs of `data`; ValueError if it is not what `pack` makes."""
    size = int.from_bytes(data[:4], "big")
    header = json.loads(data[4:4 + size])
    if not isinstance(header, dict) or not isinstance(header.get("blobs"), list):
        raise ValueError("not a worker message")
    blobs, at = [], 4 + size
    for length in header["blobs"]:
        if not isinstance(length, int) or length < 0 or at + length > len(data):
            raise ValueError("a worker message's blob is cut short")
        blobs.append(data[at:at + length])
        at += length
    return header, blobs


def run_in_worker(job: str, params: dict[str, Any], payload: bytes,
                  budget: WorkerBudget) -> tuple[dict[str, Any], list[bytes]]:
    """Run `job` on `payload` in a bounded child process; its answer (header, blobs).

    UploadRejected if the worker ran out of its budget or too many are waiting.
    """
    with _waiting_lock:
        if _waiting[0] >= MAX_WAITING:
            raise UploadRejected(["the server is busy checking other uploads: try again in a minute"])
        _waiting[0] += 1
    try:
        with _turns:
            return _run(job, params, payload, budget)
    finally:
        with _waiting_lock:
            _waiting[0] -= 1


def _run(job: str, params: dict[str, Any], payload: bytes,
         budget: WorkerBudget) -> tuple[dict[str, Any], list[bytes]]:
    request = pack({"job": job, "params": params, "cpu_seconds": budget.cpu_seconds,
                    "memory_mb": budget.memory_mb}, [payload])
    try:
        done = subprocess.run([sys.executable, "-m", "wasmplug.gamebox.upload_worker"], input=request,
                              capture_output=True, timeout=budget.wall_seconds, check=False,
                              env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    except subprocess.TimeoutExpired:  # run() has killed it
        raise UploadRejected([f"checking it took longer than {budget.wall_seconds:g} s"]) from None
    if done.returncode != 0 or len(done.stdout) > MAX_ANSWER_BYTES:
        raise UploadRejected([_why_it_died(done.returncode, done.stderr, budget)])
    try:
        return unpack(done.stdout)
    except ValueError:
        raise UploadRejected(["checking it failed (the checker gave no answer)"]) from None


def _why_it_died(code: int, stderr: bytes, budget: WorkerBudget) -> str:
    import signal

    if code in (-signal.SIGXCPU, -signal.SIGKILL):
        return f"checking it used more than its {budget.cpu_seconds} s of CPU time"
    if b"MemoryError" in stderr or code in (-signal.SIGSEGV, -signal.SIGABRT):
        return f"checking it used more than its {budget.memory_mb} MiB of memory"
    return f"checking it failed (the checker stopped with code {code})"


def main() -> None:
    """The child: cap this process, read the job, do it, answer."""
    import resource

    request = sys.stdin.buffer.read()
    header, blobs = unpack(request)
    cpu = int(header["cpu_seconds"])
    memory = int(header["memory_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
    from . import uploads  # the jobs themselves (imported under the caps)

    answer, out = uploads.worker_job(str(header["job"]), header["params"], blobs[0])
    sys.stdout.buffer.write(pack({**answer, "peak_rss_kb": _peak_rss_kb()}, out))
    sys.stdout.buffer.flush()


def _peak_rss_kb() -> int:
    """This process's peak RSS since it started (VmHWM: ru_maxrss would count the parent's too)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


if __name__ == "__main__":
    main()

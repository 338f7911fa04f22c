"""A bounded, killable process for the work an upload costs (checking a game, decoding artwork).

`run_in_worker` forks a child from a `multiprocessing` fork server that has
already imported GameBox's checks (so a check does not pay Python's and
wasmplug's start-up), hands it the job and reads its answer from a pipe (with
the child's peak RSS, `peak_rss_kb`). Before it starts on the job, the child
caps its own CPU time and memory with `resource.setrlimit` (RLIMIT_CPU: the
kernel kills it past its CPU seconds; RLIMIT_DATA: its allocations fail past
its memory), and the parent kills it at its wall-clock deadline. So a module
that takes a minute to compile, a game that loops or sleeps, or an image that
decodes to gigabytes costs at most its budget, and never the server's memory,
threads or event loop. At most `MAX_RUNNING` workers run at once (the rest
wait for a turn, at most `MAX_WAITING` of them, then are told to try again).
The answer comes back as bytes (a length-prefixed JSON header and blobs),
never pickle: the child ran untrusted code.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
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


Job = Callable[[dict[str, Any], bytes], tuple[dict[str, Any], list[bytes]]]


def run_in_worker(job: Job, params: dict[str, Any], payload: bytes,
                  budget: WorkerBudget) -> tuple[dict[str, Any], list[bytes]]:
    """Run `job(params, payload)` in a bounded child process; its answer (header, blobs).

    `job` is a module-level function (the child finds it by its name).
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


_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(["wasmplug.gamebox.uploads"])  # the jobs and all they import


def _run(job: Job, params: dict[str, Any], payload: bytes,
         budget: WorkerBudget) -> tuple[dict[str, Any], list[bytes]]:
    reader, writer = _context.Pipe(duplex=False)
    child = _context.Process(target=_child, name="gamebox-upload-check", daemon=True,
                             args=(job, params, payload, budget.cpu_seconds, budget.memory_mb, writer))
    child.start()
    writer.close()
    try:
        if not reader.poll(budget.wall_seconds):
            child.kill()
            raise UploadRejected([f"checking it took longer than {budget.wall_seconds:g} s"])
        try:
            answer = reader.recv_bytes(MAX_ANSWER_BYTES)
        except (EOFError, OSError):  # it died (a limit), or answered too much
            answer = b""
    finally:
        reader.close()
        child.join(5)
        if child.exitcode is None:
            child.kill()
            child.join()
    if child.exitcode != 0 or not answer:
        raise UploadRejected([_why_it_died(child.exitcode or 0, budget)])
    try:
        return unpack(answer)
    except ValueError:
        raise UploadRejected(["checking it failed (the checker gave no answer)"]) from None


def _why_it_died(code: int, budget: WorkerBudget) -> str:
    import signal

    if code in (-signal.SIGXCPU, -signal.SIGKILL):
        return f"checking it used more than its {budget.cpu_seconds} s of CPU time"
    if code in (-signal.SIGSEGV, -signal.SIGABRT, 1):  # 1: a MemoryError (or another exception)
        return f"checking it used more than its {budget.memory_mb} MiB of memory"
    return f"checking it failed (the checker stopped with code {code})"


def _child(job: Job, params: dict[str, Any], payload: bytes, cpu: int, memory_mb: int,
           answer: Connection) -> None:
    """The worker: cap this process, do the job, answer."""
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
    header, blobs = job(params, payload)
    answer.send_bytes(pack({**header, "peak_rss_kb": _peak_rss_kb()}, blobs))
    answer.close()


def _peak_rss_kb() -> int:
    """This process's peak RSS (VmHWM)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0

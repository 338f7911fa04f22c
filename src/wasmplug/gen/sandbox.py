"""Running generated code: the JavaScript sandbox with the utility maker's limits.

Every run gets a fresh sandbox (no state survives between runs), a timeout
(default 2 s), a memory cap (default 32 MiB), optional fuel, and no network
unless hosts are allowed; no files and no environment, ever.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import GenError


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 2.0
    memory_bytes: int = 32 * 1024 * 1024
    fuel: int | None = None
    allowed_hosts: tuple[str, ...] = ()
    max_output_bytes: int = 8 * 1024 * 1024


class FunctionSandbox:
    """Compiles and runs generated functions under `limits`."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()

    def check(self, code: str) -> None:
        raise GenError("the JavaScript runtime is not wired in yet")

    def run(self, code: str, input: str) -> str:
        raise GenError("the JavaScript runtime is not wired in yet")

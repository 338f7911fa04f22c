"""The tree stays clean: ruff over everything, mypy --strict over the package.

Both run as a user runs them (`ruff check`, `mypy`, configured in
pyproject.toml), so a new module that breaks the conventions fails CI.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import ROOT


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True,
                          text=True, timeout=280, check=False)


@pytest.mark.timeout(300)
def test_ruff_finds_nothing() -> None:
    done = _run("ruff", "check", "src", "tests", "benchmarks")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.timeout(300)
def test_mypy_strict_finds_nothing_in_the_package() -> None:
    done = _run("mypy", "src")
    assert done.returncode == 0, done.stdout + done.stderr

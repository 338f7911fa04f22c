"""Versions read without importing importlib.metadata on the way to a first call."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import wasmtime

import wasmplug
from wasmplug import _versions
from wasmplug._engine import WASMTIME_VERSION


def test_the_wasmtime_version_is_the_installed_one() -> None:
    assert version("wasmtime") == WASMTIME_VERSION
    assert _versions.installed("wasmtime", Path(wasmtime.__file__).parent) == version("wasmtime")


def test_without_a_dist_info_folder_importlib_metadata_answers(tmp_path: Path) -> None:
    package = tmp_path / "wasmtime"
    package.mkdir()
    assert _versions.installed("wasmtime", package) == version("wasmtime")


def test_wasmplug_knows_its_version_when_asked() -> None:
    assert wasmplug.__version__ == version("wasmplug")
    assert wasmplug.extism_version() == f"wasmplug {version('wasmplug')} (wasmtime {WASMTIME_VERSION})"


def test_importing_wasmplug_does_not_import_importlib_metadata() -> None:
    code = "import sys, wasmplug.gen; print('importlib.metadata' in sys.modules, 'httpx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         timeout=60)
    assert out.stdout.split() == ["False", "False"]

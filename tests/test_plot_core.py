"""benchmarks/plot_core.py: a bench_core.py results file becomes the ratio chart of the docs."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from .conftest import ROOT

SCRIPT = ROOT / "benchmarks" / "plot_core.py"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("plot_core", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _results() -> dict[str, Any]:
    """Rows shaped as bench_core.py writes them: one fine, one missing its target, one failed."""
    row = {"unit": "seconds", "extism_median": 2e-5, "wasmplug_median": 1e-5, "result": "PASS",
           "samples": {"extism": [2e-5, 3e-5, 2.5e-5], "wasmplug": [1e-5, 1.2e-5, 0.9e-5]},
           "extra": {}, "error": None}
    return {"meta": {"mode": "quick", "date": "2026-12-07T15:00:00+0000", "cpus": 2,
                     "extism": "1.1.1", "extism_runtime": "1.41.0", "wasmplug": "0.1.0"},
            "rows": [{**row, "label": "1", "key": "echo_16b", "title": "echo 16 B (overhead)",
                      "ratio": 0.5, "target": 0.5},
                     {**row, "label": "3b", "key": "count_vowels_1mb", "title": "count_vowels 1 MB",
                      "ratio": 1.07, "target": 1.0,
                      "samples": {"extism": [8e-3, 9e-3], "wasmplug": [8.5e-3, 9.5e-3]}},
                     {**row, "label": "6", "key": "load", "title": "load: new process",
                      "ratio": None, "target": 0.5, "error": "Traceback ..."}]}


def test_rows_without_a_ratio_are_named_not_plotted() -> None:
    plotted, missing = _module().load_rows(_results())
    assert [row["key"] for row in plotted] == ["echo_16b", "count_vowels_1mb"]
    assert missing == ["6"]


def test_the_spread_chart_takes_the_in_process_rows_timed_in_microseconds() -> None:
    assert [row["key"] for row in _module().spread_rows(_results())] == ["echo_16b"]


def test_a_file_that_is_not_bench_core_output_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "other.json"
    bad.write_text(json.dumps({"results": []}))
    done = subprocess.run([sys.executable, str(SCRIPT), str(bad), "-o", str(tmp_path / "x.png")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "not a bench_core.py results file" in done.stderr
    assert not (tmp_path / "x.png").exists()


def test_the_chart_is_written(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib is in the bench extra, not installed here")
    results = tmp_path / "core.json"
    results.write_text(json.dumps(_results()))
    output, spread = tmp_path / "docs" / "core_ratios.png", tmp_path / "docs" / "core_spread.png"
    done = subprocess.run([sys.executable, str(SCRIPT), str(results), "-o", str(output),
                           "--spread-output", str(spread), "--note", "load 1.0"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert output.read_bytes()[:8] == spread.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_in_process_rows_only_the_ratio_chart_is_written(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib is in the bench extra, not installed here")
    data = _results()
    for row in data["rows"]:
        row["samples"] = {}
    results = tmp_path / "core.json"
    results.write_text(json.dumps(data))
    output, spread = tmp_path / "ratios.png", tmp_path / "spread.png"
    done = subprocess.run([sys.executable, str(SCRIPT), str(results), "-o", str(output),
                           "--spread-output", str(spread)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert output.is_file() and not spread.exists() and "no spread chart" in done.stderr

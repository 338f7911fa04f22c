"""benchmarks/soak.py can fail: a leak it is meant to catch makes it exit 1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT


@pytest.mark.timeout(240)
def test_soak_misses_an_injected_leak_and_exits_non_zero(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "soak.py"), "--calls", "60000", "--plugins",
         "40", "--warmup-calls", "2000", "--warmup-plugins", "20", "--inject-leak", "500",
         "--fault-rounds", "30", "--warmup-fault-rounds", "2", "--keep-instance-after-trap",
         "--output", str(out)], capture_output=True, text=True, timeout=220)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(out.read_text())
    calls = result["phases"][0]
    assert result["passed"] is False and calls["passed"] is False
    assert any(miss.startswith("RSS grew") for miss in calls["misses"]), calls["misses"]
    assert any(miss.startswith("RSS climbs") for miss in calls["misses"]), calls["misses"]
    assert calls["detectable_leak_bytes_per_op"] == 10.0
    assert sum(calls["outcomes"].values()) == 60_000
    # The workload's failure modes and heavy paths all ran (per 1000 calls: 1, 1, 5, 5, 10, 1).
    expected = {"timeout_2ms": 60, "cancelled": 60, "http_get": 300, "wasi_read": 300,
                "host_fn_raises": 600, "echo_1m": 60}
    assert {kind: calls["outcomes"][kind] for kind in expected} == expected
    # Phase 3 ran every fault, and caught the one left in: with the reference
    # behaviour (keep the instance after a trap) the AssemblyScript plug-in
    # breaks after 511 refused requests, and the soak says so.
    faults = result["phases"][2]
    assert faults["passed"] is False
    assert faults["outcomes"]["give_ups"] == 30 and faults["outcomes"]["pool_uses"] == 30 * 200
    assert faults["outcomes"].get("unanswered_calls", 0) == 0
    assert faults["outcomes"].get("pool_timeouts", 0) == 0
    unclean = faults["outcomes"]["unclean_refusals"]
    assert faults["outcomes"]["refused"] + unclean == 30 * 20 and unclean > 0
    assert any(miss.endswith("unclean refusals") for miss in faults["misses"]), faults["misses"]

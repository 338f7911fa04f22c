"""Every Python example in the README runs, in order, from the repository root."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

import pytest

from .conftest import ROOT

BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 6


def test_only_the_ray_example_needs_ray() -> None:
    needing_ray = [b for b in BLOCKS if re.search(r"^\s*(import ray|from ray)", b, re.M)
                   or "wasmplug.distributed" in b]
    assert len(needing_ray) == 1 and re.search(r"^import ray$", needing_ray[0], re.M)


def test_readme_examples_run(monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {}
    for index, block in enumerate(BLOCKS):
        if re.search(r"^import ray$", block, re.M):
            continue  # test_readme_ray_example_runs
        try:
            exec(compile(block, f"README.md python block {index + 1}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"README python block {index + 1} failed: {exc!r}\n{block}") from exc
    out = capsys.readouterr().out
    assert '"count":3' in out and "wasmplug" in out  # the printed results of the examples
    assert os.getcwd() == str(ROOT)


@pytest.mark.timeout(200)
def test_readme_ray_example_runs() -> None:
    # The Ray example needs the optional extra (pip install "wasmplug[ray]"), and runs
    # in a process of its own: Ray's faulthandler would break later traps in this one.
    if importlib.util.find_spec("ray") is None:
        pytest.skip("the README's Ray example needs the ray extra: pip install -e '.[test,ray]' "
                    "(scripts/test.sh installs it)")
    [block] = [b for b in BLOCKS if re.search(r"^import ray$", b, re.M)]
    ray_example = subprocess.run([sys.executable, "-c", block], cwd=ROOT,
                                 capture_output=True, text=True, timeout=100)
    assert ray_example.returncode == 0, ray_example.stderr


def test_readme_and_its_test_use_no_fixed_ports() -> None:
    """A reader with something on port 8000 (say) must still get a green test suite."""
    readme = (ROOT / "README.md").read_text()
    fixed = re.compile(r"(127\.0\.0\.1|localhost)(:|\", )[1-9]\d*|http\.server [1-9]")
    for index, block in enumerate(BLOCKS):
        assert not fixed.search(block), f"README python block {index + 1} uses a fixed port"
    assert not fixed.search(readme)
    this_file = (ROOT / "tests" / "test_readme.py").read_text()
    assert not fixed.search(this_file.split("def test_readme_and")[0])


RAY_THEN_TRAP = """
import sys
import ray
import wasmplug

def trap():
    try:
        wasmplug.Plugin("plugins/wat/trap.wasm").call("trap", "")
    except wasmplug.Error:
        print("trapped", flush=True)

if sys.argv[1] == "ray-first":
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
trap()
if sys.argv[1] == "wasm-first":
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    trap()
ray.shutdown()
"""


@pytest.mark.timeout(200)
def test_ray_before_plugins_keeps_traps_working_as_the_readme_says() -> None:
    pytest.importorskip("ray", reason="the ray extra is not installed: pip install -e '.[test,ray]' "
                        "(scripts/test.sh installs it)")
    run = [sys.executable, "-c", RAY_THEN_TRAP]
    first = subprocess.run([*run, "ray-first"], cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert first.returncode == 0 and first.stdout == "trapped\n", first.stderr
    late = subprocess.run([*run, "wasm-first"], cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert late.returncode != 0 and late.stdout == "trapped\n"  # the second trap kills it

"""Every Python example in the README and in the documentation pages (docs/*.md) runs,
page by page, in order, from the repository root.

A page's ```python blocks share one namespace (a later block may use what an
earlier one defined), as a reader following the page would. The one block that
needs Ray runs in a process of its own, and shows as a skip where Ray is not installed.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

PAGES: list[Path] = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), re.S)


BLOCKS: dict[str, list[str]] = {page.relative_to(ROOT).as_posix(): python_blocks(page) for page in PAGES}
ALL_BLOCKS = [block for blocks in BLOCKS.values() for block in blocks]
PAGES_WITH_EXAMPLES = [name for name, blocks in BLOCKS.items() if blocks]

# What a page's examples print, proof that they ran to the end and did what they say.
PRINTED = {
    "README.md": ['"count":3', "timeout: the call ran longer than timeout_ms (50 ms)"],
    "docs/index.md": ['"count":3'],
    "docs/python-api.md": ['"count":3'],
    "docs/http-and-wasi.md": ["wasmplug", "to my stdout callback"],  # README.md, as fetched
    "docs/concurrency.md": ['"count":2'],
    "docs/extensions.md": ["loaded wasm-optimizer"],
    "docs/gamebox.md": ["connect_four", "('noughts', 1)"],
    "docs/js.md": ["b'4'", "at line 2"],
    "docs/gen.md": ["3", "require is not defined"],
}
# The examples that were in the README before the user guide moved to docs/ (17) must
# all still be somewhere; the README keeps a tour of its own.
EXAMPLES_BEFORE_THE_MOVE = 17


def _needs_ray(block: str) -> bool:
    return bool(re.search(r"^\s*(import ray|from ray)", block, re.M)) or "wasmplug.distributed" in block


def test_readme_and_docs_have_examples() -> None:
    assert BLOCKS["README.md"], "the README's tour has no Python example"
    assert len(ALL_BLOCKS) >= EXAMPLES_BEFORE_THE_MOVE + 1
    assert set(PRINTED) <= set(PAGES_WITH_EXAMPLES)


def test_only_the_ray_example_needs_ray() -> None:
    needing_ray = [block for block in ALL_BLOCKS if _needs_ray(block)]
    assert len(needing_ray) == 1 and re.search(r"^import ray$", needing_ray[0], re.M)


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES)
def test_examples_run(page: str, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {}
    for index, block in enumerate(BLOCKS[page]):
        if re.search(r"^import ray$", block, re.M):
            continue  # test_the_ray_example_runs, in a process of its own
        try:
            exec(compile(block, f"{page} python block {index + 1}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{page} python block {index + 1} failed: {exc!r}\n{block}") from exc
    out = capsys.readouterr().out
    for expected in PRINTED.get(page, []):
        assert expected in out, f"{page}: the examples did not print {expected!r}:\n{out}"
    assert os.getcwd() == str(ROOT)


@pytest.mark.timeout(200)
def test_the_ray_example_runs() -> None:
    """It needs the optional extra (pip install "wasmplug[ray]"), and runs in a process of
    its own: Ray's faulthandler would break later traps in this one."""
    if importlib.util.find_spec("ray") is None:
        pytest.skip("the Ray example (docs/concurrency.md) needs the ray extra: "
                    "pip install -e '.[test,ray]' (scripts/test.sh installs it)")
    (block,) = [block for block in ALL_BLOCKS if re.search(r"^import ray$", block, re.M)]
    ray_example = subprocess.run([sys.executable, "-c", block], cwd=ROOT,
                                 capture_output=True, text=True, timeout=100)
    assert ray_example.returncode == 0, ray_example.stderr


def test_readme_docs_and_this_test_use_no_fixed_ports() -> None:
    """A reader with something on port 8000 (say) must still get a green test suite."""
    fixed = re.compile(r"(127\.0\.0\.1|localhost)(:|\", )[1-9]\d*|http\.server [1-9]")
    for page in PAGES:
        text = page.read_text()
        assert not fixed.search(text), f"{page.relative_to(ROOT)} uses a fixed port"
    this_file = (ROOT / "tests" / "test_readme.py").read_text()
    assert not fixed.search(this_file.split("def test_readme_docs_and")[0])


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
def test_ray_before_plugins_keeps_traps_working_as_the_docs_say() -> None:
    pytest.importorskip("ray", reason="the ray extra is not installed: pip install -e '.[test,ray]' "
                        "(scripts/test.sh installs it)")
    run = [sys.executable, "-c", RAY_THEN_TRAP]
    first = subprocess.run([*run, "ray-first"], cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert first.returncode == 0 and first.stdout == "trapped\n", first.stderr
    late = subprocess.run([*run, "wasm-first"], cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert late.returncode != 0 and late.stdout == "trapped\n"  # the second trap kills it

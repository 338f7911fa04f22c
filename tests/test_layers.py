"""The layering rule: cli -> applications -> the core's public API -> the core's private modules.

The contracts live in pyproject.toml ([tool.importlinter]); these tests run them, show that they
catch an upward import, keep the list of private modules complete, and find no import circle
(module-level, `TYPE_CHECKING` and function-level imports all count).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"

grimp = pytest.importorskip("grimp", reason="import-linter (the test extra) is not installed")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter's contracts on the `wasmplug` package found under `root / "src"`."""
    return subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
         "sys.exit(lint_imports_command())", "--config", str(root / "pyproject.toml"),
         "--no-cache"],
        cwd=root, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(root / "src"), "PATH": "/usr/bin:/bin"})


def test_the_layering_contracts_hold() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(("module", "line"), [
    # an application reaching into a private core module
    ("gen/maker.py", "from wasmplug._plugin import Plugin as _Plugin  # noqa"),
    # the core reaching up into an application
    ("_plugin.py", "from wasmplug import gamebox as _gamebox  # noqa"),
    # one application importing another it may not use
    ("js/recipe.py", "from wasmplug import gen as _gen  # noqa"),
])
def test_an_upward_import_breaks_a_contract(tmp_path: Path, module: str, line: str) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(SRC / "wasmplug", tmp_path / "src" / "wasmplug",
                    ignore=shutil.ignore_patterns("__pycache__", "*.wasm", "games", "runtime"))
    target = tmp_path / "src" / "wasmplug" / module
    target.write_text(target.read_text() + f"\n{line}\n")
    done = lint_imports(tmp_path)
    assert done.returncode != 0, done.stdout
    assert "BROKEN" in done.stdout


def test_every_private_core_module_is_in_the_contracts() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contracts = {c["id"]: c for c in config["contracts"]}
    packages = {p.name for p in (SRC / "wasmplug").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    private = {f"wasmplug.{p.stem}" for p in (SRC / "wasmplug").glob("_*.py")
               if p.stem not in ("__init__", "__main__")} | {
                   f"wasmplug.{name}" for name in packages if name.startswith("_")}  # _wasmtime
    assert private == set(contracts["public-api"]["forbidden_modules"])
    assert private <= set(contracts["core-below"]["source_modules"])
    applications = {f"wasmplug.{name}" for name in packages
                    if not name.startswith("_")} | {"wasmplug.distributed"}
    assert applications == set(contracts["public-api"]["source_modules"])
    assert applications - {"wasmplug.cli"} == set(contracts["core-below"]["forbidden_modules"]) - {
        "wasmplug.cli"}


def _circles(graph: object) -> list[list[str]]:
    """The strongly connected components (more than one module) of the import graph."""
    modules = sorted(graph.modules)  # type: ignore[attr-defined]
    edges = {m: graph.find_modules_directly_imported_by(m) for m in modules}  # type: ignore[attr-defined]
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:  # Tarjan's algorithm, iteratively
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for module in modules:
        if module not in index:
            visit(module)
    return found


def test_there_is_no_import_circle() -> None:
    graph = grimp.build_graph("wasmplug", cache_dir=None)
    assert _circles(graph) == []


def test_the_circle_finder_finds_a_circle(tmp_path: Path) -> None:
    package = tmp_path / "circular"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from . import b\n")
    (package / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                  "    from . import a\n")
    (package / "c.py").write_text("from . import a\n")
    sys.path.insert(0, str(tmp_path))
    try:
        graph = grimp.build_graph("circular", cache_dir=None)
    finally:
        sys.path.remove(str(tmp_path))
    assert _circles(graph) == [["circular.a", "circular.b"]]

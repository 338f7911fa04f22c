"""The documentation site builds with `mkdocs build --strict`: no broken link or anchor,
no page left out of the nav, an API reference rendered from the docstrings.

Needs the `docs` extra (in the `test` extra too): mkdocs, mkdocs-material,
mkdocstrings[python].
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

DOCS_PACKAGES = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(name.split(".")[0]) is None for name in DOCS_PACKAGES),
    reason="the docs extra is not installed (pip install -e '.[docs]'): mkdocs, mkdocs-material, "
           "mkdocstrings[python]")


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config),
                           "-d", str(site)], cwd=config.parent, capture_output=True, text=True,
                          timeout=280, env=env)


@pytest.mark.timeout(300)
def test_the_site_builds_strictly(tmp_path: Path) -> None:
    done = build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stdout + done.stderr
    site = tmp_path / "site"
    for page in ("abi", "architecture", "js", "extensions", "gamebox", "gen", "cli", "benchmarks"):
        assert (site / page / "index.html").is_file(), page
    # The API reference is rendered from the docstrings, through the package's public names.
    reference = (site / "reference" / "wasmplug" / "index.html").read_text()
    assert "CompiledPlugin" in reference and "Free the plug-in now" in reference
    assert "ExtensionHost" in (site / "reference" / "extensions" / "index.html").read_text()
    # The benchmark plots are part of the site.
    benchmarks = (site / "benchmarks" / "index.html").read_text()
    for plot in ("core_ratios.png", "core_spread.png", "extensions_latency.png"):
        assert f'src="../{plot}"' in benchmarks and (site / plot).is_file(), plot


@pytest.mark.timeout(300)
def test_a_new_application_page_joins_the_nav_without_editing_mkdocs_yml(tmp_path: Path) -> None:
    """Pages not in mkdocs.yml's nav would fail the strict build; the hook adds them."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "mkdocs.yml", project / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", project / "docs")
    (project / "src").symlink_to(ROOT / "src")
    (project / "docs" / "sql.md").write_text("# Plug-ins as SQL functions\n\nSoon.\n")
    done = build(project / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stdout + done.stderr
    index = (tmp_path / "site" / "index.html").read_text()
    assert 'href="sql/"' in index and "Plug-ins as SQL functions" in index

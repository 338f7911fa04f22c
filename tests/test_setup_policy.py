"""The test command (scripts/test.sh, the README's and CI's) and what a test that cannot run does:
a skip with its reason, and a failure under scripts/test.sh.

Each test runs pytest in a subprocess on a small test folder (or on a slice of
this suite) with and without WASMPLUG_TEST_REQUIRE_ALL=1 (tests/setup_policy.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import ROOT

CONFTEST = """
from tests.setup_policy import (  # noqa: F401
    pytest_collection_modifyitems, pytest_deselected, pytest_make_collect_report,
    pytest_runtest_makereport)
"""


def run_pytest(folder: Path, *args: str, require_all: bool = False,
               postgres_url: str | None = None) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("WASMPLUG_TEST_REQUIRE_ALL", "GAMEBOX_TEST_POSTGRES_URL", "PYTEST_ADDOPTS")}
    env["PYTHONPATH"] = str(ROOT)
    env["COLUMNS"] = "300"  # the summary lines in full
    if require_all:
        env["WASMPLUG_TEST_REQUIRE_ALL"] = "1"
    if postgres_url is not None:
        env["GAMEBOX_TEST_POSTGRES_URL"] = postgres_url
    done = subprocess.run([sys.executable, "-m", "pytest", "-ra", "-p", "no:cacheprovider", *args],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=100)
    return done.returncode, done.stdout + done.stderr


def folder_with(tmp_path: Path, **files: str) -> Path:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    for name, text in files.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(text))
    return tmp_path


SKIPS = """
    import pytest

    def test_runs():
        assert 1 + 1 == 2

    def test_needs_a_widget():
        pytest.skip("no widget here: apt-get install widget")

    @pytest.mark.skipif(True, reason="no gadget configured")
    def test_needs_a_gadget():
        pass

    @pytest.mark.xfail(reason="a known bug", strict=True)
    def test_known_bug():
        assert False
"""


def test_a_test_that_cannot_run_shows_as_a_skip_with_its_reason(tmp_path: Path) -> None:
    code, out = run_pytest(folder_with(tmp_path, test_skips=SKIPS))
    assert code == 0, out
    assert "SKIPPED [1] test_skips.py:8: no widget here: apt-get install widget" in out
    assert "SKIPPED [1] test_skips.py:10: no gadget configured" in out
    assert "1 passed, 2 skipped, 1 xfailed" in out


def test_under_require_all_a_skip_is_a_failure_that_gives_the_reason(tmp_path: Path) -> None:
    code, out = run_pytest(folder_with(tmp_path, test_skips=SKIPS), require_all=True)
    assert code == 1, out
    assert ("FAILED test_skips.py::test_needs_a_widget - skipped: no widget here: apt-get install "
            "widget; but WASMPLUG_TEST_REQUIRE_ALL=1") in out
    # (a skip mark acts at set-up: an error there)
    assert "ERROR test_skips.py::test_needs_a_gadget - skipped: no gadget configured; but" in out
    assert "1 failed, 1 passed, 1 xfailed, 1 error" in out  # an expected failure stays one


MODULE_SKIP = """
    import pytest

    pytest.importorskip("no_such_module_anywhere", reason="the frobnicate extra is not installed")

    def test_frobnicates():
        pass
"""


def test_a_module_skipped_for_a_missing_extra_shows_and_fails_under_require_all(
        tmp_path: Path) -> None:
    folder = folder_with(tmp_path, test_module=MODULE_SKIP, test_other="def test_ok():\n    pass\n")
    code, out = run_pytest(folder)
    assert code == 0 and "the frobnicate extra is not installed" in out, out
    assert "1 passed, 1 skipped" in out
    code, out = run_pytest(folder, require_all=True)
    assert code != 0 and "ERROR collecting test_module.py" in out, out
    assert "skipped: the frobnicate extra is not installed; but WASMPLUG_TEST_REQUIRE_ALL=1" in out


VANISHING = """
    import os
    import pytest

    KINDS = ["sqlite"] + (["postgresql"] if os.environ.get("GAMEBOX_TEST_POSTGRES_URL") else [])

    @pytest.mark.parametrize("kind", KINDS)
    def test_catalogue(kind):
        assert kind
"""

KEPT = """
    import os
    import pytest

    KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
        not os.environ.get("GAMEBOX_TEST_POSTGRES_URL"), reason="no PostgreSQL server"))]

    @pytest.mark.parametrize("kind", KINDS)
    @pytest.mark.parametrize("size", [1, 2])
    def test_catalogue(kind, size):
        assert kind and size
"""


def test_a_postgresql_variant_that_vanishes_is_an_error(tmp_path: Path) -> None:
    code, out = run_pytest(folder_with(tmp_path, test_vanishing=VANISHING))
    assert code == pytest.ExitCode.USAGE_ERROR, out
    assert "1 PostgreSQL variant(s) of tests that run on SQLite were not collected" in out
    assert "test_vanishing.py::test_catalogue[postgresql]" in out
    # with a server configured, the variant is there
    code, out = run_pytest(tmp_path, postgres_url="postgresql://unused", require_all=True)
    assert code == 0 and "2 passed" in out, out


def test_a_postgresql_variant_that_cannot_run_is_a_skip(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, test_kept=KEPT)
    code, out = run_pytest(folder)
    assert code == 0 and "2 passed, 2 skipped" in out and "no PostgreSQL server" in out, out
    code, out = run_pytest(folder, "-k", "not postgresql")  # deselected: not vanished
    assert code == 0 and "2 passed, 2 deselected" in out, out
    code, out = run_pytest(folder, require_all=True)
    assert code == 1 and "2 passed, 2 errors" in out, out


@pytest.mark.timeout(200)
def test_the_catalogue_tests_have_their_postgresql_variants_without_a_server(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # (the JavaScript runtime is not needed to collect, or to skip)
    monkeypatch.setenv("WASMPLUG_JS_RUNTIME", os.environ.get("WASMPLUG_JS_RUNTIME", "unused.wasm"))
    code, out = run_pytest(ROOT, "tests/gamebox", "--collect-only", "-q")
    assert code == 0, out
    sqlite = [line for line in out.splitlines() if "[sqlite" in line]
    postgresql = {line for line in out.splitlines() if "[postgresql" in line}
    assert len(sqlite) >= 40 and {line.replace("[sqlite", "[postgresql") for line in sqlite} == postgresql
    code, out = run_pytest(ROOT, "tests/gamebox/test_cli_uploads.py", "-k", "postgresql")
    assert code == 0 and "no PostgreSQL server: set GAMEBOX_TEST_POSTGRES_URL" in out, out
    assert " passed" not in out and " skipped" in out


def test_the_readme_shows_the_test_command_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert "```sh\nbash scripts/test.sh\n```" in readme
    assert ci[-1] == "bash scripts/test.sh"  # exactly the README's command
    script = (ROOT / "scripts" / "test.sh").read_text()
    assert "export WASMPLUG_TEST_REQUIRE_ALL=1" in script and '-m pytest "$@"' in script

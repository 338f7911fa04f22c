from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .setup_policy import pytest_collection_modifyitems as _policy_collection_modifyitems

# A test that cannot run here is a skip with its reason, or a failure under scripts/test.sh.
from .setup_policy import (  # noqa: F401  (pytest's hooks, found here by name)
    pytest_deselected,
    pytest_make_collect_report,
    pytest_runtest_makereport,
)

ROOT = Path(__file__).resolve().parent.parent
# Tests that start Ray in pytest's own process (marked `ray_in_process`) run last: ray.init puts
# fatal-signal handlers in front of wasmtime's, so a Wasm trap in any later test would kill the
# run with SIGILL (docs/concurrency.md, "Ray": call ray.init before the first plug-in).


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    _policy_collection_modifyitems(session, config, items)
    items.sort(key=lambda item: item.get_closest_marker("ray_in_process") is not None)  # stable


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test that started Ray here without the mark would make a later trap kill the run: say so."""
    ray = sys.modules.get("ray")
    if (ray is not None and item.get_closest_marker("ray_in_process") is None
            and getattr(ray, "is_initialized", lambda: False)()):
        pytest.fail("Ray was started in pytest's process by an earlier test without "
                    "`pytest.mark.ray_in_process`: mark that module (tests/conftest.py runs it last)")
AS = ROOT / "plugins" / "assemblyscript"
WAT = ROOT / "plugins" / "wat"


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the JavaScript runtime once per run, before the tests that need it start.

    The build (~1 minute) runs here, outside every test's timeout; each of its
    steps is bounded by `build_runtime.STEP_TIMEOUT`. Set WASMPLUG_JS_RUNTIME
    to an already built runtime.wasm to skip it.
    """
    if os.environ.get("WASMPLUG_JS_RUNTIME"):
        return
    # tests/js, tests/gen, and the JavaScript games and extensions (test_js_*, `gamebox play game.js`)
    uses_js = ("tests/js/", "tests/gen/", "test_readme", "/test_js_", "gamebox/test_cli")
    if not any(part in item.nodeid for item in session.items for part in uses_js):
        return
    from wasmplug.js import build_runtime

    folder = tempfile.mkdtemp(prefix="wasmplug-js-runtime-")
    atexit.register(shutil.rmtree, folder, True)
    target = Path(folder) / "runtime.wasm"
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"building the JavaScript runtime into {target} (about a minute)")
    build_runtime.build(target)
    os.environ["WASMPLUG_JS_RUNTIME"] = str(target)


def runaway(seconds: float = 30) -> pytest.MarkDecorator:
    """The bound of a test that runs guest code able to loop forever (a broken
    timeout, fuel or cancel would hang it). pytest-timeout's default (SIGALRM)
    cannot stop a thread stuck in a Wasm call: the handler waits for the
    interpreter. The thread method ends the run with a stack dump instead."""
    return pytest.mark.timeout(seconds, method="thread")


def wasm(name: str) -> Path:
    """Path of a committed test plug-in: `count_vowels` (AssemblyScript) or `wat/trap`."""
    if name.startswith("wat/"):
        return WAT / f"{name[4:]}.wasm"
    return AS / f"{name}.wasm"


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the compiled-module cache of the test run out of the user's home."""
    mp = pytest.MonkeyPatch()
    mp.setenv("WASMPLUG_CACHE_DIR", str(tmp_path_factory.mktemp("wasmplug-cache")))
    yield
    mp.undo()


@pytest.fixture(params=["raw", "public"])
def call_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test once through the raw hot path and once through the public API."""
    monkeypatch.setenv("WASMPLUG_CALL_PATH", request.param)
    return str(request.param)


@pytest.fixture
def wasi_dirs(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(read-write dir, read-only dir, a dir outside both) for WASI mappings;
    the read-write one holds symlinks that point outside the mapping."""
    rw, ro, outside = tmp_path / "rw", tmp_path / "ro", tmp_path / "outside"
    for d in (rw, ro, outside):
        d.mkdir()
    (ro / "hello.txt").write_text("hello world!")
    (outside / "secret.txt").write_text("top secret")
    (rw / "escape").symlink_to(outside)
    (rw / "secret_link.txt").symlink_to(outside / "secret.txt")
    (rw / "relative_link.txt").symlink_to("../outside/secret.txt")
    (rw / "absolute_link").symlink_to("/etc/passwd")
    return rw, ro, outside


def standalone_imports(store: Any) -> list[Any]:
    """Imports for a kernel instantiated without a plug-in (kernel.wat's config_get,
    var_get and var_set, in its import order): they trap, saying so."""
    from wasmplug import _wasmtime as wasmtime

    def refuse(*_: int) -> None:
        raise wasmtime.WasmtimeError("the kernel's host environment needs a plug-in")
    i64 = wasmtime.ValType.i64
    return [wasmtime.Func(store, wasmtime.FuncType([i64()] * params, [i64()] * results), refuse)
            for params, results in ((2, 1), (2, 1), (4, 0))]

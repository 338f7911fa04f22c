from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
AS = ROOT / "plugins" / "assemblyscript"
WAT = ROOT / "plugins" / "wat"


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

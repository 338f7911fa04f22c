from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def gen_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Saved functions go to a temporary folder (WASMPLUG_GEN_DIR), never the user's."""
    root = tmp_path / "functions"
    monkeypatch.setenv("WASMPLUG_GEN_DIR", str(root))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return root

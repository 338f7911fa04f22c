"""Every Python example in the README runs, in order, from the repository root."""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .conftest import ROOT

BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


@pytest.fixture
def readme_server() -> Iterator[None]:
    """The README's HTTP example fetches from 127.0.0.1:8000, as it tells readers to serve."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 8000), functools.partial(Quiet, directory=str(ROOT)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield
    server.shutdown()
    server.server_close()


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 6


def test_only_the_ray_example_needs_ray() -> None:
    needing_ray = [b for b in BLOCKS if re.search(r"^\s*(import ray|from ray)", b, re.M)
                   or "wasmplug.distributed" in b]
    assert len(needing_ray) == 1 and re.search(r"^import ray$", needing_ray[0], re.M)


def test_readme_examples_run(readme_server: None, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {}
    for index, block in enumerate(BLOCKS):
        if re.search(r"^import ray$", block, re.M) and importlib.util.find_spec("ray") is None:
            continue  # the Ray example needs the optional extra (pip install "wasmplug[ray]")
        try:
            exec(compile(block, f"README.md python block {index + 1}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"README python block {index + 1} failed: {exc!r}\n{block}") from exc
    out = capsys.readouterr().out
    assert '"count":3' in out and "wasmplug" in out  # the printed results of the examples
    assert os.getcwd() == str(ROOT)

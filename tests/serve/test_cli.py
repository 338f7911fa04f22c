"""The command line: `wasmplug serve token create`, `wasmplug serve` (a real process on a random
port) and `wasmplug deploy` of count_vowels.wasm and a .js function, then calls as curl would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import COUNT_VOWELS, ROOT, serve_process


def wasmplug(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmplug", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env={**os.environ, "WASMPLUG_TOKEN": ""})


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[str]:
    with serve_process("--data-dir", str(tmp_path / "data")) as url:
        yield url


def test_token_deploy_and_call(tmp_path: Path, serving: str) -> None:
    created = wasmplug("serve", "token", "create", "alice", "--data-dir", str(tmp_path / "data"),
                       cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("wps_") and len(token) > 30
    deployed = wasmplug("deploy", "vowels", str(COUNT_VOWELS), "--server", serving, "--token", token,
                        "--public", "--config", "k=v", "--timeout", "2000", "--memory-max", "64",
                        cwd=tmp_path)
    assert deployed.returncode == 0, deployed.stderr
    assert "deployed vowels version 1 (count_vowels)" in deployed.stdout
    assert json.loads(httpx.post(f"{serving}/f/vowels/count_vowels", content="hello").content)["count"] == 2
    js = tmp_path / "greet.js"
    js.write_text("function greet() { Host.outputString('hi ' + Host.inputString()); }\n"
                  "module.exports = { greet };")
    deployed = wasmplug("deploy", "greet", str(js), "--server", serving, "--token", token, cwd=tmp_path)
    assert deployed.returncode == 0, deployed.stderr
    assert httpx.post(f"{serving}/f/greet/greet", content="ann").status_code == 401  # not --public
    called = httpx.post(f"{serving}/f/greet/greet", content="ann",
                        headers={"authorization": f"Bearer {token}"})
    assert called.text == "hi ann"
    refused = wasmplug("deploy", "greet", str(js), "--server", serving, "--token", "gbt_bad", cwd=tmp_path)
    assert refused.returncode != 0 and "valid API token" in refused.stderr
    bad = wasmplug("deploy", "x", str(COUNT_VOWELS), "--server", serving, "--token", token,
                   "--timeout", "0", cwd=tmp_path)
    assert bad.returncode != 0 and "timeout_ms" in bad.stderr


def test_handler_route_from_the_command_line(tmp_path: Path, serving: str) -> None:
    token = wasmplug("serve", "token", "create", "bob", "--admin", "--data-dir", str(tmp_path / "data"),
                     cwd=tmp_path).stdout.strip()
    handler = ROOT / "plugins" / "serve" / "handler.js"
    deployed = wasmplug("deploy", "hello", str(handler), "--server", serving, "--token", token,
                        "--route", "/hello", "--public", cwd=tmp_path)
    assert deployed.returncode == 0, deployed.stderr
    assert deployed.stdout.strip().endswith(f"{serving}/hello")
    assert httpx.get(f"{serving}/hello/world").json()["message"] == "hello, world"


def test_a_plugin_cannot_flood_the_server_log(tmp_path: Path) -> None:
    data = tmp_path / "data"
    token = wasmplug("serve", "token", "create", "carol", "--data-dir", str(data),
                     cwd=tmp_path).stdout.strip()
    process = subprocess.Popen([sys.executable, "-m", "wasmplug", "serve", "--port", "0", "--data-dir",
                                str(data)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split("serving on ")[1].strip().rstrip("/")
        flood = ROOT / "plugins" / "hostile" / "log_flood.wasm"
        deployed = wasmplug("deploy", "flood", str(flood), "--server", url, "--token", token, "--public",
                            "--timeout", "300", cwd=tmp_path)
        assert deployed.returncode == 0, deployed.stderr
        reply = httpx.post(f"{url}/f/flood/run", timeout=30)
        assert reply.status_code == 504
        assert httpx.post(f"{url}/f/flood/ok", timeout=30).status_code == 200
    finally:
        process.terminate()
        _out, err = process.communicate(timeout=30)
    assert "flood" not in err.replace("function=flood", "").replace("/f/flood", "")
    assert len(err) < 20_000, f"{len(err)} bytes of server log"


def test_serve_freezes_what_it_imported_out_of_the_collectors_sight(serving: str) -> None:
    """`wasmplug serve` calls gc.freeze() once it has started: a full collection then no longer walks
    every object of the modules it imported (it held the event loop 80-220 ms). /metrics says how
    many objects are frozen, and times the collector's passes by generation."""
    metrics = httpx.get(f"{serving}/metrics", timeout=30).text
    frozen = next(float(line.split()[-1]) for line in metrics.splitlines()
                  if line.startswith("wasmplug_serve_gc_frozen_objects "))
    assert frozen > 10_000, frozen
    assert 'wasmplug_serve_gc_pause_seconds_count{generation="2"}' in metrics

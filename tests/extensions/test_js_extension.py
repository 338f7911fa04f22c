"""An extension written in JavaScript: `[extensions.source] type = "js"`, built on load."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from wasmplug.cli import main
from wasmplug.extensions import ExtensionCallFailed, ExtensionConfigError, ExtensionHost, load_config

from .conftest import EXTENSIONS, Recorder, entry, wait_for

OpenHost = Callable[..., tuple[ExtensionHost, Recorder]]
TRANSFORM_JS = EXTENSIONS / "transform.js"
IR = {"module": "main", "functions": [{"name": "f", "body": ["add", 1, 2]}], "note": "é \"q\""}


def js_entry(name: str, path: Path = TRANSFORM_JS, **keys: object) -> str:
    return entry(name, path, source_type="js", **keys)  # type: ignore[arg-type]


def test_the_js_transform_follows_the_contract(open_host: OpenHost) -> None:
    host, events = open_host(js_entry("js", config={"level": "aggressive", "passes": 3}))
    assert host.call("js", "transform", {"ir": IR, "other": 1}) == {"transformed": True, "output": IR}
    info = host.call("js", "info")
    assert info == {"name": "transform", "language": "javascript",
                    "config": {"level": "aggressive", "passes": 3}, "level": "aggressive"}
    capabilities = {c.name: c for c in host.capabilities()["js"]}
    assert set(capabilities) == {"transform", "info"}
    assert capabilities["transform"].params_schema["required"] == ["ir"]
    status = host.status()["js"]
    assert status.state == "ready"
    assert status.version == hashlib.sha256(TRANSFORM_JS.read_bytes()).hexdigest()  # of the source
    assert events.kinds("js") == ["loaded"]


def test_a_js_throw_is_a_call_failure_with_its_message(open_host: OpenHost, tmp_path: Path) -> None:
    throwing = tmp_path / "throwing.js"
    throwing.write_text(TRANSFORM_JS.read_text().replace(
        "function transform() {", "function transform() {\n  if (Host.inputString().includes('boom')) "
        "throw new RangeError('the IR went boom');"))
    host, _ = open_host(js_entry("js", throwing))
    with pytest.raises(ExtensionCallFailed, match="RangeError: the IR went boom"):
        host.call("js", "transform", {"ir": "boom"})
    assert host.call("js", "transform", {"ir": None}) == {"transformed": True, "output": None}
    assert host.status()["js"].state == "ready"  # a thrown error is not a crash


def test_js_and_wasm_transform_agree(open_host: OpenHost) -> None:
    host, _ = open_host(js_entry("js"), entry("as", "transform"))
    for params in ({"ir": IR}, {"ir": [1, "é", {"a": None}]}, {"ir": 3.5, "x": "y"}):
        assert host.call("js", "transform", params) == host.call("as", "transform", params)


def test_a_js_extension_that_does_not_build_fails_clearly(open_host: OpenHost, tmp_path: Path) -> None:
    broken = tmp_path / "broken.js"
    broken.write_text("function initialize( {\n")
    host, _ = open_host(js_entry("bad", broken), entry("as", "transform"))
    status = host.status()["bad"]
    assert status.state == "failed"
    assert "cannot build the JavaScript extension broken.js" in (status.reason or "")
    assert "SyntaxError" in (status.reason or "")
    assert host.call("as", "transform", {"ir": 1})["output"] == 1  # the others run on


def test_editing_the_js_reloads_it(open_host: OpenHost, tmp_path: Path) -> None:
    live = tmp_path / "live.js"
    shutil.copyfile(TRANSFORM_JS, live)
    host, events = open_host(js_entry("js", live))
    assert host.call("js", "info")["language"] == "javascript"
    host.watch(debounce_ms=20)
    live.write_text(TRANSFORM_JS.read_text().replace('language: "javascript"', 'language: "js v2"'))
    wait_for(lambda: "reloaded" in events.kinds("js"))
    assert host.call("js", "info")["language"] == "js v2"


def test_js_sources_must_be_local_files(tmp_path: Path) -> None:
    path = tmp_path / "extensions.toml"
    path.write_text('[[extensions]]\nname = "a"\n[extensions.source]\ntype = "js"\n'
                    'url = "https://example.com/a.js"\n')
    with pytest.raises(ExtensionConfigError, match="give path, not url"):
        load_config(path)
    path.write_text('[[extensions]]\nname = "a"\n[extensions.source]\ntype = "python"\npath = "a.py"\n')
    with pytest.raises(ExtensionConfigError, match=r"unsupported source type 'python'.*\"js\""):
        load_config(path)
    path.write_text(js_entry("a", TRANSFORM_JS))
    [config] = load_config(path)
    assert (config.kind, config.path) == ("js", TRANSFORM_JS.resolve())


def test_a_pinned_hash_is_of_the_js_source(write_config: Callable[..., Path]) -> None:
    good = hashlib.sha256(TRANSFORM_JS.read_bytes()).hexdigest()
    text = js_entry("js").replace('type = "js"', f'type = "js"\nhash = "{good}"')
    with ExtensionHost(write_config(text)) as host:
        assert host.status()["js"].state == "ready"
    with ExtensionHost(write_config(text.replace(good, "0" * 64), name="bad.toml")) as host:
        assert "the configuration pins" in (host.status()["js"].reason or "")


def test_ext_call_runs_the_js_extension(write_config: Callable[..., Path]) -> None:
    path = write_config(js_entry("js", config={"level": "fast"}))
    result = CliRunner().invoke(main, ["ext", "call", str(path), "js", "transform",
                                       "--params", '{"ir": [1, "é"]}'], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"transformed": True, "output": [1, "é"]}
    result = CliRunner().invoke(main, ["ext", "call", str(path), "js", "info"])
    assert json.loads(result.output)["level"] == "fast"


def test_the_repos_example_configuration_loads_the_js_extension() -> None:
    result = CliRunner().invoke(main, ["ext", "call", str(EXTENSIONS / "js.toml"), "js-transform",
                                       "transform", "--params", json.dumps({"ir": IR})])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"transformed": True, "output": IR}
    with ExtensionHost(EXTENSIONS / "js.toml") as host:
        assert host.status()["js-transform"].state == "ready"
        assert host.call("js-transform", "info")["level"] == "gentle"

"""The TOML configuration: every key, every unit, every mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

import wasmplug
from wasmplug.extensions import (
    ExtensionConfigError,
    ExtensionError,
    ExtensionHost,
    load_config,
    parse_config,
)

from .conftest import ext_wasm

DESIGN = """
[[extensions]]
name = "wasm-optimizer"
enabled = true
protocol = "extism"

[extensions.source]
type = "wasm"
path = "./extensions/optimizer.wasm"

[extensions.permissions]
max_memory = "100MB"
max_execution_time = "5s"
network = false
filesystem = ["data", "ro:shared"]
max_concurrent_calls = 4
fuel = 10_000_000

[extensions.config]
level = "aggressive"
passes = 3

[extensions.restart]
strategy = "exponential"
initial_delay = "100ms"
max_delay = "10s"
max_retries = 5
calls_during_restart = "fail"
"""


@pytest.fixture
def design_dir(tmp_path: Path) -> Path:
    (tmp_path / "extensions").mkdir()
    (tmp_path / "extensions" / "optimizer.wasm").write_bytes(ext_wasm("transform").read_bytes())
    (tmp_path / "data").mkdir()
    (tmp_path / "shared").mkdir()
    (tmp_path / "extensions.toml").write_text(DESIGN)
    return tmp_path


def test_the_designs_toml_parses_with_every_key(design_dir: Path) -> None:
    [ext] = load_config(design_dir / "extensions.toml")
    assert ext.name == "wasm-optimizer" and ext.enabled and ext.protocol == "extism"
    assert ext.path == (design_dir / "extensions" / "optimizer.wasm").resolve()  # relative to the TOML
    p = ext.permissions
    assert p.max_memory == 100_000_000 and p.max_pages == 1526  # ceil(1e8 / 65536)
    assert p.max_execution_time == 5.0
    assert p.allowed_hosts == ()
    assert p.filesystem == (str(design_dir / "data"), "ro:" + str(design_dir / "shared"))
    assert p.max_concurrent_calls == 4 and p.fuel == 10_000_000
    assert ext.config == {"level": "aggressive", "passes": 3}
    assert ext.config_strings() == {"level": "aggressive", "passes": "3"}
    r = ext.restart
    assert (r.strategy, r.initial_delay, r.max_delay, r.max_retries, r.calls_during_restart) == (
        "exponential", 0.1, 10.0, 5, "fail")


def test_the_designs_toml_loads_and_calls(design_dir: Path) -> None:
    with ExtensionHost(design_dir / "extensions.toml") as host:
        assert host.call("wasm-optimizer", "transform", {"ir": "x"}) == {"transformed": True,
                                                                          "output": "x"}


def test_defaults(tmp_path: Path) -> None:
    [ext] = parse_config(f'[[extensions]]\nname = "a"\nsource = {{ path = "{ext_wasm("stats")}" }}\n',
                         tmp_path / "x.toml")
    assert ext.enabled and ext.protocol == "extism" and ext.config == {}
    p = ext.permissions
    assert (p.max_memory, p.max_execution_time, p.allowed_hosts, p.filesystem,
            p.max_concurrent_calls, p.fuel) == (None, None, (), (), 1, None)
    assert ext.restart.strategy == "exponential" and ext.restart.calls_during_restart == "wait"


@pytest.mark.parametrize(("text", "expected"), [
    ('"512B"', 512), ('"1KB"', 1000), ('"2MB"', 2_000_000), ('"1GB"', 10**9),
    ('"1KiB"', 1024), ('"3MiB"', 3 * 2**20), ('"1GiB"', 2**30), ("65536", 65536),
    ('"1.5 MiB"', int(1.5 * 2**20)), ('"64mb"', 64_000_000),
])
def test_memory_units(tmp_path: Path, text: str, expected: int) -> None:
    [ext] = parse_config(_with("permissions", f"max_memory = {text}"), tmp_path / "x.toml")
    assert ext.permissions.max_memory == expected


@pytest.mark.parametrize(("text", "expected"), [
    ('"250ms"', 0.25), ('"5s"', 5.0), ('"1.5s"', 1.5), ('"2m"', 120.0)])
def test_time_units(tmp_path: Path, text: str, expected: float) -> None:
    [ext] = parse_config(_with("permissions", f"max_execution_time = {text}"), tmp_path / "x.toml")
    assert ext.permissions.max_execution_time == pytest.approx(expected)


def test_network_true_allows_any_host_and_allowed_hosts_lists_them(tmp_path: Path) -> None:
    [ext] = parse_config(_with("permissions", "network = true"), tmp_path / "x.toml")
    assert ext.permissions.allowed_hosts == ("*",)
    [ext] = parse_config(_with("permissions", 'allowed_hosts = ["api.example.com"]'),
                         tmp_path / "x.toml")
    assert ext.permissions.allowed_hosts == ("api.example.com",)


def test_restart_delays(tmp_path: Path) -> None:
    [ext] = parse_config(_with("restart", 'initial_delay = "100ms"\nmax_delay = "1s"'),
                         tmp_path / "x.toml")
    assert [ext.restart.delay(n) for n in range(1, 7)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1, 1])
    [ext] = parse_config(_with("restart", 'strategy = "immediate"'), tmp_path / "x.toml")
    assert ext.restart.delay(3) == 0


def _with(table: str, body: str, name: str = "ext") -> str:
    return (f'[[extensions]]\nname = "{name}"\n[extensions.source]\npath = "{ext_wasm("stats")}"\n'
            f"[extensions.{table}]\n{body}\n")


SOURCE = f'[extensions.source]\npath = "{ext_wasm("stats")}"\n'
ERRORS = [
    # (TOML, the extension named in the error, the key)
    (f'nonsense = 1\n[[extensions]]\nname = "a"\n{SOURCE}', None, "nonsense"),
    ('extensions = "all"', None, "extensions"),
    (f'[[extensions]]\nname = "a"\ncolour = "red"\n{SOURCE}', "a", "colour"),
    (f'[[extensions]]\n{SOURCE}', "#1", "name"),
    (f'[[extensions]]\nname = "has space"\n{SOURCE}', "#1", "name"),
    (f'[[extensions]]\nname = "a"\nenabled = "yes"\n{SOURCE}', "a", "enabled"),
    (f'[[extensions]]\nname = "a"\nprotocol = "grpc"\n{SOURCE}', "a", "protocol"),
    ('[[extensions]]\nname = "a"\n', "a", "source"),
    ('[[extensions]]\nname = "a"\n[extensions.source]\npath = "missing.wasm"\n', "a", "source.path"),
    ('[[extensions]]\nname = "a"\n[extensions.source]\ntype = "docker"\npath = "x"\n', "a",
     "source.type"),
    ('[[extensions]]\nname = "a"\n[extensions.source]\ntype = "wasm"\n', "a", "source.path"),
    (f'[[extensions]]\nname = "a"\n{SOURCE}url = "https://example.com/a.wasm"\n', "a", "source.path"),
    ('[[extensions]]\nname = "a"\n[extensions.source]\nurl = "ftp://example.com/a.wasm"\n', "a",
     "source.url"),
    (f'[[extensions]]\nname = "a"\n{SOURCE}hash = "abc"\n', "a", "source.hash"),
    (f'[[extensions]]\nname = "a"\n{SOURCE}checksum = "abc"\n', "a", "source.checksum"),
    (_with("permissions", 'max_memory = "100 parsecs"'), "ext", "permissions.max_memory"),
    (_with("permissions", 'max_memory = "MB"'), "ext", "permissions.max_memory"),
    (_with("permissions", "max_memory = 0"), "ext", "permissions.max_memory"),
    (_with("permissions", "max_memory = true"), "ext", "permissions.max_memory"),
    (_with("permissions", "max_execution_time = 5"), "ext", "permissions.max_execution_time"),
    (_with("permissions", 'max_execution_time = "5h"'), "ext", "permissions.max_execution_time"),
    (_with("permissions", 'network = "no"'), "ext", "permissions.network"),
    (_with("permissions", 'network = false\nallowed_hosts = ["a.com"]'), "ext",
     "permissions.allowed_hosts"),
    (_with("permissions", 'allowed_hosts = "a.com"'), "ext", "permissions.allowed_hosts"),
    (_with("permissions", 'filesystem = ["/no/such/dir"]'), "ext", "permissions.filesystem"),
    (_with("permissions", 'filesystem = "/tmp"'), "ext", "permissions.filesystem"),
    (_with("permissions", "max_concurrent_calls = 0"), "ext", "permissions.max_concurrent_calls"),
    (_with("permissions", 'fuel = "lots"'), "ext", "permissions.fuel"),
    (_with("permissions", "gpu = true"), "ext", "permissions.gpu"),
    (f'[[extensions]]\nname = "ext"\nconfig = 3\n{SOURCE}', "ext", "config"),
    (_with("restart", 'strategy = "sometimes"'), "ext", "restart.strategy"),
    (_with("restart", 'initial_delay = "fast"'), "ext", "restart.initial_delay"),
    (_with("restart", 'max_delay = "1ms"'), "ext", "restart.max_delay"),
    (_with("restart", "max_retries = -1"), "ext", "restart.max_retries"),
    (_with("restart", 'calls_during_restart = "maybe"'), "ext", "restart.calls_during_restart"),
    (_with("restart", "jitter = true"), "ext", "restart.jitter"),
]


@pytest.mark.parametrize(("text", "extension", "key"), ERRORS)
def test_every_mistake_is_one_error_naming_file_extension_and_key(
        tmp_path: Path, text: str, extension: str | None, key: str) -> None:
    path = tmp_path / "extensions.toml"
    path.write_text(text)
    with pytest.raises(ExtensionConfigError) as info:
        load_config(path)
    error = info.value
    assert error.file == str(path) and str(path) in str(error)
    assert error.key == key and f"'{key}'" in str(error)
    if extension is not None:
        assert error.extension == extension and repr(extension) in str(error)
    assert isinstance(error, ExtensionError) and isinstance(error, wasmplug.Error)


def test_duplicate_names_are_reported(tmp_path: Path) -> None:
    text = _with("config", "a = 1") + _with("config", "a = 2")
    with pytest.raises(ExtensionConfigError, match="duplicate extension name") as info:
        parse_config(text, tmp_path / "x.toml")
    assert info.value.key == "name" and info.value.extension == "ext"


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ExtensionConfigError, match="not valid TOML"):
        parse_config("[[extensions]\n", tmp_path / "x.toml")
    with pytest.raises(ExtensionConfigError, match="cannot read the configuration") as info:
        ExtensionHost(tmp_path / "missing.toml")
    assert info.value.file == str(tmp_path / "missing.toml")

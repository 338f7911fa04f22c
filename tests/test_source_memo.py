"""What wasmplug remembers about a .wasm file across processes (_source_memo.py)."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path

import pytest

import wasmplug
from wasmplug import _cache, _engine, _manifest, _source_memo
from wasmplug._manifest import LoadedModule
from wasmplug.binary import ModuleFacts

from .conftest import wasm


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("WASMPLUG_CACHE_DIR", str(directory))
    return directory


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    new_process(monkeypatch)  # nothing compiled in memory: every test starts from the disk
    path = tmp_path / "count_vowels.wasm"
    shutil.copy(wasm("count_vowels"), path)
    return path


def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every file look written long enough ago for its times to be trusted."""
    real = _cache.time.time_ns
    monkeypatch.setattr(_cache.time, "time_ns", lambda: real() + 10 * _cache.SETTLED_NS)


def new_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget the compiled modules held in memory, as a new process would not have them."""
    monkeypatch.setattr(_engine, "_runtimes", {})


def reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record every module file whose bytes are read."""
    seen: list[Path] = []
    real = _manifest._read_open_file

    def counting(f: object, path: Path, deadline: float | None) -> bytes:
        seen.append(path)
        return real(f, path, deadline)
    monkeypatch.setattr(_manifest, "_read_open_file", counting)
    return seen


def vowels(plugin_source: object) -> bytes:
    with wasmplug.Plugin(plugin_source, config={"vowels": "aeiou"}) as plugin:
        return plugin.call("count_vowels", "hello world")


def test_a_settled_file_is_not_read_again_once_remembered(
        cache_dir: Path, module: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settled(monkeypatch)
    seen = reads(monkeypatch)
    first = vowels(module)
    assert seen == [module]
    assert len(list((cache_dir / "sources").iterdir())) == 1
    new_process(monkeypatch)
    assert vowels(module) == first  # compiled code from the cache, facts from the memo
    assert seen == [module]  # the file itself was not read again


def test_a_recent_file_is_not_remembered(cache_dir: Path, module: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    seen = reads(monkeypatch)
    vowels(module)
    new_process(monkeypatch)
    vowels(module)
    assert seen == [module, module]  # within the racy window: its times prove nothing
    assert not list((cache_dir / "sources").glob("*"))


def test_a_changed_file_is_read_again(cache_dir: Path, module: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    settled(monkeypatch)
    assert vowels(module)
    shutil.copy(wasm("echo"), module)  # same path, other module: ctime and size move
    new_process(monkeypatch)
    seen = reads(monkeypatch)
    with wasmplug.Plugin(module) as plugin:
        assert plugin.call("echo", b"abc") == b"abc"
    assert seen == [module]


def test_a_pinned_hash_is_checked_against_the_remembered_one(
        cache_dir: Path, module: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settled(monkeypatch)
    vowels(module)
    new_process(monkeypatch)
    seen = reads(monkeypatch)
    with pytest.raises(wasmplug.Error, match="Hash mismatch"):
        wasmplug.Plugin({"wasm": [{"path": str(module), "hash": "0" * 64}]})
    assert seen == []  # refused from the memo, without reading the file


@pytest.mark.parametrize("damage", ["flip a byte", "swap the sha256"])
def test_a_tampered_memo_is_ignored_and_replaced(
        cache_dir: Path, module: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, damage: str) -> None:
    settled(monkeypatch)
    expected = vowels(module)
    memo = next((cache_dir / "sources").iterdir())
    blob = bytearray(memo.read_bytes())
    if damage == "flip a byte":
        blob[40] ^= 0xFF
    else:  # point the memo at another module's compiled code, keeping the old signature
        sha = hashlib.sha256(module.read_bytes()).hexdigest()
        blob = bytearray(bytes(blob).replace(sha.encode(), b"f" * 64))
    memo.write_bytes(bytes(blob))
    new_process(monkeypatch)
    seen = reads(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="wasmplug.cache"):
        assert vowels(module) == expected
    assert seen == [module]
    assert "ignoring the memo" in caplog.text and "signature does not match" in caplog.text


def test_the_compiled_code_is_rebuilt_from_the_file_when_its_cache_entry_is_gone(
        cache_dir: Path, module: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settled(monkeypatch)
    expected = vowels(module)
    for entry in cache_dir.glob("*.cwasm"):
        entry.unlink()
    new_process(monkeypatch)
    seen = reads(monkeypatch)
    assert vowels(module) == expected
    assert seen == [module]  # read (and checked against the memo's sha256) only to compile


def test_a_file_that_no_longer_matches_its_sha256_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.wasm"
    path.write_bytes(wasm("echo").read_bytes())
    loaded = LoadedModule("main", None, "0" * 64, ModuleFacts.of(b""), path)
    with pytest.raises(wasmplug.Error, match="changed while it was being loaded"):
        _ = loaded.wasm


def test_no_memo_with_the_cache_off(tmp_path: Path, module: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASMPLUG_CACHE_DIR", "off")
    settled(monkeypatch)
    info = os.stat(module)
    _source_memo.remember(module, info, info, "0" * 64, ModuleFacts.of(b""))
    assert _source_memo.recall(module, info) is None
    assert vowels(module)


def test_facts_survive_their_json_form() -> None:
    facts = ModuleFacts.of(wasm("count_vowels").read_bytes())
    assert facts.exports and facts.imports
    assert ModuleFacts.from_json(facts.to_json()) == facts


def test_memos_count_towards_the_cache_size_cap(cache_dir: Path, module: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    settled(monkeypatch)
    vowels(module)
    memos = cache_dir / "sources"
    old = memos / ("0" * 40)
    old.write_bytes(b"x" * 300_000)  # an old, large memo (of a file loaded long ago)
    os.utime(old, ns=(1, 1))
    monkeypatch.setenv("WASMPLUG_CACHE_MAX_MB", "0.25")
    _cache.prune(cache_dir)
    assert not old.exists()

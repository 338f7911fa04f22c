"""The on-disk compiled-module cache: reuse, integrity, ownership, recovery."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wasmplug import _cache
from wasmplug import _wasmtime as wasmtime
from wasmplug._engine import EngineSettings, Runtime

from .conftest import wasm

ECHO = wasm("echo").read_bytes()
SHA = __import__("hashlib").sha256(ECHO).hexdigest()


class CountingRuntime:
    """A fresh engine (no in-memory module table) that counts real compilations."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.runtime = Runtime(EngineSettings())
        self.compiles = 0
        original = self.runtime.disk_cache.compile

        def counting(data: bytes, prepare: Callable[[bytes], bytes] | None = None) -> wasmtime.Module:
            self.compiles += 1
            return original(data, prepare)
        monkeypatch.setattr(self.runtime.disk_cache, "compile", counting)

    def load(self) -> wasmtime.Module:
        return self.runtime.disk_cache.load_or_compile(ECHO, SHA)


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("WASMPLUG_CACHE_DIR", str(directory))
    return directory


def entries(directory: Path) -> list[Path]:
    """The cache entry of the echo module, if written (the kernel has its own)."""
    entry = directory / f"{_cache.entry_key(SHA, EngineSettings().fingerprint())}.cwasm"
    return [entry] if entry.exists() or entry.is_symlink() else []


def works(module: wasmtime.Module) -> bool:
    """The module is compiled code (wasmtime's ELF artefact) that exports `echo`."""
    artefact = module.serialize()
    return artefact.startswith(b"\x7fELF") and b"echo" in artefact


def test_second_load_in_a_new_engine_uses_the_cache(cache_dir: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    first = CountingRuntime(monkeypatch)
    assert works(first.load()) and first.compiles == 1
    assert len(entries(cache_dir)) == 1
    second = CountingRuntime(monkeypatch)
    assert works(second.load()) and second.compiles == 0
    mode = os.stat(entries(cache_dir)[0]).st_mode & 0o777
    assert mode == 0o600 and os.stat(cache_dir).st_mode & 0o777 == 0o700


def test_tampered_entry_fails_integrity_and_is_recompiled(
        cache_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    CountingRuntime(monkeypatch).load()
    entry = entries(cache_dir)[0]
    blob = bytearray(entry.read_bytes())
    blob[-100] ^= 0xFF
    entry.write_bytes(bytes(blob))
    again = CountingRuntime(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="wasmplug.cache"):
        assert works(again.load())
    assert again.compiles == 1
    assert "integrity check failed" in caplog.text
    assert CountingRuntime(monkeypatch).load() and entries(cache_dir)  # rewritten, valid again
    third = CountingRuntime(monkeypatch)
    third.load()
    assert third.compiles == 0


@pytest.mark.parametrize("garbage", [b"", b"WPCACHE1", b"not a cache file at all" * 10])
def test_corrupt_entry_is_recompiled(cache_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                     garbage: bytes) -> None:
    CountingRuntime(monkeypatch).load()
    entries(cache_dir)[0].write_bytes(garbage)
    again = CountingRuntime(monkeypatch)
    assert works(again.load()) and again.compiles == 1


def test_entry_signed_with_another_key_is_refused(cache_dir: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    CountingRuntime(monkeypatch).load()
    (cache_dir / "secret.key").write_bytes(os.urandom(32))  # as if another user's secret
    again = CountingRuntime(monkeypatch)
    assert works(again.load()) and again.compiles == 1


def look_foreign(monkeypatch: pytest.MonkeyPatch, target: Path) -> None:
    """Make `target` look owned by another user to the cache's checks (no root needed)."""
    real = _cache._lstat

    def lstat(path: Path) -> os.stat_result:
        info = real(path)
        if Path(path) == target:
            fields = list(info)
            fields[stat.ST_UID] = os.geteuid() + 1
            return os.stat_result(fields)
        return info
    monkeypatch.setattr(_cache, "_lstat", lstat)


def test_entry_owned_by_another_user_is_never_loaded_nor_removed(
        cache_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    CountingRuntime(monkeypatch).load()
    entry = entries(cache_dir)[0]
    look_foreign(monkeypatch, entry)
    again = CountingRuntime(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="wasmplug.cache"):
        assert works(again.load()) and again.compiles == 1
    assert "owned by another user" in caplog.text
    monkeypatch.undo()
    assert entries(cache_dir) == [entry]  # rewritten in place by us, never deleted as foreign


def test_directory_owned_by_another_user_disables_the_cache(
        cache_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    cache_dir.mkdir(mode=0o700)
    look_foreign(monkeypatch, cache_dir)
    with caplog.at_level(logging.WARNING, logger="wasmplug.cache"):
        first = CountingRuntime(monkeypatch)
        first.load()
    assert "is not a directory owned by you" in caplog.text
    assert entries(cache_dir) == [] and not (cache_dir / "secret.key").exists()


@pytest.mark.parametrize("mode", [0o620, 0o602, 0o666], ids=["group", "others", "both"])
def test_group_or_world_writable_entry_is_never_loaded(
        cache_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        mode: int) -> None:
    CountingRuntime(monkeypatch).load()
    entry = entries(cache_dir)[0]
    os.chmod(entry, mode)
    again = CountingRuntime(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="wasmplug.cache"):
        assert works(again.load()) and again.compiles == 1
    assert "writable by other users" in caplog.text
    assert os.stat(entry).st_mode & 0o777 == 0o600  # replaced by a private entry


def test_secret_key_that_is_a_symlink_is_replaced(cache_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    CountingRuntime(monkeypatch).load()
    planted = tmp_path / "attacker.key"
    planted.write_bytes(b"k" * 32)  # a key someone else knows: entries they forge would verify
    secret = cache_dir / "secret.key"
    secret.unlink()
    secret.symlink_to(planted)
    again = CountingRuntime(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="wasmplug.cache"):
        assert works(again.load()) and again.compiles == 1  # the old entry's key is gone
    assert "replacing cache secret" in caplog.text and "not a regular file" in caplog.text
    assert not secret.is_symlink() and secret.read_bytes() != b"k" * 32
    assert os.stat(secret).st_mode & 0o777 == 0o600
    assert planted.read_bytes() == b"k" * 32  # the link's target is left alone


def test_secret_key_owned_by_another_user_is_replaced(
        cache_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    CountingRuntime(monkeypatch).load()
    secret = cache_dir / "secret.key"
    old_key = secret.read_bytes()
    look_foreign(monkeypatch, secret)
    again = CountingRuntime(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="wasmplug.cache"):
        assert works(again.load()) and again.compiles == 1
    assert "replacing cache secret" in caplog.text and "owned by another user" in caplog.text
    assert secret.read_bytes() != old_key


def test_symlinked_entry_is_not_followed(cache_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    CountingRuntime(monkeypatch).load()
    entry = entries(cache_dir)[0]
    elsewhere = tmp_path / "elsewhere.cwasm"
    entry.rename(elsewhere)
    entry.symlink_to(elsewhere)
    again = CountingRuntime(monkeypatch)
    assert works(again.load()) and again.compiles == 1


def test_group_writable_directory_disables_the_cache(cache_dir: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    cache_dir.mkdir(mode=0o700)
    os.chmod(cache_dir, 0o777)
    first = CountingRuntime(monkeypatch)
    first.load()
    assert entries(cache_dir) == []
    second = CountingRuntime(monkeypatch)
    second.load()
    assert second.compiles == 1


def test_cache_can_be_disabled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASMPLUG_CACHE_DIR", "off")
    assert _cache.cache_dir() is None
    runtime = CountingRuntime(monkeypatch)
    runtime.load()
    assert runtime.compiles == 1
    _cache.set_cache_dir(tmp_path / "explicit")
    try:
        assert _cache.cache_dir() == tmp_path / "explicit"
        _cache.set_cache_dir(None)
        assert _cache.cache_dir() is None
    finally:
        _cache._explicit_set = False


def test_key_depends_on_engine_settings() -> None:
    plain = EngineSettings().fingerprint()
    fuel = EngineSettings(fuel=True).fingerprint()
    assert plain != fuel
    assert _cache.entry_key(SHA, plain) != _cache.entry_key(SHA, fuel)
    assert "wasmtime=" in plain


def test_kernel_is_cached_too(cache_dir: Path) -> None:
    Runtime(EngineSettings())
    kernel_entries = list(cache_dir.glob("*.cwasm"))
    assert len(kernel_entries) == 1
    Runtime(EngineSettings())  # loads it back
    assert list(cache_dir.glob("*.cwasm")) == kernel_entries


def test_budgeted_rewrite_is_cached_apart_from_the_original(
        cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wasmplug import _memory_budget

    rewrites: list[int] = []
    real = _memory_budget.rewrite
    monkeypatch.setattr(_memory_budget, "rewrite", lambda wasm: rewrites.append(1) or real(wasm))
    first = CountingRuntime(monkeypatch)
    budgeted = first.runtime.compile(ECHO, SHA, "main", budget=True)
    plain = first.runtime.compile(ECHO, SHA, "main")
    assert first.compiles == 2 and len(rewrites) == 1
    # (the compiled artefact names the module's imports)
    assert b"wasmplug_budget" in budgeted.serialize() and b"wasmplug_budget" not in plain.serialize()
    second = CountingRuntime(monkeypatch)  # a new engine: only the disk cache can help
    again = second.runtime.compile(ECHO, SHA, "main", budget=True)
    assert second.compiles == 0 and len(rewrites) == 1  # neither compiled nor rewritten again
    assert b"wasmplug_budget" in again.serialize()


def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every entry look old enough to be stamped (as if written seconds ago)."""
    real = __import__("time").time_ns
    monkeypatch.setattr(_cache.time, "time_ns", lambda: real() + 10 * _cache.SETTLED_NS)


def hashing(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the full HMAC checks of cache payloads (sizes hashed)."""
    sizes: list[int] = []
    real = _cache.hmac_sha256

    def counting(key: bytes, msg: Any) -> bytes:
        sizes.append(len(msg))
        return real(key, msg)
    monkeypatch.setattr(_cache, "hmac_sha256", counting)
    return sizes


def test_a_verified_entry_is_stamped_and_then_mapped_without_rehashing(
        cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    CountingRuntime(monkeypatch).load()
    entry = entries(cache_dir)[0]
    mac = entry.with_suffix(".mac")
    assert len(mac.read_bytes()) == len(_cache.MAGIC) + 32  # fresh: too recent to stamp
    checked = CountingRuntime(monkeypatch)
    sizes = hashing(monkeypatch)
    assert works(checked.load()) and checked.compiles == 0
    assert len(entry.read_bytes()) in sizes  # the whole payload was verified
    assert len(mac.read_bytes()) == len(_cache.MAGIC) + 32  # still within the racy window
    settled(monkeypatch)
    CountingRuntime(monkeypatch).load()
    assert len(mac.read_bytes()) == len(_cache.MAGIC) + 64 and oct(mac.stat().st_mode)[-3:] == "600"
    sizes.clear()
    mapped = CountingRuntime(monkeypatch)
    assert works(mapped.load()) and mapped.compiles == 0
    assert len(entry.read_bytes()) not in sizes  # only the stamp was checked


def test_an_entry_changed_after_its_stamp_is_verified_again_and_refused(
        cache_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    CountingRuntime(monkeypatch).load()
    settled(monkeypatch)
    CountingRuntime(monkeypatch).load()  # stamps it
    entry = entries(cache_dir)[0]
    assert len(entry.with_suffix(".mac").read_bytes()) == len(_cache.MAGIC) + 64
    __import__("time").sleep(0.05)  # a later clock tick: the write below changes ctime
    blob = bytearray(entry.read_bytes())
    blob[-100] ^= 0xFF
    entry.write_bytes(bytes(blob))  # same inode, same size
    again = CountingRuntime(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="wasmplug.cache"):
        assert works(again.load())
    assert again.compiles == 1 and "integrity check failed" in caplog.text


def test_a_stamp_made_with_another_key_is_not_trusted(cache_dir: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    CountingRuntime(monkeypatch).load()
    settled(monkeypatch)
    CountingRuntime(monkeypatch).load()
    (cache_dir / "secret.key").write_bytes(os.urandom(32))
    again = CountingRuntime(monkeypatch)
    assert works(again.load()) and again.compiles == 1


def test_an_entry_without_its_mac_file_is_recompiled_quietly(
        cache_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    CountingRuntime(monkeypatch).load()
    entries(cache_dir)[0].with_suffix(".mac").unlink()  # e.g. an entry of an older wasmplug
    again = CountingRuntime(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="wasmplug.cache"):
        assert works(again.load())
    assert again.compiles == 1 and "wasmplug.cache" not in caplog.text
    third = CountingRuntime(monkeypatch)
    assert works(third.load()) and third.compiles == 0


def numbered_module(n: int) -> bytes:
    """A distinct small module per n (so each gets its own cache entry)."""
    return f'(module (func (export "f") (result i32) i32.const {n}))'.encode()


def test_the_cache_stays_under_its_size_cap_removing_the_oldest_entries(
        cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = Runtime(EngineSettings())
    first = numbered_module(0)
    runtime.disk_cache.load_or_compile(first, "m0")
    __import__("time").sleep(0.05)  # a later clock tick: m0 is strictly the oldest entry
    one = (cache_dir / f"{_cache.entry_key('m0', runtime.disk_cache.fingerprint)}.cwasm").stat().st_size
    # Room for about 5 of these (the kernel's entry, bigger and older, goes first).
    monkeypatch.setenv("WASMPLUG_CACHE_MAX_MB", str(one * 5.5 / 2**20))
    for n in range(1, 12):
        runtime.disk_cache.load_or_compile(numbered_module(n), f"m{n}")
    cwasm = list(cache_dir.glob("*.cwasm"))
    assert 3 <= len(cwasm) <= 5
    assert sum(p.stat().st_size for p in cwasm) <= _cache.max_bytes()
    assert len(list(cache_dir.glob("*.mac"))) == len(cwasm)  # removed in pairs
    newest = cache_dir / f"{_cache.entry_key('m11', runtime.disk_cache.fingerprint)}.cwasm"
    oldest = cache_dir / f"{_cache.entry_key('m0', runtime.disk_cache.fingerprint)}.cwasm"
    assert newest.exists() and not oldest.exists()
    again = CountingRuntime(monkeypatch)  # an evicted module is simply compiled again
    module = again.runtime.disk_cache.load_or_compile(first, "m0")
    store = wasmtime.Store(again.runtime.engine)
    store.set_epoch_deadline(1)
    f = wasmtime.Instance(store, module, []).exports(store)["f"]
    assert again.compiles == 1 and isinstance(f, wasmtime.Func) and f(store) == 0


def test_a_bad_size_cap_falls_back_to_the_default(monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("WASMPLUG_CACHE_MAX_MB", "lots")
    with caplog.at_level(logging.WARNING, logger="wasmplug.cache"):
        assert _cache.max_bytes() == 512 * 2**20
    assert "not a number of MiB" in caplog.text

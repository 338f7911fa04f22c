"""On-disk cache of compiled modules.

Compiling a large module takes hundreds of milliseconds; loading its compiled
code back takes a few. But deserialising compiled code runs it as native code,
so only files this user wrote may ever be loaded. Each entry is two files:

    <key>.cwasm   the compiled code exactly as wasmtime serialised it
    <key>.mac     MAGIC (8 bytes) | HMAC-SHA256 of the .cwasm (32) | [stamp (32)]

keyed with a secret stored in the cache directory (mode 0600). An entry is
used only when the directory and the files are owned by the current user and
not writable by anybody else, they are regular files (not symlinks), and the
HMAC matches. Anything else is reported on the `wasmplug` logger, removed if
possible, and recompiled.

Checking the HMAC of a large entry would cost milliseconds in every new
process, so once an entry has verified, the .mac file also gets a *stamp*: the
HMAC of the .cwasm file's identity and change times (device, inode, size,
mtime, ctime, owner, mode). A user cannot set ctime, and any write changes it,
so while the stamp matches, the file is the one that verified: it is mapped as
is (`wasmtime_module_deserialize_file`, no copy, no hash). A stamp is only
written for a file whose ctime is at least `SETTLED_NS` old, so a write in the
same clock tick as the check cannot go unnoticed (git's "racy timestamp" rule).

The key of an entry covers the module's SHA-256, the wasmtime version and the
engine settings, so an upgrade or a different engine never picks up stale code.

Size: at most `$WASMPLUG_CACHE_MAX_MB` MiB (default 512), memos about source
files (`source_memo.py`) included; past it, the entries written longest ago
are removed (see `prune`).

Location: `$WASMPLUG_CACHE_DIR`, else `$XDG_CACHE_HOME/wasmplug`, else
`~/.cache/wasmplug`. Set `WASMPLUG_CACHE_DIR=off` (or call
`set_cache_dir(None)`) to disable it.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

from . import _callpath, _logs, _runtime_events
from . import _wasmtime as wasmtime
from ._digest import compare_digest, hmac_sha256, sha256_hex

log = _logs.logger("wasmplug.cache")

MAGIC = b"WPCACHE2"
_DIGEST = 32
SETTLED_NS = 2_000_000_000  # coarse file-time granularity (jiffies; 2 s on FAT-like systems)
_PROC_FD = Path("/proc/self/fd")
_DEFAULT_MAX_BYTES = 512 * 2**20
_OFF = {"", "0", "off", "false", "no", "none"}

_explicit: Path | None = None
_explicit_set = False
# Every ownership and mode check goes through this (tests make a file look
# another user's by replacing it: chown needs root).
_lstat: Callable[[Path], os.stat_result] = os.lstat


def set_cache_dir(path: str | os.PathLike[str] | None) -> None:
    """Use `path` for the compiled-module cache; `None` disables caching."""
    global _explicit, _explicit_set
    _explicit = Path(path) if path is not None else None
    _explicit_set = True


def cache_dir() -> Path | None:
    """The cache directory in use, or None when caching is disabled."""
    if _explicit_set:
        return _explicit
    configured = os.environ.get("WASMPLUG_CACHE_DIR")
    if configured is not None:
        return None if configured.strip().lower() in _OFF else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "wasmplug"


def private_dir(path: Path) -> bool:
    """Create `path` (0700) if needed; True if it is safe to use."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = _lstat(path)
    except OSError as exc:
        log.warning("compiled-module cache disabled: cannot create %s (%s)", path, exc)
        return False
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        log.warning("compiled-module cache disabled: %s is not a directory owned by you", path)
        return False
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        log.warning("compiled-module cache disabled: %s is writable by other users", path)
        return False
    return True


def owned_regular_file(path: Path) -> os.stat_result | None:
    try:
        info = _lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError("not a regular file")
    if info.st_uid != os.geteuid():
        raise ValueError("owned by another user")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ValueError("writable by other users")
    return info


def write_private(path: Path, data: bytes) -> None:
    import tempfile  # here: a process that only reads the cache never needs it

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def secret(directory: Path) -> bytes:
    path = directory / "secret.key"
    try:
        if owned_regular_file(path) is not None:
            key = path.read_bytes()
            if len(key) == 32:
                return key
    except ValueError as exc:
        log.warning("replacing cache secret %s: %s", path, exc)
        path.unlink(missing_ok=True)
    key = os.urandom(32)  # what secrets.token_bytes does
    write_private(path, key)
    return key


def entry_key(wasm_sha256: str, engine_fingerprint: str) -> str:
    """File name stem of a module's entry; the fingerprint names wasmtime and the settings."""
    # MAGIC names the entry format: wasmplug versions with other formats sharing
    # this directory each keep their own entries instead of replacing each other's.
    return sha256_hex(f"{wasm_sha256}|{engine_fingerprint}|{MAGIC.decode()}".encode())


def max_bytes() -> int:
    """The cache's size cap: `$WASMPLUG_CACHE_MAX_MB` (MiB, default 512)."""
    configured = os.environ.get("WASMPLUG_CACHE_MAX_MB", "").strip()
    try:
        return int(float(configured) * 2**20) if configured else _DEFAULT_MAX_BYTES
    except ValueError:
        log.warning("WASMPLUG_CACHE_MAX_MB=%r is not a number of MiB; using %d", configured,
                    _DEFAULT_MAX_BYTES // 2**20)
        return _DEFAULT_MAX_BYTES


def prune(directory: Path, keep: Path | None = None) -> None:
    """Remove the oldest entries until the cache is under 80% of `max_bytes()`.

    Runs after each new entry is written (that is, after a compilation, which
    costs far more than this scan). Oldest means written longest ago: loading
    an entry must not touch it, or its stamp would no longer match. Only
    regular files of ours are removed; a process that has an entry mapped
    keeps using it.
    """
    limit = max_bytes()
    found: list[tuple[int, int, Path]] = []
    total = 0
    # Compiled code, and the memos about source files (source_memo.py), under one cap.
    for folder, wanted in ((directory, ".cwasm"), (directory / "sources", "")):
        with contextlib.suppress(OSError), os.scandir(folder) as listing:
            for item in listing:
                if not item.name.endswith(wanted) or item.name.startswith("."):
                    continue
                with contextlib.suppress(OSError):
                    info = item.stat(follow_symlinks=False)
                    if stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid():
                        found.append((info.st_mtime_ns, info.st_size, Path(item.path)))
                        total += info.st_size
    if total <= limit:
        return
    for _, size, entry in sorted(found):
        if total <= limit * 0.8:
            break
        if entry == keep:
            continue
        for stale in (entry, _mac_path(entry)) if entry.suffix == ".cwasm" else (entry,):
            with contextlib.suppress(OSError):
                stale.unlink()
        total -= size
        log.info("compiled-module cache over %d MiB: removed %s", limit // 2**20, entry.name)


def has_entry(wasm_sha256: str, engine_fingerprint: str) -> bool:
    """True if the cache holds compiled code for this module and engine (not yet verified)."""
    directory = cache_dir()
    if directory is None:
        return False
    entry = directory / f"{entry_key(wasm_sha256, engine_fingerprint)}.cwasm"
    return entry.is_file() and _mac_path(entry).is_file()


class ModuleCache:
    """Compiled modules of one engine configuration, on disk."""

    def __init__(self, engine: wasmtime.Engine, fingerprint: str) -> None:
        self.engine = engine
        self.fingerprint = fingerprint

    def compile(self, wasm: bytes | Callable[[], bytes],
                prepare: Callable[[bytes], bytes] | None = None) -> wasmtime.Module:
        """Compile wasm bytes (or WAT text), passed through `prepare` if given.

        `wasm` may be a function returning them, called only when needed.
        """
        if callable(wasm):
            wasm = wasm()
        if not wasm.startswith(b"\0asm"):
            with contextlib.suppress(UnicodeDecodeError):  # else the compiler says why
                wasm = bytes(wasmtime.wat2wasm(wasm.decode("utf-8")))
        if prepare is not None and wasm.startswith(b"\0asm"):
            wasmtime.Module.validate(self.engine, wasm)  # an invalid module is reported as such
            wasm = prepare(wasm)
        return wasmtime.Module(self.engine, wasm)

    def load_or_compile(self, wasm: bytes | Callable[[], bytes], key: str,
                        prepare: Callable[[bytes], bytes] | None = None, *,
                        label: str = "main", sha256: str = "") -> wasmtime.Module:
        """The compiled module (of `prepare(wasm)`), from the entry named by `key` if valid.

        `key` identifies the compiled code: the module's SHA-256, plus a tag
        naming the transformation when there is one. `label` and `sha256` name
        the module in runtime events.
        """
        started = time.perf_counter()
        sha256 = sha256 or key
        directory = cache_dir()
        if directory is None or not private_dir(directory):
            compiled = self.compile(wasm, prepare)
            _runtime_events.module_ready("compiled (cache off)", label, sha256, started)
            return compiled
        path = directory / f"{entry_key(key, self.fingerprint)}.cwasm"
        try:
            mac_key = secret(directory)
        except OSError as exc:
            log.warning("compiled-module cache disabled: %s", exc)
            return self.compile(wasm, prepare)
        module = self._load(path, mac_key)
        if module is not None:
            _runtime_events.module_ready("loaded from the cache", label, sha256, started)
            return module
        module = self.compile(wasm, prepare)
        _runtime_events.module_ready("compiled", label, sha256, started)
        try:
            payload = bytes(module.serialize())
            write_private(path, payload)
            write_private(_mac_path(path), MAGIC + hmac_sha256(mac_key, payload))
        except (OSError, wasmtime.WasmtimeError) as exc:
            log.warning("could not write compiled-module cache entry %s: %s", path, exc)
        else:
            prune(directory, keep=path)
        return module

    def _load(self, path: Path, secret: bytes) -> wasmtime.Module | None:
        mac_path = _mac_path(path)
        try:
            owned = owned_regular_file(path)
            record = _read_mac(mac_path)
            if owned is None or record is None:  # no entry (or one from an older version)
                return None
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)  # never through a symlink
            with open(fd, "rb") as f:
                info = os.fstat(f.fileno())
                if (info.st_dev, info.st_ino) != (owned.st_dev, owned.st_ino):
                    raise ValueError("replaced while being checked")
                stamp = _stamp(secret, path, info)
                if compare_digest(record[_DIGEST:], stamp):
                    # Verified before and unchanged since: map the open file itself.
                    where = _PROC_FD / str(fd) if _PROC_FD.is_dir() else path
                    return wasmtime.Module.deserialize_file(self.engine, str(where))
                if info.st_size == 0:
                    raise ValueError("empty entry")
                # Mapped copy-on-write so the verified bytes are deserialised in place.
                with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY) as blob:
                    with memoryview(blob) as view:
                        expected = hmac_sha256(secret, view)
                    if not compare_digest(expected, record[:_DIGEST]):
                        raise ValueError("integrity check failed")
                    module = _callpath.deserialize_module(self.engine, blob, 0)
            if time.time_ns() - info.st_ctime_ns >= SETTLED_NS:
                with contextlib.suppress(OSError):
                    write_private(mac_path, MAGIC + record[:_DIGEST] + stamp)
            return module
        except (OSError, ValueError, wasmtime.WasmtimeError) as exc:
            log.warning("ignoring compiled-module cache entry %s (%s); recompiling", path, exc)
            for stale in (path, mac_path):
                try:
                    if not stale.is_symlink() and _lstat(stale).st_uid == os.geteuid():
                        stale.unlink()
                except OSError:
                    pass
            return None


def _mac_path(entry: Path) -> Path:
    return entry.with_suffix(".mac")


def _read_mac(path: Path) -> bytes | None:
    """The HMAC (and stamp, when there is one) of an entry's .mac file, without MAGIC."""
    if owned_regular_file(path) is None:
        return None
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with open(fd, "rb") as f:
        data = f.read(len(MAGIC) + 2 * _DIGEST + 1)
    if data[:len(MAGIC)] != MAGIC or len(data) not in (len(MAGIC) + _DIGEST,
                                                       len(MAGIC) + 2 * _DIGEST):
        raise ValueError("not a wasmplug cache file")
    return data[len(MAGIC):]


def _stamp(secret: bytes, path: Path, info: os.stat_result) -> bytes:
    """The stamp of entry `path` as it is now (see the module doc)."""
    identity = (f"{path.name}|{info.st_dev}|{info.st_ino}|{info.st_size}|{info.st_mtime_ns}|"
                f"{info.st_ctime_ns}|{info.st_uid}|{info.st_mode}")
    return hmac_sha256(secret, identity.encode())

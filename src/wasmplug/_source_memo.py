"""What wasmplug learned about a .wasm file, remembered across processes.

Loading a plug-in from a file in a new process meant reading the file,
hashing it (the SHA-256 names its compiled code in the cache) and parsing its
imports and exports: about 3 ms for a 1 MB module, several times what mapping
its compiled code from the cache costs. So after a file has been read, its
SHA-256 and `ModuleFacts` are kept in the cache directory
(``<cache>/sources/<digest of the path>``) together with the file's identity:
path, device, inode, size, mtime and ctime. While the file's identity is
unchanged, a later process takes the SHA-256 and the facts from the memo and
reads the file only if its compiled code has to be built (the bytes are then
checked against the remembered SHA-256).

A user cannot set a file's ctime and any write changes it, so an unchanged
identity means unchanged contents; the memo is only written for a file whose
ctime was at least `_cache.SETTLED_NS` old and did not move while it was read
(git's "racy timestamp" rule). Memos are HMAC-signed with the cache's secret,
so only this user's own wasmplug can have written them. Caching off
(`WASMPLUG_CACHE_DIR=off`): no memo.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from . import _cache, _logs
from ._digest import compare_digest, hmac_sha256, sha256_hex
from .binary import ModuleFacts

log = _logs.logger("wasmplug.cache")

_FORMAT = 1
_DIGEST = 32


def _identity(path: Path, info: os.stat_result) -> str:
    return (f"{_FORMAT}|{path}|{info.st_dev}|{info.st_ino}|{info.st_size}|{info.st_mtime_ns}|"
            f"{info.st_ctime_ns}")


def _where(path: Path) -> tuple[Path, bytes] | None:
    """(memo file for `path`, the cache secret), or None when caching is off or unusable."""
    directory = _cache.cache_dir()
    if directory is None:
        return None
    memos = directory / "sources"
    try:
        if not (_cache.private_dir(directory) and _cache.private_dir(memos)):
            return None
        secret = _cache.secret(directory)
    except OSError:
        return None
    name = sha256_hex(str(path).encode())[:40]
    return memos / name, secret


def recall(path: Path, info: os.stat_result) -> tuple[str, ModuleFacts] | None:
    """(SHA-256, facts) remembered for the file `path` whose fstat is `info`, if still valid."""
    path = path.absolute()
    found = _where(path)
    if found is None:
        return None
    memo, secret = found
    import json  # (here: import wasmplug does without it)

    try:
        if _cache.owned_regular_file(memo) is None:
            return None
        blob = memo.read_bytes()
        mac, payload = blob[:_DIGEST], blob[_DIGEST:]
        if not compare_digest(mac, hmac_sha256(secret, payload)):
            raise ValueError("its signature does not match")
        record = json.loads(payload)
        if record["identity"] != _identity(path, info):
            return None  # the file changed (or another file took its place): read it
        return str(record["sha256"]), ModuleFacts.from_json(record["facts"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring the memo %s about %s (%s)", memo, path, exc)
        with contextlib.suppress(OSError):
            memo.unlink()
        return None


def remember(path: Path, before: os.stat_result, after: os.stat_result, sha256: str,
             facts: ModuleFacts) -> None:
    """Keep what was read from `path`: `before` and `after` are its fstat around the read."""
    path = path.absolute()
    identity = _identity(path, before)
    if identity != _identity(path, after) or time.time_ns() - before.st_ctime_ns < _cache.SETTLED_NS:
        return  # written to while read, or too recently for its times to tell
    found = _where(path)
    if found is None:
        return
    memo, secret = found
    import json

    payload = json.dumps({"identity": identity, "sha256": sha256, "facts": facts.to_json()},
                         separators=(",", ":")).encode()
    try:
        _cache.write_private(memo, hmac_sha256(secret, payload) + payload)
    except OSError as exc:
        log.warning("could not write the memo %s about %s: %s", memo, path, exc)

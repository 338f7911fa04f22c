"""What to load and with which limits: the Extism manifest (ABI.md, section 6).

A manifest can be given as a `Manifest` object, a dict, a JSON or TOML string,
or a path to a `.json` / `.toml` / `.wasm` / `.wat` file. `parse_source` turns
any of these into a validated `Manifest`; `load_modules` reads the wasm bytes
of its sources (verifying hashes) and names them as ABI.md 6.3 prescribes.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import stat
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from . import _source_memo
from ._digest import sha256_hex
from ._errors import LoadError, ManifestError
from ._records import factory, record
from .binary import ModuleFacts

if TYPE_CHECKING:
    from ._netguard import NetworkGuard

WASM_MAGIC = b"\0asm"
HTTP_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token: a valid method


@record(frozen=True)
class WasmFile:
    """A module read from a file (relative paths: the working directory)."""

    path: str
    name: str | None = None
    hash: str | None = None

    def read(self) -> bytes:
        """The file's bytes, within the load limits (`LoadError` if it cannot be read)."""
        return read_module(self)


@record(frozen=True)
class WasmData:
    """A module given as bytes."""

    data: bytes
    name: str | None = None
    hash: str | None = None


@record(frozen=True)
class WasmUrl:
    """A module downloaded when the plug-in is compiled."""

    url: str
    headers: Mapping[str, str] = factory(dict)
    method: str | None = None
    name: str | None = None
    hash: str | None = None


WasmSource: TypeAlias = WasmFile | WasmData | WasmUrl


@record(frozen=True)
class MemoryOptions:
    """`memory` of the manifest. None means the default."""

    max_pages: int | None = None
    max_http_response_bytes: int | None = None
    max_var_bytes: int | None = None
    # wasmplug extension: the largest output a call may return (None: no limit
    # beyond max_pages, since the output lives in the kernel's memory).
    max_output_bytes: int | None = None

    DEFAULT_MAX_VAR_BYTES = 1_048_576
    DEFAULT_MAX_HTTP_RESPONSE_BYTES = 52_428_800

    @property
    def var_bytes_limit(self) -> int:
        return self.DEFAULT_MAX_VAR_BYTES if self.max_var_bytes is None else self.max_var_bytes

    @property
    def http_response_limit(self) -> int:
        if self.max_http_response_bytes is None:
            return self.DEFAULT_MAX_HTTP_RESPONSE_BYTES
        return self.max_http_response_bytes


@record(frozen=True)
class Manifest:
    """A validated Extism manifest."""

    wasm: tuple[WasmSource, ...]
    memory: MemoryOptions = MemoryOptions()
    config: Mapping[str, str] = factory(dict)
    allowed_hosts: tuple[str, ...] | None = None
    allowed_paths: Mapping[str, str] | None = None
    timeout_ms: int | None = None
    # wasmplug extension: `blocked_networks` / `allowed_networks` (the addresses HTTP may reach).
    network_guard: NetworkGuard | None = None

    def __post_init__(self) -> None:
        if not self.wasm:
            raise ManifestError(
                "No wasm files specified in Extism manifest: add at least one entry to 'wasm'"
            )

    @classmethod
    def parse(cls, source: Any) -> Manifest:
        """Anything `Plugin` accepts (path, bytes, WAT, dict, JSON/TOML text, `Manifest`) as a
        validated manifest; `ManifestError` / `LoadError` say what is wrong with it."""
        return parse_source(source)


# ----------------------------------------------------------------- load limits

MiB = 1024 * 1024


@record(frozen=True)
class LoadLimits:
    """What a plug-in may ask the host to read and compile (checked before compiling).

    Process-wide; change them with `set_load_limits` (e.g.
    `set_load_limits(replace(load_limits(), max_module_bytes=1024 * MiB))`).
    """

    max_module_bytes: int = 256 * MiB   # one module: a file, a download or bytes
    max_modules: int = 64               # wasm entries of one manifest
    max_imports: int = 10_000           # per module
    max_exports: int = 10_000           # per module
    max_functions: int = 1_000_000      # functions a module defines
    max_memories: int = 16              # memories of all modules together (the kernel's not counted)
    max_tables: int = 100               # tables of all modules together
    timeout_s: float = 60.0             # reading, downloading and checking every module


_limits = LoadLimits()


def load_limits() -> LoadLimits:
    """The load limits in force."""
    return _limits


def set_load_limits(limits: LoadLimits) -> None:
    """Replace the process-wide load limits (plug-ins loaded afterwards use them)."""
    global _limits
    if not isinstance(limits, LoadLimits):
        raise TypeError(f"expected a LoadLimits, got {limits!r:.80}")
    _limits = limits


MAX_MEMORIES = LoadLimits.max_memories


# ----------------------------------------------------------------- parsing

_U32 = 2**32 - 1
_U64 = 2**64 - 1


def _where(path: str) -> str:
    return f"manifest field '{path}'"


def _expect_object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ManifestError(f"{_where(path)}: expected an object, got {_describe(value)}")
    return value


def _describe(value: Any) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int too long to print (sys.get_int_max_str_digits)
        return f"{type(value).__name__} too large to show"
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _check_keys(obj: Mapping[str, Any], allowed: set[str], path: str) -> None:
    for key in obj:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            raise ManifestError(
                f"{_where(where)} is not a known manifest field "
                f"(allowed here: {', '.join(sorted(allowed))})"
            )


def _opt_str(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ManifestError(f"{_where(path + key)}: expected a string, got {_describe(value)}")


def _opt_uint(obj: Mapping[str, Any], key: str, path: str, maximum: int) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ManifestError(
            f"{_where(path + key)}: expected an integer from 0 to {maximum}, got {_describe(value)}"
        )
    return value


def _str_map(value: Any, path: str) -> dict[str, str]:
    obj = _expect_object(value, path)
    out: dict[str, str] = {}
    for key, item in obj.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise ManifestError(
                f"{_where(path)}: expected string keys and string values, "
                f"got {_describe(key)}: {_describe(item)}"
            )
        out[key] = item
    return out


def _hash(obj: Mapping[str, Any], path: str) -> str | None:
    value = _opt_str(obj, "hash", path)
    if value is not None and (len(value) != 64 or any(c not in "0123456789abcdef" for c in value)):
        raise ManifestError(
            f"{_where(path + 'hash')}: expected the lowercase hex SHA-256 of the module "
            f"(64 characters), got {value!r}"
        )
    return value


def _source(entry: Any, index: int) -> WasmSource:
    path = f"wasm[{index}]."
    obj = _expect_object(entry, path.rstrip("."))
    name = _opt_str(obj, "name", path)
    digest = _hash(obj, path)
    if "path" in obj:
        _check_keys(obj, {"path", "name", "hash"}, path.rstrip("."))
        file_path = _opt_str(obj, "path", path)
        if not file_path:
            raise ManifestError(f"{_where(path + 'path')}: expected a non-empty file path")
        return WasmFile(file_path, name, digest)
    if "data" in obj:
        _check_keys(obj, {"data", "name", "hash"}, path.rstrip("."))
        return WasmData(_data_bytes(obj["data"], path + "data"), name, digest)
    if "url" in obj:
        _check_keys(obj, {"url", "headers", "header", "method", "name", "hash"}, path.rstrip("."))
        url = _opt_str(obj, "url", path)
        if not url:
            raise ManifestError(f"{_where(path + 'url')}: expected a non-empty URL")
        headers_key = "headers" if "headers" in obj else "header"  # "header": before 1.4
        headers = _str_map(obj.get(headers_key) or {}, path + headers_key)
        method = _opt_str(obj, "method", path)
        if method and not HTTP_TOKEN.fullmatch(method):
            raise ManifestError(f"{_where(path + 'method')}: {method!r} is not an HTTP method")
        return WasmUrl(url, headers, method.upper() if method else None, name, digest)
    raise ManifestError(
        f"{_where(path.rstrip('.'))}: each wasm source needs one of 'path', 'data' or 'url'"
    )


def _data_bytes(value: Any, path: str) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:  # ValueError: non-ASCII text
            raise ManifestError(f"{_where(path)}: not valid base64 ({exc})") from None
    if isinstance(value, Mapping) and set(value) == {"ptr", "len"}:
        raise ManifestError(
            f"{_where(path)}: {{ptr, len}} data names memory of a native host process; "
            "wasmplug cannot read it. Pass the module's bytes (or base64) instead"
        )
    raise ManifestError(f"{_where(path)}: expected bytes or a base64 string, got {_describe(value)}")


def from_dict(obj: Mapping[str, Any]) -> Manifest:
    """Validate a manifest given as a dict (the JSON shape of ABI.md 6.2)."""
    _expect_object(obj, "(top level)")
    _check_keys(
        obj,
        {"wasm", "memory", "config", "allowed_hosts", "allowed_paths", "timeout_ms",
         "blocked_networks", "allowed_networks"},
        "",
    )
    wasm = obj.get("wasm") or []
    if not isinstance(wasm, list | tuple):
        raise ManifestError(f"{_where('wasm')}: expected a list of sources, got {_describe(wasm)}")
    sources = tuple(_source(entry, i) for i, entry in enumerate(wasm))

    memory = MemoryOptions()
    if obj.get("memory") is not None:
        mem = _expect_object(obj["memory"], "memory")
        _check_keys(mem, {"max_pages", "max", "max_http_response_bytes", "max_var_bytes",
                          "max_output_bytes"}, "memory")
        pages_key = "max_pages" if "max_pages" in mem else "max"  # "max": before 1.4
        memory = MemoryOptions(
            max_pages=_opt_uint(mem, pages_key, "memory.", _U32),
            max_http_response_bytes=_opt_uint(mem, "max_http_response_bytes", "memory.", _U64),
            max_var_bytes=_opt_uint(mem, "max_var_bytes", "memory.", _U64),
            max_output_bytes=_opt_uint(mem, "max_output_bytes", "memory.", _U64),
        )

    hosts = obj.get("allowed_hosts")
    if hosts is not None:
        if not isinstance(hosts, list | tuple) or not all(isinstance(h, str) for h in hosts):
            raise ManifestError(
                f"{_where('allowed_hosts')}: expected a list of host patterns, got {_describe(hosts)}"
            )
        hosts = tuple(hosts)
    paths = obj.get("allowed_paths")
    if paths is not None:
        paths = _str_map(paths, "allowed_paths")
    guard = _network_guard(obj)

    if not sources:
        raise ManifestError(
            "No wasm files specified in Extism manifest: add at least one entry to 'wasm'"
        )
    return Manifest(
        wasm=sources,
        memory=memory,
        config=_str_map(obj.get("config") or {}, "config"),
        allowed_hosts=hosts,
        allowed_paths=paths,
        timeout_ms=_opt_uint(obj, "timeout_ms", "", _U64),
        network_guard=guard,
    )


def _network_guard(obj: Mapping[str, Any]) -> NetworkGuard | None:
    """`blocked_networks` and its exceptions `allowed_networks` (wasmplug extension)."""
    blocked, allowed = obj.get("blocked_networks"), obj.get("allowed_networks")
    if blocked is None:
        if allowed:
            raise ManifestError(f"{_where('allowed_networks')}: lists exceptions to blocked_networks, "
                                "which is not set; add blocked_networks (e.g. [\"non-public\"])")
        return None
    from ._netguard import NetworkGuard, parse_networks  # ipaddress only for manifests that use it

    try:
        return NetworkGuard(parse_networks(blocked, _where("blocked_networks")),
                            parse_networks(allowed or [], _where("allowed_networks")))
    except ValueError as exc:
        raise ManifestError(str(exc)) from None


def _is_wat(text: str) -> bool:
    stripped = text.lstrip()
    if stripped.startswith((";;", "(;")):
        return True
    return stripped.startswith("(") and stripped[1:].lstrip().startswith("module")


def from_bytes(data: bytes, label: str = "the plug-in data") -> Manifest:
    """Interpret raw plug-in bytes: wasm, WAT, or a TOML / JSON manifest (ABI.md 6.1).

    `label` names the bytes in error messages (a file's path, say).
    """
    if data.startswith(WASM_MAGIC):
        return Manifest(wasm=(WasmData(data),))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        # Not text: hand it to the compiler, which says why it is not wasm.
        return Manifest(wasm=(WasmData(data),))
    if _is_wat(text):
        return Manifest(wasm=(WasmData(data),))
    # ValueError covers both parsers' syntax errors and integers too long to
    # convert; RecursionError, nesting deeper than a manifest ever needs.
    import tomllib  # here: only manifest text needs it

    try:
        parsed: Any = tomllib.loads(text)
    except (ValueError, RecursionError) as toml_error:
        try:
            import json  # (lazily: import wasmplug does not need it)

            parsed = json.loads(text)
        except (ValueError, RecursionError) as json_error:
            # Report the parser the text was most likely meant for.
            looks_json = text.lstrip().startswith(("{", '"'))
            kind, error = ("JSON", json_error) if looks_json else ("TOML", toml_error)
            reason = str(error) if not isinstance(error, RecursionError) else "nested too deeply"
            raise ManifestError(
                f"{label} is neither a wasm module nor a JSON/TOML manifest: {kind}: {reason}; "
                "pass a .wasm file, WAT text, or a manifest such as "
                '{"wasm": [{"path": "plugin.wasm"}]}'
            ) from None
    if not isinstance(parsed, Mapping):
        raise ManifestError(
            f"{label} is not a manifest: a manifest is a JSON/TOML object, got {_describe(parsed)}"
        )
    return from_dict(parsed)




_FILE_SUFFIXES = {".wasm", ".wat", ".json", ".toml"}


def parse_source(source: Any) -> Manifest:
    """Turn anything `Plugin` accepts into a validated `Manifest`.

    - `Manifest`: as is;
    - dict: validated as a manifest (bytes values allowed for `data`);
    - `str` / path naming an existing file: the file's contents;
    - other `str`: JSON / TOML manifest or WAT text;
    - bytes-like: wasm, WAT, or a manifest.
    """
    if isinstance(source, Manifest):
        return source
    if isinstance(source, Mapping):
        return from_dict(source)
    if isinstance(source, os.PathLike):
        return _from_file(Path(source))
    if isinstance(source, str):
        if len(source) < 4096 and "\n" not in source:
            candidate = Path(source)
            try:
                exists = candidate.is_file() or candidate.is_dir()
            except (OSError, ValueError):
                exists = False
            if exists or candidate.suffix.lower() in _FILE_SUFFIXES:
                return _from_file(candidate)  # raises if it is missing or a directory
        return from_bytes(source.encode("utf-8"))
    if isinstance(source, bytes | bytearray | memoryview):
        return from_bytes(bytes(source))
    raise ManifestError(
        f"cannot load a plug-in from {_describe(source)}: pass a Manifest, a dict, "
        "a JSON/TOML manifest, a file path or wasm bytes"
    )


def _from_file(path: Path) -> Manifest:
    with os.fdopen(_open_module_file(path), "rb", buffering=0) as f:
        if f.read(len(WASM_MAGIC)) == WASM_MAGIC:
            # A module: loaded as a file source, so that what is learned
            # about it is remembered for the next process (source_memo).
            return Manifest(wasm=(WasmFile(str(path)),))
        f.seek(0)
        return from_bytes(_read_open_file(f, path, None), f'"{path}"')


def read_module(source: WasmFile) -> bytes:
    """The bytes of a file source (LoadError if it cannot be read)."""
    return _read_file(Path(source.path))


def _read_file(path: Path, deadline: float | None = None) -> bytes:
    """A regular file's bytes, at most `max_module_bytes` of them."""
    with os.fdopen(_open_module_file(path), "rb", buffering=0) as f:
        return _read_open_file(f, path, deadline)


def _open_module_file(path: Path) -> int:
    """A descriptor of the regular file `path`, if it is within `max_module_bytes`.

    Devices (/dev/zero), FIFOs, sockets and directories are refused before
    reading: the file is opened without blocking and checked with fstat.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise LoadError(f'Unable to load Wasm file "{path}": {exc.strerror or exc}') from None
    except ValueError as exc:  # e.g. a NUL byte in the path
        raise LoadError(f"Unable to load Wasm file {str(path)!r}: {exc}") from None
    info = os.fstat(fd)
    problem: LoadError | None = None
    if stat.S_ISDIR(info.st_mode):
        problem = LoadError(f'Unable to load Wasm file "{path}": it is a directory; give the '
                            "path of a .wasm file or of a JSON/TOML manifest")
    elif not stat.S_ISREG(info.st_mode):
        problem = LoadError(f'Unable to load Wasm file "{path}": not a regular file '
                            f"({_file_kind(info.st_mode)}); give the path of a .wasm file")
    elif info.st_size > _limits.max_module_bytes:
        problem = _too_large(f'Wasm file "{path}"', info.st_size, _limits.max_module_bytes)
    if problem is not None:
        os.close(fd)
        raise problem
    return fd


def _read_open_file(f: Any, path: Path, deadline: float | None) -> bytes:
    limit = _limits.max_module_bytes
    chunks: list[bytes] = []
    size = 0
    while True:  # the file may grow while it is read: never read past the limit
        chunk = f.read(min(16 * MiB, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise _too_large(f'Wasm file "{path}"', size, limit)
        _check_deadline(deadline, f'reading "{path}"')
    return b"".join(chunks)


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


def _too_large(what: str, size: int, limit: int) -> LoadError:
    return LoadError(f"Unable to load {what}: it is larger than the limit of {limit:,} bytes "
                     f"per module ({size:,} bytes or more); raise LoadLimits.max_module_bytes "
                     "(wasmplug.set_load_limits) to allow it")


def _check_deadline(deadline: float | None, doing: str) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise LoadError(f"Unable to create Extism plugin: loading took longer than the load "
                        f"timeout ({_limits.timeout_s:g} s) while {doing}; raise "
                        "LoadLimits.timeout_s (wasmplug.set_load_limits) if this is expected")


# ----------------------------------------------------------------- loading


class LoadedModule:
    """A module of the manifest, verified: its name, SHA-256 and `ModuleFacts`.

    `wasm` is its bytes. A file source whose SHA-256 and facts were
    remembered by an earlier process (`source_memo`) is read only when `wasm`
    is first asked for: usually never, because its compiled code is cached.
    """

    __slots__ = ("_path", "_wasm", "facts", "name", "sha256")

    def __init__(self, name: str, wasm: bytes | None, sha256: str, facts: ModuleFacts,
                 path: Path | None = None) -> None:
        self.name = name
        self.sha256 = sha256
        self.facts = facts
        self._wasm = wasm
        self._path = path

    @property
    def wasm(self) -> bytes:
        if self._wasm is None:
            assert self._path is not None
            data = _read_file(self._path, time.monotonic() + _limits.timeout_s)
            if sha256_hex(data) != self.sha256:
                raise LoadError(f'Unable to load Wasm file "{self._path}": it changed while it '
                                "was being loaded; load the plug-in again")
            self._wasm = data
        return self._wasm

    def read(self) -> bytes:
        """The module's bytes (`wasm`), as a function to pass where they may not be needed."""
        return self.wasm


def module_facts(wasm: bytes) -> ModuleFacts:
    """The facts of a module given as wasm bytes or WAT text (text is translated first)."""
    if not wasm.startswith(WASM_MAGIC):
        from . import _wasmtime as wasmtime

        # Neither wasm nor WAT: the compiler reports it.
        with contextlib.suppress(UnicodeDecodeError, wasmtime.WasmtimeError):
            wasm = bytes(wasmtime.wat2wasm(wasm.decode("utf-8")))
    return ModuleFacts.of(wasm)


def _verify(data: bytes, expected: str | None, label: str) -> str:
    actual = sha256_hex(data)
    if expected is not None and actual != expected:
        raise _hash_mismatch(actual, expected, label)
    return actual


def _hash_mismatch(actual: str, expected: str, label: str) -> LoadError:
    return LoadError(f"Hash mismatch, found {actual} but expected {expected} ({label}): "
                     "the module is not the one the manifest pins; fix the hash or the file")


def _fetch(source: WasmUrl, deadline: float) -> bytes:
    from . import _http  # httpx is imported only when a manifest needs it

    try:
        return _http.fetch_module(source.url, source.method, source.headers,
                                  max(0.0, deadline - time.monotonic()), _limits.max_module_bytes)
    except _http.ResponseTooLarge:
        raise _too_large(f"Wasm module from {source.url}", _limits.max_module_bytes + 1,
                         _limits.max_module_bytes) from None
    except _http.HttpTimeout:
        raise LoadError(f"Unable to load Wasm module from {source.url}: the download took "
                        f"longer than the load timeout ({_limits.timeout_s:g} s); raise "
                        "LoadLimits.timeout_s (wasmplug.set_load_limits) if this is expected"
                        ) from None
    except _http.HttpError as exc:
        raise LoadError(f"Unable to load Wasm module from {source.url}: {exc}") from None


def _load_file(path: Path, pinned: str | None,
               deadline: float) -> tuple[bytes | None, str, ModuleFacts]:
    """(bytes or None if not needed yet, SHA-256, facts) of a module file, through the memo."""
    fd = _open_module_file(path)
    with os.fdopen(fd, "rb", buffering=0) as f:
        before = os.fstat(fd)
        remembered = _source_memo.recall(path, before)
        if remembered is not None:
            digest, facts = remembered
            if pinned is not None and pinned != digest:
                raise _hash_mismatch(digest, pinned, str(path))
            _check_deadline(deadline, f"loading {path}")
            return None, digest, facts
        data = _read_open_file(f, path, deadline)
        after = os.fstat(fd)
    _check_deadline(deadline, f"loading {path}")
    digest = _verify(data, pinned, str(path))
    facts = module_facts(data)
    _source_memo.remember(path, before, after, digest, facts)
    return data, digest, facts


def load_modules(manifest: Manifest, deadline: float | None = None) -> list[LoadedModule]:
    """Read and verify every module; the last one returned is `main`.

    Bounded by the load limits: the number of modules, each module's size,
    and the load timeout (`deadline`, a `time.monotonic()` value).
    """
    limits = _limits
    if deadline is None:
        deadline = time.monotonic() + limits.timeout_s
    named: list[LoadedModule] = []
    seen: set[str] = set()
    has_main = False
    count = len(manifest.wasm)
    if count > limits.max_modules:
        raise LoadError(f"Unable to create Extism plugin: the manifest lists {count:,} wasm "
                        f"modules; at most {limits.max_modules} are allowed (raise "
                        "LoadLimits.max_modules with wasmplug.set_load_limits to allow more)")
    for index, source in enumerate(manifest.wasm):
        path: Path | None = None
        if isinstance(source, WasmFile):
            path, label = Path(source.path), source.path
            data, digest, facts = _load_file(path, source.hash, deadline)
        else:
            if isinstance(source, WasmData):
                data, label = source.data, f"wasm[{index}].data"
                if len(data) > limits.max_module_bytes:
                    raise _too_large(f"wasm[{index}].data", len(data), limits.max_module_bytes)
            else:
                data, label = _fetch(source, deadline), source.url
            _check_deadline(deadline, f"loading {label}")
            digest = _verify(data, source.hash, label)
            facts = module_facts(data)
        if count == 1 or source.name is None or (index == count - 1 and not has_main):
            name = "main"
        else:
            name = source.name
        if name in seen:
            raise LoadError(
                f"Duplicate module name found in Extism manifest: {name} "
                "(give each module a distinct 'name'; at most one may be unnamed)"
            )
        seen.add(name)
        has_main = has_main or name == "main"
        named.append(LoadedModule(name, data, digest, facts, path))
    main = next(m for m in named if m.name == "main")
    return [m for m in named if m.name != "main"] + [main]


def check_counts(modules: Mapping[str, ModuleFacts], limits: LoadLimits | None = None) -> None:
    """LoadError if a module declares more than the load limits allow."""
    limits = limits or _limits
    totals = {"memories": 0, "tables": 0}
    for name, facts in modules.items():
        counts = facts.counts
        for item, cap in (("imports", limits.max_imports), ("exports", limits.max_exports),
                          ("functions", limits.max_functions)):
            if counts[item] > cap:
                raise LoadError(
                    f"Unable to create Extism plugin: module '{name}' declares "
                    f"{counts[item]:,} {item}; at most {cap:,} are allowed (raise "
                    f"LoadLimits.max_{item} with wasmplug.set_load_limits to allow more)")
        totals["memories"] += counts["memories"]
        totals["tables"] += counts["tables"]
    for item, cap in (("memories", limits.max_memories), ("tables", limits.max_tables)):
        if totals[item] > cap:
            raise LoadError(
                f"Unable to create Extism plugin: the plug-in's modules declare {totals[item]:,} "
                f"{item}; at most {cap:,} are allowed (raise LoadLimits.max_{item} with "
                "wasmplug.set_load_limits to allow more)")

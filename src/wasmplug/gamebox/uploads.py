"""Checking an uploaded game before anyone plays it.

`check_game` accepts a game only if it is within the size cap, is valid
WebAssembly, exports `init_game`, `handle_event` and `render`, imports
nothing GameBox does not offer (the Extism kernel and host environment,
WASI with nothing granted), and survives a trial run under the game limits
(instantiate, `get_constraints` if present, `init_game` with test players,
`render` for each, one `handle_event`) within a time budget. Every reason
for a rejection is reported at once (`UploadRejected.reasons`).

Only the size and the magic number are checked in the server's process.
The rest runs in a bounded worker process (`upload_worker`): the counts that
make compiling expensive, read from the sections (`module_counts`), then the
exports and imports, one compile and the trial run. Artwork is decoded there
too, after its size was read from its header.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from wasmplug import CompiledPlugin, Error, Plugin
from wasmplug.binary import signatures

from .catalogue.base import GameInfo, GameLimits
from .errors import UploadRejected
from .game_session import MAX_PLAYERS, compile_game
from .module_counts import ModuleBounds, excess
from .upload_worker import WorkerBudget, run_in_worker

log = logging.getLogger("wasmplug.gamebox")
REQUIRED_EXPORTS = ("init_game", "handle_event", "render")
CALLABLE = (((), ()), ((), ("i32",)))  # what an Extism function's signature may be
OFFERED_NAMESPACES = ("extism:host/env", "wasi_snapshot_preview1")  # the kernel, host env, WASI
DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
DEFAULT_TRIAL_SECONDS = 5.0
SLUG = re.compile(r"[^a-z0-9_-]+")
MAX_PASSED_KEPT = 256  # digests of modules that passed (a re-upload is not checked again)
_passed: dict[str, None] = {}
_passed_lock = threading.Lock()


@dataclass(frozen=True)
class UploadPolicy:
    """What an upload may be: its size cap, the game limits of its trial run, the trial's budget,
    what its module may declare, and what the process checking it may use."""

    max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    limits: GameLimits = field(default_factory=GameLimits)
    trial_seconds: float = DEFAULT_TRIAL_SECONDS
    bounds: ModuleBounds = field(default_factory=ModuleBounds)  # counts refused before compiling
    worker: WorkerBudget = field(default_factory=WorkerBudget)  # the checking process's budget


def slugify(name: str) -> str:
    """A game id from a file name or title: lower-case letters, digits, '-' and '_' only.

    Folders (`../../x.wasm`), extensions and anything else are dropped, so an
    uploaded file's name can never point anywhere.
    """
    base = re.split(r"[\\/]", name)[-1]
    base = base.rsplit(".", 1)[0] if "." in base else base
    return SLUG.sub("-", base.lower()).strip("-_")[:40]


def check_game(wasm: bytes, policy: UploadPolicy | None = None) -> None:
    """Return if `wasm` is a playable game; UploadRejected with every reason otherwise.

    The size cap and the magic number are checked here; everything else
    (counts, exports and imports, compiling once, the trial run) in a
    bounded worker process (`upload_worker`) under `policy.worker`.
    """
    policy = policy or UploadPolicy()
    if len(wasm) > policy.max_bytes:
        raise UploadRejected([f"the file is {len(wasm)} bytes, larger than the "
                              f"{policy.max_bytes}-byte cap"])  # never parse what is too big
    if not wasm.startswith(b"\0asm"):
        raise UploadRejected(["the file is not WebAssembly (a .wasm file starts with \\0asm): "
                              "upload the compiled .wasm"])
    params = _policy_json(policy)
    budget = {**params, "worker": dataclasses.asdict(policy.worker)}
    key = hashlib.sha256(json.dumps(budget, sort_keys=True).encode() + b"\0" + wasm).hexdigest()
    with _passed_lock:
        if key in _passed:  # the same code passed under the same policy: no second trial
            return
    answer, _ = run_in_worker(game_job, params, wasm, policy.worker)
    reasons = [str(reason) for reason in answer.get("reasons", [])][:50]
    if reasons:
        raise UploadRejected(reasons)
    with _passed_lock:
        _passed[key] = None
        while len(_passed) > MAX_PASSED_KEPT:
            _passed.pop(next(iter(_passed)))


def _policy_json(policy: UploadPolicy) -> dict[str, Any]:
    return {"limits": dataclasses.asdict(policy.limits), "trial_seconds": policy.trial_seconds,
            "bounds": dataclasses.asdict(policy.bounds)}


def game_job(params: dict[str, Any], payload: bytes) -> tuple[dict[str, Any], list[bytes]]:
    """The game check, in the worker process (`upload_worker`)."""
    return {"reasons": _check_game_here(payload, params)}, []


def artwork_job(params: dict[str, Any], payload: bytes) -> tuple[dict[str, Any], list[bytes]]:
    """The artwork's processing, in the worker process (`upload_worker`)."""
    try:
        return {"reasons": []}, list(_artwork_here(payload, int(params["max_side"])))
    except UploadRejected as exc:
        return {"reasons": exc.reasons}, []


def _check_game_here(wasm: bytes, params: dict[str, Any]) -> list[str]:
    """Every reason `wasm` is not a playable game, read and compiled once (in the worker)."""
    limits = GameLimits(**params["limits"])
    info = GameInfo(id="trial", title="trial", limits=limits)
    try:
        too_much = excess(wasm, ModuleBounds(**params["bounds"]))
        imports, exports = signatures(wasm)
    except ValueError as unreadable:  # malformed: the compiler says best where
        why: BaseException = unreadable
        try:
            compile_game(info, wasm)
        except Error as compile_error:
            why = compile_error
        return [f"the file is not a valid WebAssembly module: {_first_line(why)}"]
    if too_much:
        return too_much
    callable_exports = {name for name, item in exports.items() if item in CALLABLE}
    reasons = [f"it does not export the function {name!r} the game API needs"
               for name in REQUIRED_EXPORTS if name not in callable_exports]
    reasons += [f"it imports {module}.{name}, which GameBox does not offer "
                "(games may import only the Extism kernel, its host environment and WASI)"
                for module, name in imports if module not in OFFERED_NAMESPACES]
    if reasons:
        return reasons
    deadline = time.monotonic() + float(params["trial_seconds"])
    try:
        compiled = compile_game(info, wasm)
    except Error as exc:
        return [f"it does not compile: {_first_line(exc)}"]
    return _trial(compiled, limits, deadline, float(params["trial_seconds"]),
                  "get_constraints" in callable_exports)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _trial(compiled: CompiledPlugin, limits: GameLimits, deadline: float, seconds: float,
           has_constraints: bool) -> list[str]:
    """The trial run: the reasons it failed (empty if the game played)."""
    try:
        plugin = Plugin(compiled)
    except Error as exc:
        return [f"it does not instantiate: {_first_line(exc)}"]
    reasons: list[str] = []

    def call(function: str, payload: Any) -> bytes | None:
        if time.monotonic() > deadline:
            reasons.append(f"the trial run took longer than {seconds:g} s "
                           f"(before {function})")
            return None
        try:
            out = bytes(plugin.call(function, json.dumps(payload) if payload is not None else b""))
        except Error as exc:
            reasons.append(f"{function} failed in the trial run: {_short(exc)}")
            return None
        if len(out) > limits.max_render_bytes:
            reasons.append(f"{function} returned {len(out)} bytes, more than the "
                           f"{limits.max_render_bytes}-byte limit")
            return None
        return out

    try:
        players = 2
        if has_constraints:
            raw = call("get_constraints", None)
            if raw is None:
                return reasons
            found = _players(raw, reasons)
            if found is None:
                return reasons
            players = found
        ids = [f"player{i + 1}" for i in range(players)]
        if call("init_game", {"player_ids": ids}) is None:
            return reasons
        for pid in ids:
            html = call("render", {"player_id": pid, "spectator": False})
            if html is None:
                return reasons
            try:
                html.decode("utf-8")
            except UnicodeDecodeError:
                return [*reasons, "render returned HTML that is not valid UTF-8"]
        raw = call("handle_event", {"player_id": ids[0], "event_name": "trial", "value": {}})
        if raw is not None:
            try:
                assigns = json.loads(raw)
            except ValueError:
                assigns = None
            if not isinstance(assigns, dict) or "version" not in assigns:
                reasons.append("handle_event must return a JSON object of assigns with a version, "
                               f"got {raw[:80]!r}")
        return reasons
    finally:
        plugin.close()


def _players(raw: bytes, reasons: list[str]) -> int | None:
    try:
        data = json.loads(raw)
        low, high = data["min_players"], data["max_players"]
    except (ValueError, KeyError, TypeError):
        reasons.append("get_constraints must return JSON like "
                       f'{{"min_players": 2, "max_players": 4}}, got {raw[:80]!r}')
        return None
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in (low, high)) \
            or not 1 <= low <= high <= MAX_PLAYERS:
        reasons.append(f"get_constraints gave min_players {low!r} and max_players {high!r}: they "
                       f"must be whole numbers with 1 <= min_players <= max_players <= {MAX_PLAYERS}")
        return None
    return int(low)


def _short(exc: BaseException) -> str:
    text = str(exc)
    _, caused, cause = text.partition("Caused by:")
    return " ".join((cause if caused else text).split())[:300] or type(exc).__name__


MAX_ARTWORK_BYTES = 2 * 1024 * 1024  # the uploaded file
MAX_ARTWORK_PIXELS = 4096 * 4096  # read from the header, before anything is decoded
MAX_ARTWORK_SIDE = 1024  # the stored artwork is downscaled to fit this square
MAX_STORED_ARTWORK_BYTES = 1024 * 1024  # the stored PNG (made smaller until it fits)
THUMBNAIL = (320, 200)
ARTWORK_WORKER = WorkerBudget(cpu_seconds=10, memory_mb=512, wall_seconds=30.0)


def check_artwork(data: bytes, budget: WorkerBudget = ARTWORK_WORKER) -> tuple[bytes, bytes]:
    """(artwork, thumbnail) as fresh PNGs from an uploaded PNG or JPEG; UploadRejected otherwise.

    The image is decoded and re-encoded from its pixels, so no metadata,
    trailing payload or second format (a polyglot) survives. Its size is
    read from the header first (more than `MAX_ARTWORK_PIXELS` is refused
    undecoded); it is decoded in a bounded worker process (`upload_worker`),
    downscaled to fit `MAX_ARTWORK_SIDE` and stored in at most
    `MAX_STORED_ARTWORK_BYTES`.
    """
    if len(data) > MAX_ARTWORK_BYTES:
        raise UploadRejected([f"the artwork is {len(data)} bytes, larger than the "
                              f"{MAX_ARTWORK_BYTES}-byte cap"])
    answer, images = run_in_worker(artwork_job, {"max_side": MAX_ARTWORK_SIDE}, data, budget)
    reasons = [str(reason) for reason in answer.get("reasons", [])][:10]
    if reasons:
        raise UploadRejected(reasons)
    if len(images) != 2 or len(images[0]) > MAX_STORED_ARTWORK_BYTES:
        raise UploadRejected(["the artwork could not be processed"])
    return images[0], images[1]


def _artwork_here(data: bytes, max_side: int) -> tuple[bytes, bytes]:
    """check_artwork's work, in the worker process."""
    import io

    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_ARTWORK_PIXELS  # Pillow's own bomb check, as a second wall
    unreadable = UploadRejected(["the artwork must be a PNG or JPEG image (it could not be read as one)"])
    too_big = UploadRejected([f"the artwork has more than the {MAX_ARTWORK_PIXELS} pixels it may have "
                              "(4096 x 4096): make it smaller"])
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
            probe.verify()
        if kind not in ("PNG", "JPEG"):
            raise UploadRejected([f"the artwork must be a PNG or JPEG image, not {kind}"])
        with Image.open(io.BytesIO(data)) as image:  # the header only, so far
            if image.width * image.height > MAX_ARTWORK_PIXELS:
                raise too_big
            if kind == "JPEG":
                image.draft("RGB", (max_side, max_side))  # decoded at 1/2, 1/4 or 1/8 size
            image.thumbnail((max_side, max_side))  # decodes, then shrinks in place
            pixels = image.convert("RGBA" if image.mode in ("RGBA", "LA", "P", "PA") else "RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_big from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise unreadable from None
    clean = Image.new(pixels.mode, pixels.size)
    clean.paste(pixels)
    thumb = clean.copy()
    thumb.thumbnail(THUMBNAIL)
    art = _png(clean)
    for _ in range(8):  # noisy pictures make big PNGs: smaller until it fits
        if len(art) <= MAX_STORED_ARTWORK_BYTES:
            break
        clean = clean.resize((max(1, clean.width * 7 // 10), max(1, clean.height * 7 // 10)))
        art = _png(clean)
    return art, _png(thumb)


def _png(image: Any) -> bytes:
    import io

    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


"""Checking an uploaded game before anyone plays it.

`check_game` accepts a game only if it is within the size cap, is valid
WebAssembly, exports `init_game`, `handle_event` and `render`, imports
nothing GameBox does not offer (the Extism kernel and host environment,
WASI with nothing granted), and survives a trial run under the game limits
(instantiate, `get_constraints` if present, `init_game` with test players,
`render` for each, one `handle_event`) within a time budget. Every reason
for a rejection is reported at once (`UploadRejected.reasons`).
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

from wasmplug import Error, Plugin, inspect_plugin

from .catalogue.base import GameInfo, GameLimits
from .errors import UploadRejected
from .game_session import MAX_PLAYERS, compile_game

log = logging.getLogger("wasmplug.gamebox")
REQUIRED_EXPORTS = ("init_game", "handle_event", "render")
DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
DEFAULT_TRIAL_SECONDS = 5.0
SLUG = re.compile(r"[^a-z0-9_-]+")


@dataclass(frozen=True)
class UploadPolicy:
    """What an upload may be: its size cap, the game limits of its trial run, the trial's budget."""

    max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    limits: GameLimits = field(default_factory=GameLimits)
    trial_seconds: float = DEFAULT_TRIAL_SECONDS


def slugify(name: str) -> str:
    """A game id from a file name or title: lower-case letters, digits, '-' and '_' only.

    Folders (`../../x.wasm`), extensions and anything else are dropped, so an
    uploaded file's name can never point anywhere.
    """
    base = re.split(r"[\\/]", name)[-1]
    base = base.rsplit(".", 1)[0] if "." in base else base
    return SLUG.sub("-", base.lower()).strip("-_")[:40]


def check_game(wasm: bytes, policy: UploadPolicy | None = None) -> None:
    """Return if `wasm` is a playable game; UploadRejected with every reason otherwise."""
    policy = policy or UploadPolicy()
    reasons: list[str] = []
    if len(wasm) > policy.max_bytes:
        reasons.append(f"the file is {len(wasm)} bytes, larger than the {policy.max_bytes}-byte cap")
        raise UploadRejected(reasons)  # never parse what is too big
    if not wasm.startswith(b"\0asm"):
        raise UploadRejected(["the file is not WebAssembly (a .wasm file starts with \\0asm): "
                              "upload the compiled .wasm"])
    try:
        report = inspect_plugin(wasm)
    except Error as exc:
        raise UploadRejected([f"the file is not a valid WebAssembly module: {_first_line(exc)}"]) \
            from None
    module = report["modules"][0]
    exports = {item["name"] for item in module["exports"] if item["extism_function"]}
    reasons += [f"it does not export the function {name!r} the game API needs"
                for name in REQUIRED_EXPORTS if name not in exports]
    reasons += [f"it imports {item['module']}.{item['name']}, which GameBox does not offer "
                "(games may import only the Extism kernel, its host environment and WASI)"
                for item in module["imports"] if item["provided_by"] != "wasmplug"]
    if not reasons:
        reasons += _trial(wasm, policy, "get_constraints" in exports)
    if reasons:
        raise UploadRejected(reasons)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _trial(wasm: bytes, policy: UploadPolicy, has_constraints: bool) -> list[str]:
    """The trial run: the reasons it failed (empty if the game played)."""
    deadline = time.monotonic() + policy.trial_seconds
    info = GameInfo(id="trial", title="trial", limits=policy.limits)
    try:
        plugin = Plugin(compile_game(info, wasm))
    except Error as exc:
        return [f"it does not instantiate: {_first_line(exc)}"]
    reasons: list[str] = []

    def call(function: str, payload: Any) -> bytes | None:
        if time.monotonic() > deadline:
            reasons.append(f"the trial run took longer than {policy.trial_seconds:g} s "
                           f"(before {function})")
            return None
        try:
            out = bytes(plugin.call(function, json.dumps(payload) if payload is not None else b""))
        except Error as exc:
            reasons.append(f"{function} failed in the trial run: {_short(exc)}")
            return None
        if len(out) > policy.limits.max_render_bytes:
            reasons.append(f"{function} returned {len(out)} bytes, more than the "
                           f"{policy.limits.max_render_bytes}-byte limit")
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


MAX_ARTWORK_BYTES = 2 * 1024 * 1024
THUMBNAIL = (320, 200)


def check_artwork(data: bytes) -> tuple[bytes, bytes]:
    """(artwork, thumbnail) as fresh PNGs from an uploaded PNG or JPEG; UploadRejected otherwise.

    The image is decoded and re-encoded from its pixels, so no metadata,
    trailing payload or second format (a polyglot) survives.
    """
    import io

    from PIL import Image, UnidentifiedImageError

    if len(data) > MAX_ARTWORK_BYTES:
        raise UploadRejected([f"the artwork is {len(data)} bytes, larger than the "
                              f"{MAX_ARTWORK_BYTES}-byte cap"])
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
            probe.verify()
        if kind not in ("PNG", "JPEG"):
            raise UploadRejected([f"the artwork must be a PNG or JPEG image, not {kind}"])
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > 40_000_000:
                raise UploadRejected(["the artwork has too many pixels (at most 40 million)"])
            pixels = image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise UploadRejected(["the artwork must be a PNG or JPEG image (it could not be read as "
                              "one)"]) from None
    clean = Image.new(pixels.mode, pixels.size)
    clean.paste(pixels)
    thumb = clean.copy()
    thumb.thumbnail(THUMBNAIL)
    return _png(clean), _png(thumb)


def _png(image: Any) -> bytes:
    import io

    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


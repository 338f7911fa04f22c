"""Games read from folders: `DirectoryCatalogue` (the bundled games, a data dir, one file).

`DirectoryCatalogue` reads games from folders (`<id>.wasm`, or `<id>.js` in the JS PDK style, with
an optional `<id>.toml` beside it: `title`, `description` and a `[limits]`
table with `memory_mb` and `timeout_ms`). A `.js` game is built into a plug-in
by `wasmplug.js` when it is loaded (once per version of its source). The
bundled games live in `wasmplug/gamebox/games/`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from wasmplug import Error

from ..errors import GameBoxError, UnknownGame
from .base import GameInfo, GameLimits

log = logging.getLogger("wasmplug.gamebox")


def bundled_games_dir() -> Path:
    """The folder of the games shipped with wasmplug."""
    return Path(str(resources.files("wasmplug.gamebox") / "games"))


GAME_SUFFIXES = (".wasm", ".js")  # in a folder, game.wasm wins over game.js
_built_js: dict[str, bytes] = {}  # sha256 of a .js game's file name and source -> its plug-in
_built_js_lock = threading.Lock()


def build_js_game(source: bytes, filename: str) -> bytes:
    """The plug-in of a JavaScript game (built by `wasmplug.js`, cached by source digest).

    The file name is part of the key: it is embedded in the plug-in, for JS stack traces.
    """
    digest = hashlib.sha256(filename.encode() + b"\0" + source).hexdigest()
    with _built_js_lock:
        cached = _built_js.get(digest)
    if cached is not None:
        return cached
    from wasmplug import js  # lazily: only JS games need the JS runtime

    try:
        wasm = js.build(source, filename=filename)
    except Error as exc:  # a syntax error, no exports, the runtime cannot be built
        raise GameBoxError(f"cannot build the JavaScript game {filename}: {exc}") from None
    with _built_js_lock:
        if len(_built_js) >= 64:  # old versions of games being written
            _built_js.pop(next(iter(_built_js)))
        _built_js[digest] = wasm
    return wasm


class DirectoryCatalogue:
    """Games read from `.wasm` or `.js` files in folders (or single files), re-read on each call."""

    def __init__(self, *paths: str | Path, limits: GameLimits | None = None) -> None:
        self.paths = [Path(p) for p in paths]
        self.default_limits = limits or GameLimits()
        self._infos: dict[tuple[str, Path, float], GameInfo] = {}

    def _files(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for path in self.paths:
            if path.suffix in GAME_SUFFIXES:
                files = [path]
            elif path.is_dir():
                files = [file for suffix in GAME_SUFFIXES for file in sorted(path.glob(f"*{suffix}"))]
            else:
                files = []
            for file in files:
                found.setdefault(file.stem, file)
        return found

    def games(self) -> list[GameInfo]:
        infos = [self._info(game_id, file) for game_id, file in self._files().items()]
        return sorted(infos, key=lambda info: info.title.lower())

    def get(self, game_id: str) -> GameInfo:
        file = self._files().get(game_id)
        if file is None:
            raise UnknownGame(f"no game {game_id!r} in the catalogue; pick one of: "
                              f"{', '.join(sorted(self._files())) or 'none (the catalogue is empty)'}")
        return self._info(game_id, file)

    def load(self, game_id: str) -> bytes:
        self.get(game_id)
        file = self._files()[game_id]
        code = file.read_bytes()
        return build_js_game(code, file.name) if file.suffix == ".js" else code

    def path(self, game_id: str) -> Path:
        self.get(game_id)
        return self._files()[game_id]

    def _info(self, game_id: str, file: Path) -> GameInfo:
        toml = file.with_suffix(".toml")
        key = (game_id, file, toml.stat().st_mtime if toml.exists() else 0.0)
        info = self._infos.get(key)
        if info is None:
            info = self._infos[key] = self._read_info(game_id, file, toml)
        return info

    def _read_info(self, game_id: str, file: Path, toml: Path) -> GameInfo:
        meta: dict[str, Any] = {}
        if toml.exists():
            try:
                meta = tomllib.loads(toml.read_text("utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                log.warning("ignoring %s: %s", toml, exc)
        limits = self.default_limits
        raw_limits = meta.get("limits")
        if isinstance(raw_limits, dict):
            known = {k: v for k, v in raw_limits.items()
                     if k in ("memory_mb", "timeout_ms", "max_render_bytes")}
            try:
                limits = GameLimits(**{**limits.__dict__, **known})
            except GameBoxError as exc:
                log.warning("ignoring the limits in %s: %s", toml, exc)
        title = meta.get("title")
        description = meta.get("description")
        return GameInfo(id=game_id,
                        title=title if isinstance(title, str) and title else game_id.replace("_", " "),
                        description=description if isinstance(description, str) else "",
                        limits=limits)

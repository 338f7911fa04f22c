"""What a game writes into the server's log: escaped, cut short and rate-limited.

A game's words reach the log three ways: the message of a failed call (the
game's `error_set` text), what it writes to WASI stdout and stderr, and what
it logs through the Extism log functions (`PluginLogGuard`). Both are the
game author's text, so a newline in them must not start a forged log line
(`INFO wasmplug.gamebox: root banned alice`), and a game writing without
pause must not fill the disk. `escape` makes one line of any text (control
characters become `\\n`, `\\x1b`, ...), `GameLog` lets each game log at most
`lines` lines and `bytes` bytes per `interval` seconds, then counts what it
dropped and says so once the interval is over.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("wasmplug.gamebox")
MAX_LINE_CHARS = 500
LINES_PER_INTERVAL = 20
BYTES_PER_INTERVAL = 8 * 1024
INTERVAL_SECONDS = 10.0
MAX_PENDING_BYTES = 4 * 1024  # an unfinished stderr line kept until its newline


def escape(text: str, limit: int = MAX_LINE_CHARS) -> str:
    """`text` as one printable line: control and other invisible characters escaped, cut at `limit`."""
    out = []
    size = 0
    for ch in text:
        piece = ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
        size += len(piece)
        if size > limit:
            out.append("…")
            break
        out.append(piece)
    return "".join(out)


class GameLog:
    """The log budget of one game: `lines` lines and `bytes` bytes per `interval` seconds."""

    def __init__(self, game: str, *, lines: int = LINES_PER_INTERVAL, bytes: int = BYTES_PER_INTERVAL,
                 interval: float = INTERVAL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.game = escape(game, 80)
        self.lines, self.bytes, self.interval, self.clock = lines, bytes, interval, clock
        self._lock = threading.Lock()
        self._start = clock()
        self._used_lines = self._used_bytes = self._dropped = 0

    def allow(self, size: int) -> bool:
        """Whether a line of `size` characters may be logged now (counting it if so)."""
        with self._lock:
            now = self.clock()
            if now - self._start >= self.interval:
                dropped, self._dropped = self._dropped, 0
                self._start, self._used_lines, self._used_bytes = now, 0, 0
                if dropped:
                    log.warning("game %s: %d more log line(s) dropped (at most %d lines and %d bytes "
                                "per %g s)", self.game, dropped, self.lines, self.bytes, self.interval)
            if self._used_lines >= self.lines or self._used_bytes + size > self.bytes:
                self._dropped += 1
                return False
            self._used_lines += 1
            self._used_bytes += size
            return True

    def emit(self, level: int, message: str, *args: object) -> None:
        """Log `message % args` (the args escaped) if the budget allows."""
        text = message % tuple(escape(str(arg)) for arg in args)
        if self.allow(len(text)):
            log.log(level, "%s", text)

    def sink(self, stream: str) -> Callable[[bytes], None]:
        """A WASI output sink for `stream`: each complete line logged (escaped, within the budget)."""
        pending = [b""]

        def write(data: bytes) -> None:
            with self._lock:
                lines = (pending[0] + data).split(b"\n")
                pending[0] = lines.pop()[-MAX_PENDING_BYTES:]
            for line in lines:
                self.emit(logging.WARNING, "game %s wrote to %s: %s", self.game, stream,
                          line.decode("utf-8", "replace"))

        return write


MAX_GAMES = 1024  # budgets kept at once (the oldest is forgotten: a fresh budget if it comes back)
_budgets: dict[str, GameLog] = {}
_budgets_lock = threading.Lock()


def game_log(game_id: str) -> GameLog:
    """The log budget of the game `game_id` (one per game, shared by all its arenas)."""
    with _budgets_lock:
        budget = _budgets.get(game_id)
        if budget is None:
            if len(_budgets) >= MAX_GAMES:
                _budgets.pop(next(iter(_budgets)))
            budget = _budgets[game_id] = GameLog(game_id)
        return budget


GAME_THREAD_PREFIX = "gamebox-"  # every arena's game runs in a thread named gamebox-CODE-GAME


class PluginLogGuard(logging.Filter):
    """On the `wasmplug.plugin` logger: what a game logs through the Extism log functions
    (`log_warn`, `log_error`, ...) is escaped to one line and rate-limited per arena's game.
    Other plug-ins of the process (not in a game's thread) are left alone."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not (record.threadName or "").startswith(GAME_THREAD_PREFIX):
            return True
        text = escape(record.getMessage())
        if not game_log(record.threadName or "").allow(len(text)):
            return False
        record.msg, record.args = text, ()
        return True


def guard_plugin_logs() -> None:
    """Install `PluginLogGuard` on the `wasmplug.plugin` logger (once per process)."""
    logger = logging.getLogger("wasmplug.plugin")
    if not any(isinstance(existing, PluginLogGuard) for existing in logger.filters):
        logger.addFilter(PluginLogGuard())

"""A game's plug-in in an arena: the four calls of the game API, checked.

Each arena's game is one plug-in owned by one `PluginServer` actor, so its
events are handled one at a time, in order. Games run with WASI on but
nothing granted (no files, env or args), no network, and their limits
(memory, time per call, output size). Whatever goes wrong in a call (trap,
timeout, limit, output that is not what the API says) becomes `GameFailed`
naming the game, the call and the reason, and is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from typing import Any

from wasmplug import CompiledPlugin, Error, Manifest, MemoryOptions, WasiOptions, WasmData
from wasmplug.actors import PluginServer

from .arenas.state import MAX_ASSIGNS_BYTES, Constraints
from .catalogue.base import Catalogue, GameInfo
from .errors import GameFailed
from .game_logs import GAME_THREAD_PREFIX, game_log

PAGE = 65_536
JS_HEAP_LIMIT_KEY = "wasmplug.js.max_memory"  # read by wasmplug's JavaScript runtime
DEFAULT_CONSTRAINTS = Constraints(2, 2)
MAX_PLAYERS = 64


def compile_game(info: GameInfo, wasm: bytes) -> CompiledPlugin:
    """Compile a game with its limits (LoadError/ManifestError if the code is bad)."""
    limits = info.limits
    max_pages = limits.memory_mb * 1024 * 1024 // PAGE
    manifest = Manifest(
        wasm=(WasmData(wasm, name="main"),),
        memory=MemoryOptions(max_pages=max_pages, max_output_bytes=limits.max_render_bytes),
        # A JavaScript game's runtime caps its heap below the budget (wasmplug.js
        # with_heap_limit): a hog gets a JS error and the game stays playable.
        config={JS_HEAP_LIMIT_KEY: str(max_pages * PAGE)},
        allowed_hosts=None,  # no network
        allowed_paths=None,  # no files
        timeout_ms=limits.timeout_ms,
    )
    # What the game writes is logged escaped and within its log budget.
    budget = game_log(info.id)
    wasi = WasiOptions(stdout=budget.sink("stdout"), stderr=budget.sink("stderr"))
    return CompiledPlugin(manifest, wasi=wasi, functions=[])


def _resolve(loop: asyncio.AbstractEventLoop, done: asyncio.Future[Any], outcome: Any) -> None:
    """Settle `done` with `outcome` (an exception is raised by it) from any thread."""
    def settle() -> None:
        if done.done():  # the waiting coroutine was cancelled
            return
        if isinstance(outcome, BaseException):
            done.set_exception(outcome)
        else:
            done.set_result(outcome)

    loop.call_soon_threadsafe(settle)


def _short(reason: str) -> str:
    """The reason without a Wasm backtrace (players need the cause; the log keeps it all)."""
    _, caused, cause = reason.partition("Caused by:")
    text = cause if caused else reason
    return " ".join(text.split())[:500]


class GameSlots:
    """How many arenas' games may run at once in this process (an async context manager).

    Every game has its own actor thread, but Python code runs one thread at
    a time: with dozens of arenas calling their games at once, the threads
    queue for the interpreter lock between every host call and the event
    loop that sends the boards waits behind them, and a busy server slows
    itself down. So a trip to a game (an event and its renders) first takes a
    slot. A trip still running after `lease` seconds gives its slot back, so
    a slow game (up to its time limit per call) never holds up other arenas.
    """

    def __init__(self, slots: int = 2, lease: float = 0.1) -> None:
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots}")
        self.lease = lease
        self._free = asyncio.Semaphore(slots)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        await self._free.acquire()
        held = [True]

        def give_back() -> None:
            if held[0]:
                held[0] = False
                self._free.release()

        timer = asyncio.get_running_loop().call_later(self.lease, give_back)
        try:
            yield
        finally:
            timer.cancel()
            give_back()


class GameLoader:
    """Compiles the catalogue's games, once per version of their code."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._compiled: dict[str, tuple[str, CompiledPlugin]] = {}

    def load(self, game_id: str) -> tuple[GameInfo, CompiledPlugin]:
        info = self.catalogue.get(game_id)
        wasm = self.catalogue.load(game_id)
        digest = hashlib.sha256(wasm).hexdigest()
        cached = self._compiled.get(game_id)
        if cached is not None and cached[0] == digest:
            return info, cached[1]
        compiled = compile_game(info, wasm)
        self._compiled[game_id] = (digest, compiled)
        return info, compiled


class GameSession:
    """One arena's game: its `PluginServer` and the four calls of the game API."""

    def __init__(self, info: GameInfo, compiled: CompiledPlugin, arena: str) -> None:
        self.info = info
        self.arena = arena
        self.compiled = compiled
        self.server = PluginServer(compiled, name=f"{GAME_THREAD_PREFIX}{arena}-{info.id}")
        self.server.start()

    def _failed(self, function: str, reason: str) -> GameFailed:
        game_log(self.info.id).emit(logging.WARNING, "arena %s: game %s (%s) failed in %s: %s",
                                    self.arena, self.info.id, self.info.title, function, reason)
        return GameFailed(self.info.title, function, _short(reason))

    async def _call(self, function: str, payload: Any) -> bytes:
        try:
            return await self.server.call_async(function, json.dumps(payload))
        except Error as exc:
            raise self._failed(function, str(exc) or type(exc).__name__) from None

    async def constraints(self) -> Constraints:
        """get_constraints, or 2..2 when it is missing, fails or says something odd."""
        try:
            raw = await self.server.call_async("get_constraints", b"")
            data = json.loads(raw)
            low, high = data["min_players"], data["max_players"]
            if not all(isinstance(n, int) and not isinstance(n, bool) for n in (low, high)) \
                    or not 1 <= low <= high <= MAX_PLAYERS:
                raise ValueError(f"min_players {low!r}, max_players {high!r}")
            return Constraints(low, high)
        except (Error, ValueError, KeyError, TypeError) as exc:
            game_log(self.info.id).emit(logging.INFO, "game %s: get_constraints gave no usable "
                                        "answer (%s); using 2..2", self.info.id, exc)
            return DEFAULT_CONSTRAINTS

    async def init(self, player_ids: list[str]) -> None:
        await self._call("init_game", {"player_ids": player_ids})

    async def handle_event(self, event: dict[str, Any]) -> dict[str, Any]:
        return self._assigns(await self._call("handle_event", event))

    def _assigns(self, raw: bytes) -> dict[str, Any]:
        """handle_event's output, checked: a JSON object of assigns with a version."""
        if len(raw) > MAX_ASSIGNS_BYTES:
            raise self._failed("handle_event", f"its output ({len(raw)} bytes) is larger than "
                                               f"the {MAX_ASSIGNS_BYTES} bytes assigns may take")
        try:
            assigns = json.loads(raw)
        except (ValueError, RecursionError):
            raise self._failed("handle_event", f"its output is not JSON: {raw[:80]!r}") from None
        if not isinstance(assigns, dict) or "version" not in assigns:
            raise self._failed("handle_event", "its output must be a JSON object of assigns "
                                               f"with at least a version, got {raw[:80]!r}")
        return assigns

    async def render(self, assigns: dict[str, Any]) -> str:
        raw = await self._call("render", assigns)
        return self._html(raw)

    async def render_many(self, viewers: list[dict[str, Any]],
                          finish: Callable[[str], str] = str) -> list[str | GameFailed]:
        """Render for several viewers at once (queued together in the actor's mailbox).

        Each HTML is checked and passed through `finish` (the sanitiser) in
        the actor's thread as soon as it is rendered, and the event loop is
        woken once, when the last render is done (the mailbox is in order).
        """
        loop = asyncio.get_running_loop()
        done: asyncio.Future[list[str | GameFailed]] = loop.create_future()
        self._render_all(viewers, finish, functools.partial(_resolve, loop, done))
        return await done

    async def play(self, event: dict[str, Any],
                   plan: Callable[[dict[str, Any]], list[tuple[str, dict[str, Any]]]],
                   finish: Callable[[str], str] = str,
                   ) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]], list[str | GameFailed]]:
        """handle_event, then render for the viewers `plan` picks, in one trip to the actor.

        `plan` gets the checked assigns and returns the viewers to render
        with their `render` inputs (name, input); it,
        the renders and `finish` run in the actor's thread right after the
        event, and the event loop is woken once, when the last render is done.
        Returns (assigns, the plan's viewers, their HTML or GameFailed); raises
        GameFailed if handle_event fails.
        """
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        resolve = functools.partial(_resolve, loop, done)

        def handled(future: Future[bytes]) -> None:  # in the actor's thread
            try:
                assigns = self._assigns(self._output(future, "handle_event"))
                views = plan(assigns)
                self._render_all([view for _, view in views], finish,
                                 lambda results: resolve((assigns, views, results)))
            except BaseException as exc:  # handed to the waiting coroutine
                resolve(exc)

        try:
            self.server.send("handle_event", json.dumps(event)).add_done_callback(handled)
        except Error as exc:
            raise self._failed("handle_event", str(exc) or type(exc).__name__) from None
        result: tuple[dict[str, Any], list[tuple[str, dict[str, Any]]], list[str | GameFailed]] = await done
        return result

    def _render_all(self, viewers: list[dict[str, Any]], finish: Callable[[str], str],
                    done: Callable[[list[str | GameFailed]], None]) -> None:
        """Queue one render per distinct view (spectators share one); each HTML is checked and
        `finish`ed (sanitised) in the actor's thread, the time that takes counted against the
        game's time limit, and `done` gets every viewer's (in order) once the last is settled."""
        inputs = [json.dumps(assigns, sort_keys=True) for assigns in viewers]
        distinct = list(dict.fromkeys(inputs))
        rendered: dict[str, str | GameFailed] = {}
        remaining = [len(distinct)]
        lock = threading.Lock()

        def settled(count: int) -> None:
            with lock:
                remaining[0] -= count
                last = remaining[0] == 0
            if last:
                done([rendered[key] if key in rendered else self._failed("render", "no result")
                      for key in inputs])

        def settle(key: str, future: Future[bytes]) -> None:
            try:
                rendered[key] = self._finished(self._html(self._output(future, "render")), finish)
            except GameFailed as exc:
                rendered[key] = exc
            finally:  # whatever happened, the waiter hears of it
                settled(1)

        if not distinct:
            done([])
            return
        for index, key in enumerate(distinct):
            try:
                future = self.server.send("render", key)
            except Error as exc:  # the server stopped: this render and the rest fail
                failed = self._failed("render", str(exc) or type(exc).__name__)
                rendered.update(dict.fromkeys(distinct[index:], failed))
                settled(len(distinct) - index)
                return
            future.add_done_callback(functools.partial(settle, key))

    def _finished(self, html: str, finish: Callable[[str], str]) -> str:
        """`finish(html)`; GameFailed if that took longer than the game's time limit per call
        (sanitising is work the game causes, so it counts against the game). CPU time of this
        thread: other work on a loaded machine does not count against the game."""
        started = time.thread_time()
        result = finish(html)
        took = time.thread_time() - started
        limit = self.info.limits.timeout_ms / 1000
        if took > limit:
            raise self._failed("render", f"sanitising its HTML took {took:.2f} s, longer than its "
                                         f"{limit:g} s time limit: render simpler HTML")
        return result

    def _output(self, future: Future[bytes], function: str) -> bytes:
        """A finished call's output; GameFailed if the call failed."""
        try:
            return future.result()
        except Error as exc:
            raise self._failed(function, str(exc) or type(exc).__name__) from None

    def _html(self, raw: bytes) -> str:
        limit = self.info.limits.max_render_bytes
        if len(raw) > limit:
            raise self._failed("render", f"its HTML ({len(raw)} bytes) is larger than the "
                                         f"{limit}-byte limit")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self._failed("render", "its HTML is not valid UTF-8") from None

    async def restart(self, compiled: CompiledPlugin | None = None, keep_vars: bool = False) -> None:
        """A fresh instance (of new code, if given); keep_vars keeps the game's state."""
        if compiled is not None:
            self.compiled = compiled
        await asyncio.to_thread(self.server.reload, self.compiled, keep_vars)

    def stop(self) -> None:
        """Stop the game, waiting for a call it is in (up to its time limit): never on the event loop."""
        self.server.stop(timeout=5)

    def stop_soon(self) -> threading.Thread:
        """Stop the game in a thread of its own (returned), so whoever asks never waits for it."""
        thread = threading.Thread(target=self.stop, name=f"gamebox-stop-{self.arena}", daemon=True)
        thread.start()
        return thread

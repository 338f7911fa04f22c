"""`ExtensionHost`: the extensions of a TOML file, loaded, called, watched.

    host = ExtensionHost("extensions.toml")
    host.call("wasm-optimizer", "transform", {"ir": ...})
    await host.call_async("wasm-optimizer", "transform", {"ir": ...})
    host.call_capability("transform", {"ir": ...}, mode="all")
    host.watch()          # reload extensions when their .wasm or the TOML changes
    host.status()
    host.close()

Threads: `call` may be used from any number of threads. Wasm runs without the
GIL, so long calls (and a pool: `max_concurrent_calls > 1`) run in parallel;
short calls, which are mostly Python, take turns 20 ms at a time
(turnstile.py), which makes more calls per second than letting two threads
hand the GIL to each other at every call.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from .. import Error
from .config import ExtensionConfig, load_config
from .errors import ExtensionConfigError, ExtensionError, ExtensionNotFound, MethodNotOffered
from .extension import READY, UNLOADED, Capability, Event, Extension, ExtensionStatus

log = logging.getLogger("wasmplug.extensions")
_WARNINGS = {"failed", "call_failed", "restarting", "reload_failed", "warning", "config_failed"}


class ExtensionHost:
    """Loads the extensions listed in `config` (a TOML file) and calls their methods.

    Extensions that fail to load are kept with state `failed` and the reason
    (see `status()`); a bad configuration raises `ExtensionConfigError`.
    `on_event` is called with every `Event` (it is also logged).
    """

    def __init__(self, config: str | Path, *, on_event: Callable[[Event], object] | None = None,
                 start: bool = True) -> None:
        self.config_path = Path(config).resolve()
        self.on_event = on_event
        self._settings = load_config(self.config_path)
        self._extensions: dict[str, Extension] = {}
        self._lock = threading.RLock()  # changes to the set of extensions
        self._executor: ThreadPoolExecutor | None = None
        self._watcher: threading.Thread | None = None
        self._stop_watching = threading.Event()
        self._closed = False
        if start:
            self.start()

    def start(self) -> None:
        """Load every configured extension (one after the other)."""
        with self._lock:
            for settings in self._settings:
                if settings.name not in self._extensions:
                    extension = self._extensions[settings.name] = Extension(settings, self._emit)
                    extension.start()

    # -- calls -------------------------------------------------------------------
    def extension(self, name: str) -> Extension:
        found = self._extensions.get(name)
        if found is None:
            raise ExtensionNotFound(
                f"no extension named {name!r} (configured: {', '.join(self._extensions) or 'none'})",
                extension=name)
        return found

    def call(self, extension: str, method: str, params: Any = None) -> Any:
        """Call `method` of `extension` with `params` (JSON-able); return the decoded result."""
        found = self._extensions.get(extension)
        if found is None:
            found = self.extension(extension)
        return found.call(method, params)

    async def call_async(self, extension: str, method: str, params: Any = None) -> Any:
        """`call` in a worker thread: the event loop keeps running meanwhile."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(self.call, extension, method,
                                                                  params))

    def offering(self, method: str) -> list[str]:
        """The ready extensions whose capabilities include `method`, in configuration order."""
        return [name for name, ext in list(self._extensions.items())
                if ext.state == READY and any(c.name == method for c in ext.capabilities())]

    def call_capability(self, method: str, params: Any = None,
                        mode: Literal["first", "all"] = "first") -> Any:
        """Call `method` on the extensions offering it.

        "first": the first one in configuration order; its result (or error).
        "all": all of them at once; {extension: result, or the ExtensionError it raised}.
        """
        names = self.offering(method)
        if not names:
            raise MethodNotOffered(f"no ready extension offers {method!r}", method=method)
        if mode == "first":
            return self.call(names[0], method, params)
        if mode != "all":
            raise Error(f"mode must be \"first\" or \"all\", got {mode!r}")
        if len(names) == 1:
            return {names[0]: self._result_or_error(names[0], method, params)}
        executor = self._fan_out_executor()
        futures = {name: executor.submit(self._result_or_error, name, method, params)
                   for name in names}
        return {name: future.result() for name, future in futures.items()}

    def _result_or_error(self, name: str, method: str, params: Any) -> Any:
        try:
            return self.call(name, method, params)
        except ExtensionError as exc:
            return exc

    def _fan_out_executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=16,
                                                    thread_name_prefix="wasmplug-extensions")
            return self._executor

    # -- observability --------------------------------------------------------------
    def names(self) -> list[str]:
        return list(self._extensions)

    def status(self) -> dict[str, ExtensionStatus]:
        return {name: ext.status() for name, ext in list(self._extensions.items())}

    def capabilities(self) -> dict[str, list[Capability]]:
        return {name: ext.capabilities() for name, ext in list(self._extensions.items())}

    def _emit(self, kind: str, extension: str, message: str, data: dict[str, Any]) -> None:
        log.log(logging.WARNING if kind in _WARNINGS else logging.INFO, "%s", message,
                extra={"extension": extension, "event": kind})
        if self.on_event is not None:
            try:
                self.on_event(Event(kind, extension, message, data))
            except Exception:
                log.exception("the on_event callback failed on a %s event", kind)

    # -- changes ----------------------------------------------------------------------
    def reload(self, name: str) -> bool:
        """Load extension `name` again from its source; False (old one kept) if that fails."""
        return self.extension(name).reload()

    def unload(self, name: str) -> None:
        """Unload `name` (running calls finish first) and forget it."""
        with self._lock:
            extension = self.extension(name)
            del self._extensions[name]
        extension.unload()

    def refresh(self) -> None:
        """Apply the TOML file and the modules as they are now on disk.

        New entries are loaded, removed ones unloaded, changed entries and
        changed modules reloaded. A configuration that does not parse changes
        nothing (a `config_failed` event says why).
        """
        try:
            settings = load_config(self.config_path)
        except ExtensionConfigError as exc:
            self._emit("config_failed", "", f"configuration not applied: {exc}",
                       {"reason": str(exc)})
            return
        with self._lock:
            wanted = {s.name: s for s in settings}
            for name in [n for n in self._extensions if n not in wanted]:
                self.unload(name)
            for entry in settings:
                self._apply(entry)
            # keep the configuration's order
            self._extensions = {s.name: self._extensions[s.name] for s in settings}
            self._settings = settings

    def _apply(self, entry: ExtensionConfig) -> None:
        current = self._extensions.get(entry.name)
        if current is None:
            extension = self._extensions[entry.name] = Extension(entry, self._emit)
            extension.start()
            return
        if not entry.enabled:
            if current.state != UNLOADED:
                current.unload()
            current.settings = entry
            return
        if current.state == UNLOADED or current.settings.enabled is False:
            current.settings = entry
            current.start()
        elif entry != current.settings or _module_changed(current):
            current.reload(entry)

    def watch(self, *, debounce_ms: int = 50) -> None:
        """Reload extensions when their module or the TOML file changes (a background thread).

        Needs `watchfiles` (`pip install 'wasmplug[extensions]'`). Stopped by `close()`.
        """
        try:
            import watchfiles
        except ImportError:
            raise Error("host.watch() needs watchfiles: pip install 'wasmplug[extensions]'") from None
        if self._watcher is not None and self._watcher.is_alive():
            return
        self._stop_watching.clear()
        ready = threading.Event()
        self._watcher = threading.Thread(target=self._watch, args=(watchfiles, debounce_ms, ready),
                                         daemon=True, name="wasmplug-extensions-watch")
        self._watcher.start()
        ready.wait(5.0)

    def _watched(self) -> tuple[set[Path], set[Path]]:
        files = {self.config_path}
        files.update(e.settings.path for e in self._extensions.values() if e.settings.path)
        return files, {f.parent for f in files}

    def _watch(self, watchfiles: Any, debounce_ms: int, ready: threading.Event) -> None:
        while not self._stop_watching.is_set():
            files, folders = self._watched()
            names = {str(f) for f in files}
            changes = watchfiles.watch(*sorted(folders), watch_filter=None, debounce=debounce_ms,
                                       step=10, stop_event=self._stop_watching, recursive=False,
                                       yield_on_timeout=True, rust_timeout=200)
            for batch in changes:
                ready.set()
                if not any(path in names for _, path in batch):
                    continue
                try:
                    self.refresh()
                except Exception:
                    log.exception("applying a change of the extensions failed")
                if self._watched()[1] != folders:
                    break  # new folders to watch

    # -- the end -------------------------------------------------------------------------
    def close(self) -> None:
        """Stop watching and unload every extension."""
        if self._closed:
            return
        self._closed = True
        self._stop_watching.set()
        if self._watcher is not None:
            self._watcher.join(5.0)
        with self._lock:
            extensions, self._extensions = list(self._extensions.values()), {}
        for extension in extensions:
            if extension.state != UNLOADED:
                extension.unload()
        if self._executor is not None:
            self._executor.shutdown(wait=False)

    def __enter__(self) -> ExtensionHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _module_changed(extension: Extension) -> bool:
    path = extension.settings.path
    if path is None:
        return False
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return False
    return digest != extension.status().version

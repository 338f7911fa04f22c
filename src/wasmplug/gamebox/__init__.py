"""GameBox: turn-based multiplayer games whose games are Wasm plug-ins.

    wasmplug gamebox serve            # the bundled games, on http://127.0.0.1:8000
    wasmplug gamebox play game.wasm   # a game author's loop: reloads on change
    wasmplug gamebox serve --data-dir DIR   # + accounts and uploaded games (SQLite in DIR)
    wasmplug gamebox upload game.wasm --server URL --token T

or from Python::

    from wasmplug.gamebox import create_app
    app = create_app()   # an ASGI app: uvicorn.run(app)

Needs the `gamebox` extra (`pip install "wasmplug[gamebox]"`). The code's
layout (app.py, views/, arenas/, catalogue/, web/...) is mapped in docs/gamebox.md.
"""

from __future__ import annotations

from typing import Any

from .errors import ArenaError, GameBoxError, GameFailed, UnknownGame

__all__ = ["ArenaError", "GameBoxError", "GameFailed", "UnknownGame", "create_app", "require_extra"]

EXTRA_MODULES = ("starlette", "uvicorn", "jinja2", "nh3", "sqlalchemy", "alembic", "argon2", "itsdangerous",
                 "markdown_it", "PIL")


def require_extra() -> None:
    """GameBoxError naming the missing packages unless the `gamebox` extra is installed."""
    import importlib.util

    missing = [name for name in EXTRA_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise GameBoxError(f"GameBox needs {', '.join(missing)}: install it with "
                           "pip install 'wasmplug[gamebox]'")


def __getattr__(name: str) -> Any:
    if name == "create_app":
        require_extra()
        from .app import create_app

        return create_app
    raise AttributeError(f"module 'wasmplug.gamebox' has no attribute {name!r}")

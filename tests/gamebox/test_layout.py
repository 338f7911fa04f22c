"""GameBox's layout keeps its promises (docs/gamebox.md, "Code layout").

The views are module-level functions with no imports inside them, and every route of the
app is one of them; both arena backends offer the whole `ArenaBackend`.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

from wasmplug.gamebox.app import create_app
from wasmplug.gamebox.arenas.base import ArenaBackend
from wasmplug.gamebox.arenas.local import LocalArenas
from wasmplug.gamebox.arenas.ray import RayArenas

GAMEBOX = Path(__file__).parents[2] / "src" / "wasmplug" / "gamebox"


def _imports(path: Path) -> list[tuple[int, str]]:
    """(relative level, module) of every import in `path`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom):
            found.append((node.level, node.module or ""))
        elif isinstance(node, ast.Import):
            found += [(0, alias.name) for alias in node.names]
    return found


def test_views_and_the_app_have_no_imports_inside_functions() -> None:
    for module in [GAMEBOX / "app.py", *sorted((GAMEBOX / "views").glob("*.py"))]:
        tree = ast.parse(module.read_text("utf-8"))
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = [n for n in ast.walk(function) if isinstance(n, ast.Import | ast.ImportFrom)]
                assert not inner, f"{module.name}: {function.name} imports inside itself"


def _assert_module_level_views(app: Any, count: int) -> None:
    endpoints = [route.endpoint for route in app.routes if hasattr(route, "endpoint")]
    assert len(endpoints) == count
    for endpoint in endpoints:
        assert endpoint.__module__.startswith("wasmplug.gamebox.views."), endpoint
        assert "<locals>" not in endpoint.__qualname__, endpoint
        assert getattr(inspect.getmodule(endpoint), endpoint.__name__) is endpoint


def test_every_route_is_a_module_level_view() -> None:
    _assert_module_level_views(create_app(), 5)  # the arena pages (and /static, a mount)


def test_every_route_of_the_site_is_a_module_level_view(library: Any) -> None:
    # + accounts, password, sign out everywhere, catalogue, my games...
    _assert_module_level_views(create_app(library), 5 + 16)


def test_both_arena_backends_offer_the_whole_interface() -> None:
    wanted = {name for name in vars(ArenaBackend) if not name.startswith("_")}
    assert wanted == {"create", "check_owner", "join", "exists", "page", "connect", "sweep", "close"}
    for backend in (LocalArenas, RayArenas):
        for name in wanted:
            ours, theirs = getattr(backend, name), getattr(ArenaBackend, name)
            assert inspect.iscoroutinefunction(ours) == inspect.iscoroutinefunction(theirs), \
                f"{backend.__name__}.{name}"
            assert list(inspect.signature(ours).parameters) == \
                list(inspect.signature(theirs).parameters), f"{backend.__name__}.{name}"

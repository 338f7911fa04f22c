"""GameBox's layout keeps its promises (docs/gamebox.md, "Code layout").

The web foundation (`gamebox/web/`) imports nothing of GameBox; the views are
module-level functions with no imports inside them, and every route of the
app is one of them; both arena backends offer the whole `ArenaBackend`.
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
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


def test_the_web_foundation_imports_nothing_of_gamebox() -> None:
    modules = sorted((GAMEBOX / "web").glob("*.py"))
    assert len(modules) >= 8
    for module in modules:
        for level, name in _imports(module):
            assert level <= 1, f"{module.name} imports from outside web/: {'.' * level}{name}"
            assert not name.startswith("wasmplug.gamebox"), f"{module.name} imports {name}"


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
    _assert_module_level_views(create_app(library), 5 + 14)  # + accounts, catalogue, my games...


def test_both_arena_backends_offer_the_whole_interface() -> None:
    wanted = {name for name in vars(ArenaBackend) if not name.startswith("_")}
    assert wanted == {"create", "join", "page", "connect", "sweep", "close"}
    for backend in (LocalArenas, RayArenas):
        for name in wanted:
            ours, theirs = getattr(backend, name), getattr(ArenaBackend, name)
            assert inspect.iscoroutinefunction(ours) == inspect.iscoroutinefunction(theirs), \
                f"{backend.__name__}.{name}"
            assert list(inspect.signature(ours).parameters) == \
                list(inspect.signature(theirs).parameters), f"{backend.__name__}.{name}"


FOUNDATION_ALONE = """
import sys
from pathlib import Path

from wasmplug.gamebox.web.accounts import Accounts, Base
from wasmplug.gamebox.web.database import Database, sqlite_url
from wasmplug.gamebox.web.errors import AccessDenied, AccountError

db = Database(sqlite_url(Path(sys.argv[1]), "app.db"), migrations=Path(sys.argv[1]) / "none")
Base.metadata.create_all(db.engine)  # an app with its own migrations would run db.upgrade()
assert sorted(Base.metadata.tables) == ["api_tokens", "users"], sorted(Base.metadata.tables)
accounts = Accounts(db)
ada = accounts.add_user("ada", "a long password")
assert accounts.authenticate("ada", "a long password") == ada
assert accounts.authenticate("ada", "wrong password") is None
token = accounts.new_token(ada, "laptop")
assert accounts.by_token(token) == ada
for bad, error in ((lambda: accounts.add_user("ADA", "another password"), AccountError),
                   (lambda: accounts.set_banned(ada, "ada", True), AccessDenied)):
    try:
        bad()
    except error:
        pass
    else:
        raise AssertionError("not refused")
games = [m for m in sys.modules if m.startswith("wasmplug.gamebox.") and ".web" not in m]
assert games == ["wasmplug.gamebox.errors"], games  # the package's errors, loaded with it
print("alone")
"""


def test_the_web_foundation_works_without_any_of_gamebox(tmp_path: Path) -> None:
    """What a functions-as-a-service app would reuse: a database, accounts and tokens."""
    done = subprocess.run([sys.executable, "-c", FOUNDATION_ALONE, str(tmp_path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "alone", done.stderr

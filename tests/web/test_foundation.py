"""The web foundation (`wasmplug.web`) stands alone: GameBox and `serve` build on it.

Which packages it may import is the import-linter contract's business (tests/test_layers.py);
this runs it with no application loaded.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FOUNDATION_ALONE = """
import sys
from pathlib import Path

from wasmplug.web.accounts import Accounts, Base
from wasmplug.web.database import Database, sqlite_url
from wasmplug.web.errors import AccessDenied, AccountError

db = Database(sqlite_url(Path(sys.argv[1]), "app.db"), migrations=Path(sys.argv[1]) / "none")
Base.metadata.create_all(db.engine)  # an app with its own migrations would run db.upgrade()
assert sorted(Base.metadata.tables) == ["api_tokens", "ended_sessions", "users"], sorted(Base.metadata.tables)
accounts = Accounts(db)
ada = accounts.add_user("ada", "a long password")
assert accounts.authenticate("ada", "a long password") == ada
assert accounts.authenticate("ada", "wrong password") is None
token = accounts.new_token(ada, "laptop")
assert accounts.by_token(token) == ada
accounts.end_session(ada, "a-session")  # an app without ended_sessions: every session ends
assert accounts.session_account(ada.id, 0, "another") is None
assert accounts.session_account(ada.id, 1, "another") is not None
for bad, error in ((lambda: accounts.add_user("ADA", "another password"), AccountError),
                   (lambda: accounts.set_banned(ada, "ada", True), AccessDenied)):
    try:
        bad()
    except error:
        pass
    else:
        raise AssertionError("not refused")
apps = [m for m in sys.modules if m.startswith(("wasmplug.gamebox", "wasmplug.serve"))]
assert apps == [], apps
print("alone")
"""


def test_the_web_foundation_works_without_any_application(tmp_path: Path) -> None:
    """What a functions-as-a-service app would reuse: a database, accounts and tokens."""
    done = subprocess.run([sys.executable, "-c", FOUNDATION_ALONE, str(tmp_path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "alone", done.stderr

"""Each application's API tokens carry its own prefix (GameBox "gbt_", serve "wps_", the foundation's
default "wpt_"); a token made under another prefix (before the change) stays valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from wasmplug.gamebox.catalogue.database import DatabaseCatalogue
from wasmplug.gamebox.database import GameBoxDatabase
from wasmplug.serve.database import FunctionStore, ServeDatabase
from wasmplug.web.accounts import Accounts
from wasmplug.web.database import sqlite_url


def test_gamebox_tokens_stay_gbt(tmp_path: Path) -> None:
    db = GameBoxDatabase.in_dir(tmp_path)
    try:
        db.upgrade()
        catalogue = DatabaseCatalogue(db)
        ada = catalogue.add_user("ada", "a long password")
        token = catalogue.new_token(ada, "laptop")
        assert token.startswith("gbt_") and len(token) == 4 + 43
        assert catalogue.by_token(token) == ada
    finally:
        db.close()


def test_serve_tokens_are_wps_and_older_gbt_ones_still_work(tmp_path: Path) -> None:
    db = ServeDatabase(sqlite_url(tmp_path, "serve.db"))
    try:
        db.upgrade()
        store = FunctionStore(db)
        token = store.create_token("alice")
        assert token.startswith("wps_") and len(token) == 4 + 43
        alice = store.by_token(token)
        assert alice is not None and alice.username == "alice"
        # A token made before serve had its own prefix (GameBox's, as the foundation made them then).
        older = Accounts(db, token_prefix="gbt_").new_token(alice, "serve")
        assert older.startswith("gbt_") and store.by_token(older) == alice
        assert store.by_token("wps_" + older[4:]) is None  # the prefix is part of the secret
    finally:
        db.close()


def test_the_foundations_default_and_a_bad_prefix(tmp_path: Path) -> None:
    db = ServeDatabase(sqlite_url(tmp_path, "app.db"))
    try:
        db.upgrade()
        accounts = Accounts(db)
        bob = accounts.add_user("bob", "a long password")
        assert accounts.new_token(bob).startswith("wpt_")
        for bad in ("", "GBT_", "gbt", "a_", "toolongprefix_", "g-t_"):
            with pytest.raises(ValueError, match="a token prefix is 2 to 8 lower-case letters"):
                Accounts(db, token_prefix=bad)
    finally:
        db.close()

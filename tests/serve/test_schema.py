"""serve's migrations build exactly its models, with GameBox's models loaded in the same process
(both applications' tables live in the web foundation's one `Base.metadata`)."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from wasmplug.gamebox.database import GameBoxDatabase
from wasmplug.serve.database import ServeDatabase
from wasmplug.web.database import Base, sqlite_url


def test_each_applications_migrations_build_exactly_its_own_models(tmp_path: Path) -> None:
    assert {"games", "serve_functions"} <= set(Base.metadata.tables)  # both loaded here
    for db in (ServeDatabase(sqlite_url(tmp_path, "serve.db")), GameBoxDatabase.in_dir(tmp_path)):
        try:
            db.upgrade()
            with db.engine.connect() as connection:
                diff = compare_metadata(MigrationContext.configure(connection), db.models_metadata())
            assert diff == [], type(db).__name__
            assert set(db.models_metadata().tables) == set(db.tables)
        finally:
            db.close()

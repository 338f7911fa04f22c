"""A database: SQLAlchemy 2 engine and sessions, and the application's Alembic migrations.

    db = Database("sqlite:///data/app.db", migrations=Path(".../migrations"))
    db.upgrade()                  # applies the migrations folder's versions/*
    with db.session() as s: ...   # one transaction

Every table of every application derives from `Base` (so one migration
history can cover the foundation's tables, e.g. `accounts`, and the app's). As
`Base.metadata` holds every application's tables once their modules are
imported, a `Database` subclass names its own in `tables`: `models_metadata()`
is what its migrations must build.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Database:
    """An engine, its sessions and its migrations (an Alembic script folder)."""

    # The tables this application's migrations build: the foundation's it uses, and its own.
    tables: ClassVar[tuple[str, ...]] = ()

    def __init__(self, url: str, *, migrations: Path) -> None:
        self.url = url
        self.migrations = migrations
        self.engine: Engine = create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def upgrade(self) -> None:
        """Bring the schema to the newest migration."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(self.migrations))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def models_metadata(self) -> MetaData:
        """The models of this application's `tables` alone (what its migrations must build)."""
        mine = MetaData()
        for name in self.tables:
            Base.metadata.tables[name].to_metadata(mine)
        return mine

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()


def sqlite_url(data_dir: Path, filename: str) -> str:
    """The URL of the SQLite database `filename` in `data_dir`, private to this user.

    A missing folder is made 0700, a missing database file 0600 (SQLite gives its journal
    files the database's mode); a database file of ours that others could read is made 0600.
    """
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = (data_dir / filename).resolve()
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        info = path.stat()
        if getattr(os, "getuid", lambda: -1)() == info.st_uid and info.st_mode & 0o077:
            path.chmod(0o600)
    return f"sqlite:///{path}"


def _sqlite_pragmas(connection: object, _record: object) -> None:
    cursor = connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()

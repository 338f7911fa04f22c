"""GameBox's database: its tables, its schema migrations (Alembic) and how to open it.

    db = GameBoxDatabase("sqlite:///data/gamebox.db")   # or any SQLAlchemy URL (PostgreSQL)
    db.upgrade()                                         # applies migrations/versions/*
    with db.session() as s: ...

Tables: users, api_tokens and ended_sessions (the web foundation's `web.accounts`), blobs
(content-addressed bytes: sha256 -> data, stored once however many games or
versions share them), games (the catalogue: title, Markdown description,
artwork, author, plays) and game_versions (each upload of a game's code;
arenas keep the version they started with).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wasmplug.web.accounts import ApiToken, EndedSession, User
from wasmplug.web.database import Base, Database, now, sqlite_url

__all__ = ["ApiToken", "Base", "Blob", "EndedSession", "Game", "GameBoxDatabase", "GameVersion", "User",
           "now"]

MIGRATIONS = Path(__file__).parent / "migrations"


class Blob(Base):
    __tablename__ = "blobs"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Game(Base):
    __tablename__ = "games"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(80), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    artwork_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"), nullable=True)
    thumbnail_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"), nullable=True)
    plays: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=now, index=True)
    owner: Mapped[User] = relationship()
    versions: Mapped[list[GameVersion]] = relationship(
        back_populates="game", order_by="GameVersion.number", cascade="all, delete-orphan")


class GameVersion(Base):
    __tablename__ = "game_versions"
    __table_args__ = (UniqueConstraint("game_id", "number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    game_id: Mapped[int] = mapped_column(ForeignKey("games.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    wasm_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=now)
    game: Mapped[Game] = relationship(back_populates="versions")


class GameBoxDatabase(Database):
    """GameBox's database at `url`, with GameBox's migrations."""

    tables = ("users", "api_tokens", "ended_sessions", "blobs", "games", "game_versions")

    def __init__(self, url: str) -> None:
        super().__init__(url, migrations=MIGRATIONS)

    @classmethod
    def in_dir(cls, data_dir: Path) -> GameBoxDatabase:
        """SQLite in `data_dir/gamebox.db`."""
        return cls(sqlite_url(data_dir, "gamebox.db"))

"""Accounts: users (with admins and bans) and their API tokens, in the database.

    accounts = Accounts(db)   # db: a `database.Database` whose migrations create these tables
    me = accounts.add_user("alice", "a long password")
    token = accounts.new_token(me, "laptop")     # "wpt_...": shown once; only its hash is stored
    accounts.by_token(token)                     # -> Account

Each user has a session version: a session remembers the version it was made
with (`sessions.sign_in`) and is valid only while the user's version is the same
(`session_account`). Signing out everywhere (`end_sessions`) and changing the
password bump it, so every cookie made before is worthless, wherever it was
copied to. A banned user's every request is refused; lifting the ban bumps it
too, so no session from before (or during) the ban comes back.

Logging out ends one session (`end_session`): an application whose migrations
build the `ended_sessions` table sets `ends_one_session = True`, and the
session's id (`sessions.sign_in` gives each session a random one) is kept there
until the session would have expired anyway, so a copy of that browser's cookie
opens nothing, while the user's other browsers stay signed in. The table is
bounded: rows older than a session's lifetime go, and a user with more than
`MAX_ENDED_SESSIONS` ended sessions has them all replaced by one bump of the
version (every older session ends; this browser had ended anyway). Without the
table, logging out ends every session of the user, as signing out everywhere does.

An application names its own errors (`refused`, `denied`), the prefix of its
tokens (`token_prefix`: GameBox "gbt_", serve "wps_") and hears of bans through
`_changed` by subclassing `Accounts` (or passes `token_prefix=`). A token is
looked up by the hash of all of it, so tokens made under an older prefix stay
valid.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import ClassVar

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from wasmplug import Error

from . import names, passwords
from .database import Base, Database, now
from .errors import AccessDenied, AccountError
from .sessions import SESSION_DAYS

log = logging.getLogger("wasmplug.web")
MAX_ENDED_SESSIONS = 100  # per user; past it all are replaced by one bump of the session version


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    banned: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=now)
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the token
    label: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=now)
    user: Mapped[User] = relationship()


class EndedSession(Base):
    """A session logged out of (its id, from the signed cookie), kept until it would expire."""

    __tablename__ = "ended_sessions"
    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    ended_at: Mapped[dt.datetime] = mapped_column(DateTime, default=now, index=True)


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    is_admin: bool
    banned: bool
    session_version: int = 0


def _account(user: User) -> Account:
    return Account(user.id, user.username, user.is_admin, user.banned, user.session_version)


class Accounts:
    """Users and API tokens in `db`."""

    refused: type[Error] = AccountError  # a username or password refused
    denied: type[Error] = AccessDenied  # not allowed
    token_prefix = "wpt_"  # what the application's API tokens start with
    # Logging out ends only that session (the application's migrations build `ended_sessions`).
    ends_one_session: ClassVar[bool] = False

    def __init__(self, db: Database, *, token_prefix: str | None = None) -> None:
        self.db = db
        if token_prefix is not None:
            self.token_prefix = token_prefix
        passwords.new_token(self.token_prefix)  # ValueError now for a bad prefix, not at the first token

    def _changed(self) -> None:
        """Called after a ban or an unban (what a user may see has changed)."""

    # -- users ---------------------------------------------------------------------
    def add_user(self, username: str, password: str, *, admin: bool = False) -> Account:
        try:
            passwords.check_username(username)
            hashed = passwords.hash_password(password)
        except AccountError as exc:
            raise self.refused(str(exc)) from None
        with self.db.session() as s:
            if names.lookalike(username, s.scalars(select(User.username))) is not None:  # or confusable
                raise self.refused(f"the username {username!r} is taken: choose another")
            user = User(username=username, password_hash=hashed, is_admin=admin, banned=False)
            s.add(user)
            s.flush()
            return _account(user)

    def authenticate(self, username: str, password: str) -> Account | None:
        with self.db.session() as s:
            user = s.scalars(select(User).where(User.username == username)).first()
            if user is None:
                passwords.verify_password(passwords.DUMMY_HASH, password)
                return None
            if not passwords.verify_password(user.password_hash, password):
                return None
            return _account(user)

    def account(self, user_id: object) -> Account | None:
        if not isinstance(user_id, int):
            return None
        with self.db.session() as s:
            user = s.get(User, user_id)
            return _account(user) if user is not None else None

    def session_account(self, user_id: object, session_version: object,
                        session_id: object = None) -> Account | None:
        """The account of a session made for `user_id` at `session_version` (None: ended),
        `session_id` being the session's own id (None for a session made before ids)."""
        if not isinstance(user_id, int) or not isinstance(session_version, int) \
                or isinstance(session_version, bool):
            return None
        with self.db.session() as s:
            user = s.get(User, user_id)
            if user is None or user.session_version != session_version:
                return None
            if self.ends_one_session and isinstance(session_id, str) \
                    and s.get(EndedSession, session_id) is not None:
                return None
            return _account(user)

    def end_sessions(self, who: Account) -> Account:
        """Sign `who` out everywhere: every session made before is no longer valid."""
        with self.db.session() as s:
            user = s.get(User, who.id)
            if user is None:
                raise self.refused("no such user")
            user.session_version += 1
            if self.ends_one_session:  # they have ended with the version
                s.execute(delete(EndedSession).where(EndedSession.user_id == user.id))
            return _account(user)

    def end_session(self, who: Account, session_id: object) -> None:
        """Log the session `session_id` of `who` out: a copy of its cookie opens nothing, and
        `who`'s other sessions go on (without `ends_one_session`, or for a session without an
        id, every session of `who` ends)."""
        if not self.ends_one_session or not isinstance(session_id, str) or not session_id \
                or len(session_id) > 64:
            self.end_sessions(who)
            return
        try:
            with self.db.session() as s:
                cutoff = now() - dt.timedelta(days=SESSION_DAYS)  # such cookies have expired anyway
                s.execute(delete(EndedSession).where(EndedSession.ended_at < cutoff))
                if s.get(EndedSession, session_id) is None:
                    s.add(EndedSession(session_id=session_id, user_id=who.id))
                    s.flush()
                if self._ended_count(s, who.id) <= MAX_ENDED_SESSIONS:
                    return
        except IntegrityError:  # the same session logged out twice at once: it has ended
            return
        self.end_sessions(who)  # too many kept: one bump of the version ends them all

    @staticmethod
    def _ended_count(s: Session, user_id: int) -> int:
        return int(s.scalar(select(func.count()).select_from(EndedSession)
                            .where(EndedSession.user_id == user_id)) or 0)

    def change_password(self, who: Account, current: str, new: str) -> Account | None:
        """Set `who`'s password to `new` and end every session, if `current` is right
        (None: it is wrong); `refused` if `new` is not a good password."""
        with self.db.session() as s:
            user = s.get(User, who.id)
            if user is None or not passwords.verify_password(user.password_hash, current):
                return None
            try:
                user.password_hash = passwords.hash_password(new)
            except AccountError as exc:
                raise self.refused(str(exc)) from None
            user.session_version += 1
            changed = _account(user)
        log.info("%s changed their password", changed.username)
        return changed

    def users(self) -> list[Account]:
        with self.db.session() as s:
            return [_account(u) for u in s.scalars(select(User).order_by(User.username))]

    def set_banned(self, admin: Account, username: str, banned: bool) -> None:
        self._require_admin(admin)
        with self.db.session() as s:
            user = s.scalars(select(User).where(User.username == username)).first()
            if user is None:
                raise self.refused(f"no user {username!r}")
            if user.is_admin:
                raise self.denied("an admin cannot be banned")
            user.banned = banned
            if not banned:  # banned, every request is refused; lifted, no older session works
                user.session_version += 1
        self._changed()
        log.info("%s %s %s", admin.username, "banned" if banned else "unbanned", username)

    def _require_admin(self, who: Account) -> None:
        if not who.is_admin or who.banned:
            raise self.denied("only an admin can do this")

    # -- API tokens --------------------------------------------------------------
    def new_token(self, who: Account, label: str = "") -> str:
        token = passwords.new_token(self.token_prefix)
        with self.db.session() as s:
            s.add(ApiToken(user_id=who.id, token_hash=passwords.token_hash(token), label=label[:64]))
        return token

    def by_token(self, token: str) -> Account | None:
        with self.db.session() as s:
            row = s.scalars(select(ApiToken).where(
                ApiToken.token_hash == passwords.token_hash(token))).first()
            return _account(row.user) if row is not None else None

    def tokens(self, who: Account) -> list[tuple[int, str, str]]:
        with self.db.session() as s:
            rows = s.scalars(select(ApiToken).where(ApiToken.user_id == who.id).order_by(ApiToken.id))
            return [(t.id, t.label, t.created_at.strftime("%Y-%m-%d %H:%M")) for t in rows]

    def revoke_token(self, who: Account, token_id: int) -> None:
        with self.db.session() as s:
            row = s.get(ApiToken, token_id)
            if row is None or row.user_id != who.id:
                raise self.denied("that token is not yours")
            s.delete(row)

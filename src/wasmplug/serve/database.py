"""The serve database: functions, their versions and content-addressed module blobs; API tokens.

    db = ServeDatabase(settings.url()); db.upgrade()
    store = FunctionStore(db)
    store.save_version(owner, "hello", module, settings)  # -> Version (the new active one)

Tables: users and api_tokens (the web foundation's `web.accounts`: a token's
user is who deploys), serve_blobs (sha256 -> module bytes, stored once however
many versions share them), serve_functions (name, owner, active version and its
route, unique: the one judge of a route for every front end) and
serve_versions (each deploy: module, kind, exports, settings).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    delete,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from wasmplug.web.accounts import Account, Accounts, ApiToken, User
from wasmplug.web.database import Base, Database, now

from .errors import ServeError
from .functions import FunctionSettings, Module, settings_from_json

__all__ = ["ApiToken", "Base", "FunctionStore", "ServeDatabase", "User", "Version"]

MIGRATIONS = Path(__file__).parent / "migrations"
# serve's API tokens start with it (GameBox's with "gbt_"); tokens made before it, "gbt_...", still work.
TOKEN_PREFIX = "wps_"


class ModuleBlob(Base):
    __tablename__ = "serve_blobs"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class FunctionRow(Base):
    __tablename__ = "serve_functions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    active_version: Mapped[int] = mapped_column(Integer)
    # The active version's route: unique in the database, so front ends sharing it cannot both take one.
    route: Mapped[str | None] = mapped_column(String(260), unique=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=now)


class VersionRow(Base):
    __tablename__ = "serve_versions"
    __table_args__ = (UniqueConstraint("function_id", "number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    function_id: Mapped[int] = mapped_column(ForeignKey("serve_functions.id", ondelete="CASCADE"),
                                             index=True)
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    module_sha256: Mapped[str] = mapped_column(ForeignKey("serve_blobs.sha256"))
    exports: Mapped[str] = mapped_column(Text)  # JSON list
    settings: Mapped[str] = mapped_column(Text)  # JSON, secrets included: never sent out
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=now)


class ServeDatabase(Database):
    """serve's database at `url`, with serve's migrations."""

    tables = ("users", "api_tokens", "serve_blobs", "serve_functions", "serve_versions")

    def __init__(self, url: str) -> None:
        super().__init__(url, migrations=MIGRATIONS)


@dataclass(frozen=True)
class Version:
    """One deploy of a function, as the runtime needs it."""

    name: str
    number: int
    owner_id: int
    sha256: str
    module: Module
    settings: FunctionSettings
    created_at: str

    def summary(self) -> dict[str, object]:
        return {"version": self.number, "sha256": self.sha256, "kind": self.module.kind,
                "exports": self.module.exports, "created_at": self.created_at}


def _version(s: Session, fn: FunctionRow, row: VersionRow) -> Version:
    blob = s.get(ModuleBlob, row.module_sha256)
    assert blob is not None  # a foreign key
    module = Module(row.kind, blob.data, json.loads(row.exports))
    return Version(fn.name, row.number, fn.owner_id, row.module_sha256, module,
                   settings_from_json(json.loads(row.settings)),
                   row.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"))


def not_found(name: str) -> ServeError:
    return ServeError(f"no function named {name!r}: deploy it first (wasmplug deploy {name} ...)",
                      status=404, kind="not_found")


class FunctionStore:
    """Functions and versions in `db`, and the tokens of who deploys them."""

    def __init__(self, db: Database, *, max_functions: int = 1000, max_versions: int = 50) -> None:
        self.db = db
        self.accounts = Accounts(db, token_prefix=TOKEN_PREFIX)
        self.max_functions = max_functions
        self.max_versions = max_versions

    # -- tokens ----------------------------------------------------------------
    def create_token(self, username: str, *, admin: bool = False) -> str:
        """A new API token for `username` (the user is made on first use; it signs in with tokens only)."""
        with self.db.session() as s:
            user = s.scalars(select(User).where(User.username == username)).first()
            account = None if user is None else Account(user.id, user.username, user.is_admin, user.banned)
        if account is None:
            account = self.accounts.add_user(username, secrets.token_urlsafe(32), admin=admin)
        elif admin and not account.is_admin:
            with self.db.session() as s:
                row = s.get(User, account.id)
                assert row is not None
                row.is_admin = True
            account = Account(account.id, account.username, True, account.banned)
        return self.accounts.new_token(account, "serve")

    def by_token(self, token: str) -> Account | None:
        return self.accounts.by_token(token) if 0 < len(token) <= 200 else None

    # -- functions -------------------------------------------------------------
    def _function(self, s: Session, name: str) -> FunctionRow:
        fn = s.scalars(select(FunctionRow).where(FunctionRow.name == name)).first()
        if fn is None:
            raise not_found(name)
        return fn

    @staticmethod
    def _check_owner(fn: FunctionRow, who: Account) -> None:
        if fn.owner_id != who.id and not who.is_admin:
            raise ServeError(f"the function {fn.name!r} is another user's: choose another name",
                             status=403, kind="forbidden")

    def check_may_deploy(self, who: Account, name: str) -> None:
        """ServeError 403 if `name` is another user's function (and `who` no admin)."""
        with self.db.session() as s:
            fn = s.scalars(select(FunctionRow).where(FunctionRow.name == name)).first()
            if fn is not None:
                self._check_owner(fn, who)

    def _route_taken(self, route: str | None, name: str) -> ServeError:
        """The 409 for a route another function took (maybe through another front end just now)."""
        with self.db.session() as s:
            owner = None if route is None else s.scalars(
                select(FunctionRow.name).where(FunctionRow.route == route, FunctionRow.name != name)).first()
        if owner is None:  # not the route: the name, made at the same moment through another front end
            return ServeError(f"the function {name!r} was changed at the same moment through another "
                              "server: try again", status=409, kind="conflict")
        return ServeError(f"the route {route} is taken by the function {owner!r}", status=409,
                          kind="route_taken")

    def save_version(self, who: Account, name: str, module: Module, sha256: str,
                     settings: FunctionSettings) -> Version:
        """Store a validated deploy as `name`'s newest version and make it the active one.

        ServeError 409 if its route is another function's (the database is the judge, so front
        ends sharing it cannot both take a route)."""
        try:
            return self._save_version(who, name, module, sha256, settings)
        except IntegrityError:
            raise self._route_taken(settings.route, name) from None

    def _save_version(self, who: Account, name: str, module: Module, sha256: str,
                      settings: FunctionSettings) -> Version:
        with self.db.session() as s:
            if s.get(ModuleBlob, sha256) is None:
                s.add(ModuleBlob(sha256=sha256, size=len(module.data), data=module.data))
            fn = s.scalars(select(FunctionRow).where(FunctionRow.name == name)).first()
            if fn is None:
                count = len(s.scalars(select(FunctionRow.id)).all())
                if count >= self.max_functions:
                    raise ServeError(f"this server holds its maximum of {self.max_functions} "
                                     "functions: delete one first", status=409, kind="too_many")
                fn = FunctionRow(name=name, owner_id=who.id, active_version=0)
                s.add(fn)
                s.flush()
            self._check_owner(fn, who)
            last = s.scalars(select(VersionRow.number).where(VersionRow.function_id == fn.id)
                             .order_by(VersionRow.number.desc())).first() or 0
            row = VersionRow(function_id=fn.id, number=last + 1, kind=module.kind, module_sha256=sha256,
                             exports=json.dumps(module.exports), settings=json.dumps(settings.to_json()))
            s.add(row)
            fn.active_version = row.number
            fn.route = settings.route
            s.flush()
            self._prune(s, fn)
            return _version(s, fn, row)

    def _prune(self, s: Session, fn: FunctionRow) -> None:
        rows = s.scalars(select(VersionRow).where(VersionRow.function_id == fn.id)
                         .order_by(VersionRow.number.desc())).all()
        for old in rows[self.max_versions:]:
            if old.number != fn.active_version:
                s.delete(old)

    def active(self, name: str) -> Version:
        with self.db.session() as s:
            fn = self._function(s, name)
            return self._get_version(s, fn, fn.active_version)

    def _get_version(self, s: Session, fn: FunctionRow, number: int) -> Version:
        row = s.scalars(select(VersionRow).where(VersionRow.function_id == fn.id,
                                                 VersionRow.number == number)).first()
        if row is None:
            raise ServeError(f"the function {fn.name!r} has no version {number}: see its versions "
                             f"(GET /api/functions/{fn.name}/versions)", status=404, kind="not_found")
        return _version(s, fn, row)

    def version(self, who: Account, name: str, number: int) -> Version:
        with self.db.session() as s:
            fn = self._function(s, name)
            self._check_owner(fn, who)
            return self._get_version(s, fn, number)

    def set_active(self, who: Account, name: str, number: int) -> Version:
        """Make version `number` the active one (ServeError 409 if its route is another function's)."""
        route = None
        try:
            with self.db.session() as s:
                fn = self._function(s, name)
                self._check_owner(fn, who)
                version = self._get_version(s, fn, number)
                route = version.settings.route
                fn.active_version = number
                fn.route = route
                s.flush()
                return version
        except IntegrityError:
            raise self._route_taken(route, name) from None

    def active_versions(self) -> dict[str, int]:
        """{function name: its active version number} of every function."""
        with self.db.session() as s:
            return {name: number for name, number in
                    s.execute(select(FunctionRow.name, FunctionRow.active_version))}

    def public_functions(self, limit: int) -> tuple[list[dict[str, object]], int]:
        """The first `limit` public functions (by name) as the index page shows them — name, version,
        kind, exports, route and its export; never config or anything of a protected function — and
        how many public functions there are. Module bytes are not read."""
        query = (select(FunctionRow.name, FunctionRow.active_version, VersionRow.kind, VersionRow.exports,
                        VersionRow.settings)
                 .join(VersionRow, (VersionRow.function_id == FunctionRow.id)
                       & (VersionRow.number == FunctionRow.active_version))
                 .order_by(FunctionRow.name))
        shown: list[dict[str, object]] = []
        count = 0
        with self.db.session() as s:
            for name, number, kind, exports, settings_text in s.execute(query):
                settings = json.loads(settings_text)
                if settings.get("public") is not True:
                    continue
                count += 1
                if len(shown) < limit:
                    route = settings.get("route")
                    shown.append({"name": name, "version": number, "kind": kind,
                                  "exports": json.loads(exports), "url": f"/f/{name}/", "route": route,
                                  "route_export": settings.get("route_export") if route else None})
        return shown, count

    def names(self) -> list[str]:
        with self.db.session() as s:
            return list(s.scalars(select(FunctionRow.name).order_by(FunctionRow.name)))

    def listing(self, who: Account) -> list[dict[str, object]]:
        with self.db.session() as s:
            query = select(FunctionRow).order_by(FunctionRow.name)
            if not who.is_admin:
                query = query.where(FunctionRow.owner_id == who.id)
            return [{"name": fn.name, "version": fn.active_version, "url": f"/f/{fn.name}/"}
                    for fn in s.scalars(query)]

    def versions(self, who: Account, name: str) -> list[dict[str, object]]:
        with self.db.session() as s:
            fn = self._function(s, name)
            self._check_owner(fn, who)
            rows = s.scalars(select(VersionRow).where(VersionRow.function_id == fn.id)
                             .order_by(VersionRow.number))
            return [{**_version(s, fn, r).summary(), "active": r.number == fn.active_version}
                    for r in rows]

    def delete(self, who: Account, name: str) -> None:
        with self.db.session() as s:
            fn = self._function(s, name)
            self._check_owner(fn, who)
            s.delete(fn)
            s.flush()
            unused = set(s.scalars(select(ModuleBlob.sha256))) - set(
                s.scalars(select(VersionRow.module_sha256)))
            if unused:
                s.execute(delete(ModuleBlob).where(ModuleBlob.sha256.in_(unused)))

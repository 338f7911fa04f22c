"""The catalogue of uploaded games, in the database (`DatabaseCatalogue`).

`DatabaseCatalogue` is a `Catalogue` (games, get, load: what arenas read) over
the database, with the bundled games (or any other catalogue) listed first, and
the operations of the site: uploads, versions, search, artwork; the users,
bans and API tokens are the web foundation's `Accounts`, which it extends.
Game code and artwork are stored content-addressed (sha256) in `blobs`:
the same bytes are stored once. A banned user's games leave the catalogue.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from wasmplug.web.accounts import Account, Accounts

from ..database import Blob, Game, GameBoxDatabase, GameVersion, User, now
from ..errors import AccessDenied, GameBoxError, UnknownGame, UploadRejected
from ..uploads import UploadPolicy, check_artwork, check_game, slugify
from .base import Catalogue, GameInfo, GameLimits
from .recent_searches import RecentSearches

log = logging.getLogger("wasmplug.gamebox")
PAGE_SIZE = 48
PICKER_GAMES = 200  # uploaded games the arena's picker lists (the most played)
CACHE_SECONDS = 2.0  # how long the picker's list is reused (other servers' changes show after it)
SEARCH_SECONDS = 1.0  # how long a catalogue page (a search) is answered again without a query


@dataclass(frozen=True)
class Listing:
    """A game as the catalogue pages show it."""

    slug: str
    title: str
    description: str
    author: str
    plays: int
    versions: int
    has_artwork: bool
    created_at: str
    updated_at: str


class DatabaseCatalogue(Accounts):
    """Uploaded games (and the accounts that upload them) in GameBox's database."""

    refused = GameBoxError
    denied = AccessDenied
    token_prefix = "gbt_"
    ends_one_session = True  # logging out ends that browser's session (GameBox's migration 0003)

    def __init__(self, db: GameBoxDatabase, *, bundled: Catalogue | None = None,
                 policy: UploadPolicy | None = None) -> None:
        super().__init__(db)
        self.bundled = bundled
        self.policy = policy or UploadPolicy()
        self.limits: GameLimits = self.policy.limits
        self._picker: tuple[float, list[GameInfo]] | None = None
        self.recent_searches: RecentSearches[tuple[list[Listing], int]] = RecentSearches(SEARCH_SECONDS)

    # -- Catalogue ---------------------------------------------------------------
    def games(self) -> list[GameInfo]:
        """What the arena's picker lists: the bundled games, then the PICKER_GAMES most played
        uploads (every arena re-renders it, so it is reused for CACHE_SECONDS)."""
        cached = self._picker
        if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        infos = list(self.bundled.games()) if self.bundled is not None else []
        with self.db.session() as s:
            rows = s.execute(self._visible().order_by(Game.plays.desc(), func.lower(Game.title))
                             .limit(PICKER_GAMES)).scalars()
            infos += [self._info(game) for game in rows]
        self._picker = (time.monotonic(), infos)
        return infos

    def _changed(self) -> None:
        self._picker = None
        self.recent_searches.clear()

    def get(self, game_id: str) -> GameInfo:
        if self.bundled is not None and game_id in self._bundled_ids():
            return self.bundled.get(game_id)
        with self.db.session() as s:
            game = s.scalars(self._visible().where(Game.slug == game_id)).first()
            if game is None:
                raise UnknownGame(f"no game {game_id!r} in the catalogue: pick one it lists")
            return self._info(game)

    def load(self, game_id: str) -> bytes:
        if self.bundled is not None and game_id in self._bundled_ids():
            return self.bundled.load(game_id)
        with self.db.session() as s:
            game = s.scalars(self._visible().where(Game.slug == game_id)).first()
            if game is None or not game.versions:
                raise UnknownGame(f"no game {game_id!r} in the catalogue: pick one it lists")
            blob = s.get(Blob, game.versions[-1].wasm_sha256)
            assert blob is not None
            return blob.data

    def played(self, game_id: str) -> None:
        """Count a play (an arena started the game)."""
        with self.db.session() as s:
            game = s.scalars(select(Game).where(Game.slug == game_id)).first()
            if game is not None:
                game.plays += 1

    def _bundled_ids(self) -> set[str]:
        return {info.id for info in self.bundled.games()} if self.bundled is not None else set()

    def _visible(self) -> Select[Game]:
        return select(Game).join(Game.owner).where(User.banned.is_(False))

    def _info(self, game: Game) -> GameInfo:
        return GameInfo(id=game.slug, title=game.title, description=game.description,
                        limits=self.limits)

    # -- uploads -------------------------------------------------------------------
    def upload(self, who: Account, wasm: bytes, *, slug: str, title: str = "",
               description: str = "", artwork: bytes | None = None) -> tuple[str, int]:
        """Add a game or a new version of one of `who`'s games: (slug, version number)."""
        if who.banned:
            raise AccessDenied("your account is banned: you cannot upload")
        reasons: list[str] = []
        slug = slugify(slug)
        if not slug:
            reasons.append("the game needs a name made of letters or digits")
        if slug in self._bundled_ids():
            reasons.append(f"{slug!r} is the name of a bundled game: choose another")
        title = " ".join(title.split())
        if len(title) > 80:
            reasons.append("the title may have at most 80 characters")
        if len(description) > 20_000:
            reasons.append("the description may have at most 20000 characters")
        images: tuple[bytes, bytes] | None = None
        if artwork:
            try:
                images = check_artwork(artwork)
            except UploadRejected as exc:
                reasons += exc.reasons
        try:
            check_game(wasm, self.policy)
        except UploadRejected as exc:
            reasons += exc.reasons
        if reasons:
            raise UploadRejected(reasons)
        with self.db.session() as s:
            game = s.scalars(select(Game).where(Game.slug == slug)).first()
            if game is not None and game.owner_id != who.id:
                raise UploadRejected([f"the name {slug!r} is taken by another author: choose another"])
            if game is None:
                game = Game(slug=slug, owner_id=who.id, title=title or slug.replace("_", " "),
                            description=description, plays=0)
                s.add(game)
            else:
                game.title = title or game.title
                game.description = description or game.description
                game.updated_at = now()
            if images is not None:
                game.artwork_sha256 = self._store(s, images[0])
                game.thumbnail_sha256 = self._store(s, images[1])
            digest = self._store(s, wasm)
            number = (game.versions[-1].number + 1) if game.versions else 1
            game.versions.append(GameVersion(number=number, wasm_sha256=digest, size=len(wasm)))
        self._changed()
        log.info("%s uploaded %s version %d (%d bytes)", who.username, slug, number, len(wasm))
        return slug, number

    def _store(self, s: Session, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        if s.get(Blob, digest) is None:
            s.add(Blob(sha256=digest, size=len(data), data=data))
            s.flush()
        return digest

    def edit(self, who: Account, slug: str, *, title: str, description: str) -> None:
        with self.db.session() as s:
            game = self._owned(s, who, slug)
            title = " ".join(title.split())
            if not title or len(title) > 80:
                raise UploadRejected(["the title must have 1 to 80 characters"])
            game.title, game.description, game.updated_at = title, description[:20_000], now()
        self._changed()

    def delete(self, who: Account, slug: str) -> None:
        """Delete a game (its author or an admin); running arenas keep their copy."""
        with self.db.session() as s:
            s.delete(self._owned(s, who, slug))
        self._changed()
        log.info("%s deleted game %s", who.username, slug)

    def _owned(self, s: Session, who: Account, slug: str) -> Game:
        game = s.scalars(select(Game).where(Game.slug == slug)).first()
        if game is None:
            raise UnknownGame(f"no game {slug!r}")
        if who.banned or (game.owner_id != who.id and not who.is_admin):
            raise AccessDenied("only the game's author or an admin can change it")
        return game

    # -- pages ---------------------------------------------------------------------
    def recent_search(self, query: str = "", *, page: int = 1) -> tuple[list[Listing], int] | None:
        """The catalogue's page `page` for `query` if it was searched a moment ago (None: not)."""
        return self.recent_searches.get((query.strip()[:100], max(page, 1)))

    def search(self, query: str = "", *, page: int = 1, owner: Account | None = None) \
            -> tuple[list[Listing], int]:
        """One page of the catalogue (newest first) matching `query`, and the number of matches
        (the catalogue's pages are kept a moment for `recent_search`)."""
        query, page = query.strip()[:100], max(page, 1)
        found = self._search(query, page, owner)
        if owner is None:
            size = sum(len(g.title) + len(g.description) + len(g.author) + 64 for g in found[0])
            self.recent_searches.put((query, page), found, size)
        return found

    def _search(self, query: str, page: int, owner: Account | None) -> tuple[list[Listing], int]:
        stmt = self._visible() if owner is None else select(Game).join(Game.owner).where(
            Game.owner_id == owner.id)
        if query:
            pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            stmt = stmt.where(or_(Game.title.ilike(pattern, escape="\\"),
                                  Game.description.ilike(pattern, escape="\\")))
        offset = (page - 1) * PAGE_SIZE
        with self.db.session() as s:
            total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
            if offset >= total:  # a page past the end (a flood's page=99999): one query, not three
                return [], total
            rows = s.execute(
                stmt.with_only_columns(Game.slug, Game.title, Game.description, User.username,
                                       Game.plays, Game.artwork_sha256, Game.created_at,
                                       Game.updated_at, Game.id)
                .order_by(Game.updated_at.desc(), Game.id.desc())
                .offset(offset).limit(PAGE_SIZE)).all()
            counts = dict(s.execute(select(GameVersion.game_id, func.count()).where(
                GameVersion.game_id.in_([r[8] for r in rows])).group_by(GameVersion.game_id)).all())
        return [Listing(r[0], r[1], r[2], r[3], r[4], counts.get(r[8], 0), r[5] is not None,
                        r[6].strftime("%Y-%m-%d"), r[7].strftime("%Y-%m-%d")) for r in rows], total

    def listing(self, slug: str) -> tuple[Listing, list[tuple[int, str, int]]]:
        """A visible game's listing and its versions (number, date, size)."""
        with self.db.session() as s:
            game = s.scalars(self._visible().where(Game.slug == slug)).first()
            if game is None:
                raise UnknownGame(f"no game {slug!r} in the catalogue")
            versions = [(v.number, v.created_at.strftime("%Y-%m-%d %H:%M"), v.size)
                        for v in game.versions]
            return Listing(game.slug, game.title, game.description, game.owner.username, game.plays,
                           len(versions), game.artwork_sha256 is not None,
                           game.created_at.strftime("%Y-%m-%d"),
                           game.updated_at.strftime("%Y-%m-%d")), versions

    def artwork(self, slug: str, thumbnail: bool = False) -> bytes:
        with self.db.session() as s:
            game = s.scalars(self._visible().where(Game.slug == slug)).first()
            digest = None if game is None else game.thumbnail_sha256 if thumbnail else game.artwork_sha256
            blob = s.get(Blob, digest) if digest else None
            if blob is None:
                raise UnknownGame(f"game {slug!r} has no artwork")
            return blob.data

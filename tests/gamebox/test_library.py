"""The database catalogue (`DatabaseCatalogue`): migrations, accounts, uploads, versions, bans, plays.

Runs against SQLite, and PostgreSQL too when GAMEBOX_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import asyncio
import stat
import warnings
from pathlib import Path
from typing import Any

import jinja2
import pytest
from sqlalchemy import func, select

from wasmplug.gamebox import protocol
from wasmplug.gamebox.arenas.engine import ArenaEngine
from wasmplug.gamebox.arenas.state import Arenas
from wasmplug.gamebox.database import Blob, GameBoxDatabase, GameVersion
from wasmplug.gamebox.errors import AccessDenied, ArenaError, GameBoxError, UnknownGame, UploadRejected

from .wat_games import game_wasm

pytestmark = pytest.mark.timeout(60)


def test_the_migrations_build_exactly_the_models_schema(database: Any) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), database.models_metadata())
    assert diff == []
    database.upgrade()  # upgrading again is a no-op


def test_accounts_hash_passwords_and_authenticate(library: Any) -> None:
    alice = library.add_user("alice", "correct horse")
    assert not alice.is_admin and not alice.banned
    assert library.authenticate("alice", "correct horse") == alice
    assert library.authenticate("alice", "wrong password") is None
    assert library.authenticate("nobody", "correct horse") is None
    with library.db.session() as s:
        from wasmplug.gamebox.database import User

        stored = s.scalars(select(User.password_hash)).one()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    with pytest.raises(GameBoxError, match="the username 'ALICE' is taken"):
        library.add_user("ALICE", "another one")
    with pytest.raises(GameBoxError, match="at least 8 characters"):
        library.add_user("bob", "short")
    with pytest.raises(GameBoxError, match="3 to 32 letters"):
        library.add_user("<script>", "long enough")


def test_an_upload_joins_the_catalogue_arenas_read(library: Any) -> None:
    alice = library.add_user("alice", "correct horse")
    assert library.upload(alice, game_wasm("v1"), slug="space.wasm", title="Space!",
                          description="*fun*") == ("space", 1)
    ids = [info.id for info in library.games()]
    bundled = [info.id for info in library.bundled.games()]
    assert ids == [*bundled, "space"]  # the bundled games first, then the uploads
    assert library.get("space").title == "Space!"
    assert library.load("space") == game_wasm("v1")
    assert library.load("tictactoe") == library.bundled.load("tictactoe")
    with pytest.raises(UnknownGame):
        library.get("nope")


def test_re_uploading_adds_a_version_and_bytes_are_stored_once(library: Any) -> None:
    alice = library.add_user("alice", "correct horse")
    library.upload(alice, game_wasm("v1"), slug="space", title="Space")
    assert library.upload(alice, game_wasm("v2"), slug="space") == ("space", 2)
    assert library.upload(alice, game_wasm("v1"), slug="space") == ("space", 3)
    library.upload(alice, game_wasm("v1"), slug="copy", title="Copy")
    assert library.load("space") == game_wasm("v1")
    listing, versions = library.listing("space")
    assert [v[0] for v in versions] == [1, 2, 3] and listing.title == "Space"
    with library.db.session() as s:
        assert s.scalar(select(func.count()).select_from(GameVersion)) == 4
        assert s.scalar(select(func.count()).select_from(Blob)) == 2  # v1 and v2, content-addressed


def test_another_authors_name_and_bundled_names_are_refused(library: Any) -> None:
    alice = library.add_user("alice", "correct horse")
    bob = library.add_user("bob", "correct horse")
    library.upload(alice, game_wasm("v1"), slug="space")
    with pytest.raises(UploadRejected) as caught:
        library.upload(bob, game_wasm("v2"), slug="space")
    assert caught.value.reasons == ["the name 'space' is taken by another author: choose another"]
    with pytest.raises(UploadRejected) as caught:
        library.upload(bob, game_wasm("v2"), slug="tictactoe")
    assert caught.value.reasons == ["'tictactoe' is the name of a bundled game: choose another"]
    assert library.load("space") == game_wasm("v1")


def test_a_rejected_upload_lists_every_reason_and_stores_nothing(library: Any) -> None:
    alice = library.add_user("alice", "correct horse")
    with pytest.raises(UploadRejected) as caught:
        library.upload(alice, game_wasm(missing=("render",)), slug="bad", title="x" * 81,
                       artwork=b"<svg/>")
    assert caught.value.reasons == [
        "the title may have at most 80 characters",
        "the artwork must be a PNG or JPEG image (it could not be read as one)",
        "it does not export the function 'render' the game API needs"]
    assert library.search()[1] == 0


def test_ban_hides_games_and_blocks_uploads(library: Any) -> None:
    admin = library.add_user("root", "correct horse", admin=True)
    alice = library.add_user("alice", "correct horse")
    library.upload(alice, game_wasm(), slug="space")
    with pytest.raises(AccessDenied):
        library.set_banned(alice, "root", True)
    library.set_banned(admin, "alice", True)
    assert "space" not in [info.id for info in library.games()]
    assert library.search()[1] == 0
    with pytest.raises(UnknownGame):
        library.load("space")
    banned = library.account(alice.id)
    with pytest.raises(AccessDenied, match="banned"):
        library.upload(banned, game_wasm("v2"), slug="space")
    library.set_banned(admin, "alice", False)
    assert "space" in [info.id for info in library.games()]


def test_only_the_author_or_an_admin_deletes_or_edits(library: Any) -> None:
    admin = library.add_user("root", "correct horse", admin=True)
    alice = library.add_user("alice", "correct horse")
    bob = library.add_user("bob", "correct horse")
    library.upload(alice, game_wasm(), slug="one")
    library.upload(alice, game_wasm(), slug="two")
    with pytest.raises(AccessDenied):
        library.delete(bob, "one")
    with pytest.raises(AccessDenied):
        library.edit(bob, "one", title="Mine now", description="")
    library.edit(alice, "one", title="One!", description="new")
    assert library.get("one").title == "One!"
    library.delete(alice, "one")
    library.delete(admin, "two")
    assert library.search()[1] == 0


def test_tokens_identify_their_user_and_can_be_revoked(library: Any) -> None:
    alice = library.add_user("alice", "correct horse")
    bob = library.add_user("bob", "correct horse")
    token = library.new_token(alice, "laptop")
    assert library.by_token(token) == alice
    assert library.by_token(token + "x") is None
    ((token_id, label, _),) = library.tokens(alice)
    assert label == "laptop"
    with pytest.raises(AccessDenied):
        library.revoke_token(bob, token_id)
    library.revoke_token(alice, token_id)
    assert library.by_token(token) is None


def test_search_pages_and_my_games(library: Any) -> None:
    alice = library.add_user("alice", "correct horse")
    bob = library.add_user("bob", "correct horse")
    wasm = game_wasm()
    for n in range(60):
        library.upload(alice if n % 2 else bob, wasm, slug=f"game{n}", title=f"Game {n}",
                       description="about 100% snakes" if n == 7 else "")
    first, total = library.search()
    assert total == 60 and len(first) == 48 and first[0].slug == "game59"
    assert len(library.search(page=2)[0]) == 12
    assert [g.slug for g in library.search("snakes")[0]] == ["game7"]
    assert [g.slug for g in library.search("100%")[0]] == ["game7"]  # % is a character, not a wildcard
    assert library.search("Game 1")[1] == 11  # Game 1, Game 10..19
    assert library.search(owner=alice)[1] == 30


def test_arenas_keep_their_version_survive_a_ban_and_plays_are_counted(library: Any) -> None:
    alice = library.add_user("alice", "correct horse")
    library.upload(alice, game_wasm("first"), slug="marker")

    async def scenario() -> tuple[str, str]:
        box = ArenaEngine(library, jinja2.Environment(loader=jinja2.PackageLoader(
            "wasmplug.gamebox", "templates"), autoescape=True), arenas=Arenas())
        try:
            old, host = box.create_arena("Ann")
            await box.join(old.code, "Ben")
            await box._select(old, host.name, "marker")
            old.start(host.name)
            await box._start(old)
            library.upload(alice, game_wasm("second"), slug="marker")  # a new version meanwhile
            new, host2 = box.create_arena("Cid")
            await box.join(new.code, "Dee")
            await box._select(new, host2.name, "marker")
            new.start(host2.name)
            await box._start(new)
            boards = (await box.board_html(old, host), await box.board_html(new, host2))
            # the author is banned: running arenas finish their game, no new arena can pick it
            admin = library.add_user("root", "correct horse", admin=True)
            library.set_banned(admin, "alice", True)
            await box.event(old, host, protocol.Event("click", {}))
            assert old.version == 1 and "first" in await box.board_html(old, host)
            third, host3 = box.create_arena("Eve")
            with pytest.raises(ArenaError, match="no game 'marker' in the catalogue"):
                await box._select(third, host3.name, "marker")
            library.set_banned(admin, "alice", False)
            return boards
        finally:
            box.close()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        old_board, new_board = asyncio.run(scenario())
    assert "first" in old_board and "second" in new_board
    assert library.listing("marker")[0].plays == 2


def test_the_arena_picker_lists_the_most_played_uploads(library: Any, monkeypatch: Any) -> None:
    import wasmplug.gamebox.catalogue.database as library_module

    monkeypatch.setattr(library_module, "PICKER_GAMES", 3)
    alice = library.add_user("alice", "correct horse")
    wasm = game_wasm()
    for n in range(6):
        library.upload(alice, wasm, slug=f"g{n}", title=f"G{n}")
    for n, plays in [(4, 3), (1, 2), (5, 1)]:
        for _ in range(plays):
            library.played(f"g{n}")
    library._changed()  # plays do not refresh the picker at once; uploads, edits and bans do
    ids = [info.id for info in library.games()]
    assert ids == [info.id for info in library.bundled.games()] + ["g4", "g1", "g5"]
    library.get("g0")  # the others can still be picked by id


def test_the_data_folder_and_database_are_private(tmp_path: Path) -> None:
    """Other users of the machine can read neither the accounts nor the uploads."""
    data = tmp_path / "data"
    db = GameBoxDatabase.in_dir(data)
    db.upgrade()
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    files = [p for p in data.iterdir() if p.name.startswith("gamebox.db")]
    assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files), [
        (p.name, oct(p.stat().st_mode)) for p in files]
    db.close()
    (data / "gamebox.db").chmod(0o644)  # made by an older version
    GameBoxDatabase.in_dir(data).close()
    assert stat.S_IMODE((data / "gamebox.db").stat().st_mode) == 0o600


def test_a_page_past_the_end_costs_one_query(library: Any) -> None:
    """A flood of `/games?page=99999` made three queries each (count, rows, versions)."""
    from sqlalchemy import event

    library.upload(library.add_user("alice", "correct horse"), game_wasm(), slug="one")
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(library.db.engine, "before_cursor_execute", seen)
    try:
        assert library.search(page=99_999) == ([], 1)
        assert len(statements) == 1 and "count" in statements[0].lower()
        statements.clear()
        assert [g.slug for g in library.search(page=1)[0]] == ["one"]  # the first page: all three
        assert len(statements) == 3
    finally:
        event.remove(library.db.engine, "before_cursor_execute", seen)

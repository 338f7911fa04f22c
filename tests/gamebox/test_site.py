"""Accounts, uploads and the catalogue over HTTP: the security tests, each with its exact outcome."""

from __future__ import annotations

import html
import re
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from wasmplug.gamebox.app import SiteSettings, create_app
from wasmplug.web.sessions import CSRF_FAILED

from .wat_games import game_wasm

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

pytestmark = pytest.mark.timeout(60)
SECRET = "test-secret-" + "x" * 20


@pytest.fixture
def app(library: Any) -> Iterator[Any]:
    app = create_app(library, session_secret=SECRET,
                     site_settings=SiteSettings(login_attempts=3, uploads=4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with TestClient(app):
            yield app


def person(app: Any) -> Any:
    """A browser of its own (own cookie jar); redirects are not followed."""
    return TestClient(app, follow_redirects=False)


def csrf(client: Any, url: str = "/login") -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(url).text)
    assert found, f"no CSRF token on {url}"
    return found.group(1)


def sign_up(client: Any, username: str, password: str = "correct horse") -> None:
    response = client.post("/signup", data={"csrf": csrf(client, "/signup"), "username": username,
                                            "password": password})
    assert response.status_code == 303 and response.headers["location"] == "/my"


def upload(client: Any, wasm: bytes, filename: str = "space.wasm", **fields: Any) -> Any:
    files: dict[str, Any] = {"wasm": (filename, wasm, "application/wasm")}
    if "artwork" in fields:
        files["artwork"] = ("art.png", fields.pop("artwork"), "image/png")
    return client.post("/my/upload", data={"csrf": csrf(client, "/my"), **fields}, files=files)


def api_upload(client: Any, token: str, wasm: bytes, **fields: Any) -> Any:
    return client.post("/api/games", headers={"authorization": f"Bearer {token}"},
                       data=fields, files={"wasm": ("game.wasm", wasm, "application/wasm")})


def test_sign_up_upload_and_see_it_in_the_catalogue(app: Any) -> None:
    alice = person(app)
    sign_up(alice, "alice")
    response = upload(alice, game_wasm(), title="Space Race", description="Fly **fast**.")
    assert response.status_code == 303 and response.headers["location"] == "/games/space"
    page = alice.get("/games/space").text
    assert "Space Race" in page and "<strong>fast</strong>" in page and "version 1" in page
    anonymous = person(app)
    listing = anonymous.get("/games?q=space").text
    assert 'href="/games/space"' in listing and "by alice" in listing
    assert "space" in [info.id for info in app.state.engine.catalogue.games()]  # the arena picker
    assert anonymous.get("/games?q=nothing-like-this").text.count('class="game-card"') == 0


def test_log_out_ends_the_session(app: Any) -> None:
    alice = person(app)
    sign_up(alice, "alice")
    assert alice.get("/my").status_code == 200
    assert alice.post("/logout", data={"csrf": csrf(alice, "/my")}).status_code == 303
    assert alice.get("/my").headers["location"] == "/login"
    login = alice.post("/login", data={"csrf": csrf(alice), "username": "alice",
                                       "password": "correct horse"})
    assert login.status_code == 303 and alice.get("/my").status_code == 200


def test_html_in_title_and_description_never_runs(app: Any) -> None:
    alice = person(app)
    sign_up(alice, "alice")
    upload(alice, game_wasm(), title='<script>alert("t")</script>',
           description='<script>alert("d")</script><a href="javascript:alert(1)">x</a>')
    for url in ("/games/space", "/games", "/my"):
        page = alice.get(url).text
        assert "<script>alert" not in page and '<a href="javascript' not in page
        assert "&lt;script&gt;alert(" in page


def test_path_traversal_in_the_file_name_goes_nowhere(app: Any, tmp_path: Any) -> None:
    alice = person(app)
    sign_up(alice, "alice")
    response = upload(alice, game_wasm(), filename="../../../../tmp/evil.wasm")
    assert response.headers["location"] == "/games/evil"
    assert not (tmp_path.parent / "evil.wasm").exists() and not list(tmp_path.rglob("evil*"))


def test_every_reason_for_a_rejection_is_shown_at_once(app: Any) -> None:
    alice = person(app)
    sign_up(alice, "alice")
    response = upload(alice, game_wasm(missing=("render",), extra_import=True),
                      artwork=b'<svg xmlns="http://www.w3.org/2000/svg"/>')
    assert response.status_code == 400
    text = response.text.replace("&#39;", "'")
    assert ("the upload was rejected: the artwork must be a PNG or JPEG image (it could not be read "
            "as one); it does not export the function 'render' the game API needs; it imports "
            "extism:host/user.steal_files, which GameBox does not offer") in text


def test_artwork_is_served_re_encoded(app: Any) -> None:
    import io

    from PIL import Image

    jpeg = io.BytesIO()
    Image.new("RGB", (64, 48), (0, 90, 200)).save(jpeg, format="JPEG")
    payload = b"<script>alert(1)</script>"
    alice = person(app)
    sign_up(alice, "alice")
    upload(alice, game_wasm(), artwork=jpeg.getvalue() + payload)
    for url in ("/games/space/art.png", "/games/space/thumb.png"):
        response = alice.get(url)
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
        assert response.content.startswith(b"\x89PNG") and payload not in response.content


# Every form of the site, and the fields it needs besides the CSRF token.
FORMS = [
    ("/signup", {"username": "mallory", "password": "correct horse"}),
    ("/login", {"username": "alice", "password": "correct horse"}),
    ("/logout", {}),
    ("/my/upload", {}),
    ("/my/tokens", {"label": "stolen"}),
    ("/my/games/space/edit", {"title": "Pwned", "description": ""}),
    ("/my/games/space/delete", {}),
    ("/admin", {"user": "bob", "action": "ban"}),
    ("/arenas", {"name": "ann"}),  # the arena forms too, when accounts are on
    ("/join", {"code": "BCDF", "name": "bob"}),
]


@pytest.mark.parametrize(("url", "fields"), FORMS)
@pytest.mark.parametrize("token", ["missing", "wrong"])
def test_csrf_on_every_form(app: Any, library: Any, url: str, fields: dict[str, str],
                            token: str) -> None:
    library.add_user("root", "correct horse", admin=True)
    library.add_user("bob", "correct horse")
    admin = person(app)
    login = admin.post("/login", data={"csrf": csrf(admin), "username": "root",
                                       "password": "correct horse"})
    assert login.status_code == 303
    admin.post("/my/upload", data={"csrf": csrf(admin, "/my")},
               files={"wasm": ("space.wasm", game_wasm(), "application/wasm")})
    data = dict(fields) if token == "missing" else {**fields, "csrf": "forged"}
    files = {"wasm": ("x.wasm", game_wasm("evil"), "application/wasm")} if url == "/my/upload" else None
    response = admin.post(url, data=data, files=files)
    assert response.status_code == 403
    assert CSRF_FAILED in html.unescape(response.text)
    # nothing happened
    assert admin.get("/my").status_code == 200  # still signed in
    assert library.get("space").title == "space" and library.load("space") == game_wasm()
    assert library.tokens(library.account(1)) == []
    assert not any(a.banned for a in library.users())
    assert [a.username for a in library.users()] == ["bob", "root"]
    assert app.state.engine.arenas.arenas == {}


def test_the_arena_forms_work_with_their_csrf_token(app: Any) -> None:
    ann = person(app)
    response = ann.post("/arenas", data={"csrf": csrf(ann, "/"), "name": "ann"})
    assert response.status_code == 303 and response.headers["location"].startswith("/arena/")
    code = response.headers["location"].rsplit("/", 1)[1]
    bob = person(app)
    response = bob.post("/join", data={"csrf": csrf(bob, f"/?arena={code}"), "code": code, "name": "bob"})
    assert response.status_code == 303 and response.headers["location"] == f"/arena/{code}"


def test_password_brute_force_hits_the_rate_limit(app: Any, library: Any) -> None:
    library.add_user("alice", "correct horse")
    attacker = person(app)
    for guess in ("123456", "password", "qwerty"):
        response = attacker.post("/login", data={"csrf": csrf(attacker), "username": "alice",
                                                 "password": guess})
        assert response.status_code == 400 and "wrong username or password" in response.text
    response = attacker.post("/login", data={"csrf": csrf(attacker), "username": "alice",
                                             "password": "correct horse"})  # even the right one
    assert response.status_code == 429
    assert re.search(r"too many failed sign-ins: try again in \d+ s", response.text)
    assert attacker.get("/my").headers["location"] == "/login"


def test_uploads_are_rate_limited(app: Any, library: Any) -> None:
    library.add_user("alice", "correct horse")
    token = library.new_token(library.account(1))
    client = person(app)
    for n in range(4):
        assert api_upload(client, token, game_wasm(f"v{n}"), game="space").status_code == 201
    response = api_upload(client, token, game_wasm("v5"), game="space")
    assert response.status_code == 429
    assert re.fullmatch(r"too many uploads: try again in \d+ s", response.json()["error"])


def test_session_cookie_tampering_signs_out(app: Any, library: Any) -> None:
    library.add_user("alice", "correct horse")
    library.add_user("root", "correct horse", admin=True)
    alice = person(app)
    alice.post("/login", data={"csrf": csrf(alice), "username": "alice", "password": "correct horse"})
    cookie = alice.cookies["gamebox_session"]
    payload, _, signature = cookie.partition(".")
    import base64
    import json

    data = json.loads(base64.b64decode(payload + "=="))
    assert data["uid"] == 1
    forged = base64.b64encode(json.dumps({**data, "uid": 2}).encode()).decode()
    mallory = person(app)
    mallory.cookies.set("gamebox_session", f"{forged}.{signature}")
    assert mallory.get("/my").headers["location"] == "/login"
    assert mallory.get("/admin").headers["location"] == "/login"
    mallory.cookies.set("gamebox_session", cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB"))
    assert mallory.get("/my").headers["location"] == "/login"


def test_upload_and_admin_need_a_login(app: Any) -> None:
    anonymous = person(app)
    assert anonymous.get("/my").headers["location"] == "/login"
    assert anonymous.get("/admin").headers["location"] == "/login"
    token = csrf(anonymous)  # a valid CSRF token of an anonymous session
    response = anonymous.post("/my/upload", data={"csrf": token},
                              files={"wasm": ("a.wasm", game_wasm(), "application/wasm")})
    assert response.headers["location"] == "/login"
    response = anonymous.post("/api/games", files={"wasm": ("a.wasm", game_wasm(), "application/wasm")})
    assert response.status_code == 401
    assert response.json()["error"].startswith("a valid API token is needed")
    assert api_upload(anonymous, "gbt_made-up", game_wasm()).status_code == 401
    assert anonymous.get("/games").text.count('class="game-card"') == 0


def test_another_users_token_cannot_touch_your_games(app: Any, library: Any) -> None:
    library.add_user("alice", "correct horse")
    library.add_user("bob", "correct horse")
    alice_token = library.new_token(library.account(1))
    bob_token = library.new_token(library.account(2))
    client = person(app)
    created = api_upload(client, alice_token, game_wasm("alice"), game="space", title="Space")
    assert created.status_code == 201
    assert created.json() == {"game": "space", "version": 1, "url": "http://testserver/games/space"}
    response = api_upload(client, bob_token, game_wasm("bob"), game="space")
    assert response.status_code == 400
    assert response.json()["reasons"] == ["the name 'space' is taken by another author: choose another"]
    assert library.load("space") == game_wasm("alice")
    bob = person(app)
    bob.post("/login", data={"csrf": csrf(bob), "username": "bob", "password": "correct horse"})
    response = bob.post("/my/games/space/delete", data={"csrf": csrf(bob, "/my")})
    assert response.status_code == 403
    assert "only the game&#39;s author or an admin can change it" in response.text
    assert bob.post("/admin", data={"csrf": csrf(bob, "/my"), "user": "alice",
                                    "action": "ban"}).status_code == 403
    assert bob.get("/admin").status_code == 403
    assert library.load("space") == game_wasm("alice")


def test_a_banned_user_cannot_upload_and_their_games_disappear(app: Any, library: Any) -> None:
    library.add_user("root", "correct horse", admin=True)
    library.add_user("alice", "correct horse")
    token = library.new_token(library.account(2))
    alice, admin, anonymous = person(app), person(app), person(app)
    alice.post("/login", data={"csrf": csrf(alice), "username": "alice", "password": "correct horse"})
    assert upload(alice, game_wasm()).status_code == 303
    admin.post("/login", data={"csrf": csrf(admin), "username": "root", "password": "correct horse"})
    assert "alice" in admin.get("/admin").text
    response = admin.post("/admin", data={"csrf": csrf(admin, "/admin"), "user": "alice",
                                          "action": "ban"})
    assert response.status_code == 303
    assert 'href="/games/space"' not in anonymous.get("/games").text
    assert anonymous.get("/games/space").status_code == 404
    assert "space" not in [info.id for info in app.state.engine.catalogue.games()]
    response = alice.post("/my/upload", data={"csrf": csrf(alice, "/games")},
                          files={"wasm": ("b.wasm", game_wasm(), "application/wasm")})
    assert response.status_code == 403 and "your account is banned" in response.text
    response = api_upload(person(app), token, game_wasm("v2"), game="space")
    assert response.status_code == 403
    assert response.json() == {"error": "your account is banned: you cannot upload"}


def test_an_admin_deletes_any_game(app: Any, library: Any) -> None:
    library.add_user("root", "correct horse", admin=True)
    library.add_user("alice", "correct horse")
    library.upload(library.account(2), game_wasm(), slug="space")
    admin = person(app)
    admin.post("/login", data={"csrf": csrf(admin), "username": "root", "password": "correct horse"})
    response = admin.post("/my/games/space/delete", data={"csrf": csrf(admin, "/admin"),
                                                          "back": "admin"})
    assert response.status_code == 303 and response.headers["location"] == "/admin"
    assert library.search()[1] == 0


def test_tokens_are_created_on_my_page(app: Any, library: Any) -> None:
    alice = person(app)
    sign_up(alice, "alice")
    page = alice.post("/my/tokens", data={"csrf": csrf(alice, "/my"), "label": "laptop"}).text
    token = re.search(r'id="new-token">([^<]+)<', page).group(1)  # type: ignore[union-attr]
    assert api_upload(person(app), token, game_wasm(), game="space").status_code == 201
    assert "new-token" not in alice.get("/my").text  # shown once


def test_an_oversized_request_is_refused_unread(app: Any, library: Any) -> None:
    library.add_user("alice", "correct horse")
    token = library.new_token(library.account(1))
    huge = bytes(6 * 1024 * 1024)
    response = api_upload(person(app), token, huge, game="space")
    assert response.status_code == 413
    assert re.fullmatch(r"the request is \d+ bytes; an upload may be at most 2097152 bytes of game "
                        r"and 2 MB of artwork", response.json()["error"])
    alice = person(app)
    alice.post("/login", data={"csrf": csrf(alice), "username": "alice", "password": "correct horse"})
    response = upload(alice, huge)
    assert response.status_code == 413 and "an upload may be at most 2097152 bytes" in response.text
    assert library.search()[1] == 0


def test_numbers_from_the_query_and_forms_are_bounded(app: Any, library: Any) -> None:
    """A page or token id past 64 bits was an OverflowError in the database: a 500."""
    visitor = person(app)
    for page in ("9223372036854775807", "9" * 5_000, "-5", "1e9", ""):
        response = visitor.get("/games", params={"page": page})
        assert response.status_code == 200, page[:20]
        assert response.headers["x-content-type-options"] == "nosniff"
    alice = person(app)
    sign_up(alice, "alice")
    for revoke in ("9223372036854775808", "9" * 5_000, "0", "abc"):
        response = alice.post("/my/tokens", data={"csrf": csrf(alice, "/my"), "revoke": revoke})
        assert response.status_code == 403, revoke[:20]
        assert "no such token" in response.text

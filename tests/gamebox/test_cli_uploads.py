"""`wasmplug gamebox add-user` and `wasmplug gamebox upload` against a real `serve --data-dir`."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from .conftest import DATABASE_URLS, fresh_database
from .test_cli import running, url_in
from .wat_games import game_wasm

pytestmark = pytest.mark.timeout(120)


def wasmplug(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmplug", "gamebox", *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_add_user_then_upload_from_the_command_line(tmp_path: Path) -> None:
    from PIL import Image

    data = tmp_path / "data"
    made = wasmplug("add-user", "root", "--admin", "--data-dir", str(data),
                    stdin="correct horse\ncorrect horse\n")
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip().endswith("created admin root")
    again = wasmplug("add-user", "ROOT", "--data-dir", str(data), "--password", "correct horse")
    assert again.returncode == 1 and "the username 'ROOT' is taken: choose another" in again.stderr

    from wasmplug.gamebox.catalogue.database import DatabaseCatalogue
    from wasmplug.gamebox.database import GameBoxDatabase

    library = DatabaseCatalogue(GameBoxDatabase.in_dir(data))
    (root,) = library.users()
    assert root.is_admin
    token = library.new_token(root, "cli")

    game = tmp_path / "space.wasm"
    game.write_bytes(game_wasm("from the cli"))
    art = tmp_path / "art.png"
    buffer = io.BytesIO()
    Image.new("RGB", (50, 40), (1, 2, 3)).save(buffer, format="PNG")
    art.write_bytes(buffer.getvalue())
    bad = tmp_path / "bad.wasm"
    bad.write_bytes(game_wasm(missing=("render",), extra_import=True))

    with running("serve", "--port", "0", "--data-dir", str(data)) as line:
        base = url_in(line)
        done = wasmplug("upload", str(game), "--server", base, "--token", token,
                        "--title", "Space <Race>", "--description", "Fly *fast*", "--artwork", str(art))
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"uploaded space version 1: {base}/games/space"
        page = httpx.get(f"{base}/games/space").text
        assert "Space &lt;Race&gt;" in page and "<em>fast</em>" in page
        assert httpx.get(f"{base}/games/space/art.png").content.startswith(b"\x89PNG")
        second = wasmplug("upload", str(game), "--server", base, "--token", token)
        assert second.stdout.strip() == f"uploaded space version 2: {base}/games/space"

        rejected = wasmplug("upload", str(bad), "--server", base, "--token", token)
        assert rejected.returncode == 1
        assert rejected.stderr.strip() == (
            "Error: the upload was rejected:\n"
            "  - it does not export the function 'render' the game API needs\n"
            "  - it imports extism:host/user.steal_files, which GameBox does not offer "
            "(games may import only the Extism kernel, its host environment and WASI)")
        wrong = wasmplug("upload", str(game), "--server", base, "--token", "gbt_nope")
        assert wrong.returncode == 1
        assert "a valid API token is needed" in wrong.stderr
    unreachable = wasmplug("upload", str(game), "--server", "http://127.0.0.1:9", "--token", token)
    assert unreachable.returncode == 1 and "cannot reach http://127.0.0.1:9" in unreachable.stderr


@pytest.mark.parametrize("kind", DATABASE_URLS)
def test_serve_and_add_user_take_a_database_url(kind: str, tmp_path: Path) -> None:
    db = fresh_database(kind, tmp_path)  # an empty, migrated database (PostgreSQL under .ci/run)
    url = db.url if kind != "sqlite" else f"sqlite:///{tmp_path / 'other.db'}"
    db.close()
    made = wasmplug("add-user", "ada", "--database-url", url, "--password", "correct horse")
    assert made.returncode == 0, made.stderr
    with running("serve", "--port", "0", "--database-url", url, "--session-secret", "s" * 32) as line:
        base = url_in(line)
        with httpx.Client(base_url=base) as http:
            page = http.get("/login").text
            token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            response = http.post("/login", data={"csrf": token, "username": "ada",
                                                 "password": "correct horse"})
            assert response.status_code == 303 and "My games (ada)" in http.get("/my").text
    bad = wasmplug("add-user", "bob", "--database-url", "nosuchdb://x", "--password", "correct horse")
    assert bad.returncode == 1 and "cannot open the database" in bad.stderr

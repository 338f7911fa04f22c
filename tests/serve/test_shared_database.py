"""Several `serve` front ends on one database: a deploy, rollback or delete made through one is
served by the others once they sync (they look every `sync_every` seconds)."""

from __future__ import annotations

from pathlib import Path

from wasmplug.serve import ServerSettings

from ..waiting import wait_until
from .conftest import live_server

JS = "function v() {{ Host.outputString('{tag}'); }}\nmodule.exports = {{ v }};"


def test_two_front_ends_share_deploys_rollbacks_and_deletes(tmp_path: Path) -> None:
    settings = ServerSettings(data_dir=tmp_path, sync_every=0.05)
    with live_server(settings) as a, live_server(settings) as b:
        a.deployed("shared", JS.format(tag="one").encode(), public=True)
        assert b.call("shared", "v").content == b"one"  # loaded from the database on first use
        a.deployed("shared", JS.format(tag="two").encode(), public=True)
        wait_until(lambda: b.call("shared", "v").content == b"two", "front end b to serve version 2")
        rolled = b.client.post(f"{b.url}/api/functions/shared/rollback", json={"version": 1},
                               headers=b.auth(a.token))
        assert rolled.status_code == 200
        wait_until(lambda: a.call("shared", "v").content == b"one", "front end a to serve the rollback")
        a.deployed("routed", b"function handle() { Host.outputString(JSON.stringify({body: 'r'})); }\n"
                             b"module.exports = { handle };", public=True, route="/routed")
        wait_until(lambda: b.client.get(f"{b.url}/routed").text == "r", "front end b to mount the route")
        assert a.client.delete(f"{a.url}/api/functions/shared", headers=a.auth()).status_code == 200
        wait_until(lambda: b.call("shared", "v").status_code == 404, "front end b to drop the function")

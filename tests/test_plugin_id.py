"""A plug-in's id is a version 4 UUID, made as a `uuid.UUID` only when asked for."""

from __future__ import annotations

import subprocess
import sys
import uuid

from wasmplug._plugin_id import PluginId

from .conftest import wasm


def test_the_id_is_a_random_version_4_uuid_with_the_same_text_equality_and_hash() -> None:
    ids = [PluginId() for _ in range(2000)]
    assert len({i.int for i in ids}) == len(ids)
    for plugin_id in ids:
        made = plugin_id.uuid()
        assert made is plugin_id.uuid()
        assert made.version == 4 and made.variant == uuid.RFC_4122
        assert str(plugin_id) == str(made) and plugin_id == made and made == plugin_id
        assert hash(plugin_id) == hash(made) and {made: 1}[plugin_id] == 1  # type: ignore[index]
    assert ids[0] != ids[1] and ids[0] != ids[1].uuid()
    assert ids[0] != str(ids[0])


def test_plugin_id_is_a_uuid_and_a_call_never_imports_uuid() -> None:
    code = ("import sys, wasmplug\n"
            f"p = wasmplug.Plugin({str(wasm('count_vowels'))!r})\n"
            "p.call('count_vowels', 'hello')\n"
            "assert 'uuid' not in sys.modules, 'a call imported uuid'\n"
            "import uuid\n"
            "assert isinstance(p.id, uuid.UUID) and p.id.version == 4 and p.id is p.id\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)

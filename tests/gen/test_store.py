"""Saved functions: one folder per function with the code and its metadata."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from wasmplug.gen.errors import GenError, NotFound
from wasmplug.gen.store import ENV_DIR, ExampleResult, Function, Store, default_root

CODE = "module.exports = function (input) { return input.length; };"


def function(name: str = "length") -> Function:
    return Function(name=name, code=CODE + "\n\n", description="the length of the input",
                    model="gpt-test", attempts=2,
                    examples=[ExampleResult("abc", "3", output="3"),
                              ExampleResult("", "1", output="0"),
                              ExampleResult("x", "1", error="Error: boom (line 1)")])


def test_save_writes_code_and_metadata(tmp_path: Path) -> None:
    folder = Store(tmp_path).save(function())
    assert folder == tmp_path / "length"
    assert (folder / "function.js").read_text() == CODE + "\n"
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["description"] == "the length of the input"
    assert meta["model"] == "gpt-test"
    assert meta["sha256"] == hashlib.sha256(CODE.encode()).hexdigest()
    assert meta["created"].endswith("+00:00")
    assert meta["attempts"] == 2
    assert meta["examples"] == [
        {"input": "abc", "expected": "3", "output": "3", "error": None, "passed": True},
        {"input": "", "expected": "1", "output": "0", "error": None, "passed": False},
        {"input": "x", "expected": "1", "output": None, "error": "Error: boom (line 1)",
         "passed": False}]


def test_load_round_trips(tmp_path: Path) -> None:
    store = Store(tmp_path)
    saved = function()
    store.save(saved)
    loaded = store.load("length")
    assert loaded == saved
    assert loaded.passed == 1 and not loaded.modified


def test_code_changed_on_disk_is_detected(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.save(function())
    (tmp_path / "length" / "function.js").write_text("module.exports = () => 1;\n")
    assert store.load("length").modified


def test_list_and_remove(tmp_path: Path) -> None:
    store = Store(tmp_path / "missing")
    assert store.names() == []
    store.save(function("b"))
    store.save(function("a"))
    (store.root / "not-a-function").mkdir()
    assert store.names() == ["a", "b"]
    assert [f.name for f in store] == ["a", "b"]
    store.remove("a")
    assert store.names() == ["b"] and not (store.root / "a").exists()
    with pytest.raises(NotFound, match="no function named 'a'"):
        store.remove("a")


def test_missing_function_says_how_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"no function named 'nope' in .*: create it with "
                                       r"`wasmplug gen new nope -d"):
        Store(tmp_path).load("nope")


@pytest.mark.parametrize("name", ["../evil", "a/b", "", ".hidden", "x" * 65, "a b"])
def test_names_that_could_escape_the_folder_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(GenError, match="invalid function name"):
        Store(tmp_path).save(function(name))


def test_corrupt_metadata_is_a_clear_error(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.save(function())
    (tmp_path / "length" / "meta.json").write_text("{not json")
    with pytest.raises(GenError, match=r"cannot be read .*remove it with `wasmplug gen rm length`"):
        store.load("length")
    (tmp_path / "length" / "meta.json").write_text('{"model": "m"}')
    with pytest.raises(GenError, match=r"metadata of function 'length' .* is malformed"):
        store.load("length")


def test_root_from_env_or_user_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import platformdirs

    monkeypatch.setenv(ENV_DIR, str(tmp_path))
    assert default_root() == tmp_path
    monkeypatch.delenv(ENV_DIR)
    assert default_root() == Path(platformdirs.user_data_dir("wasmplug")) / "gen"

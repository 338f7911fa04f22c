"""Messages that say what went wrong and what to do, and point at nothing the
package does not ship."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import wasmplug
from wasmplug import LoadError, ManifestError

from .conftest import ROOT

SRC = ROOT / "src" / "wasmplug"


@pytest.mark.parametrize("as_path", [False, True])
def test_a_directory_given_as_plugin_says_so(tmp_path: Path, as_path: bool) -> None:
    source = tmp_path if as_path else str(tmp_path)
    with pytest.raises(LoadError, match=rf'"{tmp_path}": it is a directory; give the path '
                                        r"of a \.wasm file or of a JSON/TOML manifest"):
        wasmplug.Plugin(source)


def test_a_directory_named_in_a_manifest_says_so(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="it is a directory"):
        wasmplug.Plugin({"wasm": [{"path": str(tmp_path)}]})


def test_a_text_file_given_as_plugin_names_it_and_the_parser_error(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list\n  eggs\n")
    with pytest.raises(ManifestError) as caught:
        wasmplug.Plugin(str(notes))
    message = str(caught.value)
    assert message.startswith(f'"{notes}" is neither a wasm module nor a JSON/TOML manifest: '
                              "TOML: ")
    assert "(at line 1, column 10)" in message
    assert "ABI.md" not in message and "Unknown manifest format" not in message


def test_broken_json_manifest_reports_the_json_error_with_line_and_column(tmp_path: Path) -> None:
    manifest = tmp_path / "plugin.json"
    manifest.write_text('{"wasm": [\n  {"path": "x.wasm",}\n]}')
    with pytest.raises(ManifestError, match=r'plugin\.json" is neither a wasm module nor a '
                                            r"JSON/TOML manifest: JSON: Expecting property name "
                                            r"enclosed in double quotes: line 2 column 21"):
        wasmplug.Plugin(manifest)


def _non_docstring_strings(tree: ast.AST) -> list[str]:
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings]


def test_no_message_refers_to_a_document_the_package_does_not_ship() -> None:
    shipped = {p.name for p in SRC.rglob("*") if p.is_file()}
    offenders = []
    for path in SRC.rglob("*.py"):
        for text in _non_docstring_strings(ast.parse(path.read_text(), str(path))):
            for word in text.replace("(", " ").replace(")", " ").split():
                if word.rstrip(".,;:").endswith(".md") and word.rstrip(".,;:") not in shipped:
                    offenders.append((path.relative_to(ROOT).as_posix(), text[:80]))
    assert offenders == []

"""Where generated functions live: one folder per function.

    <root>/<name>/function.js    the module, as generated (or edited)
    <root>/<name>/meta.json      description, model, created, sha256, examples and results

The root is `$WASMPLUG_GEN_DIR` if set, else `gen/` under the platform's user
data directory (`platformdirs.user_data_dir("wasmplug")`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import GenError, NotFound
from .prompt import same_output

ENV_DIR = "WASMPLUG_GEN_DIR"
CODE_FILE = "function.js"
META_FILE = "meta.json"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def default_root() -> Path:
    override = os.environ.get(ENV_DIR)
    if override:
        return Path(override)
    try:
        import platformdirs
    except ImportError:
        raise GenError("the utility maker needs platformdirs to find its data folder: "
                       f"pip install 'wasmplug[gen]' (or set {ENV_DIR})") from None
    return Path(platformdirs.user_data_dir("wasmplug")) / "gen"


def sha256(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


@dataclass
class ExampleResult:
    """An example and what the function did with it (`output` or `error`)."""

    input: str
    expected: str
    output: str | None = None
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and self.output is not None and same_output(self.expected, self.output)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


@dataclass
class Function:
    """A saved function: its code and metadata."""

    name: str
    code: str
    description: str
    model: str
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    sha256: str = ""
    attempts: int = 1
    examples: list[ExampleResult] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.code = self.code.rstrip("\n")
        if not self.sha256:
            self.sha256 = sha256(self.code)

    @property
    def passed(self) -> int:
        return sum(1 for e in self.examples if e.passed)

    @property
    def modified(self) -> bool:
        """The code no longer matches the recorded sha256 (changed outside `edit`)."""
        return sha256(self.code) != self.sha256

    def metadata(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "model": self.model,
                "created": self.created, "sha256": self.sha256, "attempts": self.attempts,
                "examples": [e.to_json() for e in self.examples]}


class Store:
    """The saved functions under `root` (default: `default_root()`)."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()

    def path(self, name: str) -> Path:
        if not _NAME.fullmatch(name):
            raise GenError(f"invalid function name {name!r}: use 1-64 letters, digits, '_', '-' or "
                           "'.', starting with a letter or digit")
        return self.root / name

    def exists(self, name: str) -> bool:
        return (self.path(name) / META_FILE).is_file()

    def save(self, function: Function) -> Path:
        folder = self.path(function.name)
        folder.mkdir(parents=True, exist_ok=True)
        _write(folder / CODE_FILE, function.code + "\n")
        _write(folder / META_FILE, json.dumps(function.metadata(), indent=2, ensure_ascii=False) + "\n")
        return folder

    def load(self, name: str) -> Function:
        folder = self.path(name)
        try:
            meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
            code = (folder / CODE_FILE).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotFound(f"no function named {name!r} in {self.root}: create it with "
                           f"`wasmplug gen new {name} -d \"what it should do\"`") from None
        except (OSError, ValueError) as exc:
            raise GenError(f"function {name!r} in {folder} cannot be read ({exc}): "
                           f"remove it with `wasmplug gen rm {name}` and generate it again") from None
        try:
            examples = [ExampleResult(e["input"], e["expected"], e.get("output"), e.get("error"))
                        for e in meta.get("examples", [])]
            return Function(name=name, code=code, description=meta["description"],
                            model=meta["model"], created=meta["created"], sha256=meta["sha256"],
                            attempts=int(meta.get("attempts", 1)), examples=examples)
        except (KeyError, TypeError, ValueError) as exc:
            raise GenError(f"the metadata of function {name!r} ({folder / META_FILE}) is malformed "
                           f"(missing or bad {exc}): remove it with `wasmplug gen rm {name}`") from None

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / META_FILE).is_file())

    def __iter__(self) -> Iterator[Function]:
        return (self.load(name) for name in self.names())

    def remove(self, name: str) -> None:
        if not self.exists(name):
            raise NotFound(f"no function named {name!r} in {self.root}")
        shutil.rmtree(self.path(name))


def _write(path: Path, text: str) -> None:
    """Write through a temporary file, so a crash never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)

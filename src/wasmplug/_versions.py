"""Installed distributions' versions, cheaply.

`importlib.metadata` costs about 50 ms to import, a fifth of `wasmplug gen
run`'s whole start-up, for one string. A distribution installed the usual way
has a `<name>-<version>.dist-info` folder beside its package: that name is
read instead, and importlib.metadata asked only when there is none.
"""

from __future__ import annotations

import os
import re
from pathlib import Path


def installed(name: str, package_dir: str | os.PathLike[str]) -> str:
    """The version of distribution `name`, whose top-level package is in `package_dir`."""
    pattern = re.compile(rf"{re.escape(name)}-([^-]+)\.dist-info", re.IGNORECASE)
    try:
        found = [m[1] for entry in os.scandir(Path(package_dir).parent)
                 if (m := pattern.fullmatch(entry.name))]
    except OSError:
        found = []
    if len(found) == 1:
        return found[0]
    from importlib.metadata import version

    return version(name)


def wasmplug_version() -> str:
    """wasmplug's own version ("0.0.0" when running from a source tree)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("wasmplug")
    except PackageNotFoundError:
        return "0.0.0"


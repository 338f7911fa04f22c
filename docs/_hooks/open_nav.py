"""MkDocs hook: a page in docs/ that mkdocs.yml's nav does not list joins "Applications".

Each application documents itself in a page of its own (`docs/sql.md`,
`docs/serve.md`, ...) without editing mkdocs.yml; this hook appends every such
top-level page to the nav's "Applications" section, titled by its first
heading, so `mkdocs build --strict` (which warns about pages left out of the
nav) keeps passing and readers can find the page.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

SECTION = "Applications"


def _listed(nav: Any) -> set[str]:
    """Every page path named anywhere in a nav tree."""
    if isinstance(nav, str):
        return {nav}
    if isinstance(nav, list):
        return set().union(*(_listed(item) for item in nav)) if nav else set()
    if isinstance(nav, dict):
        return set().union(*(_listed(value) for value in nav.values())) if nav else set()
    return set()


def _title(page: Path) -> str:
    found = re.search(r"^#\s+(.+?)\s*$", page.read_text(encoding="utf-8"), re.M)
    return found.group(1) if found else page.stem.replace("-", " ").capitalize()


def on_config(config: Any) -> Any:
    nav = config["nav"]
    if not nav:
        return config
    listed = _listed(nav)
    docs = Path(config["docs_dir"])
    extra = [page for page in sorted(docs.glob("*.md")) if page.name not in listed]
    if not extra:
        return config
    section = next((item for item in nav if isinstance(item, dict) and SECTION in item), None)
    if section is None:
        section = {SECTION: []}
        nav.append(section)
    section[SECTION].extend({_title(page): page.name} for page in extra)
    return config

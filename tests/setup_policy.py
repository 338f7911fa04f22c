"""What the suite does with a test that cannot run here (docs/contributing.md).

A test that needs set-up this machine lacks (Debian's chromium, a PostgreSQL
server, the ray extra) is skipped with its reason, which `-ra` prints in the
summary: it never silently disappears. Under `WASMPLUG_TEST_REQUIRE_ALL=1`,
which `scripts/test.sh` (the README's and CI's test command) sets after doing
all the set-up, every such skip is a failure instead: in CI nothing may be
skipped for want of set-up the script should have done.

Parametrised variants must not vanish either: every test that runs on SQLite
(a `sqlite` parameter) has its PostgreSQL twin collected (a `postgresql`
parameter), skipped with its reason when no server is configured; a twin
missing from the collection is an error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator
from typing import Any

import pytest

REQUIRE_ALL_VARIABLE = "WASMPLUG_TEST_REQUIRE_ALL"
_deselected: list[pytest.Item] = []


def require_all() -> bool:
    return os.environ.get(REQUIRE_ALL_VARIABLE) == "1"


def _reason(longrepr: Any) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, "Skipped: why")
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _as_failure(longrepr: Any) -> str:
    return (f"skipped: {_reason(longrepr)}; but {REQUIRE_ALL_VARIABLE}=1 (scripts/test.sh did the "
            "set-up) requires every test to run")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if require_all() and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = _as_failure(report.longrepr)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, Any]:
    report = yield
    if require_all() and report.skipped:  # a whole module skipped (pytest.importorskip)
        report.outcome = "failed"
        report.longrepr = _as_failure(report.longrepr)
    return report


def pytest_deselected(items: list[pytest.Item]) -> None:
    _deselected.extend(items)


_SQLITE_ID = re.compile(r"(?<=[\[-])sqlite(?=[\]-])")


@pytest.hookimpl(trylast=True)  # after -k / -m have deselected what they deselect
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    collected = {item.nodeid for item in [*items, *_deselected]}
    missing = [twin for item in items
               if _SQLITE_ID.search(item.nodeid)
               and (twin := _SQLITE_ID.sub("postgresql", item.nodeid)) not in collected]
    if missing:
        shown = "\n  ".join(missing[:10])
        raise pytest.UsageError(
            f"{len(missing)} PostgreSQL variant(s) of tests that run on SQLite were not collected "
            f"(a variant that cannot run must be a skip with its reason, never vanish):\n  {shown}")

"""Under CI (CI=true), a skipped snapshot test fails the run.

Snapshot tests skip unless the interpreter is the pinned one (.python-version); on a CI
machine with another Python they would all skip and the run would still be green. Hooks
for tests/conftest.py.
"""

from __future__ import annotations

import os

import pytest

_SNAPSHOT_TESTS: set[str] = set()
_SKIPPED: list[str] = []


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(session, config, items) -> None:
    _SNAPSHOT_TESTS.update(item.nodeid for item in items if "snap_compare" in getattr(item, "fixturenames", ()))


def pytest_runtest_logreport(report) -> None:
    if report.skipped and report.nodeid in _SNAPSHOT_TESTS:
        _SKIPPED.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus) -> None:
    if _in_ci() and _SKIPPED:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                f"ci: {len(_SKIPPED)} snapshot test(s) skipped (e.g. {_SKIPPED[0]}); "
                "run them on the Python in .python-version",
                red=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

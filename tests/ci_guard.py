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
# Under pytest-xdist the workers collect and the controller sees only reports: the mark
# travels in each report's user_properties.
_MARK = ("repo_agent_snapshot_test", True)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(session, config, items) -> None:
    for item in items:
        if "snap_compare" in getattr(item, "fixturenames", ()):
            _SNAPSHOT_TESTS.add(item.nodeid)
            item.user_properties.append(_MARK)


def _marked(report) -> bool:
    return any(tuple(p) == _MARK for p in getattr(report, "user_properties", ()))


def pytest_runtest_logreport(report) -> None:
    if report.skipped and (report.nodeid in _SNAPSHOT_TESTS or _marked(report)):
        if report.nodeid in _SKIPPED:
            return
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

"""A skipped snapshot test fails the run under CI=true, and only then."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

INNER_CONFTEST = """
import pytest
from tests.ci_guard import *  # noqa: F403

@pytest.fixture
def snap_compare():
    return lambda *a, **k: True
"""

INNER_TESTS = """
import pytest

@pytest.mark.skip(reason="not the pinned Python")
def test_screen(snap_compare):
    assert snap_compare()

def test_other():
    pass
"""


@pytest.fixture
def inner(pytester, monkeypatch):
    import tests.ci_guard as guard

    monkeypatch.setattr(guard, "_SNAPSHOT_TESTS", set())
    monkeypatch.setattr(guard, "_SKIPPED", [])
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makeconftest(INNER_CONFTEST)
    pytester.makepyfile(test_inner=INNER_TESTS)
    return pytester


def test_skipped_snapshot_fails_under_ci(inner, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = inner.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:textual-snapshot")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*ci: 1 snapshot test(s) skipped*"])


def test_skipped_snapshot_passes_outside_ci(inner, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    result = inner.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:textual-snapshot")
    assert result.ret == pytest.ExitCode.OK


def test_skipped_snapshot_fails_under_ci_with_workers(inner, monkeypatch):
    """`uv run pytest` runs on two xdist workers: the controller only sees their reports."""
    import os
    from pathlib import Path

    monkeypatch.setenv("CI", "true")
    root = str(Path(__file__).resolve().parent.parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    result = inner.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:textual-snapshot", "-n", "2")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*ci: 1 snapshot test(s) skipped*"])

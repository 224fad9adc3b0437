"""Session-wide hooks: under CI a skipped snapshot test fails the run (tests/ci_guard.py);
a private PostgreSQL server for the store tests (tests/postgres.py)."""

import sys

import pytest

from tests.ci_guard import pytest_collection_modifyitems, pytest_runtest_logreport, pytest_sessionfinish
from tests.postgres import pg_conninfo, pg_database

__all__ = [
    "pg_conninfo",
    "pg_database",
    "pytest_collection_modifyitems",
    "pytest_runtest_logreport",
    "pytest_sessionfinish",
]


@pytest.fixture(autouse=True)
def _no_store_from_the_environment(monkeypatch):
    """A developer's $REPO_AGENT_DB (a team store) never reaches a test's commands."""
    monkeypatch.delenv("REPO_AGENT_DB", raising=False)


@pytest.fixture(autouse=True)
def _search_fillers_end_with_their_test():
    """A background index filler a test's ingest started (labeling/search_fill.py: a backlog
    over 4 MB) ends before the next test, never reading a test's files beside it."""
    yield
    fill = sys.modules.get("labeling.search_fill")
    if fill is not None:
        fill.wait_fillers(timeout=120)

"""Session-wide hooks: under CI a skipped snapshot test fails the run (tests/ci_guard.py);
a private PostgreSQL server for the store tests (tests/postgres.py)."""

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

"""Session-wide hooks: under CI a skipped snapshot test fails the run (tests/ci_guard.py);
a private PostgreSQL server for the store tests (tests/postgres.py)."""

import os
import shutil
import sys
import tempfile

import pytest

from agent.final_run_lease import PLACE_ENV
from tests.ci_guard import pytest_collection_modifyitems, pytest_runtest_logreport, pytest_sessionfinish
from tests.postgres import pg_conninfo, pg_database

__all__ = [
    "pg_conninfo",
    "pg_database",
    "pytest_collection_modifyitems",
    "pytest_runtest_logreport",
    "pytest_sessionfinish",
]


@pytest.fixture(autouse=True, scope="session")
def _final_run_lease_of_this_process():
    """Each test process (an xdist worker) holds the final-run lease of its own tests apart: a
    final run of one worker would otherwise hold every sandbox of the other back (one machine,
    one lease) and the two workers take turns. What the lease guarantees is tested within one
    test (tests/agent/test_final_run_lease.py, the channel tests of rounds 26-30: their
    sandboxes all start from it). A session fixture, not an import-time setting: the xdist
    controller imports this file too, and its workers would inherit one place. A normal
    user's process a test starts (``run_as``) has a directory of its own in it, by uid:
    sticky and world-writable as /tmp."""
    apart = tempfile.mkdtemp(prefix="repo-agent-final-run-lease-")
    os.chmod(apart, 0o1777)
    before = os.environ.get(PLACE_ENV)
    os.environ[PLACE_ENV] = apart
    yield
    if before is None:
        os.environ.pop(PLACE_ENV, None)
    else:
        os.environ[PLACE_ENV] = before
    shutil.rmtree(apart, ignore_errors=True)


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

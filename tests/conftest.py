"""Session-wide hooks: under CI a skipped snapshot test fails the run (tests/ci_guard.py)."""

from tests.ci_guard import pytest_collection_modifyitems, pytest_runtest_logreport, pytest_sessionfinish

__all__ = ["pytest_collection_modifyitems", "pytest_runtest_logreport", "pytest_sessionfinish"]

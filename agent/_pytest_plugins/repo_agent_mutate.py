"""Per-test outcomes, test selection and call contexts for mutation runs.

Loaded with ``-p repo_agent_mutate`` next to the timeout plugin (same directory on
PYTHONPATH) by ``agent/suites/mutate``. Environment:

- ``REPO_AGENT_REPORT``: file to write ``{nodeid: {"outcome", "message", "duration"}}`` to
  at the end of the session (JSON).
- ``REPO_AGENT_SELECT``: file with one node id a line; every other test is neither
  collected (other test files are skipped before import) nor run.
- ``REPO_AGENT_CALLS``: "1" records, per test, every Python function of the workspace it
  entered (``path:firstlineno``) with the smallest call depth below the test function:
  the per-test contexts that let a mutant run only the tests that can reach it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Generator
from pathlib import Path
from types import FrameType

import pytest

_REPORT = os.environ.get("REPO_AGENT_REPORT") or ""
_SELECT = os.environ.get("REPO_AGENT_SELECT") or ""
_CALLS = os.environ.get("REPO_AGENT_CALLS") == "1"

_results: dict[str, dict] = {}
_selected: set[str] | None = None
_selected_files: set[str] = set()
if _SELECT:
    with open(_SELECT, encoding="utf-8") as fh:
        _selected = {line.strip() for line in fh if line.strip()}
    _selected_files = {n.split("::", 1)[0] for n in _selected}


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if _selected is None or collection_path.is_dir() or collection_path.suffix != ".py":
        return None
    rel = os.path.relpath(str(collection_path), str(config.rootpath)).replace(os.sep, "/")
    if rel not in _selected_files:
        return True  # not imported at all: collection is most of a small run's cost
    return None


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if _selected is None:
        return
    keep = [i for i in items if i.nodeid in _selected]
    drop = [i for i in items if i.nodeid not in _selected]
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = keep


def _crash_message(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return str(crash.message)
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # skips: (path, line, reason)
        return str(longrepr[2])
    return str(longrepr or "")[-500:]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    entry = _results.setdefault(report.nodeid, {"outcome": "passed", "message": "", "duration": 0.0})
    entry["duration"] += float(getattr(report, "duration", 0.0) or 0.0)
    if report.failed and entry["outcome"] != "failed":
        entry["outcome"] = "failed"
        entry["message"] = _crash_message(report)[:2000]
    elif report.skipped and entry["outcome"] == "passed" and report.when != "teardown":
        entry["outcome"] = "skipped"


class _Calls:
    """A profile hook that keeps, per code object of the workspace, the least call depth."""

    def __init__(self, root: str):
        self.root = root.rstrip(os.sep) + os.sep
        self.depth = 0
        self.seen: dict[str, int] = {}
        self._keys: dict[object, str | None] = {}

    def __call__(self, frame: FrameType, event: str, arg: object) -> None:
        if event == "call":
            self.depth += 1
            code = frame.f_code
            key = self._keys.get(code, "")  # "" = not seen yet (a key always holds ":")
            if key == "":
                fn = code.co_filename
                key = None
                if fn.startswith(self.root):
                    key = f"{fn[len(self.root) :].replace(os.sep, '/')}:{code.co_firstlineno}"
                self._keys[code] = key
            if key is not None:
                d = self.seen.get(key)
                if d is None or self.depth < d:
                    self.seen[key] = self.depth
        elif event == "return":
            self.depth -= 1


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, object]:
    if not _CALLS:
        return (yield)
    calls = _Calls(str(item.config.rootpath))
    sys.setprofile(calls)
    try:
        return (yield)
    finally:
        sys.setprofile(None)
        entry = _results.setdefault(item.nodeid, {"outcome": "passed", "message": "", "duration": 0.0})
        fn = getattr(item, "function", None)
        code = getattr(fn, "__code__", None)
        base = calls.seen.get(calls._keys.get(code) or "", None) if code is not None else None
        # Depth below the test function (0 = the test itself); pytest's own frames above it
        # are the same for every test, so the least depth of the test function is the origin.
        origin = base if base is not None else 0
        entry["calls"] = {k: max(0, d - origin) for k, d in calls.seen.items()}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _REPORT:
        return
    with open(_REPORT, "w", encoding="utf-8") as fh:
        json.dump(_results, fh)

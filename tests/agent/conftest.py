"""Shared fixtures for tests/agent (engine A: sandbox, workspace, tools, suites; engine B
adds its own in rollout_fixtures.py). Only add fixtures here; never remove one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.sandbox import sandbox_kind
from agent.suites.loading import load_suite
from agent.suites.models import Suite

# The sandbox kinds this machine can run: always rlimit, bwrap when it works here.
SANDBOX_KINDS = ["bwrap", "rlimit"] if sandbox_kind() == "bwrap" else ["rlimit"]


@pytest.fixture(params=SANDBOX_KINDS)
def sandbox(request) -> str:
    """Each sandbox kind usable here (real bwrap when installed, and the rlimit fallback)."""
    return request.param


@pytest.fixture(scope="session")
def mini_suite() -> Suite:
    """The shipped mini-bugs suite."""
    return load_suite("mini-bugs")


def write_suite(root: Path, tasks: dict[str, dict], **task_fields) -> Path:
    """Write a suite under ``root``: ``tasks`` maps task id -> {relative path: text}.

    Files under ``_fix/`` are the task's reference fix (hidden); ``tests/`` is protected.
    Returns the suite.json path.
    """
    entries = []
    for tid, files in tasks.items():
        for rel, text in files.items():
            p = root / tid / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
        entry = {
            "id": tid,
            "source": {"kind": "dir", "path": tid},
            "goal": f"Fix {tid} so the tests pass.",
            "test_command": ["python", "-m", "pytest", "-q", "tests"],
            "timeout_s": 30.0,
            "per_test_timeout_s": 10.0,  # no task here hangs: a limit only an honest test under load meets
            "protected": ["tests", "conftest.py"],
            "hidden": ["_fix"],
        }
        if any(rel.startswith("_fix/") for rel in files):
            entry["reference_fix"] = f"{tid}/_fix"
        entry.update(task_fields)
        entries.append(entry)
    path = root / "suite.json"
    path.write_text(json.dumps({"name": "t", "tasks": entries}, indent=2), encoding="utf-8")
    return path


ADD_TASK = {
    "add.py": "def add(a, b):\n    return a - b\n",
    "tests/test_add.py": (
        "from add import add\n\n\n"
        "def test_small():\n    assert add(1, 2) == 3\n\n\n"
        "def test_zero():\n    assert add(0, 0) == 0\n\n\n"
        "def test_negative():\n    assert add(-1, -1) == -2\n"
    ),
    "_fix/add.py": "def add(a, b):\n    return a + b\n",
}


@pytest.fixture
def add_suite(tmp_path) -> Suite:
    """A one-task suite ('fix_add': add() subtracts) written in tmp_path."""
    return load_suite(write_suite(tmp_path / "suite", {"fix_add": ADD_TASK}))

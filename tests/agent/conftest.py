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


# A small library generated tasks are made from (agent/suites/mutate): scale() and its tests.
SCALE_CORE = "def scale(x, k):\n    return x * k\n"
SCALE_TESTS = (
    "from mylib.core import scale\n\n\n"
    "def test_double():\n    assert scale(3, 2) == 6\n\n\n"
    "def test_triple():\n    assert scale(2, 3) == 6\n\n\n"
    "def test_negative():\n    assert scale(-4, 2) == -8\n\n\n"
    "class TestMore:\n"
    "    def test_ten(self):\n        assert scale(10, 10) == 100\n\n"
    "    def test_one(self):\n        assert scale(7, 1) == 7\n"
)


def generated_scale_task(root: Path, tests: str = SCALE_TESTS, extra: dict[str, str] | None = None):
    """A generated suite (agent/suites/mutate) of one task, under ``root``, from mylib/core.py's
    ``scale`` and ``tests`` as tests/test_core.py (``extra``: more files of the repository):
    (suite, task, the suite's directory)."""
    from agent.suites.mutate import MutateConfig, mutate_repo

    repo = root / "repo"
    (repo / "mylib").mkdir(parents=True)
    (repo / "tests").mkdir()
    (repo / "mylib" / "__init__.py").write_text("")
    (repo / "mylib" / "core.py").write_text(SCALE_CORE)
    (repo / "tests" / "test_core.py").write_text(tests)
    for rel, text in (extra or {}).items():
        (repo / rel).write_text(text)
    cfg = MutateConfig(tests="python -m pytest -q tests", operators=["arithmetic"], max_tasks=1, per_test_timeout_s=3.0)
    mutate_repo(repo, root / "out", cfg)
    suite = load_suite(root / "out")
    return suite, suite.tasks[0], root / "out"


@pytest.fixture
def add_suite(tmp_path) -> Suite:
    """A one-task suite ('fix_add': add() subtracts) written in tmp_path."""
    return load_suite(write_suite(tmp_path / "suite", {"fix_add": ADD_TASK}))

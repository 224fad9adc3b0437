"""Git sources: a local repository at a commit, cached once, set up once in the sandbox."""

from __future__ import annotations

import json
import subprocess

import pytest

from agent.suites.loading import SuiteError, check_suite, load_suite
from agent.workspace import Workspace

BUGGY = "from generated import STEP\n\n\ndef inc(x):\n    return x - STEP\n"
FIXED = "from generated import STEP\n\n\ndef inc(x):\n    return x + STEP\n"
TEST = "from inc import inc\n\n\ndef test_inc():\n    assert inc(1) == 2\n"
# The setup writes the module the tests import and counts its own runs (in the checkout).
SETUP = (
    "import pathlib; p = pathlib.Path('setup_runs'); "
    "p.write_text(str(int(p.read_text()) + 1) if p.exists() else '1'); "
    "pathlib.Path('generated.py').write_text('STEP = 1\\n')"
)


def _git(cwd, *args) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def git_suite(tmp_path, monkeypatch):
    monkeypatch.setenv("REPO_AGENT_CACHE", str(tmp_path / "cache"))
    repo = tmp_path / "repo"
    (repo / "pkg" / "tests").mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / "pkg" / "inc.py").write_text(BUGGY)
    (repo / "pkg" / "tests" / "test_inc.py").write_text(TEST)
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "buggy")
    buggy = _git(repo, "rev-parse", "HEAD")
    (repo / "pkg" / "inc.py").write_text(FIXED)  # the fix is in history, never in the workspace
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "fixed")
    suite_dir = tmp_path / "suite"
    (suite_dir / "fix" / "inc").mkdir(parents=True)
    (suite_dir / "fix" / "inc" / "inc.py").write_text(FIXED)
    task = {
        "id": "inc",
        "source": {
            "kind": "git",
            "repo": "../repo",
            "commit": buggy,
            "subdir": "pkg",
            "setup": ["python", "-c", SETUP],
        },
        "goal": "fix inc",
        "test_command": ["python", "-m", "pytest", "-q", "tests"],
        "protected": ["tests"],
        "reference_fix": "fix/inc",
    }
    (suite_dir / "suite.json").write_text(json.dumps({"name": "g", "tasks": [task]}))
    return load_suite(suite_dir), tmp_path / "cache"


def test_a_git_task_checks_out_at_its_commit_and_passes_suite_check(git_suite, tmp_path):
    suite, cache = git_suite
    [check] = check_suite(suite, max_workers=1)
    assert check.ok and check.fails_untouched and check.passes_with_fix, check.detail
    ws = Workspace.create(suite, suite.tasks[0], tmp_path / "ws")
    assert (ws.path / "inc.py").read_text() == BUGGY and not (ws.path / ".git").exists()
    assert (ws.path / "generated.py").read_text() == "STEP = 1\n"
    # Cloned and set up once: the check's workspace and this one share the cached checkout.
    [tree] = list((cache / "git").glob("*/tree"))
    assert (tree / "pkg" / "setup_runs").read_text() == "1" and ws.source == tree / "pkg"


def test_a_failing_setup_is_one_clear_error(git_suite, tmp_path):
    suite, _ = git_suite
    task = suite.tasks[0]
    task.source.setup = ["python", "-c", "raise SystemExit(3)"]
    with pytest.raises(SuiteError, match="task inc: setup .* exit status 3"):
        Workspace.create(suite, task, tmp_path / "ws")


def test_an_unknown_commit_is_one_clear_error(git_suite, tmp_path):
    suite, _ = git_suite
    task = suite.tasks[0]
    task.source.commit = "0" * 40
    with pytest.raises(SuiteError, match="task inc: .*git checkout failed"):
        Workspace.create(suite, task, tmp_path / "ws")

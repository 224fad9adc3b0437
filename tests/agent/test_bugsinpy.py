"""BugsInPy projects as suites: each bug's buggy commit, fix and hidden test change, its
run_test.sh node ids as FAIL_TO_PASS; bugs that cannot be tasks refused by number.
(Running such tasks is the SWE-bench path: tests/agent/test_swebench.py.)"""

from __future__ import annotations

import subprocess

import pytest

from agent.suites.bugsinpy import parse_bugs, suite_from_bugsinpy
from agent.suites.models import SuiteError

BUGGY = "def rect(w, h):\n    return w + h\n"
FIXED = "def rect(w, h):\n    return w * h\n"
TEST_BASE = "def test_nothing():\n    assert True\n"
TEST_FIXED = TEST_BASE + "\n\ndef test_rect():\n    from shapes.area import rect\n\n    assert rect(2, 5) == 10\n"


def _git(cwd, *args) -> str:
    cp = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True, capture_output=True, text=True
    )
    return cp.stdout


def _write(path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def bugsinpy(tmp_path, monkeypatch):
    monkeypatch.setenv("REPO_AGENT_CACHE", str(tmp_path / "cache"))
    repo = tmp_path / "repos" / "shapes"
    _write(repo / "shapes" / "__init__.py", "")
    _write(repo / "shapes" / "area.py", BUGGY)
    _write(repo / "tests" / "test_area.py", TEST_BASE)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    buggy = _git(repo, "rev-parse", "HEAD").strip()
    _write(repo / "shapes" / "area.py", FIXED)
    _write(repo / "tests" / "test_area.py", TEST_FIXED)
    _git(repo, "commit", "-qam", "fix")
    fixed = _git(repo, "rev-parse", "HEAD").strip()
    project = tmp_path / "BugsInPy" / "projects" / "shapes"
    _write(project / "project.info", 'github_url="https://github.com/acme/shapes"\nstatus="OK"\n')
    info = (
        f'python_version="3.6.9"\nbuggy_commit_id="{buggy}"\nfixed_commit_id="{fixed}"\n'
        'test_file="tests/test_area.py"\n'
    )
    for n, run_test in ((1, "python3 -m pytest tests/test_area.py::test_rect\n"), (2, "python -m unittest -q t.T.x")):
        _write(project / "bugs" / str(n) / "bug.info", info)
        _write(project / "bugs" / str(n) / "run_test.sh", run_test)
        _write(project / "bugs" / str(n) / "bug_patch.txt", _git(repo, "diff", buggy, fixed, "--", "shapes"))
        _write(project / "bugs" / str(n) / "requirements.txt", "pkg-resources==0.0.0\npytest\n")
    return tmp_path


def test_a_bug_becomes_a_task_with_its_hidden_test_change(bugsinpy):
    made = suite_from_bugsinpy(
        bugsinpy / "BugsInPy", "shapes", bugsinpy / "suite", bugs=[1, 2, 7], repos=bugsinpy / "repos"
    )
    [task] = made.suite.tasks
    assert task.id == "shapes-1" and task.hidden_tests is not None
    assert task.hidden_tests.fail_to_pass == ["tests/test_area.py::test_rect"]
    hidden = (bugsinpy / "suite" / task.hidden_tests.patch).read_text()
    assert "+def test_rect():" in hidden and "shapes/area.py" not in hidden  # only the tests' change
    assert (bugsinpy / "suite" / "fixes" / "shapes-1" / "shapes" / "area.py").read_text() == FIXED
    refused = dict(made.refused)
    assert "not pytest node ids" in refused["shapes-2"] and "no bugs/7" in refused["shapes-7"]


def test_bug_ranges_and_a_missing_project_are_one_line():
    assert parse_bugs("1,4-6, 9") == [1, 4, 5, 6, 9]
    with pytest.raises(SuiteError, match="not N or N-M"):
        parse_bugs("1-x")
    with pytest.raises(SuiteError, match="no projects/../project.info|not a plain name"):
        suite_from_bugsinpy("/nonexistent", "..", "/tmp/x")


def test_the_command_line_names_the_bugs_left_out(bugsinpy, capsys):
    from tui.cli import main

    argv = ["suite", "from-bugsinpy", str(bugsinpy / "BugsInPy"), "--project", "shapes", "--bugs", "1-2"]
    assert main([*argv, "--out", str(bugsinpy / "s"), "--repos", str(bugsinpy / "repos")]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "1 tasks in" in text and "left out shapes-2: run_test.sh runs" in text
    assert main([*argv[:4], "nope", "--out", str(bugsinpy / "s"), "--repos", str(bugsinpy / "repos")]) == 2
    assert "no projects/nope/project.info" in capsys.readouterr().err


def test_an_unclosed_quote_in_run_test_is_one_clear_error():
    from agent.suites.bugsinpy import pytest_ids
    from agent.suites.models import SuiteError

    with pytest.raises(SuiteError, match="run_test.sh: cannot read"):
        pytest_ids("pytest 'tests/test_x.py::test_a\n")

"""The tests' own directories beyond their protected files, put back for the final run
(agent/task_test_dirs.py, Workspace.put_back; round 8, vrd8-5)."""

from __future__ import annotations

import os

import pytest

from agent.final_verdict import final_test_run
from agent.suites.loading import load_suite
from agent.task_test_dirs import dirs_of_tests
from agent.workspace import Workspace, walk_files
from tests.agent.conftest import write_suite

CLOCK = 'def hours(td):\n    """The hours in a timedelta."""\n    return td.total_seconds() / 60\n'
CLOCK_FIX = CLOCK.replace("/ 60", "/ 3600")
CLOCK_TEST = (
    "from datetime import timedelta\n\nfrom clock import hours\nfrom helpers import TWO\n\n\n"
    "def test_two_hours():\n    assert hours(TWO) == 2\n\n\n"
    "def test_half_hour():\n    assert hours(timedelta(minutes=30)) == 0.5\n"
)


def _dirs(tmp_path, files: dict[str, str], protected: list[str]) -> list[str]:
    suite = load_suite(write_suite(tmp_path / "s", {"t": files}, protected=protected))
    task = suite.tasks[0]
    return dirs_of_tests(suite, task, walk_files(tmp_path / "s" / "t", task.hidden))


@pytest.mark.parametrize(
    ("files", "protected", "want"),
    [
        # a generated task's shape: the selected test file protected, the rest of tests/ not
        (
            {"tests/__init__.py": "", "tests/helpers.py": "", "tests/unit/test_a.py": "", "clock.py": ""},
            ["conftest.py", "tests/unit/test_a.py"],
            ["tests"],
        ),
        # toolz's: the tests inside the code's package (which is the code's, not the tests')
        (
            {"pkg/__init__.py": "", "pkg/tests/test_a.py": "", "pkg/clock.py": ""},
            ["pkg/tests/test_a.py"],
            ["pkg/tests"],
        ),
        ({"pkg/clock.py": "", "pkg/test_a.py": ""}, ["pkg/test_a.py"], []),  # beside the code
        # SWE-bench's: the fix in one subpackage, the tests in another beside library code a
        # fix may touch too (widened to pkg/b, an honest fix in util.py was put back: r10-9)
        (
            {"pkg/a/clock.py": "", "pkg/b/util.py": "", "pkg/b/tests/test_u.py": "", "pkg/b/tests/data.py": ""},
            ["pkg/b/tests/test_u.py"],
            ["pkg/b/tests"],
        ),
        # tests beside the library module they test, the fix elsewhere (r11-9)
        ({"pkg/clock.py": "", "pkg/sub/util.py": "", "pkg/sub/test_util.py": ""}, ["pkg/sub/test_util.py"], []),
        ({"tests/test_a.py": "", "tests/data.json": "", "clock.py": ""}, ["tests"], []),  # restored already
        ({"test_a.py": "", "clock.py": ""}, ["test_a.py"], []),  # tests at the root: the root is the code's
    ],
    ids=[
        "generated",
        "in_the_package",
        "beside_the_code",
        "subpackages",
        "beside_a_library_module",
        "protected_dir",
        "root",
    ],
)
def test_which_directories_are_the_tests(tmp_path, files, protected, want):
    code = next(rel for rel in files if rel.endswith("clock.py"))
    assert _dirs(tmp_path, {**files, f"_fix/{code}": ""}, protected) == want


def test_with_no_reference_fix_a_helper_cannot_be_told_from_the_code(tmp_path):
    files = {"tests/__init__.py": "", "tests/test_a.py": "", "clock.py": ""}
    assert _dirs(tmp_path / "a", files, ["tests/test_a.py"]) == ["tests"]
    assert _dirs(tmp_path / "b", {**files, "tests/helpers.py": ""}, ["tests/test_a.py"]) == []


@pytest.fixture(scope="module")
def clock_suite(tmp_path_factory):
    ids = ["tests/test_clock.py::test_two_hours", "tests/test_clock.py::test_half_hour"]
    files = {
        "clock.py": CLOCK,
        "tests/helpers.py": "from datetime import timedelta\n\nTWO = timedelta(hours=2)\n",
        "tests/data/cases.txt": "2\n",
        "tests/test_clock.py": CLOCK_TEST,
        "_fix/clock.py": CLOCK_FIX,
    }
    root = tmp_path_factory.mktemp("clock")
    cmd = ["python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *ids]
    return load_suite(
        write_suite(
            root,
            {"fix_clock": files},
            protected=["conftest.py", "tests/test_clock.py"],
            test_command=cmd,
            differential={"targets": []},  # no recorded inputs: a timedelta is no plain data anyway
        )
    )


def test_put_back_makes_the_test_directory_the_sources(clock_suite, tmp_path):
    with Workspace.create(clock_suite, clock_suite.tasks[0], tmp_path / "runs") as ws:
        (ws.path / "tests/helpers.py").write_text("import clock\nclock.hours = lambda td: 2\nTWO = 2\n")
        (ws.path / "tests/clock.py").write_text(CLOCK_FIX)  # shadows clock.py: tests/ is first on sys.path
        (ws.path / "tests/data/cases.txt").unlink()
        (ws.path / "tests/new").mkdir()
        (ws.path / "tests/new/__init__.py").write_text("")
        os.symlink(ws.path / "tests/new", ws.path / "tests/link")
        done = ws.put_back(["tests"])
        assert sorted(done) == [
            "tests/clock.py",
            "tests/data/cases.txt",
            "tests/helpers.py",
            "tests/link",
            "tests/new",
        ]
        assert walk_files(ws.path) == walk_files(ws.source, ws.task.hidden)
        assert ws.patch() == "" and ws.put_back(["tests"]) == []


def test_the_final_run_judges_the_test_directory_as_the_source_has_it(clock_suite, tmp_path):
    """An honest fix still passes; what it left in tests/ is put back (here a helper that would
    fail it), so a fix placed there (the round-8 attack's tests/__init__.py) is judged without it."""
    with Workspace.create(clock_suite, clock_suite.tasks[0], tmp_path / "b", sandbox="bwrap") as ws:
        (ws.path / "clock.py").write_text(CLOCK_FIX)
        (ws.path / "tests/helpers.py").write_text("from datetime import timedelta\n\nTWO = timedelta(hours=3)\n")
        result, tampered = final_test_run(ws)
        assert result.passed and tampered == [] and result.tamper == [], (result.summary, result.tamper)
        assert (ws.path / "tests/helpers.py").read_text().endswith("(hours=2)\n")

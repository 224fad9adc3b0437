"""Held-out test files (agent/suites/held_out_tests.py): never in a workspace, added for the
final run after the differential, judged by id; ``suite check`` proves they fail on the bug
and pass on the fix. Real bwrap for the final runs."""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.final_verdict import final_test_run
from agent.sandbox import sandbox_kind
from agent.scoring import TestResult
from agent.suites import held_out_tests
from agent.suites.loading import check_task, load_suite
from agent.suites.models import HeldOutTests, Task
from agent.trace import TestCounts as Counts
from agent.workspace import Workspace, apply_reference_fix
from tests.agent.conftest import ADD_TASK, write_suite
from tests.agent.test_differential import HONEST

needs_bwrap = pytest.mark.skipif(sandbox_kind() != "bwrap", reason="needs real bwrap")

# Written from add's contract, not copies of the visible tests (1+2, 0+0, -1+-1).
HIDDEN_ADD = (
    "from add import add\n\n\n"
    "def test_large_values():\n    assert add(1000, 2345) == 3345\n\n\n"
    "def test_mixed_signs():\n    assert add(-7, 3) == -4\n"
)
# Passes the visible tests and nothing else: today's verdict without held-out tests took it.
MEMORISED = "def add(a, b):\n    return {(1, 2): 3, (0, 0): 0, (-1, -1): -2}.get((a, b), a - b)\n"


def _add_suite(root: Path, hidden_files: dict[str, str], *, with_fix: bool = True):
    task = ADD_TASK if with_fix else {k: v for k, v in ADD_TASK.items() if not k.startswith("_fix/")}
    files = {**task, **{f"_hidden/{rel}": text for rel, text in hidden_files.items()}}
    ids = []
    for rel, text in hidden_files.items():
        ids += [f"{rel}::{n.name}" for n in ast.parse(text).body if isinstance(n, ast.FunctionDef)]
    path = write_suite(
        root, {"fix_add": files}, hidden=["_fix", "_hidden"], held_out_tests={"dir": "_hidden", "ids": ids}
    )
    suite = load_suite(path)
    return suite, suite.task("fix_add")


@pytest.fixture(scope="module")
def add_with_hidden(tmp_path_factory):
    return _add_suite(tmp_path_factory.mktemp("held"), {"tests/test_add_hidden.py": HIDDEN_ADD})


@needs_bwrap
def test_a_fix_that_only_passes_the_visible_tests_fails_on_the_held_out_ones(add_with_hidden, tmp_path):
    suite, task = add_with_hidden
    with Workspace.create(suite, task, tmp_path, sandbox="bwrap") as ws:
        assert not (ws.path / "_hidden").exists() and not (ws.path / "tests/test_add_hidden.py").exists()
        (ws.path / "add.py").write_text(MEMORISED)  # its tests pass: all the rollout sees
        result, tampered = final_test_run(ws)
        assert not result.passed and not tampered and not result.tamper, (result.summary, result.tamper)
        assert result.outcomes["tests/test_add_hidden.py::test_large_values"] == "failed"
        assert result.outcomes["tests/test_add.py::test_small"] == "passed"
        # The held-out file is gone again; the patch is the rollout's change only.
        assert not (ws.path / "tests/test_add_hidden.py").exists()
        assert ws.patch().count("+++ ") == 1 and "test_add_hidden" not in ws.patch()


@needs_bwrap
def test_the_reference_fix_passes_with_the_held_out_tests_judged_by_id(add_with_hidden, tmp_path):
    suite, task = add_with_hidden
    with Workspace.create(suite, task, tmp_path, sandbox="bwrap") as ws:
        apply_reference_fix(suite, task, ws)
        result, tampered = final_test_run(ws)
        assert result.passed and not tampered and not result.tamper, (result.summary, result.tamper)
        assert {k for k in result.outcomes if "hidden" in k} == set(task.held_out_tests.ids)
        assert result.counts.passed == 5  # 3 visible + 2 held out (canaries taken out)


@needs_bwrap
def test_suite_check_proves_each_held_out_file_fails_on_the_bug(tmp_path):
    """A held-out file whose every test passes on the bug tells nothing: the check says so.
    (That the fix passes them is the reference's final run above: check_task runs the same.)"""
    weak = "from add import add\n\n\ndef test_zero_right():\n    assert add(5, 0) == 5\n"
    hidden = {"tests/test_add_hidden.py": HIDDEN_ADD, "tests/test_add_weak.py": weak}
    suite, task = _add_suite(tmp_path / "s", hidden, with_fix=False)
    check = check_task(suite, task, tmp_path / "w", sandbox="bwrap")
    assert check.fails_untouched and "held-out tests: 3, 2 fail on the bug" in check.detail, check.detail
    assert "none in tests/test_add_weak.py" in check.detail and not check.ok


def test_judged_by_id_a_held_out_test_that_did_not_run_is_a_fail():
    held = HeldOutTests(dir="_hidden", ids=["tests/t.py::test_a", "tests/t.py::test_b"])
    ran = TestResult(True, Counts(passed=2), "2 passed", 0.1, False, "", 0)
    ran = dataclasses.replace(ran, outcomes={"tests/t.py::test_a[1]": "passed", "tests/v.py::test_x": "passed"})
    out = held_out_tests.judge(ran, held)
    assert not out.passed and "did not run: tests/t.py::test_b" in out.fail_detail
    both = dataclasses.replace(ran, outcomes={"tests/t.py::test_a[1]": "passed", "tests/t.py::test_b": "passed"})
    assert held_out_tests.judge(both, held).passed
    skipped = dataclasses.replace(both, outcomes={**both.outcomes, "tests/t.py::test_a[2]": "skipped"})
    assert not held_out_tests.judge(skipped, held).passed


def test_the_final_command_runs_held_out_ids_it_would_not_collect():
    held = HeldOutTests(dir="_h", ids=["tests/test_x.py::test_b", "other/test_y.py::test_c"])
    assert held_out_tests.final_argv(["python", "-m", "pytest", "-q"], held) == ["python", "-m", "pytest", "-q"]
    plugin = ["python", "-m", "pytest", "-p", "no:randomly"]  # an option's value names no path
    assert held_out_tests.final_argv(plugin, held) == plugin
    by_dir = ["python", "-m", "pytest", "-q", "tests"]
    assert held_out_tests.final_argv(by_dir, held) == [*by_dir, "other/test_y.py::test_c"]
    by_id = ["python", "-m", "pytest", "tests/test_x.py::test_a"]
    assert held_out_tests.final_argv(by_id, held) == [*by_id, *held.ids]


def test_held_out_tests_must_be_hidden_and_protected():
    base = {"id": "t", "source": {"kind": "dir", "path": "t"}, "goal": "g", "protected": ["tests"]}
    held = {"dir": "_hidden", "ids": ["tests/test_h.py::test_a"]}
    Task(**base, hidden=["_hidden"], held_out_tests=held)
    with pytest.raises(ValidationError, match="not one of the task's hidden paths"):
        Task(**base, hidden=[], held_out_tests=held)
    with pytest.raises(ValidationError, match="not in a protected path"):
        Task(**base, hidden=["_hidden"], held_out_tests={"dir": "_hidden", "ids": ["src/test_h.py::test_a"]})


def test_every_mini_bugs_task_holds_out_tests_the_workspace_never_sees(mini_suite):
    base = Path(mini_suite.base_dir)
    for task in mini_suite.tasks:
        held = task.held_out_tests
        assert held is not None and held.dir in task.hidden, task.id
        found = []
        for rel in held_out_tests.files(task, base / task.source.path):
            tree = ast.parse((base / task.source.path / held.dir / rel).read_text())
            found += [f"{rel}::{n.name}" for n in tree.body if isinstance(n, ast.FunctionDef)]
        assert found and sorted(found) == sorted(held.ids), task.id


def test_honest_variants_pass_the_held_out_tests(mini_suite, monkeypatch):
    """Correct fixes written another way than the reference (test_differential.HONEST) pass
    every hand-written held-out case: the cases test the contract, not the reference's code."""
    base = Path(mini_suite.base_dir)
    failures = []
    for tid, variants in HONEST.items():
        task = mini_suite.task(tid)
        src = base / task.source.path
        module = next(p.stem for p in sorted(src.glob("*.py")) if p.stem != "helpers")
        for k, text in enumerate(variants):
            mod = type(sys)(module)
            exec(compile(text, f"<{tid} variant {k}>", "exec"), mod.__dict__)
            monkeypatch.setitem(sys.modules, module, mod)
            for rel in held_out_tests.files(task, src):
                spec = importlib.util.spec_from_file_location(f"held_{tid}_{k}", src / "_hidden" / rel)
                tests = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(tests)
                for name in [n for n in vars(tests) if n.startswith("test_")]:
                    try:
                        getattr(tests, name)()
                    except Exception as exc:  # every failure listed
                        failures.append(f"{tid} variant {k} {name}: {exc!r}")
    assert not failures, "\n".join(failures)

"""Generated suites hold part of each task's reaching tests out of the workspace
(agent/suites/mutate/hold_out.py): kept under the task's hidden path, added back for the
final run, and ``suite check`` proves they still fail on the mutant. Real sandboxed runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.sandbox import sandbox_kind
from agent.suites.loading import check_task
from agent.suites.mutate.hold_out import HIDDEN_DIR, hold_out
from agent.workspace import Workspace
from tests.agent.conftest import SCALE_TESTS as TESTS
from tests.agent.conftest import generated_scale_task


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    return generated_scale_task(tmp_path_factory.mktemp("mutheld"))


@pytest.mark.skipif(sandbox_kind() != "bwrap", reason="needs real bwrap")
def test_part_of_the_reaching_tests_is_held_out_and_fails_on_the_mutant(generated, tmp_path):
    suite, task, out = generated
    held = task.held_out_tests
    assert held is not None and held.dir == HIDDEN_DIR and HIDDEN_DIR in task.hidden
    assert 1 <= len(held.ids) < task.features["failing_tests"] and task.features["held_out_tests"] == len(held.ids)
    names = [i.rsplit("::", 1)[-1] for i in held.ids]
    # Not in the goal, not in the command, not in the workspace's test file; whole in the hidden copy.
    assert not any(n in task.goal or any(n in a for a in task.test_command) for n in names), (names, task.goal)
    with Workspace.create(suite, task, tmp_path) as ws:
        seen = (ws.path / "tests/test_core.py").read_text()
        assert not (ws.path / HIDDEN_DIR).exists() and not any(f"def {n}(" in seen for n in names)
    whole = (out / task.source.path / HIDDEN_DIR / "tests/test_core.py").read_text()
    assert whole == TESTS
    check = check_task(suite, task, tmp_path / "check", sandbox="bwrap")
    assert check.ok and check.passes_with_fix, check.detail  # the fix's final run judged the held-out ids
    assert f"held-out tests: {len(held.ids)}, {len(held.ids)} fail on the bug" in check.detail, check.detail


def test_a_task_with_one_failing_test_function_keeps_it_visible_and_says_so(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests/test_core.py").write_text(TESTS)
    one = hold_out(tmp_path, "m1", ["tests/test_core.py::test_double"], ["tests/test_core.py::test_double"])
    assert one.ids == [] and one.visible == {} and "too few to hold any out" in one.note
    failing = [f"tests/test_core.py::{n}" for n in ("test_double", "test_triple", "test_negative")]
    failing += ["tests/test_core.py::TestMore::test_ten", "tests/test_core.py::TestMore::test_one"]
    split = hold_out(tmp_path, "m2", failing, failing)
    assert len(split.ids) == 2 and set(split.ids) < set(failing)  # a third of five, rounded
    assert split == hold_out(tmp_path, "m2", failing, failing)  # drawn from the mutant id
    text = split.visible["tests/test_core.py"].decode()
    for i in failing:
        assert (f"def {i.rsplit('::', 1)[-1]}(" in text) == (i not in split.ids)
    compile(text, "test_core.py", "exec")


def test_a_method_that_would_leave_its_class_empty_stays(tmp_path: Path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests/test_x.py").write_text(
        "class TestA:\n    def test_a(self):\n        assert 0\n\n\ndef test_b():\n    assert 0\n"
    )
    ids = ["tests/test_x.py::TestA::test_a", "tests/test_x.py::test_b"]
    for seed in ("a", "b", "c", "d"):
        assert hold_out(tmp_path, seed, ids, ids).ids == ["tests/test_x.py::test_b"]


def test_the_functions_taken_out_are_found_by_pythons_lines_past_a_page_break(tmp_path: Path):
    """str.splitlines also breaks at a form feed or U+2028, which ast's line numbers do not
    count: every span after one shifted, and the lines taken out were another test's."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests/test_x.py").write_text(
        "\x0c\nSEP = '\u2028'\n\n\ndef test_a():\n    assert 0\n\n\ndef test_b():\n    assert 0\n\n\n"
        "def test_c():\n    assert 0\n",
        encoding="utf-8",
    )
    ids = [f"tests/test_x.py::test_{n}" for n in "abc"]
    held = hold_out(tmp_path, "m1", ids, ids)
    assert len(held.ids) == 1
    text = held.visible["tests/test_x.py"].decode()
    for i in ids:
        name = i.rsplit("::", 1)[-1]
        assert (f"def {name}():\n    assert 0\n" in text) == (i not in held.ids), text
    assert text.startswith("\x0c\nSEP = '\u2028'\n")

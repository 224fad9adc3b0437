"""Test files noted before a judged run and compared after it (agent/test_file_guard.py)."""

from __future__ import annotations

import os

from agent import test_file_guard


def test_a_test_file_the_run_rewrote_replaced_or_removed_is_named(tmp_path):
    """r13-3: code under test rewrote a test file pytest had not read yet."""
    for name in ("same", "loosened", "replaced", "removed", "mode"):
        (tmp_path / f"test_{name}.py").write_text("def test_x():\n    assert f() == 1\n")
    (tmp_path / "notes.txt").write_text("")
    before = test_file_guard.note(
        tmp_path, [f"test_{n}.py" for n in ("same", "loosened", "replaced", "removed", "mode")]
    )
    before |= test_file_guard.note(tmp_path, ["absent.py"])
    (tmp_path / "test_loosened.py").write_text("def test_x():\n    assert True or f() == 1\n")
    (tmp_path / "test_replaced.py").unlink()
    (tmp_path / "test_replaced.py").symlink_to(tmp_path / "test_same.py")  # the same bytes, through a link
    (tmp_path / "test_removed.py").unlink()
    os.chmod(tmp_path / "test_mode.py", 0o444)  # the host's sandbox changes modes: not a rewrite
    (tmp_path / "absent.py").write_text("")  # not there before: the run's own file
    changed = test_file_guard.rewritten(tmp_path, before)
    assert changed == ["test_loosened.py", "test_removed.py", "test_replaced.py"]
    assert test_file_guard.tamper_line(changed) == (
        "the tests' process rewrote test files: test_loosened.py, test_removed.py, test_replaced.py"
    )

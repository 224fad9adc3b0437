"""The per-rollout workspace: copies, path confinement, protected paths, the patch."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from unidiff import PatchSet

from agent.final_verdict import final_test_run
from agent.suites.loading import SuiteError, load_suite
from agent.suites.models import GitSource, Suite, Task
from agent.workspace import PathEscape, Workspace, files_in_patch

from .conftest import ADD_TASK, write_suite


@pytest.fixture
def ws(add_suite, tmp_path):
    w = Workspace.create(add_suite, add_suite.tasks[0], tmp_path / "runs")
    yield w
    w.cleanup()


def test_create_copies_source_minus_hidden_and_caches(add_suite, tmp_path):
    src = add_suite.base_dir / "fix_add"
    (src / "__pycache__").mkdir()
    (src / "__pycache__" / "add.cpython-311.pyc").write_bytes(b"\0junk")
    task = add_suite.tasks[0]
    a = Workspace.create(add_suite, task, tmp_path / "runs")
    b = Workspace.create(add_suite, task, tmp_path / "runs")
    assert a.path != b.path and a.path.parent == b.path.parent == (tmp_path / "runs").resolve()
    files = sorted(str(p.relative_to(a.path)) for p in a.path.rglob("*") if p.is_file())
    assert files == ["add.py", "tests/test_add.py"]  # no _fix/, no __pycache__
    assert not (a.path / "_fix").exists()
    a.cleanup()
    assert not a.path.exists() and b.path.exists()


@pytest.mark.parametrize("rel", ["..", "../x", "a/../../x", "tests/../../etc", "/etc/passwd", "~/x", "a\x00b"])
def test_resolve_refuses_escapes(ws, rel):
    with pytest.raises(PathEscape):
        ws.resolve(rel)


def test_resolve_inside(ws):
    assert ws.resolve(".") == ws.path
    assert ws.resolve("./tests//test_add.py") == ws.path / "tests" / "test_add.py"
    assert ws.resolve("new/dir/file.py") == ws.path / "new" / "dir" / "file.py"


def test_planted_symlinks(ws, tmp_path):
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "key.txt").write_text("secret")
    os.symlink(outside, ws.path / "link_dir")
    os.symlink(outside / "key.txt", ws.path / "link_file")
    os.symlink(ws.path / "add.py", ws.path / "inner_link")
    for rel in ("link_dir", "link_dir/key.txt", "link_file", "link_dir/new.txt"):
        with pytest.raises(PathEscape, match="outside the workspace"):
            ws.resolve(rel)
    assert ws.resolve("inner_link") == ws.path / "inner_link"  # a link that stays inside is fine


def test_final_run_restores_tampered_tests(ws):
    # The "agent" makes the tests pass by editing them, adds a test file and a root conftest.
    (ws.path / "tests" / "test_add.py").write_text("def test_small():\n    assert True\n")
    (ws.path / "tests" / "test_extra.py").write_text("def test_x():\n    assert True\n")
    (ws.path / "conftest.py").write_text("# sneaky\n")
    assert ws.run_tests().passed  # during the rollout the edited tests pass
    result, tampered = final_test_run(ws)
    assert tampered == ["conftest.py", "tests/test_add.py", "tests/test_extra.py"]
    assert not result.passed  # the real tests, restored, still fail on the unfixed code
    assert result.counts.collected == 3
    assert (ws.path / "tests" / "test_add.py").read_text() == ADD_TASK["tests/test_add.py"]
    assert not (ws.path / "tests" / "test_extra.py").exists()
    assert not (ws.path / "conftest.py").exists()


def test_deleted_protected_dir_is_tampered_and_restored(ws):
    shutil.rmtree(ws.path / "tests")
    result, tampered = final_test_run(ws)
    assert tampered == ["tests/test_add.py"]
    assert (ws.path / "tests" / "test_add.py").is_file()
    assert not result.passed


def test_honest_fix_passes_untampered(ws):
    (ws.path / "add.py").write_text(ADD_TASK["_fix/add.py"])
    result, tampered = final_test_run(ws)
    assert tampered == []
    assert result.passed and result.counts.passed == 3


def test_patch_is_git_style_and_applies(ws, add_suite):
    (ws.path / "add.py").write_text("def add(a, b):\n    return a + b")  # no final newline
    (ws.path / "notes.md").write_text("new file\n")
    (ws.path / "tests" / "test_add.py").unlink()
    (ws.path / "__pycache__").mkdir()
    (ws.path / "__pycache__" / "add.cpython-311.pyc").write_bytes(b"\0\1")
    (ws.path / ".pytest_cache").mkdir()
    patch = ws.patch()
    assert patch.startswith("diff --git a/add.py b/add.py\n--- a/add.py\n+++ b/add.py\n@@ ")
    assert "\\ No newline at end of file\n" in patch
    assert "new file mode 100644\n--- /dev/null\n+++ b/notes.md\n" in patch
    assert "deleted file mode 100644\n--- a/tests/test_add.py\n+++ /dev/null\n" in patch
    assert "__pycache__" not in patch and "pytest_cache" not in patch and "_fix" not in patch
    ps = PatchSet(patch)
    assert [(f.path, f.is_added_file, f.is_removed_file) for f in ps] == [
        ("add.py", False, False),
        ("notes.md", True, False),
        ("tests/test_add.py", False, True),
    ]
    assert ws.files_touched() == ["add.py", "notes.md", "tests/test_add.py"]
    # git itself accepts it: applied to a copy of the source, it reproduces the workspace
    copy = ws.path.parent / "applied"
    shutil.copytree(add_suite.base_dir / "fix_add", copy, ignore=shutil.ignore_patterns("_fix"))
    (copy / "p.diff").write_text(patch)
    cp = subprocess.run(["git", "apply", "p.diff"], cwd=copy, capture_output=True, text=True)
    assert cp.returncode == 0, cp.stderr
    (copy / "p.diff").unlink()
    assert (copy / "add.py").read_text() == (ws.path / "add.py").read_text()
    assert (copy / "notes.md").read_text() == "new file\n"
    assert not (copy / "tests" / "test_add.py").exists()


def test_untouched_workspace_has_empty_patch(ws):
    ws.run_tests()  # a test run leaves nothing behind that would show in the patch
    assert ws.patch() == ""
    assert ws.files_touched() == [] and files_in_patch("") == []


def test_a_git_source_that_cannot_be_cloned_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("REPO_AGENT_CACHE", str(tmp_path / "cache"))
    (tmp_path / "not-a-repo").mkdir()  # local: no network in tests (tests/agent/test_git_source.py has the rest)
    task = Task(id="g", source=GitSource(repo="not-a-repo", commit="abc"), goal="g")
    suite = Suite(name="s", tasks=[task])
    suite.base_dir = tmp_path
    with pytest.raises(SuiteError, match="task g: .*not-a-repo@abc: git clone failed"):
        Workspace.create(suite, task, tmp_path / "ws")


def test_hidden_files_and_nested_hidden(tmp_path):
    path = write_suite(
        tmp_path / "s",
        {
            "t": {
                "a.py": "x = 1\n",
                "answers.txt": "42\n",
                "data/keep.txt": "k\n",
                "data/secret/x.txt": "s\n",
                "tests/test_a.py": "def test_a():\n    assert False\n",
            }
        },
        hidden=["answers.txt", "data/secret"],
    )
    suite = load_suite(path)
    w = Workspace.create(suite, suite.tasks[0], tmp_path / "runs")
    files = sorted(str(p.relative_to(w.path)) for p in w.path.rglob("*") if p.is_file())
    assert files == ["a.py", "data/keep.txt", "tests/test_a.py"]
    assert w.is_hidden("data/secret/new.txt") and not w.is_hidden("data/keep.txt")
    assert w.patch() == ""  # hidden files are not "deleted" in the patch


def test_restore_never_writes_through_a_planted_symlink(tmp_path):
    """Code run by the tests can plant symlinks; restoring a nested protected file must not follow one."""
    path = write_suite(
        tmp_path / "s",
        {"t": {"m.py": "X = 0\n", "checks/unit/test_m.py": "from m import X\n\ndef test_x():\n    assert X == 1\n"}},
        protected=["checks/unit/test_m.py"],
        test_command=["python", "-m", "pytest", "-q", "checks"],
    )
    suite = load_suite(path)
    w = Workspace.create(suite, suite.tasks[0], tmp_path / "runs")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "unit").mkdir(parents=True)
    (elsewhere / "unit" / "test_m.py").write_text("def test_x():\n    assert True\n")
    shutil.rmtree(w.path / "checks")
    os.symlink(elsewhere, w.path / "checks")
    result, tampered = final_test_run(w)
    assert tampered == ["checks/unit/test_m.py"]
    assert not (w.path / "checks").is_symlink()
    assert (w.path / "checks" / "unit" / "test_m.py").read_text().startswith("from m import X")
    assert (elsewhere / "unit" / "test_m.py").read_text() == "def test_x():\n    assert True\n"
    assert not result.passed and result.counts.failed == 1  # the real test ran


def test_same_bytes_reads_the_files_now(tmp_path):
    # filecmp.cmp's cache keys on size and mtime: a same-size rewrite with its mtime put back
    # compared equal again after one comparison (round 14, r14-10/r14-11).
    import os

    from agent.workspace import same_bytes

    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("assert gcd(7, 0) == 7\n")
    b.write_text("assert gcd(7, 0) == 7\n")
    assert same_bytes(a, b)
    st = os.stat(b)
    b.write_text("assert gcd(7, 1) >= 1\n")
    os.utime(b, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert not same_bytes(a, b)


def test_directories_the_patch_cannot_record_are_dropped(add_suite, tmp_path):
    """Round 30 r30v-11: a patch records files, never a directory, so a directory holding no
    file (an empty ``winsound/`` that imports as a namespace package, or one whose only file
    is a cache) is gone before the verdict, as in the patch's rebuild; a directory the source
    has (emptied by the rollout: its rebuild removes the file and keeps the directory), and
    one holding a new file, stay."""
    src = add_suite.base_dir / "fix_add"
    (src / "docs").mkdir()
    (src / "docs" / "notes.txt").write_text("notes\n")
    w = Workspace.create(add_suite, add_suite.tasks[0], tmp_path / "runs")
    try:
        (w.path / "docs" / "notes.txt").unlink()
        (w.path / "winsound").mkdir()
        (w.path / "outer" / "inner").mkdir(parents=True)
        (w.path / "cached" / "__pycache__").mkdir(parents=True)
        (w.path / "cached" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
        (w.path / "pkg" / "sub").mkdir(parents=True)
        (w.path / "pkg" / "sub" / "mod.py").write_text("X = 1\n")
        removed = w.drop_unrecorded()
        for gone in ("winsound", "outer", "outer/inner", "cached"):
            assert not (w.path / gone).exists() and gone in removed, gone
        assert (w.path / "docs").is_dir() and (w.path / "pkg" / "sub" / "mod.py").is_file()
        assert (w.path / "tests").is_dir() and (w.path / "add.py").is_file()
    finally:
        w.cleanup()

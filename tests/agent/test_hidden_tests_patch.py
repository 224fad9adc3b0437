"""The hidden-test patch's files, read hunk by hunk with C-quoted names decoded
(agent/suites/hidden_tests.py, through agent/suspect.patch_lines)."""

from __future__ import annotations

from agent.suites.hidden_tests import added_files, apply_patch, deleted_files, patch_files

# An added line "++ b/../../etc/x" and a removed line "-- ../y" read as "+++ b/..."/"--- ..."
# inside a hunk; the created test file's name is C-quoted (an e-acute).
QUOTED = (
    'diff --git "a/tests/test_caf\\303\\251.py" "b/tests/test_caf\\303\\251.py"\n'
    "new file mode 100644\n"
    "--- /dev/null\n"
    '+++ "b/tests/test_caf\\303\\251.py"\n'
    "@@ -0,0 +1,2 @@\n"
    "+def test_cafe():\n"
    "++++ b/../../etc/x\n"
    "diff --git a/notes.txt b/notes.txt\n"
    "--- a/notes.txt\n"
    "+++ b/notes.txt\n"
    "@@ -1,2 +1,1 @@\n"
    " keep\n"
    "--- ../y\n"
    "diff --git a/old.txt b/old.txt\n"
    "deleted file mode 100644\n"
    "--- a/old.txt\n"
    "+++ /dev/null\n"
    "@@ -1 +0,0 @@\n"
    "-gone\n"
)


def test_lines_inside_hunks_are_no_headers_and_quoted_names_are_decoded():
    assert patch_files(QUOTED, "test_patch") == ["tests/test_café.py", "notes.txt", "old.txt"]
    assert added_files(QUOTED) == ["tests/test_café.py"]
    assert deleted_files(QUOTED) == ["old.txt"]


def test_a_quoted_name_is_applied_and_copied_back(tmp_path):
    (tmp_path / "notes.txt").write_text("keep\n-- ../y\n")
    (tmp_path / "old.txt").write_text("gone\n")
    apply_patch(tmp_path, QUOTED, "test_patch")
    assert (tmp_path / "tests" / "test_café.py").read_text() == "def test_cafe():\n+++ b/../../etc/x\n"
    assert (tmp_path / "notes.txt").read_text() == "keep\n"
    assert not (tmp_path / "old.txt").exists()


def test_the_final_command_runs_what_run_tests_ran_and_the_ids_files():
    """r10-6: ids all in new files (run_tests runs their nearest directory): the final run runs
    that directory too, so its count is comparable with the rollout's runs (tests_dropped)."""
    from agent.suites.hidden_tests import final_command
    from agent.suites.models import HiddenTests, Task

    hidden = HiddenTests(patch="p", fail_to_pass=["tests/new/test_a.py::test_x"], pass_to_pass=["lib/test_b.py::t"])
    task = Task(id="t", source={"kind": "dir", "path": "t"}, goal="g", hidden_tests=hidden)
    pytest = ["python", "-m", "pytest"]
    for command, final in [
        ([*pytest, "-q", "tests"], [*pytest, "-q", "tests", "lib/test_b.py"]),
        ([*pytest, "-p", "no:randomly", "tests/"], [*pytest, "-p", "no:randomly", "tests/", "lib/test_b.py"]),
        ([*pytest, "lib/test_b.py"], [*pytest, "lib/test_b.py", "tests/new/test_a.py"]),
        ([*pytest, "-q"], [*pytest, "-q", "lib/test_b.py", "tests/new/test_a.py"]),  # no path: the ids' files
        # a node id of an ids' file, which now runs whole: pytest given both ran it twice
        ([*pytest, "lib/test_b.py::t", "tests"], [*pytest, "tests", "lib/test_b.py"]),
    ]:
        assert final_command(task.model_copy(update={"test_command": command})) == final, command

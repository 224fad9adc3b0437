"""The workspace's patch as the host takes it after model-written code ran (issue 23): what
it trusts as unchanged, and what it never reads or follows."""

from __future__ import annotations

import os
import stat
import threading

from unidiff import PatchSet

from agent import pytest_report, tree_walk, workspace
from agent import sandbox as sb
from agent.final_verdict import final_test_run
from agent.suites.loading import load_suite
from agent.workspace import Workspace, apply_reference_fix, has_reference_fix
from tests.agent.conftest import write_suite

_CALC = {
    "calc.py": "def add(a, b):\n    return a - b\n",
    "tests/test_add.py": "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
}


def test_an_in_place_fix_with_its_size_and_mtime_put_back_is_in_the_patch(tmp_path):
    """Written in place (no copy-back: the normal-user mode), same size, old mtime put back:
    only the ctime tells, and the patch must still show the fix."""
    suite = load_suite(write_suite(tmp_path / "suite", {"t": _CALC}))
    with Workspace.create(suite, suite.task("t"), tmp_path / "ws") as ws:
        path = ws.path / "calc.py"  # not through resolve(): as code under test writes it
        st = os.stat(path)
        with open(path, "r+") as f:
            fixed = f.read().replace("a - b", "a + b")
            f.seek(0)
            f.write(fixed)  # the same inode, the same size
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        now = os.stat(path)
        assert (now.st_ino, now.st_size, now.st_mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns)
        assert "a + b" in path.read_text()
        assert "+    return a + b" in ws.patch()


def test_every_builtin_reference_fix_has_a_patch(tmp_path):
    """copy2 kept the fix file's mtime, and a checkout writes the source and its fix in one
    tick: fix_gcd's and fix_roman's fixes (the source's size) looked unchanged, and their
    reference patches were empty."""
    suite = load_suite("mini-bugs")
    tasks = [t for t in suite.tasks if has_reference_fix(t)]
    assert len(tasks) >= 10
    empty = []
    for task in tasks:
        with Workspace.create(suite, task, tmp_path) as ws:
            apply_reference_fix(suite, task, ws)
            if not ws.patch().strip():
                empty.append(task.id)
    assert empty == []


def test_the_patch_reads_no_more_of_the_workspace_than_its_budget(tmp_path, monkeypatch):
    """Run by a normal user there is no copy-back to cap the tree: RLIMIT_FSIZE caps each
    file, not how many, and sparse files cost the disk nothing. The patch hashed every one
    (0.12 s per 64 MB: 100,000 of them, hours of host CPU after the run). Past its read
    budget it records a file by name and size only. (64 MB files and a 512 MB budget,
    scaled down to 512 KB and 1 MB.)"""
    monkeypatch.setattr(workspace, "PATCH_READ_MAX_BYTES", 1024**2)
    suite = load_suite(write_suite(tmp_path / "suite", {"t": _CALC}))
    with Workspace.create(suite, suite.task("t"), tmp_path / "ws") as ws:
        (ws.path / "calc.py").write_text("def add(a, b):\n    return a + b\n")
        for i in range(6):
            with open(ws.path / f"hole{i}", "wb") as f:
                f.truncate(512 * 1024)
        patch = ws.patch()
    assert "+    return a + b" in patch  # read while the budget lasts
    assert patch.count("sha256") == 1 and patch.count("b 524288 bytes not read") == 5, patch
    assert [f.path for f in PatchSet(patch)] == ["calc.py", *(f"hole{i}" for i in range(6))]


# What a run's tests leave for the host: a FIFO and links to host files under the names the
# host reads before the next run (pytest's config files), and links among the source's files.
_LEAVES_LINKS = (
    "import os\n\n\ndef test_leave():\n"
    "    os.mkfifo('pyproject.toml')\n"
    "    os.symlink('/dev/zero', 'setup.cfg')\n"
    "    os.symlink({victim!r}, 'tox.ini')\n"
    "    os.remove('calc.py')\n"
    "    os.symlink({victim!r}, 'calc.py')\n"
    "    os.symlink({victim_dir!r}, 'hostdir')\n"
)


def test_links_and_fifos_a_run_leaves_are_never_followed_by_the_host(tmp_path):
    """A run's tests left a FIFO named pyproject.toml: the host read pytest's config files
    before the next run (to choose its options) and blocked on it for ever (the rollout,
    the batch's worker, stuck under no timeout); a link named setup.cfg to /dev/zero would
    have been read until the host ran out of memory. Nothing the host does next (the next
    run, the patch, the files touched, the tampered paths, the final run and its clean-up)
    may open or follow what the tests left."""
    victim_dir = tmp_path / "host"
    victim_dir.mkdir()
    victim = victim_dir / "secret.py"
    victim.write_text("def add(a, b):\n    return 'HOST SECRET'\n")
    os.chmod(victim_dir, 0o755)
    task = dict(_CALC)
    task["tests/test_leave.py"] = _LEAVES_LINKS.format(victim=str(victim), victim_dir=str(victim_dir))
    suite = load_suite(write_suite(tmp_path / "suite", {"t": task}))
    before = [(os.stat(p).st_mode, os.stat(p).st_mtime_ns) for p in (victim_dir, victim)]
    box: dict[str, object] = {}
    with Workspace.create(suite, suite.task("t"), tmp_path / "ws") as ws:
        box["final"] = final_test_run(ws)  # its tests leave them: after the final run
        assert stat.S_ISFIFO(os.lstat(ws.path / "pyproject.toml").st_mode)
        assert os.path.islink(ws.path / "calc.py") and os.path.islink(ws.path / "hostdir")

        def later() -> None:
            box["patch"] = ws.patch()
            box["files"] = ws.files_touched()
            box["tampered"] = ws.tampered_paths()
            box["next"] = ws.run_tests()  # pytest's config files are read first
            ws.restore_protected()

        worker = threading.Thread(target=later, daemon=True)
        worker.start()
        worker.join(timeout=120)
        assert not worker.is_alive(), f"the host blocked on what the tests left (got {sorted(box)})"
    assert "HOST SECRET" not in str(box) and "hostdir" not in str(box["patch"])
    assert "-    return a - b" in str(box["patch"]) and box["files"] == ["calc.py"]  # a link: deleted
    assert [(os.stat(p).st_mode, os.stat(p).st_mtime_ns) for p in (victim_dir, victim)] == before
    assert victim.read_text() == "def add(a, b):\n    return 'HOST SECRET'\n"
    assert sorted(os.listdir(victim_dir)) == ["secret.py"]


def test_walk_and_remove_tree_at_any_depth_never_following_a_link(tmp_path, monkeypatch):
    """The host's walks and removals of a tree the tests wrote: ``walk`` lists what
    ``os.walk`` lists; ``remove_tree`` removes a tree deeper than its open directories
    (and past PATH_MAX), a name of its own choosing taken already, and never what a link
    names."""
    monkeypatch.setattr(tree_walk, "_MAX_OPEN_DIRS", 4)
    host = tmp_path / "host"
    host.mkdir()
    (host / "kept").write_text("host file")
    top = tmp_path / "ws"
    (top / "a/b").mkdir(parents=True)
    (top / ".repo-agent-deep-1").mkdir()
    (top / ".repo-agent-deep-1/x").write_text("x")
    (top / "a/f").write_text("f")
    os.symlink(host, top / "a/b/to_host")
    os.symlink(host / "kept", top / "to_host_file")
    os.mkfifo(top / "a/fifo")
    assert list(tree_walk.walk(top)) == list(os.walk(top))
    deep = top / "a/b"
    for _ in range(40):
        deep = deep / "d"
        deep.mkdir()
        (deep / "f").write_text("f")
    fd = os.open(deep, os.O_RDONLY)
    try:
        for _ in range(25):  # past PATH_MAX: reached by descriptor only
            os.mkdir("n" * 200, dir_fd=fd)
            nfd = os.open("n" * 200, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        os.close(os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd))
    finally:
        os.close(fd)
    tree_walk.remove_tree(top)
    assert not os.path.lexists(top)
    assert sorted(os.listdir(host)) == ["kept"] and (host / "kept").read_text() == "host file"
    tree_walk.remove_tree(top)  # nothing there: nothing to do


def test_a_sandbox_process_holds_at_most_1024_descriptors(tmp_path):
    """The limit was inherited (20,000 here): 256 processes could hold 5 M open files, more
    than the system's whole table (fs.file-max), and every process on the machine would get
    ENFILE (reviewer round 3, sbx3-13: not run for real, it would take the shared machine)."""
    code, out, _, _ = sb.run_command(["sh", "-c", "ulimit -Sn; ulimit -Hn"], tmp_path, timeout_s=30, sandbox="bwrap")
    assert code == 0 and out.split() == ["1024", "1024"], out


def test_junk_on_the_verdict_pipe_is_read_no_further_than_the_first_thousand_bad_lines(monkeypatch):
    """8 MB of junk lines on the verdict pipe (4 M of them) were each parsed and listed as a
    problem: about 28 s of host CPU per million lines, and a gigabyte of strings, for a run
    that is an error from its first bad line (reviewer round 3, notes)."""
    parsed = []
    real = pytest_report.json.loads
    monkeypatch.setattr(pytest_report.json, "loads", lambda s: parsed.append(1) or real(s))
    verdict = pytest_report.judge(b"x\n" * 4_000_000, 0)
    assert verdict.error and len(parsed) <= pytest_report.BAD_RECORDS_MAX + 1

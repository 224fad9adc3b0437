"""The normal-user disk cap sees the whole tree the tests wrote (issue 23, round 7 #2, #8).

The disk watch, the post-run cost and the trim walk by directory descriptor
(agent/tree_walk.py ``TreeWalk``): a file below a chain deeper than PATH_MAX, or in a
directory the tests made write+search only (0o300), counts as any other. The normal-user
runs start as ``nobody`` (runuser), as the other normal-user security tests do; the cap is
lowered to 4 MB (and 2,000 names) so a few MB of real data pass it.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent import sandbox, tree_walk, workspace
from agent.tree_cost import measure
from tests.security.conftest import PROJECT, give_to_nobody, printed_result, run_as

CAP = 4 << 20

# Run as nobody. Each writer fills 12 MB (three times the cap) in 1 MB files where the old
# path walk saw nothing, then idles: the watch must stop it (no "WROTE ALL"), and the
# workspace must end within the cap. Then the walk beside running tests: a 0o300 directory
# is counted and left 0o300; a directory of someone else's (root's, 0700) that nobody can
# list counts as over any cap.
_USER_DISK_WALK = r"""
import json, os, subprocess, sys
sys.path.insert(0, sys.argv[1])
from agent import sandbox
from agent.sandbox import run_command, sandbox_kind, tree_cost
home, cap = sys.argv[2], int(sys.argv[3])
sandbox.WORKSPACE_BYTES, sandbox.WORKSPACE_INODES = cap, 2000
out = {"kind": sandbox_kind(), "uid": os.getuid()}
fill = (
    "import os, time\n"
    "for i in range(12):\n"
    "    with open('f%d' % i, 'wb') as f:\n"
    "        f.write(os.urandom(1 << 20))\n"
    "    print('WROTE', i, flush=True)\n"
    "time.sleep(20)\n"
    "print('WROTE ALL')\n"
)
deep = "import os\nfor _ in range(18):\n    os.mkdir('d' * 240)\n    os.chdir('d' * 240)\n" + fill  # 18 x 241 > 4096
locked = "import os\nos.mkdir('hide', 0o300)\nos.chdir('hide')\n" + fill
# The workspace itself locked (where the sandbox owns it: run as a subordinate uid of its
# own, agent/subuid.py, the root stays the user's and the chmod fails: nothing to hide).
root = "import os\ntry:\n    os.chmod('.', 0o300)\nexcept PermissionError:\n    raise SystemExit('ROOT NOT OURS')\n" + fill
# Open files with no name left: unlinked while open, and mapped, closed, then unlinked.
unnamed = (
    "import os, time\nheld = []\nfor i in range(12):\n"
    "    f = open('u%d' % i, 'wb')\n    os.unlink('u%d' % i)\n    f.write(os.urandom(1 << 20))\n    f.flush()\n"
    "    held.append(f)\n    print('WROTE', i, flush=True)\ntime.sleep(20)\nprint('WROTE ALL')\n"
)
mapped = (  # by libc: Python's mmap keeps a descriptor of its own
    "import ctypes, os, time\nlibc = ctypes.CDLL(None)\nlibc.mmap.restype = ctypes.c_void_p\n"
    "libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]\n"
    "for i in range(12):\n    fd = os.open('m%d' % i, os.O_RDWR | os.O_CREAT, 0o600)\n    os.ftruncate(fd, 1 << 20)\n"
    "    at = libc.mmap(None, 1 << 20, 3, 1, fd, 0)\n    os.close(fd)\n    os.unlink('m%d' % i)\n"
    "    ctypes.memmove(at, os.urandom(1 << 20), 1 << 20)\n    print('WROTE', i, flush=True)\n"
    "time.sleep(20)\nprint('WROTE ALL')\n"
)
links = (  # names with no inode of their own (round 8 sbx8-4): 3,000 past a cap of 2,000
    "import os, time\nopen('f', 'w').close()\nos.mkdir('L')\nfor i in range(3000):\n    os.link('f', 'L/%d' % i)\n"
    "print('WROTE', flush=True)\ntime.sleep(20)\nprint('WROTE ALL')\n"
)
runs = (("deep", deep), ("locked", locked), ("root", root), ("unnamed", unnamed), ("mapped", mapped), ("links", links))
for name, code in runs:
    ws = os.path.join(home, name)
    os.mkdir(ws)
    open(os.path.join(ws, "fill.py"), "w").write(code)
    r = run_command([sys.executable, "fill.py"], ws, timeout_s=60)
    du = subprocess.run(["du", "-sb", "--apparent-size", ws], capture_output=True, text=True).stdout.split()[0]
    out[name] = [r[0], r[1][-400:], tree_cost(ws)[0], int(du)]
quiet = os.path.join(home, "quiet")
os.makedirs(quiet + "/hide/sub")
open(quiet + "/hide/sub/data", "wb").write(b"x" * 10000)
os.chmod(quiet + "/hide/sub", 0o300)
os.chmod(quiet + "/hide", 0o300)
dirs = sum(os.lstat(p).st_blocks * 512 for p in (quiet, quiet + "/hide", quiet + "/hide/sub"))
cost = tree_cost(quiet, keep_modes=True)
out["quiet"] = [cost[0] - dirs, oct(os.lstat(quiet + "/hide").st_mode & 0o777), oct(os.lstat(quiet + "/hide/sub").st_mode & 0o777)]
out["foreign"] = tree_cost(sys.argv[4])[0]
print("RESULT", json.dumps(out))
"""


def test_a_normal_users_tests_cannot_hide_what_they_write_from_the_disk_cap(user_dir):
    """Round 7 #2: files below a chain of directories deeper than PATH_MAX were never seen
    (377 MB left over the 256 MB cap, PASS); #8: nor were files in a 0o300 directory (360 MB
    written, never stopped); nor a locked workspace root, nor files held open (or mapped)
    with no name left, nor hard links past the name cap (round 8 sbx8-4, sbx8-6).
    Each run is stopped now and trimmed within the cap; a walk
    beside the tests counts a locked directory and leaves it locked; a directory the host
    cannot list at all counts as over any cap (fail closed), never as empty."""
    (user_dir / "runner.py").write_text(_USER_DISK_WALK)
    (user_dir / "home").mkdir()
    give_to_nobody(user_dir)
    foreign = user_dir / "home" / "foreign"
    (foreign / "secret").mkdir(parents=True)  # root's, 0700 inside: nobody can list it
    (foreign / "secret").chmod(0o700)
    try:
        cp = run_as(
            "nobody",
            [sys.executable, str(user_dir / "runner.py"), str(PROJECT), str(user_dir / "home"), str(CAP)]
            + [str(foreign)],
            timeout=300,
        )
    finally:  # root: no permission needed, and rm works past PATH_MAX
        subprocess.run(["rm", "-rf", str(user_dir / "home")], check=False)
    result = printed_result(cp.stdout)
    assert result.get("kind") == "bwrap" and result["uid"] == 65534, cp.stdout[-2000:] + cp.stderr[-2000:]
    for name in ("deep", "locked", "root", "unnamed", "mapped", "links"):
        code, out, cost, du = result[name]
        if name == "root" and "ROOT NOT OURS" in out:
            continue
        assert code != 0 and "WROTE ALL" not in out and "the run was stopped" in out, (name, result[name])
        assert cost <= CAP and du <= CAP + (1 << 20), (name, result[name])  # du: the directories' own bytes too
    size, hide_mode, sub_mode = result["quiet"]
    assert size == 12288 and hide_mode == sub_mode == "0o300", result["quiet"]
    assert result["foreign"] == sandbox.UNLISTED_BYTES, result["foreign"]


def _chain(top: Path, depth: int) -> list[Path]:
    dirs, here = [], top
    for i in range(depth):
        here = here / f"d{i}"
        here.mkdir()
        (here / "f").write_bytes(b"x" * (i + 1))
        dirs.append(here)
    return dirs


def test_the_descriptor_walk_holds_few_descriptors_and_lists_what_os_walk_lists(tmp_path, monkeypatch):
    """A chain 100,000 deep is one inode a level: the walk holds a bounded number of
    directory descriptors (here 3) and reopens a shallower one as its child's "..";
    what it lists is what ``os.walk`` lists (a link to a directory is no directory here)."""
    monkeypatch.setattr(tree_walk, "_WALK_OPEN_DIRS", 2)
    _chain(tmp_path, 12)
    (tmp_path / "d0" / "side").mkdir()
    (tmp_path / "d0" / "side" / "g").write_bytes(b"y")
    os.symlink(tmp_path / "d0", tmp_path / "d0" / "d1" / "loop")
    root = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        mine = []
        held = []
        for listing in tree_walk.TreeWalk(root):
            held.append(len(os.listdir("/proc/self/fd")))
            path = os.path.join(tmp_path, *listing.parts)
            names = sorted(e.name for e in listing.entries)
            mine.append((path, sorted(listing.dirs), sorted(set(names) - set(listing.dirs))))
    finally:
        os.close(root)
    # os.walk lists a link to a directory among the directories; the walk among the rest
    links = {(p, n) for p, d, _ in os.walk(tmp_path) for n in d if os.path.islink(os.path.join(p, n))}
    theirs = [
        (p, sorted(set(d) - {n for q, n in links if q == p}), sorted(f + [n for q, n in links if q == p]))
        for p, d, f in os.walk(tmp_path)
    ]
    assert sorted(mine) == sorted(theirs)
    assert max(held) - min(held) <= 3, held


def test_a_tree_moved_under_the_walk_counts_as_over_the_cap(tmp_path, monkeypatch):
    """Past the descriptors it holds, the walk goes up by "..", checked against the
    directory it came down from: the tests moving a directory meanwhile make the tree's
    cost unknown, so over any cap, never a count with a subtree missed or counted twice."""
    monkeypatch.setattr(tree_walk, "_WALK_OPEN_DIRS", 2)
    dirs = _chain(tmp_path, 6)
    root = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        walk = tree_walk.TreeWalk(root)
        for listing in walk:
            if len(listing.parts) == 5:  # d0/d1/d2/d3/d4: d1 and d2 let go by now
                os.rename(dirs[3], dirs[0] / "moved")
        assert walk.moved
        again = tree_walk.TreeWalk(root)
        assert len(list(again)) == 7 and not again.moved  # the tree as it is now: one walk
        os.rename(dirs[0] / "moved", dirs[3])
        assert measure(root).unlisted == 0
    finally:
        os.close(root)


@pytest.mark.parametrize("depth", [0, 30])
def test_trim_and_cost_reach_past_path_max(tmp_path, monkeypatch, depth):
    """The post-run cost and trim (both modes' last word on a normal user's workspace) see
    a sparse file at any depth, as the tmpfs would count it (holes at their size)."""
    monkeypatch.setattr(sandbox, "WORKSPACE_BYTES", 1 << 20)
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    dirs = os.fstat(fd).st_blocks * 512  # directories cost their blocks
    for _ in range(depth):  # 30 x 201 bytes: past PATH_MAX, reached by descriptor only
        os.mkdir("n" * 200, dir_fd=fd)
        nfd = os.open("n" * 200, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
        dirs += os.fstat(fd).st_blocks * 512
    with open(os.open("big", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd), "wb") as f:
        f.truncate(8 << 20)
    os.close(fd)
    assert sandbox.tree_cost(tmp_path) == ((8 << 20) + dirs, depth + 1)
    assert sandbox._trim(tmp_path) == 1
    assert sandbox.tree_cost(tmp_path) == (dirs, depth + 1)


def test_what_no_path_reaches_is_dropped_before_the_final_run(tmp_path):
    """A normal user's tests can leave files past PATH_MAX (the trim keeps them within the
    cap): no patch records them, so ``drop_unrecorded`` removes them, and what is left is
    exactly what the path walk (the patch's) lists."""
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(30):
        os.mkdir("n" * 200, dir_fd=fd)
        os.close(os.open("f", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd))
        nfd = os.open("n" * 200, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    os.close(fd)
    removed = workspace._drop_past_path_max(tmp_path)
    by_path = {os.path.join(p, n) for p, d, f in tree_walk.walk(tmp_path) for n in d + f}
    assert len(removed) == 1 and len(by_path) > 30  # the first directory too deep, whole; its "f" sibling kept
    root = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        by_fd = {os.path.join(tmp_path, *x.parts, e.name) for x in tree_walk.TreeWalk(root) for e in x.entries}
    finally:
        os.close(root)
    assert by_fd == by_path


def test_blocks_past_a_files_end_and_an_emptied_directorys_count_and_are_trimmed(tmp_path, monkeypatch):
    """Round 8 sbx8-5: ``fallocate(FALLOC_FL_KEEP_SIZE)`` gave a file of size 0 8 MB of
    blocks; sbx8-2: a directory that held 6,000 long names keeps its blocks once they are
    gone (ext4 never shrinks one). Both cost what they hold on the disk now, and the trim
    gives it back (the file cut to its own size, the directory removed)."""
    monkeypatch.setattr(sandbox, "WORKSPACE_BYTES", 1 << 20)
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(tmp_path / "kept", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"honest")
        if libc.fallocate(fd, 1, ctypes.c_long(0), ctypes.c_long(8 << 20)) != 0:  # FALLOC_FL_KEEP_SIZE
            pytest.fail(f"fallocate: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(fd)
    assert sandbox.tree_cost(tmp_path)[0] >= 8 << 20
    assert sandbox._trim(tmp_path) == 0  # within the cap once the blocks past its end are freed
    assert (tmp_path / "kept").read_bytes() == b"honest" and sandbox.tree_cost(tmp_path)[0] < 1 << 20
    (tmp_path / "f").touch()
    (tmp_path / "d").mkdir()
    names = [tmp_path / "d" / f"{i:08d}".ljust(250, "x") for i in range(6000)]
    for n in names:
        os.link(tmp_path / "f", n)
    for n in names:
        n.unlink()
    if os.stat(tmp_path / "d").st_blocks * 512 < 1 << 20:
        pytest.skip("this filesystem gives a directory's blocks back (tmpfs): sbx8-2 cannot happen")
    assert sandbox.tree_cost(tmp_path)[0] > 1 << 20
    assert sandbox._trim(tmp_path) == 1
    assert not (tmp_path / "d").exists() and sandbox.tree_cost(tmp_path)[0] < 1 << 20

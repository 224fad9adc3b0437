"""The walk of a sandbox's namespace keeper (agent/subuid_keeper.py): every entry, at any
depth, with a bounded number of descriptors, counted as the sandbox's tmpfs counts them."""

from __future__ import annotations

import os
import stat
import time

import pytest

import agent.tree_cost
from agent import subuid_keeper, tree_walk
from agent.sandbox import tree_cost


@pytest.fixture
def deep(tmp_path):
    """150 nested directories (more than the levels the walk keeps open), a file and a
    link on each level, a sparse file at the bottom."""
    top = tmp_path / "ws"
    here = top
    for i in range(150):
        here = here / "d"
        here.mkdir(parents=True)
        (here / f"f{i}").write_bytes(b"x" * (i + 1))
        os.symlink("/etc/passwd", here / "link")
    with open(here / "sparse", "wb") as f:
        f.truncate(10 * 1024 * 1024)
    return top


def test_the_keepers_measure_is_tree_cost_at_any_depth(deep, monkeypatch):
    monkeypatch.setattr(tree_walk, "_WALK_OPEN_DIRS", 8)
    assert subuid_keeper.measure_tree(str(deep)) == tree_cost(deep)


def test_the_keeper_gives_every_entry_away_but_the_top_and_follows_no_link(deep, monkeypatch):
    if os.geteuid() != 0:
        pytest.fail("chown needs root here (the keeper has the namespace's capabilities)")
    monkeypatch.setattr(tree_walk, "_WALK_OPEN_DIRS", 8)
    before = len(os.listdir("/proc/self/fd"))
    assert subuid_keeper.chown_tree(str(deep), 4242, 4343, top_uid=0) == 0
    assert len(os.listdir("/proc/self/fd")) == before  # every directory closed again
    owners = set()
    for dirpath, dirnames, filenames in os.walk(deep):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            owners.add((st.st_uid, st.st_gid))
    assert owners == {(4242, 4343)}
    st = os.lstat(deep)
    assert (st.st_uid, st.st_gid) == (0, 4343) and st.st_mode & 0o070 == 0o070  # the group writes in it
    assert os.stat("/etc/passwd").st_uid == 0  # a link's target untouched


def test_a_directory_moved_above_the_open_levels_stops_the_walk(tmp_path, monkeypatch):
    """The running tests rename a directory whose descriptor the walk had closed: opened
    again through ``..`` it is another one, and the walk says so (the measure then counts
    past any cap) rather than listing the old names in the wrong place."""
    monkeypatch.setattr(tree_walk, "_WALK_OPEN_DIRS", 2)
    deepest = tmp_path / "top/a/b/c/d/e"
    deepest.mkdir(parents=True)
    (deepest / "f").write_text("x")
    (tmp_path / "top/a/b/late").write_text("y")  # listed by b, looked up after the move
    give = subuid_keeper._give

    def give_then_move(fd, entry, uid, gid, regroup, *, remove=True):  # the tests, still running, move c up
        if entry.name == "f":
            os.rename(tmp_path / "top/a/b/c", tmp_path / "top/c")
        return give(fd, entry, uid, gid, regroup, remove=remove)

    monkeypatch.setattr(subuid_keeper, "_give", give_then_move)
    with pytest.raises(tree_walk.TreeMoved):
        subuid_keeper.chown_tree(str(tmp_path / "top"), os.geteuid(), os.getegid())

    # The measure (agent/tree_cost.py): a tree moved under it, or a directory not read, is unlisted.
    monkeypatch.setattr(agent.tree_cost, "measure", lambda fd: agent.tree_cost.TreeCost(0, 0, unlisted=1))
    assert subuid_keeper.measure_tree(str(tmp_path)) == (1 << 62, 1 << 62)  # past any cap: the run is stopped


def test_with_the_host_gone_the_keeper_kills_the_sandboxs_processes_before_giving_back(tmp_path, monkeypatch):
    """`give_back_all` (the host gone mid-run): what still runs as the leased uid, a test
    making files in the workspace, is killed first; only then is the tree the user's again,
    so nothing of the sandbox's is made in it after (untested before round 13's review)."""
    import subprocess

    from agent import uid_lease

    if os.geteuid() != 0:
        pytest.fail("runs as root (a leased uid, chown)")
    lease = uid_lease.lease_uid()  # a uid no other sandbox of the machine holds: its processes are ours
    uid = lease.uid
    writer = None
    try:
        ws = tmp_path / "ws"
        ws.mkdir()
        (ws / "a.txt").write_text("x")
        assert subuid_keeper.chown_tree(str(ws), uid, uid, top_uid=0) == 0  # handed over, as the keeper does
        loop = "while :; do rm -f late; : > late; done"  # the tests, still at work
        writer = subprocess.Popen(["/bin/sh", "-c", loop], cwd=ws, user=uid, group=uid, extra_groups=[])
        while not (ws / "late").exists():
            time.sleep(0.01)
        running_at_give_back: list[list[int]] = []
        chown = subuid_keeper.chown_tree

        def give_back(path, *args, **kw):
            running_at_give_back.append(uid_lease.processes_of(uid))
            return chown(path, *args, **kw)

        monkeypatch.setattr(subuid_keeper, "chown_tree", give_back)
        handed = {str(ws): subuid_keeper.Handed((0, 0), (uid, uid), 0o755)}
        subuid_keeper.give_back_all(handed, timeout_s=10)
        assert running_at_give_back == [[]]  # the give-back found nothing of the uid running
        assert writer.wait(timeout=10) == -9
        owners = {(st.st_uid, st.st_gid) for st in (os.lstat(p) for p in [ws, *ws.iterdir()])}
        assert owners == {(0, 0)} and stat.S_IMODE(os.lstat(ws).st_mode) == 0o755
    finally:
        if writer is not None and writer.poll() is None:
            writer.kill()
            writer.wait()
        lease.release()

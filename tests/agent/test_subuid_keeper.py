"""The walk of a sandbox's namespace keeper (agent/subuid_keeper.py): every entry, at any
depth, with a bounded number of descriptors, counted as the sandbox's tmpfs counts them."""

from __future__ import annotations

import os

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

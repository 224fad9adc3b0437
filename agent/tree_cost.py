"""What a tree the sandbox wrote costs the disk, counted as the sandbox's tmpfs counts it
(issue 23): regular files' bytes in whole pages, holes counted, or their disk blocks when
more; every other entry's disk blocks (directories, links); each file once however many
names it has; and every name, a hard link's too. Counted by directory descriptor
(agent/tree_walk.py ``TreeWalk``), so no depth and no locked directory hides a file; a
directory that still cannot be listed is reported, never counted as empty.

A plain function of a directory descriptor: it can run wherever the tree can be opened
(a helper inside a sandbox's user namespace as well as the host).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from agent.tree_walk import TreeWalk

PAGE = 4096


def file_cost(st: os.stat_result) -> int:
    """What a file takes in a tmpfs, holes counted: its size in whole pages."""
    return -(-st.st_size // PAGE) * PAGE


def entry_cost(st: os.stat_result) -> int:
    """What an entry takes: a regular file its ``file_cost`` or its disk blocks, whichever
    is more (blocks ``fallocate`` kept past its end count: round 8 sbx8-5); anything else
    its blocks (a directory that once held 20,000 names keeps them: sbx8-2; a long link)."""
    blocks = st.st_blocks * 512
    return max(file_cost(st), blocks) if stat.S_ISREG(st.st_mode) else blocks


@dataclass(frozen=True)
class TreeCost:
    bytes: int
    names: int
    # Directories the walk could not list (or a tree moved under it): what is in them is
    # unknown, so a cap must treat the tree as over it.
    unlisted: int = 0
    # Names another uid than this process's owns (the root too): a root sandbox's overlay shows
    # only root's files as the sandbox's (agent/overlay_mount.py).
    foreign: int = 0
    # The size of the biggest regular file: an overlay copies a file up under the writing
    # process's RLIMIT_FSIZE (agent/sandbox.py ``CappedWorkspace``).
    largest: int = 0


def measure(root_fd: int, *, keep_modes: bool = False) -> TreeCost:
    """The cost of the tree under the directory descriptor ``root_fd`` (left open). A
    directory this user owns and cannot list is made listable first (``keep_modes``: and
    put back as it was after, for a walk beside running tests)."""
    seen: set[tuple[int, int]] = set()
    top = os.fstat(root_fd)
    total = top.st_blocks * 512  # the root's own blocks: no trim can give them back
    names = 0
    me = os.geteuid()
    foreign = int(top.st_uid != me)
    largest = 0
    walk = TreeWalk(root_fd, unlock=True, keep_modes=keep_modes)
    for listing in walk:
        names += len(listing.entries)
        for entry in listing.entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:  # gone since the listing (the disk watch walks a running sandbox's tree)
                continue
            foreign += st.st_uid != me
            if stat.S_ISREG(st.st_mode):
                largest = max(largest, st.st_size)
            if (st.st_dev, st.st_ino) not in seen:  # a file once, however many names it has
                seen.add((st.st_dev, st.st_ino))
                total += entry_cost(st)
    return TreeCost(total, names, len(walk.unlisted) + walk.moved, foreign, largest)

"""The normal-user disk watch's cost on the host (issue 23, round 7 #2, #8, #21).

The watch measures the workspace (``tree_cost``: a walk of every name) each time the
filesystem grew by more than the room left; the walk runs in the host process, its GIL
shared with every other rollout. Two figures:

- one measure of a tree of ``--names`` names (100 directories), CPU seconds, best of 3:
  the descriptor walk (``tree_cost``, today's) against the path walk it replaced
  (``os.lstat`` of each joined path, which saw nothing past PATH_MAX or in a locked dir);
- the watch's CPU under round 7 #21's churn: the tree filled to ``--names`` names, then a
  process makes and removes 30 files every 120 ms for ``--seconds``, to make the watch walk
  the whole tree again and again (host CPU seconds and how many walks). The watch walks
  only when the filesystem grew past the room left since its last walk, and takes its new
  base then: a churn that gives back what it took must take more each time to pass again;
- the walks an honest tree of 1,000 names gets on a changing filesystem (the look for hard
  links past the name cap, round 8 sbx8-4: at most one a 0.25 s, 2% of a core).

    uv run python bench/disk_watch.py [--names 99900] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent import sandbox
from agent.disk_watch import DiskWatch
from agent.tree_cost import file_cost
from agent.tree_walk import walk

_CHURN = """
import os, sys, time
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    for i in range(30):
        open("c%d" % i, "w").close()
    time.sleep(0.06)
    for i in range(30):
        os.unlink("c%d" % i)
    time.sleep(0.06)
"""


def path_walk_cost(root: Path) -> tuple[int, int]:
    """The measure before round 8: a path walk (``tree_walk.walk``) and an lstat a name."""
    seen: set[tuple[int, int]] = set()
    total = names = 0
    for dirpath, dirnames, filenames in walk(root):
        names += len(dirnames) + len(filenames)
        for name in filenames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += file_cost(st)
    return total, names


def fill(root: Path, names: int) -> None:
    per = max(1, names // 100)
    for d in range(100):
        (root / f"d{d}").mkdir()
        for i in range(per - 1):
            os.close(os.open(root / f"d{d}" / str(i), os.O_WRONLY | os.O_CREAT, 0o644))


def cpu(fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(3):
        c0 = time.process_time()
        fn()
        best = min(best, time.process_time() - c0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--names", type=int, default=99_900)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        fill(root, args.names)
        assert sandbox.tree_cost(root)[1] == path_walk_cost(root)[1]  # the same names (blocks: directories too)
        fd_s, path_s = cpu(lambda: sandbox.tree_cost(root)), cpu(lambda: path_walk_cost(root))
        print(f"one measure of {args.names:,} names: descriptor walk {fd_s:.2f} s CPU, path walk {path_s:.2f} s CPU")
        walks = [0]

        def counted() -> tuple[int, int]:
            walks[0] += 1
            return sandbox.tree_cost(root, keep_modes=True)

        used = sandbox.tree_cost(root)
        watch = DiskWatch(root, counted, *sandbox._room(), start=used)  # the real caps

        c0, w0 = time.process_time(), time.monotonic()
        watch.start(lambda: None)
        subprocess.run([sys.executable, "-c", _CHURN, str(args.seconds)], cwd=root, check=True)
        watch.stop()
        host = time.process_time() - c0
        wall = time.monotonic() - w0
        print(
            f"churn for {wall:.1f} s: the watch walked {walks[0]} times, host CPU {host:.2f} s ({host / wall:.0%} of a core)"
        )
    with tempfile.TemporaryDirectory() as tmp:  # an honest run's tree, on a filesystem that changes
        small = Path(tmp)
        fill(small, 1_000)
        walks[0] = 0

        def small_walk() -> tuple[int, int]:
            walks[0] += 1
            return sandbox.tree_cost(small, keep_modes=True)

        watch = DiskWatch(small, small_walk, *sandbox._room(), start=sandbox.tree_cost(small))
        c0, w0 = time.process_time(), time.monotonic()
        watch.start(lambda: None)
        subprocess.run([sys.executable, "-c", _CHURN, str(args.seconds)], cwd=small, check=True)
        watch.stop()
        host, wall = time.process_time() - c0, time.monotonic() - w0
        print(f"1,000 names, changing, {wall:.1f} s: {walks[0]} walks (links: sbx8-4), host CPU {host:.2f} s")


if __name__ == "__main__":
    main()

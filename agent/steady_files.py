"""Which of a task's files a test run left exactly as it found them (round 13, r13-8/9/10).

A project's own test helpers (a decorator in the package, a base class in tests/base.py, a
pytest plugin its conftest names) are code of the task's, not the rollout's, when the rollout
did not change them (agent/workspace.py ``run_tests`` checks that against the source before
the run) and the run did not either: the verdict trusts hooks, test code and tracers from
such a file (agent/pytest_report.py ``judge``).

"Did not change during the run" is read from the file system where the sandbox ran (the
root mode's tmpfs copy, else the workspace), before the run and once every sandbox process
is gone: the file's inode, size, mtime and ctime, and the inode and ctime of each directory
between the root and it. Code under test can put bytes and an mtime back, but not a ctime
(any write, rename or ``utime`` sets it to the clock); a file rewritten and put back, or
a directory renamed away, filled with other code and renamed back, changes one of them. The
root itself is the sandbox's mount point: it cannot be renamed. Tests that write into a
directory holding such a file (PYTHONDONTWRITEBYTECODE keeps imports from writing there)
make it untrusted: the safe side. (The kernel's clock for ctimes is coarse, a tick of a few
ms: the first fingerprint is taken before the sandbox starts, and no code under test runs
within a tick of it: bwrap, the launcher and pytest's start-up take far longer.)
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

Fingerprint = tuple[tuple[int, ...], ...]


def _dir_mark(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_mode, st.st_dev, st.st_ino, st.st_ctime_ns)


def fingerprints(root: Path, rels: Iterable[str]) -> dict[str, Fingerprint]:
    """Each regular file of ``rels`` (workspace-relative) under ``root``, with its directories'
    marks; a file that is not one (gone, a link, under a link) is left out."""
    dirs: dict[str, tuple[int, ...] | None] = {}
    out: dict[str, Fingerprint] = {}
    for rel in rels:
        parts = rel.split("/")
        marks: list[tuple[int, ...]] = []
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            if d not in dirs:
                try:
                    st = os.lstat(os.path.join(root, d))
                    dirs[d] = _dir_mark(st) if stat.S_ISDIR(st.st_mode) else None
                except OSError:
                    dirs[d] = None
            mark = dirs[d]
            if mark is None:
                break
            marks.append(mark)
        else:
            try:
                st = os.lstat(os.path.join(root, rel))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                f = (st.st_mode, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
                out[rel] = (f, *marks)
    return out


def steady(root: Path, before: dict[str, Fingerprint]) -> tuple[str, ...]:
    """The files of ``before`` that ``root`` still holds untouched, in its order."""
    now = fingerprints(root, before)
    return tuple(rel for rel, fp in before.items() if now.get(rel) == fp)

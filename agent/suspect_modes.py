"""Files the patch hands on readable that the judge's run could not read (round 31 r31v-18;
agent/suspect.py reports the hits as ``file_environment``; docs/sandbox-and-verdicts.md).

A patch records a file's content and its executable bit, nothing else: a checkout or a
rebuild from it gets the file readable under its user's umask. A file the rollout left
unreadable (``chmod 000 fastpath.py``) was unreadable in the final run, whose sandbox runs
the code as another uid: the run judged code that imported (or read) without it, and the fix
handed on runs with it. The bound is any file of the patch whose read bits in the workspace
fall short of the workspace's own (its root directory's: ``rwxr-xr-x`` asks ``r--r--r--``),
not one name or one way of reading it: code that reads the file through an import, ``open``
or a loader is told apart by the mode, whichever way.
"""

from __future__ import annotations

import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

_READ_BITS = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


def unreadable_files(root: Path, paths: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(path, its mode shown) of each regular file in ``paths`` under ``root`` readable by
    fewer than the workspace's own read bits."""
    try:
        wanted = root.lstat().st_mode & _READ_BITS
    except OSError:
        return
    for rel in dict.fromkeys(paths):
        try:
            mode = (root / rel).lstat().st_mode
        except OSError:
            continue  # deleted, or a path through a file: nothing handed on
        if stat.S_ISREG(mode) and mode & wanted != wanted:
            yield rel, stat.filemode(mode)

"""A directory of this user's under a shared temp dir that no other user can write or swap.

A predictable name under ``/tmp`` (``repo-agent-ws``, ``repo-agent-ray-cache``) is anyone's to
make first: a local user who owns it can swap a workspace for a symlink while root's tests
run, and root's copy-back then deletes and writes where the link points (round 8 sbx8-8), or
plant a task's unpacked files on a Ray worker (sbx8-9). A path is used only when no one else
can change it: every directory on the way is this user's or root's and writable by no one
else (unless sticky, as /tmp is). Otherwise the same name with this uid appended, under the
temp dir, is used (stable: a Ray node's task cache still hits), and past that a fresh one.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def _safe(path: Path) -> bool:
    """Every existing directory from ``/`` down to ``path`` is root's or ours, none writable by
    another user unless sticky; ``path`` itself, if it exists, a real directory of ours."""
    me = os.geteuid()
    parts = path.absolute().parts
    for i in range(1, len(parts) + 1):
        at = Path(*parts[:i])
        try:
            st = os.lstat(at)
        except FileNotFoundError:
            return True  # made below here by us
        if not stat.S_ISDIR(st.st_mode) or st.st_uid not in (0, me):
            return False
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX:
            return False
        if i == len(parts) and st.st_uid != me:
            return False
    return True


def private_dir(preferred: Path) -> Path:
    """``preferred`` when no one else can change it (made 0700 if missing); else
    ``<temp dir>/<its name>-<uid>``; else a fresh ``mkdtemp`` one."""
    # Resolved once: what is used is the real path checked, whatever a link there becomes later.
    preferred = Path(preferred).resolve()
    temp = Path(tempfile.gettempdir()).resolve()
    fallback = temp / f"{preferred.name}-{os.geteuid()}"
    for path in (preferred, fallback):
        if not _safe(path):
            continue
        try:
            path.mkdir(mode=0o700, parents=True)
        except FileExistsError:
            pass
        except OSError:
            continue
        if _safe(path):  # still (made now, or there already)
            return path
    return Path(tempfile.mkdtemp(prefix=f"{preferred.name}-", dir=temp))

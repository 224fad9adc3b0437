"""A directory of this user's under a shared temp dir that no other user can write or swap.

A predictable name under ``/tmp`` (``repo-agent-ws``, ``repo-agent-ray-cache``) is anyone's to
make first: a local user who owns it can swap a workspace for a symlink while root's tests
run, and root's copy-back then deletes and writes where the link points (round 8 sbx8-8), or
plant a task's unpacked files on a Ray worker (sbx8-9). The name is used only when it is a
real directory owned by this user; otherwise a fresh one (``mkdtemp``: random, 0700) is made
beside it, so a squatter costs nothing but the name.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def private_dir(preferred: Path) -> Path:
    """``preferred``, made 0700 and owned by this user, or a fresh private directory beside it."""
    preferred.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mkdir(preferred, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return Path(tempfile.mkdtemp(prefix=f"{preferred.name}-", dir=preferred.parent))
    try:
        fd = os.open(preferred, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:  # a symlink, a file, a FIFO: someone else's
        return Path(tempfile.mkdtemp(prefix=f"{preferred.name}-", dir=preferred.parent))
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid() or not stat.S_ISDIR(st.st_mode):
            return Path(tempfile.mkdtemp(prefix=f"{preferred.name}-", dir=preferred.parent))
        if stat.S_IMODE(st.st_mode) != 0o700:
            os.fchmod(fd, 0o700)  # made by an older version 0755: others could read every workspace
    finally:
        os.close(fd)
    return preferred

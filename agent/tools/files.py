"""Opening a workspace file for a tool without ever blocking: regular files only."""

from __future__ import annotations

import os
import stat


class NotRegular(OSError):
    """A FIFO, device or socket: reading or writing it could block the rollout for ever."""


def kind(mode: int) -> str:
    """What a non-regular file is, in words ("a FIFO")."""
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device")):
        if test(mode):
            return name
    return "a device" if stat.S_ISBLK(mode) else "not a regular file"


def open_regular(path: str | os.PathLike[str], flags: int) -> int:
    """``os.open`` that never blocks (O_NONBLOCK) and refuses anything but a regular file."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise NotRegular(f"{kind(st.st_mode)}, not a regular file")
    fd = os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):  # swapped in between the two checks
            raise NotRegular(f"{kind(mode)}, not a regular file")
        os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes:
    fd = open_regular(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as f:
        return f.read(limit)

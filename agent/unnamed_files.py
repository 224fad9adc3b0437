"""What a sandbox's processes hold on the workspace's filesystem under no name (issue 23).

A file unlinked while open (or made with O_TMPFILE), or mapped and then unlinked, takes
disk until the last process holding it ends, and no walk of the workspace sees it: a
normal user's tests held 12 MB that way over a 4 MB cap and were never stopped. The disk
watch adds what this counts, read from the host's /proc (the processes are this user's):
for every process in the sandbox's pid namespace, each descriptor of a regular file on
the workspace's filesystem with no name left (its allocated blocks), and each mapping of
a deleted file there (its extent, at most what one file can reach: only root may stat a
mapping's file).
"""

from __future__ import annotations

import os
import stat


def sandbox_pids(pid1: int) -> list[int]:
    """The processes in the pid namespace of ``pid1`` (the sandbox's pid 1, as the host
    numbers it); none once it is gone."""
    try:
        ns = os.readlink(f"/proc/{pid1}/ns/pid")
    except OSError:
        return []
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.readlink(f"/proc/{name}/ns/pid") == ns:
                    pids.append(int(name))
            except OSError:  # gone, or not ours
                continue
    return pids


def unnamed_bytes(pid1: int, dev: int, file_max: int) -> int:
    """Bytes the processes of ``pid1``'s sandbox hold on filesystem ``dev`` in files with
    no name: each file once, the most any of its descriptors or mappings shows."""
    held: dict[int, int] = {}
    for pid in sandbox_pids(pid1):
        _open_files(pid, dev, held)
        _mapped_files(pid, dev, file_max, held)
    return sum(held.values())


def _open_files(pid: int, dev: int, held: dict[int, int]) -> None:
    fds = f"/proc/{pid}/fd"
    try:
        names = os.listdir(fds)
    except OSError:
        return
    for fd in names:
        try:
            st = os.stat(f"{fds}/{fd}")  # the magic link: the open file itself, named or not
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_nlink == 0 and st.st_dev == dev:
            held[st.st_ino] = max(held.get(st.st_ino, 0), st.st_blocks * 512)


def _mapped_files(pid: int, dev: int, file_max: int, held: dict[int, int]) -> None:
    try:
        with open(f"/proc/{pid}/maps", "rb") as f:
            lines = f.read().splitlines()
    except OSError:
        return
    want = f"{os.major(dev):02x}:{os.minor(dev):02x}".encode()
    for line in lines:
        # start-end perms offset dev inode path: "7f..-7f.. rw-s 00000000 00:2a 1234 /ws/x (deleted)"
        fields = line.split(maxsplit=5)
        if len(fields) < 6 or fields[3] != want or not fields[5].endswith(b" (deleted)"):
            continue
        try:
            start, end = (int(x, 16) for x in fields[0].split(b"-"))
            extent = min(int(fields[2], 16) + end - start, file_max)
            ino = int(fields[4])
        except ValueError:
            continue
        held[ino] = max(held.get(ino, 0), extent)

"""Whose an OOM kill was, for a sandbox with no memory cgroup of its own (issue 23, r11-2).

A normal user's sandbox is held to its part of an enclosing memory limit (a container's, a
session's: ``cgroups.enclosing_memory``) by RLIMIT_AS alone, one process at a time. Several
processes each within it go past the part together, the enclosing cgroup runs out, and the
kernel's OOM killer ends one of them: without a cgroup of the sandbox's own to count that,
the run was taken for the machine's shortage (not judged) where root mode's own cgroup
judges it. This watch looks, at each OOM kill counted while the sandbox runs, at what the
sandbox still holds: its processes' proportional share of anonymous and shared-memory pages
(``smaps_rollup``: a page forked processes share counted once, never a page of the host's),
what its pipes, its epoll watches, its mappings and its page tables hold in the kernel (charged to the
enclosing cgroup, in no process's Pss: round 24 r24s-2, round 27 r27s-2, round 25 r25s-1, round 26 r26s-1) and its
workspace, /tmp and /dev/shm tmpfs (a file of them the tests map counted once: round 27 r27s-1). The sandbox's pid 1 and bwrap are spared by the OOM killer before
its tests (their end would take the whole sandbox and what it held with it), and pid 1 keeps
the rest of the sandbox after its command's kill until this watch has looked. Past its part, the excess
was the rollout's own (the part is fixed by the limit and the number of sandboxes, never by
a neighbour's use). What it measures is a lower bound (the killed process is gone, what
cannot be read counts nothing), so a neighbour's shortage is never blamed on the rollout; while
less than a part is left under the enclosing limit the sandbox is looked at before the kill too
(``FULL_LOOK_S``), so an excess that exits as the victim dies is seen; the victim's own stays
not judged.
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import fcntl
import os
import platform
import re
import select
import socket
import stat
import termios
import threading
import time
from collections.abc import Callable, Iterator
from typing import NamedTuple

from agent.bwrap import SHM_BYTES, TMP_BYTES
from agent.look_apart import look_apart

POLL_S = 0.05
# While less than a part is left under the enclosing limit (an OOM kill may come with the next
# part's worth), the sandbox is looked at this often, and a look past its part this recent
# when a kill is counted judges it: processes holding the excess that exit as the OOM killer's
# victim dies (a pipe's end, a lock, a signal) are gone before the kill is seen, and a look
# then saw nothing past the part in ~70% of tries (round 28 r28s-7).
FULL_LOOK_S = 0.1
RECENT_S = 2.0
# A sandbox holds at most RLIMIT_NPROC (256) processes and threads of its own uid: the walk
# stops past this many tasks whatever the tree shows.
_MOST_TASKS = 4096
# What a mapping holds in kernel memory without a page: its vm_area_struct (192 bytes on x86-64
# 6.x), charged to its process's cgroup, and its share of the tree that indexes it. 61 processes
# forked with 40,000 untouched one-page mappings each took 500 MB so (round 25 r25s-1): fork
# copies every mapping, and no page of them is ever in Pss. Counted at the object's own size:
# a count below it is a share an attacker scales past the part by volume (r28s-5 failed again
# in CI with 128 here: ~71% of the slab measured counted, the excess on the edge of its part).
_MAPPING_OBJECTS = 192
# What a mapping of a file (a line of /proc/PID/maps with an inode) may hold besides: an open
# file of its own (a ``struct file``: 192 bytes on x86-64 6.x), which keeps it after its
# descriptor is closed. 24 processes each mapping a file opened anew 30,000 times held ~320 MB
# so where 128 bytes a mapping counted ~92 MB (round 28 r28s-5). Mappings that share one open
# file (a library's segments, a fork's copies) are each counted with it: a few dozen kB a
# Python process, the price of a count no number of open files escapes. 256: the 449 bytes of
# slab measured a mapping of its own open file, less its vm_area_struct (its file, its dentry's
# and the slab's share).
_OPEN_FILE = 256
# And past this many open files (RLIMIT_NOFILE's 1024 a process, 256 processes).
_MOST_FILES = 256 * 1024
_KB = 1024
_PAGE = os.sysconf("SC_PAGE_SIZE")
# What a pipe holds in kernel memory before any byte, charged to its maker's cgroup: its
# inode (624 bytes on x86-64 6.x), dentry (192), an open file (192), pipe_inode_info (192)
# and slot ring (96 to 1k); 1 kB is below their sum. 80 processes each holding 510 pipes
# of 8 kB took 40 MB so (round 24 r24s-2), and empty pipes hold it alike.
_PIPE_OBJECTS = 1024
# What an epoll watch holds in kernel memory: its epitem (a 128-byte slab object on x86-64 6.x),
# charged to the maker's cgroup and mapped by no process; its wait-queue entry (72) is not
# counted. 508 epolls each watching the other 507, in five 13 MB processes, held ~250 MB so
# (round 27 r27s-2). fs.epoll.max_user_watches bounds them per user, machine-wide: 4% of the
# machine's memory, not a sandbox's part, and only root of the initial namespace may lower it.
_EPOLL_WATCH = 128
# And each epoll instance's own: its struct eventpoll and open file (~200 bytes each).
_EPOLL_OBJECTS = 256
# What a socket holds in kernel memory before any byte, charged to its maker's cgroup: its
# inode with its ``struct socket`` (832 bytes on x86-64 6.x), dentry (192) and its protocol's
# sock (an AF_UNIX one ~1 kB, TCP's 2.3 kB); 1.5 kB is below their sum, its open file counted
# with every descriptor's (``_OPEN_FILE``). 120 processes each holding ~1,000 empty socketpairs
# held ~245 MB so, unseen (round 28 r28s-6).
_SOCKET_OBJECTS = 1536
_NR_PIDFD_GETFD = 438  # one number on every architecture (Linux 5.6)
# kcmp's number on x86-64 (elsewhere none is asked: an epoll shared by forks counts per holder).
_NR_KCMP = 312 if platform.machine() in ("x86_64", "AMD64") else None
_KCMP_FILE = 0
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _children(pid: int) -> list[int]:
    """The children of every thread of process ``pid`` (``/proc/PID/task/TID/children``)."""
    found: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                found.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return found


def _held(pid: int) -> tuple[int, int]:
    """The anonymous and the shared-memory pages process ``pid`` maps, each divided by the
    number of processes that map it (``Pss_Anon``, ``Pss_Shmem``), in bytes; 0 if unreadable."""
    anon = shmem = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss_Anon:"):
                    anon = int(line.split()[1]) * _KB
                elif line.startswith(b"Pss_Shmem:"):
                    shmem = int(line.split()[1]) * _KB
    except (OSError, ValueError, IndexError):
        return 0, 0
    return anon, shmem


class _Status(NamedTuple):
    """What /proc/PID/status says of a process that the watch counts."""

    fd_table_size: int  # how many descriptor numbers its table has room for (``FDSize``)
    page_tables: int  # the bytes of its page tables (``VmPTE``)


def _status(pid: int) -> _Status:
    """Process ``pid``'s ``_Status``; 0 for what is unreadable. Its page tables are charged to its
    memory cgroup (the enclosing one, here) and are in no Pss: a mapping's first touch, even
    of the shared zero page, makes a page-table page, and one 1 GB from the last a page-middle
    one too; four processes of 13,000 such one-page mappings held 416 MB so (round 26 r26s-1).
    The kernel's own figure, not a guess per mapping: a process's threads share it."""
    fds = tables = 0
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"FDSize:"):
                    fds = int(line.split()[1])
                elif line.startswith(b"VmPTE:"):
                    tables = int(line.split()[1]) * _KB
    except (OSError, ValueError, IndexError):
        pass
    return _Status(fds, tables)


def _unread(fd: int) -> int:
    """The bytes written to pipe ``fd`` and not read yet (FIONREAD); 0 if it cannot say."""
    buf = bytearray(4)
    try:
        fcntl.ioctl(fd, termios.FIONREAD, buf)
    except OSError:
        return 0
    return int.from_bytes(buf, "little", signed=True)


class _Epolls:
    """The epoll instances a walk has counted, each once: every process that holds one (a fork
    shares its parent's) shows the same watches. All epolls share one inode, so an instance is
    known by ``kcmp`` (the kernel's own comparison of two open files, an order of them too)
    among those counted before at the same descriptor number (a fork's copy keeps it), kept in
    that order: a few comparisons each. (Compared with each one before, the epolls of 64
    processes took ~32 comparisons each, and 256 processes of 900 epolls each a look of ~70 s,
    round 30.)"""

    def __init__(self) -> None:
        self.counted: dict[int, list[tuple[int, int]]] = {}

    def first(self, pid: int, target: int) -> bool:
        """Whether process ``pid``'s descriptor ``target``, an epoll, is one not counted yet (and
        now is)."""
        same = self.counted.setdefault(target, [])
        lo, hi = 0, len(same)
        while lo < hi and _NR_KCMP is not None:
            mid = (lo + hi) // 2
            other_pid, other = same[mid]
            order = _libc.syscall(_NR_KCMP, pid, other_pid, _KCMP_FILE, target, other)
            if order == 0:
                return False
            if order == 1:  # (ours first)
                hi = mid
            elif order == 2:
                lo = mid + 1
            elif _libc.syscall(_NR_KCMP, pid, pid, _KCMP_FILE, target, target) != 0:
                return True  # ours gone as it was looked at: counted, not kept
            else:  # the other's process gone: no order of it, and no need of one
                del same[mid]
                hi -= 1
        same.insert(lo, (pid, target))
        return True


def _is_epoll(fd: int) -> bool:
    """Whether the anonymous inode's file at this process's ``fd`` is an epoll."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:[eventpoll]"
    except OSError:
        return False


def _watches(fd: int) -> int | None:
    """How many watches the epoll open at this process's ``fd`` has (its fdinfo's ``tfd:``
    lines), or None where it cannot be read."""
    watches, tail = 0, b""
    try:
        with open(f"/proc/self/fdinfo/{fd}", "rb", buffering=0) as f:
            while chunk := f.read(1 << 20):
                # (a line cut between two chunks: its ``tfd:`` counted with the tail before it)
                watches += (tail + chunk).count(b"tfd:")
                tail = chunk[-3:]
    except OSError:
        return None
    return watches


class Descriptors(NamedTuple):
    """What a process's open descriptors hold in kernel memory, in bytes."""

    pipes: int  # its pipes' and epolls' own objects and what the pipes hold
    files: int  # an open file each descriptor, and its sockets' own objects


def _descriptors_held(
    pid: int,
    fd_table_size: int,
    seen: set[tuple[int, int]],
    budget: list[int],
    epolls: _Epolls | None = None,
    peek: bytearray | None = None,
) -> Descriptors:
    """What process ``pid``'s open descriptors hold: each an open file (``_OPEN_FILE``: a
    descriptor of any kind, every kind of object a process may open counted so, round 28
    r28s-6); each socket (once in ``seen``) its own objects (``_SOCKET_OBJECTS``); each pipe
    (anonymous or named, once in ``seen``) the pages of what is written and unread and its
    own kernel objects (``_PIPE_OBJECTS``), charged to the writer's and the maker's memory
    cgroup and mapped by no process; and its epolls (each once in ``epolls``) their watches
    (``_EPOLL_WATCH`` each) and their own objects (``_EPOLL_OBJECTS``), alike. A page holds at
    most a page of a pipe's bytes (no reference to another's page gets in: splice, vmsplice and
    tee are refused, huge pages off), so its bytes rounded up to pages are a lower bound of what
    each holds. A descriptor dup'd or inherited shares its open file: counted for each (a few
    hundred bytes a forked process). Each open file is looked at through a copy of its
    descriptor (``pidfd_getfd``: the sandbox's processes are ours to trace, their /proc/PID/fd a
    uid's of the sandbox's user namespace not ours to list). ``fd_table_size``: its table's room
    (``_Status``); ``budget``: the descriptors left to look at; ``peek``: the walk's one buffer
    for a message in flight (``_in_flight``; one of this call's own where None)."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return Descriptors(0, 0)
    pipes = files = 0
    peek = bytearray() if peek is None else peek
    try:
        for target in range(min(fd_table_size, budget[0])):
            budget[0] -= 1
            fd = int(_libc.syscall(_NR_PIDFD_GETFD, pidfd, target, 0))
            if fd < 0:  # no such descriptor, or the process gone
                continue
            try:
                held = _open_file_held(fd, (pid, target), seen, budget, epolls, peek)
            finally:
                os.close(fd)
            pipes, files = pipes + held.pipes, files + held.files
    finally:
        os.close(pidfd)
    return Descriptors(pipes, files)


def _open_file_held(
    fd: int,
    owner: tuple[int, int] | None,
    seen: set[tuple[int, int]],
    budget: list[int],
    epolls: _Epolls | None,
    peek: bytearray,
) -> Descriptors:
    """What the open file at this process's ``fd`` holds (``_descriptors_held``), the descriptor
    ``owner`` (a process and its number; None: one in flight, an epoll then counted each time, as
    one dup'd to another number is) has of it; an AF_UNIX socket's descriptors in flight with it
    (``_in_flight``), and theirs in turn: a socket at a time, a copy of each socket yet to be
    peeked kept (a chain of sockets each in the one before's queue, 600 deep, took a call each
    and ended the watch with a RecursionError)."""
    carriers: list[int] = []  # sockets with descriptors in flight, yet to be peeked (ours to close)
    try:
        pipes, files = _file_held(fd, owner, seen, epolls, carriers)
        while carriers:
            carrier = carriers.pop()
            try:
                for received in _in_flight(carrier, budget, peek):
                    try:
                        held = _file_held(received, None, seen, epolls, carriers)
                    finally:
                        os.close(received)
                    pipes, files = pipes + held.pipes, files + held.files
            finally:
                os.close(carrier)
    finally:
        for carrier in carriers:
            os.close(carrier)
    return Descriptors(pipes, files)


def _file_held(
    fd: int, owner: tuple[int, int] | None, seen: set[tuple[int, int]], epolls: _Epolls | None, carriers: list[int]
) -> Descriptors:
    """What the open file at this process's ``fd`` holds itself (``_open_file_held``); a socket
    whose queue holds descriptors in flight added to ``carriers`` (a copy of its descriptor)."""
    pipes, files = 0, _OPEN_FILE
    st = os.fstat(fd)
    first = (st.st_dev, st.st_ino) not in seen
    if stat.S_ISFIFO(st.st_mode) and first:
        seen.add((st.st_dev, st.st_ino))
        pipes += _PIPE_OBJECTS + -(-_unread(fd) // _PAGE) * _PAGE
    elif stat.S_ISSOCK(st.st_mode) and first:
        seen.add((st.st_dev, st.st_ino))
        files += _SOCKET_OBJECTS
        if _carries_descriptors(fd):
            with contextlib.suppress(OSError):  # (out of descriptors: its queue counts nothing)
                carriers.append(os.dup(fd))
    elif stat.S_IFMT(st.st_mode) == 0 and epolls is not None and _is_epoll(fd):  # (an anonymous inode's)
        # Its watches read once: a fork's copy is no other epoll (its fdinfo may be tens of MB).
        watches = _watches(fd) if owner is None or epolls.first(*owner) else None
        if watches is not None:
            pipes += _EPOLL_OBJECTS + watches * _EPOLL_WATCH
    return Descriptors(pipes, files)


# Descriptors in flight: an open file sent over an AF_UNIX socket (SCM_RIGHTS) and closed by its
# sender lives in the socket's queue, in no descriptor table, with all it holds (an epoll's
# watches: six epolls of ~1.3 M watches in flight held ~260 MB unseen, round 29 r29s-2). The class
# closed: whatever a descriptor holds, held by a message instead of a table. Each is counted as a
# descriptor of a table is, through a copy the kernel gives a reader that peeks (MSG_PEEK clones
# the files of a message), the queue walked message by message (SO_PEEK_OFF, set back after);
# a socket among them is walked alike (once: ``seen``). Only a socket whose fdinfo counts files
# in flight (``scm_fds``) is peeked. A message is peeked whole into this many bytes (a datagram
# is at most twice net.core.wmem_max: 416 kB by default).
_PEEK_BYTES = 1 << 22
_SO_PEEK_OFF = 42  # x86-64's and arm64's (asm-generic)
_FDS_A_MESSAGE = 253  # SCM_MAX_FD
_ONE_BYTE = ctypes.create_string_buffer(1)


def _carries_descriptors(fd: int) -> bool:
    """Whether AF_UNIX socket ``fd``'s queue holds descriptors in flight (its fdinfo's ``scm_fds``)."""
    # An empty queue (the most sockets) is known by one peek of a byte, EAGAIN: no fdinfo read.
    if _libc.recv(fd, _ONE_BYTE, 1, socket.MSG_PEEK | socket.MSG_DONTWAIT) < 0:
        return False
    try:
        with open(f"/proc/self/fdinfo/{fd}", "rb") as f:
            return any(line.startswith(b"scm_fds:") and line.split()[1:2] not in ([], [b"0"]) for line in f)
    except OSError:
        return False


def _in_flight(fd: int, budget: list[int], peek: bytearray) -> Iterator[int]:
    """The descriptors in flight in AF_UNIX socket ``fd``'s queue, each a copy of this process's
    to close; ``budget``: the descriptors left to look at (a message takes one); ``peek``: the
    buffer a message is peeked into, the walk's one (``_PEEK_BYTES`` made on first need): one a
    socket, 4 MB each level of a chain 300 deep took 1.2 GB (round 30 r30s-7)."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        return
    if len(peek) < _PEEK_BYTES:
        peek.extend(bytes(_PEEK_BYTES - len(peek)))
    try:
        was = sock.getsockopt(socket.SOL_SOCKET, _SO_PEEK_OFF)
        sock.setsockopt(socket.SOL_SOCKET, _SO_PEEK_OFF, 0)
        try:
            while budget[0] > 0:
                budget[0] -= 1
                try:
                    _, ancillary, _, _ = sock.recvmsg_into(
                        [peek],
                        socket.CMSG_SPACE(_FDS_A_MESSAGE * 4),
                        socket.MSG_PEEK | socket.MSG_DONTWAIT | socket.MSG_CMSG_CLOEXEC,
                    )
                except OSError:  # the queue's end (EAGAIN), or none to peek
                    break
                yield from _fds_of(ancillary)
        finally:
            sock.setsockopt(socket.SOL_SOCKET, _SO_PEEK_OFF, was)
    except OSError:
        pass
    finally:
        sock.detach()  # (``fd`` is the caller's to close)


def _fds_of(ancillary: list[tuple[int, int, bytes]]) -> list[int]:
    """The descriptors an SCM_RIGHTS message gave this process."""
    fds = array.array("i")
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    return list(fds)


# A line of /proc/PID/maps: its device (major:minor, hex) and inode (0: anonymous memory).
_MAPS_LINE = re.compile(rb"^\S+ \S+ \S+ (\S+) (\d+)", re.M)


def tmpfs_dev(dev: int) -> bytes:
    """Device number ``dev`` as /proc/PID/maps spells it."""
    return b"%02x:%02x" % (os.major(dev), os.minor(dev))


class Mappings(NamedTuple):
    """What a process's mappings hold, in bytes."""

    objects: int  # the kernel's objects of each (``_MAPPING_OBJECTS``, ``_OPEN_FILE``)
    of_own_tmpfs: int  # the pages of files of the sandbox's own tmpfs it maps (their Pss)


def _mappings_held(pid: int, own_devs: frozenset[bytes] = frozenset()) -> Mappings:
    """The kernel memory process ``pid``'s mappings hold as such (``_MAPPING_OBJECTS`` each: a
    line of /proc/PID/maps; ``_OPEN_FILE`` more each of a file), and the pages it maps of the
    tmpfs of devices ``own_devs`` (``tmpfs_dev``: counted by their tmpfs's use already, so
    not twice: their ``Pss`` in /proc/PID/smaps, read only where there is one), in bytes; 0 if
    unreadable."""
    try:
        with open(f"/proc/{pid}/maps", "rb", buffering=0) as f:
            text = f.read()  # (to its end)
    except OSError:
        return Mappings(0, 0)
    objects = of_own = 0
    for dev, inode in _MAPS_LINE.findall(text):
        objects += _MAPPING_OBJECTS if inode == b"0" else _MAPPING_OBJECTS + _OPEN_FILE
        of_own += dev in own_devs
    return Mappings(objects, _own_tmpfs_mapped(pid, own_devs) if of_own else 0)


def _own_tmpfs_mapped(pid: int, own_devs: frozenset[bytes]) -> int:
    """The ``Pss`` of process ``pid``'s mappings of files on devices ``own_devs``, in bytes: at
    least their tmpfs pages (a private mapping's copied pages are in it too); unreadable, more
    than the process maps (its whole ``Pss_Shmem`` is then taken for them)."""
    mapped, own = 0, False
    try:
        with open(f"/proc/{pid}/smaps", "rb") as f:
            for line in f:
                if line[:1] in b"0123456789abcdef" and b"-" in line.split(b" ", 1)[0]:  # a mapping's line
                    fields = line.split()
                    own = len(fields) > 3 and fields[3] in own_devs
                elif own and line.startswith(b"Pss:"):
                    mapped += int(line.split()[1]) * _KB
    except (OSError, ValueError, IndexError):
        return _UNKNOWN
    return mapped


_UNKNOWN = 1 << 62


class Held(NamedTuple):
    """What a sandbox's processes hold in memory, in bytes."""

    anon: int  # anonymous pages, each divided by the processes that map it
    shmem: int  # shared-memory pages alike, but those of files of its own tmpfs (counted there)
    pipes: int  # what its pipes and epolls hold (``_descriptors_held``)
    mappings: int  # what its mappings hold as such (``_mappings_held``)
    page_tables: int  # its page tables (``_Status``)
    files: int  # its descriptors' open files and sockets (``_descriptors_held``)


def sandbox_held(
    pid1: int,
    enough: int | None = None,
    own_devs: frozenset[bytes] = frozenset(),
    report: Callable[[Held], object] = lambda held: None,
) -> Held:
    """What the processes of the sandbox whose pid 1 is ``pid1`` (host numbering) hold in
    memory (``_held``, ``_descriptors_held``, ``_mappings_held`` and page tables of each), or a part of it
    past ``enough`` bytes (the rest not looked at). Pages of files on the tmpfs of devices
    ``own_devs`` (``tmpfs_dev``) are left out: their tmpfs's use counts them, mapped or not.
    Every process of its pid namespace descends from its pid 1 (an orphan is given to it).
    ``report`` is told the figures so far after each process. Its descriptors are looked at
    through copies taken into this process: ``sandbox_held_apart`` keeps them out of repo-agent's."""
    anon = shmem = pipes = mappings = page_tables = files = 0
    todo = [pid1]
    seen: set[int] = set()
    inodes: set[tuple[int, int]] = set()
    epolls = _Epolls()
    budget = [_MOST_FILES]
    peek = bytearray()
    while (
        todo
        and len(seen) < _MOST_TASKS
        and (enough is None or sum((anon, shmem, pipes, mappings, page_tables, files)) <= enough)
    ):
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        a, s = _held(pid)
        status = _status(pid)
        page_tables += status.page_tables
        descriptors = _descriptors_held(pid, status.fd_table_size, inodes, budget, epolls, peek)
        pipes, files = pipes + descriptors.pipes, files + descriptors.files
        maps = _mappings_held(pid, own_devs)
        # A file of its own tmpfs the process maps is in its Pss_Shmem and its tmpfs's use: once.
        anon, shmem, mappings = anon + a, shmem + s - min(s, maps.of_own_tmpfs), mappings + maps.objects
        todo.extend(_children(pid))
        report(Held(anon, shmem, pipes, mappings, page_tables, files))
    return Held(anon, shmem, pipes, mappings, page_tables, files)


# A look's deadline: its child is killed then, what it counted so far kept (five processes of
# 258,064 epoll watches each took more than 5 s a look on a busy machine: round 27 r27s-2). A
# look is cut at once when the watch stops: the sandbox is over, nothing more to count.
LOOK_S = 20.0
_AGAIN_S = 0.05


def sandbox_held_apart(
    pid1: int,
    enough: int | None = None,
    own_devs: frozenset[bytes] = frozenset(),
    stop: threading.Event | None = None,
) -> Held:
    """``sandbox_held`` walked in a child process of its own (agent/look_apart.py): the
    sandbox's descriptors, copied and peeked to be counted, are taken into that child, never
    into repo-agent's process (round 30 r30s-5, r30s-6, r30s-7); what the child counted by its
    deadline (``LOOK_S``), or ``stop``, or before it ended, is the figure (none: all 0). A child that reported
    nothing (not forked, or killed at once: a kill is counted before its victim's memory is
    freed, and the child's own pages are charged where the kill was) is tried again, ``LOOK_S``
    bounding them all."""
    end = time.monotonic() + LOOK_S
    figures = None
    while figures is None and (left := end - time.monotonic()) > 0 and not (stop is not None and stop.is_set()):
        figures = look_apart(lambda report: sandbox_held(pid1, enough, own_devs, report), left, stop)
        if figures is None:
            time.sleep(_AGAIN_S)
    return Held(*figures) if figures is not None and len(figures) == len(Held._fields) else Held(0, 0, 0, 0, 0, 0)


# The sandbox's own tmpfs mounts besides its workspace (agent/bwrap.py): their pages are charged
# to the enclosing cgroup, and a file written there and closed is mapped by no process (no Pss):
# 77 MB held so in /tmp and /dev/shm were unseen (round 27 r27s-1). Each is known by its size:
# a process that is no sandbox's (its pid reused) has the host's /tmp, whose use is not its.
_OWN_TMPFS = (("tmp", TMP_BYTES), ("dev/shm", SHM_BYTES))


# What a name on a tmpfs holds in kernel memory with no byte written: its inode (a 752-byte
# shmem_inode_cache object on x86-64 6.x) and its dentry (192), charged to the maker's memory
# cgroup and counted by ``statvfs`` as an inode, not a block; a name longer than a dentry's own
# room takes an allocation more, not counted. 131,000 empty files of 247-character names in the
# workspace, /tmp and /dev/shm held ~190 MB so, 0 bytes to ``statvfs`` (round 30 r30s-1).
_TMPFS_INODE = 944


def tmpfs_held(used: int, names: int) -> int:
    """What a tmpfs of ``used`` bytes and ``names`` inodes holds in memory: its pages and each
    name's own objects (``_TMPFS_INODE``)."""
    return used + names * _TMPFS_INODE


def own_tmpfs(pid1: int) -> list[tuple[int, int]]:
    """What the sandbox's own /tmp and /dev/shm hold (``tmpfs_held``: their bytes used and their
    names), and the device of each (``statvfs`` and ``stat`` through its pid 1's root, host
    numbering ``pid1``); one that cannot be read, or is not of the sandbox's size, is left out."""
    found = []
    for where, size in _OWN_TMPFS:
        try:
            st = os.statvfs(f"/proc/{pid1}/root/{where}")
            dev = os.stat(f"/proc/{pid1}/root/{where}").st_dev
        except OSError:
            continue
        if st.f_blocks * st.f_frsize == size:
            found.append((tmpfs_held((st.f_blocks - st.f_bfree) * st.f_frsize, st.f_files - st.f_ffree), dev))
    return found


def own_tmpfs_used(pid1: int) -> int:
    """What the sandbox's own /tmp and /dev/shm hold (``own_tmpfs``)."""
    return sum(used for used, _ in own_tmpfs(pid1))


class PartWatch:
    """Sees whether a sandbox held more than ``part`` bytes when an OOM kill was counted
    (``kills``: the kernel's count where the sandbox's kills show) while it ran; ``extra``:
    what it holds outside its processes (its workspace tmpfs's bytes and names, ``tmpfs_held``;
    its /tmp's and /dev/shm's are added, ``own_tmpfs``), and ``extra_dev`` that tmpfs's device (None: none); ``room``: the
    memory left under the enclosing limit (None: unknown). ``held`` is the most it was seen to
    hold past its part at a kill, or in the ``RECENT_S`` before it while less than a part was
    left (None: never past it)."""

    def __init__(
        self,
        part: int,
        kills: Callable[[], int],
        extra: Callable[[], int] = lambda: 0,
        extra_dev: Callable[[], int | None] = lambda: None,
        room: Callable[[], int | None] = lambda: None,
    ):
        self.part, self.kills, self.extra, self.extra_dev, self.room = part, kills, extra, extra_dev, room
        self.held: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, pid1: int, base: int | None = None, told: tuple[int, int] | None = None) -> None:
        """Watch the sandbox of pid 1 ``pid1`` (host numbering) until ``stop``; ``base``: the
        count of kills before the sandbox started (a kill since then is looked at at once);
        ``told``: where pid 1 says its command was killed, and where it is told the rest of
        the sandbox, which it keeps until then, has been looked at."""
        base = self.kills() if base is None else base
        self._thread = threading.Thread(target=self._watch, args=(pid1, base, told), daemon=True)
        self._thread.start()

    def look(self, pid1: int) -> None:
        """Measure the sandbox now; past its part, remember it."""
        self._judge(self.measure(pid1))

    def _judge(self, held: int) -> None:
        if held > self.part and (self.held is None or held > self.held):
            self.held = held

    def measure(self, pid1: int) -> int:
        """What the sandbox holds now, or the part of it past its part (a walk stops there)."""
        devs = set()
        try:
            extra = self.extra()
            dev = self.extra_dev()
            if dev is not None:
                devs.add(tmpfs_dev(dev))
        except OSError:  # the workspace tmpfs not there (yet, or any more): what it held is unknown
            extra = 0
        for used, dev in own_tmpfs(pid1):
            extra += used
            devs.add(tmpfs_dev(dev))
        # Walked only until it is seen past the part: the kill may come while it is walked. The
        # pages of its tmpfs's files are counted there, mapped or not (written and closed, a
        # file is mapped by no one), and only there; every other shared page (a shared
        # anonymous mapping's: round 28 r28s-1) in its processes' Pss.
        return extra + sum(sandbox_held_apart(pid1, self.part - extra, frozenset(devs), self._stop))

    def _full(self) -> bool:
        """Whether less than a part is left under the enclosing limit."""
        try:
            room = self.room()
        except OSError:
            return False
        return room is not None and room < self.part

    def _watch(self, pid1: int, base: int, told: tuple[int, int] | None) -> None:
        start = base
        seen, seen_at, looked_at = 0, -RECENT_S, -FULL_LOOK_S
        while True:
            count = self.kills()
            said = b""
            if told is not None and select.select([told[0]], [], [], 0)[0]:
                said = os.read(told[0], 1)
                told = told if said else None  # (pid 1 gone)
            if said == b"k" and told is not None:
                # Pid 1's command was killed: what the rest holds stays until it hears from us.
                # Looked at again even where its kill was counted and looked at already: the
                # command's children are given to pid 1 as it dies, a walk then missed them
                # (the OOM killer's count moves before its victim dies).
                if count != start:
                    base = count
                    self.look(pid1)
                with contextlib.suppress(OSError):
                    os.write(told[1], b"g")
            now = time.monotonic()
            if count != base:
                base = count
                self.look(pid1)
                if now - seen_at <= RECENT_S:  # past its part just before, the room nearly gone
                    self._judge(seen)
            elif now - looked_at >= FULL_LOOK_S and self._full():
                looked_at = now
                held = self.measure(pid1)
                if held > self.part:
                    seen, seen_at = held, now
            if self._stop.wait(POLL_S):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

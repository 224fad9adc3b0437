"""Round 6 attacks on the sandbox (a reviewer who did not build it). Each open finding is a
strict xfail: it fails today and must start passing once the sandbox is fixed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.security.conftest import AS_NOBODY, PROJECT

# Run by the interpreter of the chosen mode: one run of the task's tests (the agent's
# run_tests tool) on mini-bugs/fix_gcd, with the files of FILES written first. Prints JSON.
_RUNNER = r"""
import json, sys, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from agent.suites.loading import load_suite
from agent.workspace import Workspace
files = json.loads(sys.argv[2])
suite = load_suite("mini-bugs")
ws = Workspace.create(suite, suite.task("fix_gcd"), Path(tempfile.mkdtemp(dir=sys.argv[3])))
for rel, text in files.items():
    (ws.path / rel).write_text(text)
r = ws.run_tests()
found = {}
for name in ("held.txt",):
    p = ws.path / name
    found[name] = p.read_text() if p.is_file() else None
print(json.dumps({"passed": r.passed, "error": r.error, "summary": r.summary, "found": found, "output": r.output[-2000:]}))
"""


def run_in_mode(mode: str, runner: str, *args: str, timeout: float = 120) -> dict:
    """``python -c runner PROJECT args <a fresh directory>`` as root (``root``) or as the user
    nobody (``user``: ``AS_NOBODY``); the JSON of its last line."""
    if shutil.which("bwrap") is None or os.geteuid() != 0:
        pytest.fail("runs as root with bwrap (and as nobody through runuser)")
    tmp = Path(tempfile.mkdtemp(prefix="sbx6-"))  # pytest's tmp_path is root's alone
    try:
        tmp.chmod(0o777)
        argv = [sys.executable, "-c", runner, str(PROJECT), *args, str(tmp)]
        if mode == "user":
            argv = [*AS_NOBODY, *argv]
        env = {k: v for k, v in os.environ.items() if k not in ("REPO_AGENT_SANDBOX", "VIRTUAL_ENV")}
        cp = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=str(tmp), env=env)
    finally:
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
    assert cp.returncode == 0, cp.stderr[-3000:]
    return json.loads(cp.stdout.strip().splitlines()[-1])


def run_mode(mode: str, files: dict[str, str], timeout: float = 120) -> dict:
    """The tests of ``files`` run once in a real bwrap sandbox, as root or as nobody."""
    return run_in_mode(mode, _RUNNER, json.dumps(files), timeout=timeout)


MODES = ["root", "user"]

# sbx6-1: NOFILE (1024 a process) is the sandbox's bound on the machine's file table
# (fs.file-max), per the comment on NOFILE_LIMIT. A file mapped into memory stays open after
# its descriptor is closed: one process holds 65,530 (vm.max_map_count) with one descriptor,
# and 256 processes 16.7 M, over file-max (2.47 M on a 24 GB machine): ENFILE for every
# non-root process on the machine (the neighbours' sandboxes included).
# Why it stays open (round 22, Linux 6.18): the test asks for a bound on one process, and none
# holds. RLIMIT_NOFILE counts descriptors, not the files mappings keep. RLIMIT_AS sees 4 kB a
# held file (the 9,634 here are 38 MB, far under any honest test's limit); RLIMIT_DATA does not
# count read-only file mappings. vm.max_map_count is checked per process but is one value for
# the whole machine (not namespaced): lowering it to ~9,000 for the sandbox lowers it for the
# host's own programs (a JVM, Elasticsearch want 262,144). A seccomp filter sees one call's
# registers and keeps no count; refusing file-backed mmap breaks dlopen (every extension
# module). A memory cgroup does count each held file (its struct file and mapping are charged:
# ~400 B), which bounds a sandbox (its part / 400 B), not a process. What could hold: a
# SECCOMP_RET_USER_NOTIF supervisor counting a process's file mappings (a listener bwrap does
# not hand back; a round trip per file mmap, dozens per interpreter start), or a BPF LSM
# program on mmap_file refusing a sandbox task past N mappings (this kernel has CONFIG_BPF_LSM
# and bpf in CONFIG_LSM, but loading one needs root: nothing for a normal user). Neither built.
HOLD_FILES = r"""
import ctypes, os
def test_hold():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    with open("/tmp/f", "wb") as f:
        f.write(b"x" * 4096)
    file_max = int(open("/proc/sys/fs/file-max").read())
    held = 0
    while held * 256 <= file_max and held < 60000:
        fd = os.open("/tmp/f", os.O_RDONLY)
        at = libc.mmap(None, 4096, 1, 2, fd, 0)
        os.close(fd)
        if at in (None, ctypes.c_void_p(-1).value):
            break
        held += 1
    with open("held.txt", "w") as f:
        f.write("%d %d" % (held, file_max))
"""


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.xfail(
    strict=True,
    reason="open: sbx6-1 mmapped files outlive their descriptors: no per-process limit counts mappings"
    " (vm.max_map_count is machine-wide; RLIMIT_AS sees 4 kB a file; seccomp cannot count); only a memory"
    " cgroup (~400 B a file, a sandbox not a process) or a BPF LSM program (root only, not built) could",
)
def test_sbx6_1_open_files_past_nofile(mode):
    r = run_mode(mode, {"tests/test_hold.py": HOLD_FILES})
    held, file_max = map(int, r["found"]["held.txt"].split())
    # 256 processes (RLIMIT_NPROC) holding as many as one does must stay under the machine's table
    assert held * 256 < file_max, f"one process held {held} open files; 256 of them: over fs.file-max {file_max}"


# sbx6-2: epoll watches are counted per user (user_struct, keyed by the uid across user
# namespaces), like the inotify instances the seccomp filter denies for that reason. A
# normal user's sandbox shares its uid with the host and every neighbour: one process adds
# 1,024 descriptors x ~500 instances, 256 processes past fs.epoll.max_user_watches, and
# then every epoll_ctl(ADD) of that user fails with ENOSPC (the studio's asyncio loop, the
# neighbours' tests). No limit bounds it.
EPOLL_WATCHES = r"""
import os, select
def test_watch():
    r, w = os.pipe()
    fds = [r] + [os.dup(r) for _ in range(99)]
    most = int(open("/proc/sys/fs/epoll/max_user_watches").read())
    eps, n = [], 0
    try:
        while n * 256 <= most and len(eps) < 2000:
            ep = select.epoll()
            eps.append(ep)
            for f in fds:
                ep.register(f, select.EPOLLIN)
                n += 1
    except OSError:
        pass
    with open("held.txt", "w") as f:
        f.write("%d %d %d" % (n, most, os.getuid()))
"""


def test_sbx6_2_epoll_watches_per_user():
    """Fixed by a uid per sandbox (agent/subuid.py): the watches count against the sandbox's
    own kernel uid (a subordinate uid, mapped to itself: the uid seen inside is the host's),
    never against the user's (nobody, 65534) or a neighbour's, however many it adds."""
    r = run_mode("user", {"tests/test_watch.py": EPOLL_WATCHES})
    n, most, uid = map(int, r["found"]["held.txt"].split())
    assert uid != 65534 or n * 256 < most, f"one process added {n} epoll watches as the user; 256: over {most}"


# sbx6-3: loopback TCP buffers are charged to no memory cgroup (v1 accounts socket memory
# only under a kmem.tcp limit, which the sandbox's cgroup does not set), yet count in the
# kernel's one machine-wide TCP budget (net.ipv4.tcp_mem, shared by every network
# namespace). One sandboxed process with 4 MB socket buffers pins ~11 MB a connection:
# ~210 connections (of its 1,024 descriptors) reach tcp_mem's hard limit (2.25 GB on a 24 GB
# machine), past the sandbox's 4 GB memory limit's reach, and then no TCP socket on the
# machine (the host's model API calls, the studio, the neighbours' tests) can queue data.
TCP_HOLD = r"""
import socket, sys
want = 256 << 20
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(500)
held, conns = 0, []
chunk = b"x" * 65536
while held < want and len(conns) < 200:
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    c.connect(srv.getsockname())
    s, _ = srv.accept()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    c.setblocking(False)
    conns.append((c, s))
    try:
        while True:
            held += c.send(chunk)
    except BlockingIOError:
        pass
print("HELD", held)
"""


def _held_and_peak(tmp_path: Path, monkeypatch, hold: str) -> tuple[int, int]:
    """``hold`` (a script printing ``HELD <bytes>``) run as root in a real bwrap sandbox: what
    it held, and its memory cgroup's peak (read as the cgroup closes)."""
    from agent import cgroups, sandbox

    if shutil.which("bwrap") is None or os.geteuid() != 0:
        pytest.fail("runs as root with bwrap")
    peak: list[int] = []
    close = cgroups.SandboxCgroup.close

    def record_then_close(self):
        for d in self.dirs:
            if (d / "memory.max_usage_in_bytes").is_file():
                peak.append(int((d / "memory.max_usage_in_bytes").read_text()))
        close(self)

    monkeypatch.setattr(cgroups.SandboxCgroup, "close", record_then_close)
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "hold.py").write_text(hold)
    run = sandbox.run_command_full([sys.executable, "hold.py"], ws, timeout_s=60, sandbox="bwrap")
    held = int(run.output.split("HELD")[1].split()[0]) if "HELD" in run.output else 0
    if not peak:
        pytest.fail("no memory cgroup here: nothing bounds the sandbox's memory at all")
    return held, peak[0]


def test_sbx6_3_tcp_buffers_outside_memory_cgroup(tmp_path, monkeypatch):
    held, peak = _held_and_peak(tmp_path, monkeypatch, TCP_HOLD)
    # Either loopback TCP cannot pin this much, or what it pins counts against the sandbox's limit.
    assert held < 64 << 20 or peak >= held, f"{held >> 20} MB held in TCP buffers, memory cgroup peak {peak >> 20} MB"


# sbx6-4: what a run leaves behind hangs the host. ``Workspace.drop_unrecorded`` (called
# two or three times by every final verdict) asks ``name in dirnames`` (a list) for each
# entry of a directory: quadratic. The 100,000 empty directories a root-mode run may leave
# in the workspace root (within the copy-back's cap) cost ~330 s of host CPU a call (20,000:
# 13 s); a normal user's run, with no cap, leaves as many as the disk holds: hours. Seen
# end to end: a run that made 99,990 directories, then final_test_run, still busy at 370 s.
MANY_DIRS = r"""
import os
def test_leave():
    for i in range(3000):
        os.mkdir("m%d" % i)
"""


class _CountingList(list):
    """A directory listing that counts the elements membership tests on it look at."""

    looked = 0

    def __contains__(self, item):
        _CountingList.looked += len(self)
        return list.__contains__(self, item)


def _counting_walk(top):
    """agent/tree_walk.py's ``walk`` with each directory's subdirectories a ``_CountingList``
    (what the caller prunes from it is pruned from the walk)."""
    from agent.tree_walk import walk

    for dirpath, dirnames, filenames in walk(top):
        listing = _CountingList(dirnames)
        yield dirpath, listing, filenames
        dirnames[:] = listing


def test_sbx6_4_many_directories_hang_the_host(tmp_path, monkeypatch):
    from agent import workspace as workspace_module
    from agent.suites.loading import load_suite
    from agent.workspace import Workspace

    if shutil.which("bwrap") is None or os.geteuid() != 0:
        pytest.fail("runs as root with bwrap")
    suite = load_suite("mini-bugs")
    ws = Workspace.create(suite, suite.task("fix_gcd"), tmp_path, sandbox="bwrap")
    (ws.path / "tests" / "test_leave.py").write_text(MANY_DIRS)
    ws.run_tests()  # the sandbox's run leaves 3,000 directories (the cap allows 100,000)
    assert sum(1 for e in os.scandir(ws.path) if e.name.startswith("m")) == 3000

    monkeypatch.setattr(workspace_module, "walk", _counting_walk)
    _CountingList.looked = 0
    ws.drop_unrecorded()
    # Linear work is a few looks an entry; today each entry scans the whole listing (n*n/2).
    assert _CountingList.looked <= 50 * 3000, f"{_CountingList.looked} list elements compared for 3,000 entries"


def test_sbx6_4_many_directories_in_the_tests_do_not_hang_putting_them_back(tmp_path, monkeypatch):
    """sbx6-4's quadratic listing in ``Workspace.put_back`` (the final verdict's, for the
    test directories of a task that holds tests back): 600 directories the run left in
    ``tests/`` are removed with a few looks an entry, not n*n/2."""
    from agent import workspace as workspace_module
    from agent.suites.loading import load_suite
    from agent.workspace import Workspace

    suite = load_suite("mini-bugs")
    ws = Workspace.create(suite, suite.task("fix_gcd"), tmp_path)
    for i in range(600):
        (ws.path / "tests" / f"m{i}").mkdir()

    monkeypatch.setattr(workspace_module, "walk", _counting_walk)
    _CountingList.looked = 0
    done = ws.put_back(["tests"])
    assert len(done) == 600 and not any(e.name.startswith("m") for e in os.scandir(ws.path / "tests"))
    assert _CountingList.looked <= 50 * 600, f"{_CountingList.looked} list elements compared for 600 entries"


# sbx6-5: the rollout's own entries make its final verdict an infrastructure error. The
# copy-back keeps a workspace within WORKSPACE_INODES entries, directories included, and
# the tmpfs of the next run holds a 16th more; final_test_run checks the workspace's bytes
# against the cap (a FAIL) but not its entries. The agent's write_file makes every missing
# parent directory (900 a call: deeper, pathlib's mkdir recurses too far), so a run that
# leaves 99,900 directories and 8 write_file calls give "SandboxError: cannot prepare the
# sandbox's workspace: No space left on device" out of final_test_run (seen at full scale:
# 180 s). Here at a 50th of the scale (the caps lowered, the same code).
FEW_DIRS = r"""
import os
def test_leave():
    for i in range(1990):
        os.mkdir("m%d" % i)
"""


def test_sbx6_5_entries_make_the_verdict_not_judged(tmp_path, monkeypatch):
    from agent import final_verdict, sandbox
    from agent.final_verdict import final_test_run
    from agent.sandbox import SandboxError
    from agent.suites.loading import load_suite
    from agent.toolbox import ToolBox
    from agent.workspace import Workspace

    if shutil.which("bwrap") is None or os.geteuid() != 0:
        pytest.fail("runs as root with bwrap")
    for module in (sandbox, final_verdict):
        monkeypatch.setattr(module, "WORKSPACE_INODES", 2000, raising=False)
    suite = load_suite("mini-bugs")
    ws = Workspace.create(suite, suite.task("fix_gcd"), tmp_path, sandbox="bwrap")
    tools = ToolBox(ws)
    fix = "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a\n"
    assert tools.call("write_file", json.dumps({"rel_path": "gcd.py", "content": fix})).ok
    assert tools.call("write_file", json.dumps({"rel_path": "tests/test_leave.py", "content": FEW_DIRS})).ok
    assert tools.call("run_tests", "{}").ok  # the copy-back keeps 2,000 entries
    for i in range(2):
        deep = {"rel_path": f"d{i}/" + "a/" * 100 + "f.txt", "content": "x"}
        assert tools.call("write_file", json.dumps(deep)).ok
    try:
        result, _ = final_test_run(ws)
    except SandboxError as exc:
        pytest.fail(f"the rollout's own entries ended its verdict as an infrastructure error: {exc}")
    assert result.summary  # judged (a pass or a fail), as the over-the-cap bytes are


# sbx6-6: descriptors in flight in AF_UNIX sockets (sent with SCM_RIGHTS, never received)
# are counted per user (user_struct.unix_inflight, the uid across user namespaces), and a
# sender over its own RLIMIT_NOFILE gets ETOOMANYREFS. A normal user's sandbox sends ~1,200
# and keeps them in flight: for as long as it runs, no process of that user with the usual
# soft limit of 1,024 (the host, every neighbour's tests: multiprocessing's forkserver,
# anything passing a descriptor) can pass one.
IN_FLIGHT = r"""
import array, os, socket, time
def test_in_flight():
    a, b = socket.socketpair()
    fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(200)]
    sent = 0
    try:
        while sent < 5000:
            a.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
            sent += len(fds)
    except OSError:
        pass
    with open("marker", "w") as f:
        f.write(str(sent))
    # Held until the host has tried (its "probed" file), within the task's 10 s per-test limit.
    deadline = time.monotonic() + 8
    while not os.path.exists("probed") and time.monotonic() < deadline:
        time.sleep(0.02)
"""

_PROBE_RUNNER = r"""
import array, json, os, resource, socket, sys, tempfile, threading, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from agent.suites.loading import load_suite
from agent.workspace import Workspace
suite = load_suite("mini-bugs")
ws = Workspace.create(suite, suite.task("fix_gcd"), Path(tempfile.mkdtemp(dir=sys.argv[3])))
(ws.path / "tests" / "test_in_flight.py").write_text(sys.argv[2])
resource.setrlimit(resource.RLIMIT_NOFILE, (1024, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
out = {}
def probe():
    deadline = time.monotonic() + 60
    while not (ws.path / "marker").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    a, b = socket.socketpair()
    fd = os.open("/dev/null", os.O_RDONLY)
    try:
        a.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])
        out["host"] = "sent"
    except OSError as exc:
        out["host"] = str(exc)
    (ws.path / "probed").write_text("")
t = threading.Thread(target=probe, daemon=True)
t.start()
ws.run_tests()
t.join(5)
print(json.dumps(out))
"""


def test_sbx6_6_in_flight_descriptors_per_user():
    host = run_in_mode("user", _PROBE_RUNNER, IN_FLIGHT).get("host")
    assert host == "sent", f"the host (same user, outside the sandbox) could not pass a descriptor: {host}"


# sbx6-7: a wrong fix's own tampering ends as "not judged". The verdict reader resolves the
# protected test files with os.path.realpath (pytest_report.judge: trusted_code_files), and
# Python 3.11's realpath recurses once per link of a chain: the rollout's gcd.py, imported
# by the final run's tests, replaces tests/test_gcd.py with a chain of 1,500 links (the
# kernel's limit of 40 is never asked), and RecursionError leaves final_test_run; the loop
# records it as an infrastructure failure ("final test run: RecursionError"), not judged.
CHAINED_FIX = r"""
import os

def gcd(a, b):
    return 1  # wrong

def _chain():
    tests = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tests")
    if os.path.lexists(os.path.join(tests, "c0")):
        return
    for i in range(1500):
        os.symlink("c%d" % (i + 1), os.path.join(tests, "c%d" % i))
    with open(os.path.join(tests, "c1500"), "w") as f:
        f.write("")
    os.replace(os.path.join(tests, "c0"), os.path.join(tests, "test_gcd.py"))

_chain()
"""

_FINAL_RUNNER = r"""
import json, sys, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from agent.final_verdict import final_test_run
from agent.suites.loading import load_suite
from agent.workspace import Workspace
suite = load_suite("mini-bugs")
ws = Workspace.create(suite, suite.task("fix_gcd"), Path(tempfile.mkdtemp(dir=sys.argv[3])))
for rel, text in json.loads(sys.argv[2]).items():
    (ws.path / rel).write_text(text)
try:
    result, tampered = final_test_run(ws)
    out = {"passed": result.passed, "tampered": tampered, "tamper": result.tamper, "error": result.error}
except Exception as exc:
    out = {"raised": f"{type(exc).__name__}: {exc}"[:300]}
print(json.dumps(out))
"""


def final_in_mode(mode: str, files: dict[str, str]) -> dict:
    """final_test_run on mini-bugs/fix_gcd with ``files`` written, as root or as nobody."""
    return run_in_mode(mode, _FINAL_RUNNER, json.dumps(files))


@pytest.mark.parametrize("mode", MODES)
def test_sbx6_7_link_chain_makes_a_wrong_fix_not_judged(mode):
    out = final_in_mode(mode, {"gcd.py": CHAINED_FIX})
    assert "raised" not in out, f"the final verdict raised (the loop: not judged): {out['raised']}"
    assert not out["passed"]


# sbx6-8: netlink replies nobody reads are kernel memory charged to no memory cgroup, and,
# unlike TCP's (sbx6-3), no machine-wide budget caps them: a socket queues up to twice its
# SO_RCVBUF (net.core.rmem_max, 4 MB here: 8 MB), so one process with its 1,024 descriptors
# pins ~8 GB and 256 processes far more than the machine has; the kernel's OOM killer then
# picks from the whole machine (the host, the neighbours). RLIMIT_AS (a normal user's only
# bound) does not count it either. Here: 128 MB in ~40 sockets of one process, its memory
# cgroup's peak ~9 MB.
NETLINK_HOLD = r"""
import socket, struct
want = 128 << 20
dump = struct.pack("=LHHLL", 32, 18, 0x301, 1, 0) + bytes(16)  # RTM_GETLINK, a dump
def queued():
    return sum(int(line.split()[4]) for line in open("/proc/net/netlink").read().splitlines()[1:])
socks = []
while queued() < want and len(socks) < 200:
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((0, 0))
    socks.append(s)
    for _ in range(4000):
        s.send(dump)
print("HELD", queued())
"""


def test_sbx6_8_netlink_buffers_outside_memory_cgroup(tmp_path, monkeypatch):
    held, peak = _held_and_peak(tmp_path, monkeypatch, NETLINK_HOLD)
    assert held < 32 << 20 or peak >= held, (
        f"{held >> 20} MB queued on netlink sockets, memory cgroup peak {peak >> 20} MB"
    )


# sbx6-9: the verdict reader resolves the file of every ``hook`` / ``test_code`` record with
# os.path.realpath, which reads each link of a chain itself (the kernel's 40-link limit is
# never asked). Code under test can write records (the plugin's docstring says so) and make
# links: 900 links (under sbx6-7's recursion limit) and one 83-byte record cost the host
# ~11 ms (the GIL held), 8 MB of them (~110,000 records) ~20 minutes of the host's CPU for
# one run, every rollout of the process stalled. Counted here: links read per record.
RECORD_FLOOD = r"""
import os
def test_flood():
    os.mkdir("ch")
    for i in range(900):
        os.symlink("c%d" % (i + 1), "ch/c%d" % i)
    open("ch/c900", "w").close()
    pipes = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if int(name) > 2 and os.readlink("/proc/self/fd/" + name).startswith("pipe:"):
                flags = int(open("/proc/self/fdinfo/" + name).read().split("flags:")[1].split()[0], 8)
                if flags & 3 == 1:
                    pipes.append(int(name))
        except OSError:
            pass
    rec = ('{"k":"hook","hook":"pytest_runtest_call","file":"%s/ch/c0"}\n' % os.getcwd()).encode()
    for _ in range(100):
        for fd in pipes:
            os.write(fd, rec)
"""


def test_sbx6_9_records_through_link_chains_burn_host_cpu(tmp_path, monkeypatch):
    from agent.suites.loading import load_suite
    from agent.workspace import Workspace

    if shutil.which("bwrap") is None or os.geteuid() != 0:
        pytest.fail("runs as root with bwrap")
    suite = load_suite("mini-bugs")
    ws = Workspace.create(suite, suite.task("fix_gcd"), tmp_path, sandbox="bwrap")
    (ws.path / "tests" / "test_flood.py").write_text(RECORD_FLOOD)
    read = [0]
    readlink = os.readlink

    def counting_readlink(*args, **kwargs):
        read[0] += 1
        return readlink(*args, **kwargs)

    monkeypatch.setattr(os, "readlink", counting_readlink)
    result = ws.run_tests()
    # The records were read, or (sealed records, agent/verdict_seal.py) refused unread as unsealed.
    assert any("ch/c0" in t or "did not seal" in t for t in result.tamper), result.tamper
    # The copy-back reads each link once (901); 100 records may not cost 900 reads each.
    assert read[0] < 10_000, f"the host read {read[0]} links for 100 records"

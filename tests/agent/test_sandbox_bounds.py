"""The sandbox's bounds an honest test must live with, and the ones code under test may not
lift (round 16: the OOM killer's choice, thread limits). Real bwrap, real cgroups."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from agent.scoring import run_tests
from agent.suites.models import Task
from tests.security.test_sandbox_attacks_round8 import run_command_as

# Tries to make itself and pid 1 less likely OOM victims than repo-agent (sbx9-12).
OOM_RESET = r"""
for p in ("/proc/self/oom_score_adj", "/proc/1/oom_score_adj"):
    try:
        open(p, "w").write("0")
        print("LOWERED", p)
    except OSError as e:
        print("REFUSED", p, e.errno)
print("NOW", open("/proc/self/oom_score_adj").read().strip(), open("/proc/1/oom_score_adj").read().strip())
"""


@pytest.mark.parametrize("mode", ["root", "user"])
def test_tests_stay_the_oom_killers_first_choice(mode):
    out = run_command_as(mode, OOM_RESET)["output"]
    assert "LOWERED" not in out and out.count("REFUSED") == 2, out
    assert "NOW 1000 1000" in out, out


# What holds pages outside RLIMIT_AS (r19s-1, r19s-2): an honest SysV shared memory segment
# (made, attached, written, read back, removed), vmsplice, SO_ZEROCOPY, and whether transparent
# huge pages are on (and can be turned back on).
MEMORY_HOLDERS = r"""
import ctypes, os, socket
c = ctypes.CDLL(None, use_errno=True)
c.shmat.restype = ctypes.c_void_p
c.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
c.shmdt.argtypes = [ctypes.c_void_p]
sid = c.shmget(0, 1 << 20, 0o1600)
if sid < 0:
    print("SHM REFUSED", ctypes.get_errno())
else:
    addr = c.shmat(sid, None, 0)
    ctypes.memset(addr, 7, 1 << 20)
    print("SHM READ", ctypes.c_char.from_address(addr + (1 << 20) - 1).value[0])
    c.shmdt(ctypes.c_void_p(addr))
    c.shmctl(sid, 0, None)  # IPC_RMID
r, w = os.pipe()
buf = ctypes.create_string_buffer(b"x" * 16)
iov = (ctypes.c_void_p * 2)(ctypes.addressof(buf), 16)
print("VMSPLICE", c.vmsplice(w, iov, 1, 0), ctypes.get_errno())
f = os.open("/proc/self/exe", os.O_RDONLY)
print("SPLICE", c.splice(f, None, w, None, 16, 0), ctypes.get_errno(), "SENDFILE", c.sendfile(w, f, None, 16), ctypes.get_errno())
import resource
print("MEMLOCK", resource.getrlimit(resource.RLIMIT_MEMLOCK)[1])
try:
    socket.socket().setsockopt(socket.SOL_SOCKET, 60, 1)  # SO_ZEROCOPY
    print("ZEROCOPY on")
except OSError as e:
    print("ZEROCOPY", e.errno)
print("THP", c.prctl(42, 0, 0, 0, 0), "CLEAR", c.prctl(41, 0, 0, 0, 0), ctypes.get_errno())
open("f", "w").close()  # setxattrat (Linux 6.13), the later spelling of setxattr: a tmpfs's xattrs are memory too
args = (ctypes.c_uint64 * 2)(ctypes.addressof(buf), 16)
print("SETXATTRAT", c.syscall(463, -100, b"f", 0, b"user.x", args, 16), ctypes.get_errno())
"""


def test_what_holds_pages_outside_rlimit_as_works_only_where_a_memory_cgroup_charges_it():
    """r19s-1, r19s-2, r19s-7: a detached SysV segment is mapped nowhere and outlives its maker;
    a pipe or a zero-copy send keeps a whole page for a reference to a piece of it (a huge page
    of the tests', a host file's page cache). Root's sandbox has a memory cgroup that charges
    SysV pages: it works there, a normal user's refuses it (ENOSYS: as a kernel without it), with
    huge pages off for good. Both refuse pages by reference (ENOSYS, ENOPROTOOPT), and lock 64 kB."""
    refs = ("VMSPLICE -1 38", "SPLICE -1 38 SENDFILE -1 38", "ZEROCOPY 92", f"MEMLOCK {64 * 1024}")
    out = run_command_as("root", MEMORY_HOLDERS)["output"]
    for line in ("SHM READ 7", *refs):
        assert line in out, out
    assert "THP 0 CLEAR 0" in out, out  # as the host has them; nothing to undo
    assert "SETXATTRAT -1 95" in out or "SETXATTRAT -1 38" in out, out  # EOPNOTSUPP (ENOSYS: before 6.13)
    out = run_command_as("user", MEMORY_HOLDERS)["output"]
    for line in ("SHM REFUSED 38", *refs, "THP 1 CLEAR -1 1"):
        assert line in out, out
    assert "SETXATTRAT -1 95" in out or "SETXATTRAT -1 38" in out, out


# An honest test that starts 200 threads (a thread-per-connection server's test, a pool):
# under RLIMIT_AS 2 GB the 130th failed "can't start new thread" (8 MB stack and a 64 MB
# malloc arena reserved per thread) in a root sandbox whose memory cgroup caps its memory.
THREADS_TEST = """
import threading


def test_many_threads():
    gate = threading.Event()
    threads = [threading.Thread(target=gate.wait) for _ in range(200)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
"""


def test_an_honest_test_starting_200_threads_passes_in_a_root_sandbox(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("runs as root (the sandbox's own memory cgroup)")
    if not Path("/sys/fs/cgroup/memory/cgroup.procs").is_file():
        pytest.fail("needs a cgroup v1 memory hierarchy")
    ws = tmp_path / "ws"
    (ws / "tests").mkdir(parents=True)
    (ws / "tests" / "test_threads.py").write_text(THREADS_TEST)
    task = Task(
        id="t",
        source={"kind": "dir", "path": "."},
        goal="g",
        test_command=f"{sys.executable} -m pytest -q tests",
        timeout_s=60.0,
    )
    r = run_tests(ws, task, sandbox="bwrap")
    assert r.passed, r.output[-1500:]

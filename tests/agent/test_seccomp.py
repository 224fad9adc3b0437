"""agent/seccomp.py: the sandbox's whole-filesystem syncs are done as nothing (the host's disks are not the tests'
to flush); a sync of one file reaches the kernel (its errors are the tests' to see); no BPF program is loaded (the
machine's JIT budget is not the tests' to take); no process is told of another's access to a file (dnotify, leases,
cachestat: round 27 r27s-3), while fcntl's honest commands work."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.sandbox import run_command
from agent.seccomp import filter_program

# Each sync call on a descriptor that is none: the kernel answers EBADF, so a call that reaches
# it shows; one the filter answers returns 0 without being made. sync() itself cannot fail.
_SYNCS = r"""
import ctypes, json, os
libc = ctypes.CDLL(None, use_errno=True)
got = {}
for name, args in (("syncfs", (-1,)), ("fsync", (-1,)), ("fdatasync", (-1,)), ("sync_file_range", (-1, 0, 0, 0))):
    ctypes.set_errno(0)
    got[name] = [getattr(libc, name)(*args), ctypes.get_errno()]
fd = os.open(os.__file__, os.O_RDONLY)  # a file of a read-only bind of the host's (the stdlib)
ctypes.set_errno(0)
got["fsync_read_only"] = [libc.fsync(fd), ctypes.get_errno()]
print("SYNCS " + json.dumps(got))
"""


def _printed(out: str, tag: str) -> Any:
    """The JSON a probe printed last after ``tag``."""
    lines = [line for line in out.splitlines() if line.startswith(tag + " ")]
    assert lines, out
    return json.loads(lines[-1].removeprefix(tag + " "))


def _syncs(out: str) -> dict[str, list[int]]:
    return _printed(out, "SYNCS")


def _filter_loaded(memory_cgroup: bool) -> str:
    """Python that loads the filter of a sandbox with (or without) a memory cgroup of its own
    into its process, as bwrap loads it, before what follows it runs."""
    prog = filter_program(memory_cgroup=memory_cgroup)
    assert prog is not None
    return (
        "import ctypes, struct\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        f"own = ctypes.create_string_buffer({prog!r}, {len(prog)})\n"
        "libc.prctl(38, 1, 0, 0, 0)\n"
        f"assert libc.prctl(22, 2, struct.pack('HL', {len(prog) // 8}, ctypes.addressof(own)), 0, 0) == 0\n"
    )


def _in_the_sandbox(tmp_path: Path, script: str) -> str:
    """What ``script`` printed, run in a sandbox (which it must end with 0)."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "probe.py").write_text(script)
    code, out, _, _ = run_command([sys.executable, "probe.py"], ws, timeout_s=30, sandbox="bwrap")
    assert code == 0, out
    return out


def test_control_the_syncs_reach_the_kernel_outside_the_sandbox():
    out = subprocess.run([sys.executable, "-c", _SYNCS], capture_output=True, text=True, timeout=60).stdout
    got = _syncs(out)
    assert all(got[name] == [-1, 9] for name in ("syncfs", "fsync", "fdatasync", "sync_file_range")), got  # EBADF


def test_the_sandbox_syncs_no_filesystem_of_the_host(tmp_path):
    got = _syncs(_in_the_sandbox(tmp_path, _SYNCS))
    assert got["syncfs"] == [0, 0], got  # answered, never made
    # One file's syncs are made: the kernel's EBADF (round 25 r25s-6), a read-only file's 0.
    assert all(got[name] == [-1, 9] for name in ("fsync", "fdatasync", "sync_file_range")), got
    assert got["fsync_read_only"] == [0, 0], got


# Every way code has to load a BPF program (round 26 r26s-2, r26s-3: the machine's one JIT
# budget), each with an accept-all program, and two neighbours honest code uses: errno 0 where
# the call was made. SO_ATTACH_BPF and SO_ATTACH_REUSEPORT_EBPF name no program (-1): the
# kernel's answer is EBADF, the filter's EPERM.
_BPF_LOADS = r"""
import ctypes, json, socket, struct
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS, as in the sandbox: a filter may then be loaded
accept = struct.pack("<HBBI", 0x06, 0, 0, 0x7FFF0000)  # ret ALLOW (as a socket filter: accept)
program = ctypes.create_string_buffer(accept, len(accept))
fprog = struct.pack("HL", 1, ctypes.addressof(program))
got = {}

def errno_of(call):
    ctypes.set_errno(0)
    try:
        return 0 if call() >= 0 else ctypes.get_errno()
    except OSError as e:
        return e.errno

got["seccomp"] = errno_of(lambda: libc.syscall(317, 1, 0, fprog))  # SECCOMP_SET_MODE_FILTER
got["prctl_seccomp"] = errno_of(lambda: libc.prctl(22, 2, fprog, 0, 0))  # PR_SET_SECCOMP, MODE_FILTER
unix = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # a reuseport group's program needs it
got["attach_filter"] = errno_of(lambda: unix.setsockopt(socket.SOL_SOCKET, 26, fprog) or 0)
got["attach_bpf"] = errno_of(lambda: unix.setsockopt(socket.SOL_SOCKET, 50, struct.pack("i", -1)) or 0)
got["attach_reuseport_cbpf"] = errno_of(lambda: tcp.setsockopt(socket.SOL_SOCKET, 51, fprog) or 0)
got["attach_reuseport_ebpf"] = errno_of(lambda: tcp.setsockopt(socket.SOL_SOCKET, 52, struct.pack("i", -1)) or 0)
got["reuseaddr"] = errno_of(lambda: tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1) or 0)
got["prctl_name"] = errno_of(lambda: libc.prctl(15, b"honest", 0, 0, 0))  # PR_SET_NAME
print("LOADS " + json.dumps(got))
"""
_LOADED = {"attach_bpf": 9, "attach_reuseport_ebpf": 9, "reuseaddr": 0, "prctl_name": 0}  # EBADF: no program named
_REFUSED = {"seccomp": 22, "prctl_seccomp": 22, "attach_filter": 1, "attach_bpf": 1}  # EINVAL, EPERM
_REFUSED |= {"attach_reuseport_cbpf": 1, "attach_reuseport_ebpf": 1, "reuseaddr": 0, "prctl_name": 0}


def _loads(out: str) -> dict[str, int]:
    return _printed(out, "LOADS")


def test_control_bpf_programs_load_outside_the_sandbox():
    out = subprocess.run([sys.executable, "-c", _BPF_LOADS], capture_output=True, text=True, timeout=60).stdout
    assert _loads(out) == {"seccomp": 0, "prctl_seccomp": 0, "attach_filter": 0, "attach_reuseport_cbpf": 0} | _LOADED


@pytest.mark.parametrize("memory_cgroup", [True, False])
def test_the_filter_refuses_every_bpf_program(memory_cgroup):
    """The filter of each kind of sandbox (with and without a memory cgroup of its own: their
    prctl rules differ), loaded here as bwrap loads it, before the probe."""
    load = _filter_loaded(memory_cgroup)
    cp = subprocess.run([sys.executable, "-c", load + _BPF_LOADS], capture_output=True, text=True, timeout=60)
    assert _loads(cp.stdout) == _REFUSED, cp.stderr


def test_the_sandbox_loads_no_bpf_program(tmp_path):
    assert _loads(_in_the_sandbox(tmp_path, _BPF_LOADS)) == _REFUSED


# Each way to be told of another process's access to a file (round 27 r27s-3), on a directory and
# a file of the probe's own, and fcntl's honest commands beside them: errno 0 where the call was
# made. F_SETLEASE and F_NOTIFY: EINVAL from the filter; cachestat: ENOSYS.
_NOTICES = r"""
import ctypes, fcntl, json, os, signal, struct
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
os.makedirs("watched", exist_ok=True)
with open("held", "w") as f:
    f.write("x")
got = {}

def errno_of(call):
    try:
        call()
        return 0
    except OSError as e:
        return e.errno

signal.signal(signal.SIGIO, signal.SIG_IGN)
d = os.open("watched", os.O_RDONLY)
got["notify"] = errno_of(lambda: fcntl.fcntl(d, fcntl.F_NOTIFY, fcntl.DN_ACCESS | fcntl.DN_MULTISHOT))
fd = os.open("held", os.O_RDONLY)
got["setlease"] = errno_of(lambda: fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK))
got["getlease"] = errno_of(lambda: fcntl.fcntl(fd, fcntl.F_GETLEASE))
got["getfl"] = errno_of(lambda: fcntl.fcntl(fd, fcntl.F_GETFL))
got["setfd"] = errno_of(lambda: fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.FD_CLOEXEC))
got["dupfd"] = errno_of(lambda: os.close(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 0)))
got["lock"] = errno_of(lambda: fcntl.lockf(fd, fcntl.LOCK_SH))
span = ctypes.create_string_buffer(struct.pack("QQ", 0, 0))  # the whole file
stat = ctypes.create_string_buffer(40)
ctypes.set_errno(0)
got["cachestat"] = 0 if libc.syscall(451, fd, span, stat, 0) == 0 else ctypes.get_errno()
print("NOTICES " + json.dumps(got))
"""
_HONEST = {"getlease": 0, "getfl": 0, "setfd": 0, "dupfd": 0, "lock": 0}


def _notices(out: str) -> dict[str, int]:
    return _printed(out, "NOTICES")


def test_control_file_access_is_told_outside_the_sandbox(tmp_path):
    cp = subprocess.run([sys.executable, "-c", _NOTICES], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert _notices(cp.stdout) == {"notify": 0, "setlease": 0, "cachestat": 0} | _HONEST, cp.stderr


@pytest.mark.parametrize("memory_cgroup", [True, False])
def test_the_filter_tells_no_file_access(tmp_path, memory_cgroup):
    """The filter of each kind of sandbox, loaded here as bwrap loads it, before the probe."""
    load = _filter_loaded(memory_cgroup)
    cp = subprocess.run(
        [sys.executable, "-c", load + _NOTICES], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert _notices(cp.stdout) == {"notify": 22, "setlease": 22, "cachestat": 38} | _HONEST, cp.stderr


def test_the_sandbox_tells_no_file_access(tmp_path):
    assert _notices(_in_the_sandbox(tmp_path, _NOTICES)) == {"notify": 22, "setlease": 22, "cachestat": 38} | _HONEST


# Each way to drop a page of the page cache or ask whether one is cached without reading it
# (round 28 r28s-3, r28s-4), on a file of the probe's own (written, flushed: its pages clean and
# cached), and an honest preadv2 beside them. Whether a page is cached is asked with mincore of
# a mapping of it (the caller may write the file: the kernel says).
_PAGE_CACHE = r"""
import ctypes, json, mmap, os
libc = ctypes.CDLL(None, use_errno=True)
libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
got = {}

def written(name):
    with open(name, "wb") as f:
        f.write(b"x" * 4096)
        f.flush()
        os.fsync(f.fileno())
    return os.open(name, os.O_RDWR)

def cached(fd):
    m = mmap.mmap(fd, 4096)
    at = ctypes.c_char.from_buffer(m)
    vec = (ctypes.c_ubyte * 1)()
    assert libc.mincore(ctypes.addressof(at), 4096, vec) == 0, ctypes.get_errno()
    del at
    m.close()
    return vec[0] & 1

fd = written("dropped")
assert cached(fd)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
got["fadvise"] = cached(fd)
fd = written("paged-out")
m = mmap.mmap(fd, 4096)
m[0]
at = ctypes.c_char.from_buffer(m)
got["madvise"] = libc.madvise(ctypes.c_void_p(ctypes.addressof(at)), 4096, 21)  # MADV_PAGEOUT
del at
m.close()
got["pageout"] = cached(fd)
os.pread(fd, 4096, 0)  # cached again: a read without waiting has it
for name, flags in (("nowait", os.RWF_NOWAIT), ("preadv2", 0)):
    try:
        os.preadv(fd, [bytearray(4096)], 0, flags)
        got[name] = 0
    except OSError as e:
        got[name] = e.errno
print("CACHE " + json.dumps(got))
"""


def _cache(out: str) -> dict[str, int]:
    return _printed(out, "CACHE")


def test_control_pages_are_dropped_and_asked_for_outside_the_sandbox(tmp_path):
    cp = subprocess.run([sys.executable, "-c", _PAGE_CACHE], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert _cache(cp.stdout) == {"fadvise": 0, "madvise": 0, "pageout": 0, "nowait": 0, "preadv2": 0}, cp.stderr


@pytest.mark.parametrize("memory_cgroup", [True, False])
def test_the_filter_drops_no_cached_page_and_tells_none(tmp_path, memory_cgroup):
    """The filter of each kind of sandbox, loaded here as bwrap loads it, before the probe."""
    load = _filter_loaded(memory_cgroup)
    cp = subprocess.run(
        [sys.executable, "-c", load + _PAGE_CACHE], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert _cache(cp.stdout) == {"fadvise": 1, "madvise": 0, "pageout": 1, "nowait": 11, "preadv2": 0}, cp.stderr

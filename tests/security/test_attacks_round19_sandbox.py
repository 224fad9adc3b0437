"""Round 19 attacks on the sandbox (open: each xfail strict until fixed).

Each runs real bwrap: as root (a leased uid, cgroups, a tmpfs workspace copy) and/or as a
normal user (nobody, through ``as_nobody``: bwrap --unshare-user, a staged workspace tmpfs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from tests.security.conftest import AS_NOBODY

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534

# Runs one command in the sandbox (as whoever runs this driver) and prints the run as JSON.
_DRIVER = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from agent.sandbox import run_command_full
r = run_command_full(json.loads(sys.argv[3]), Path(sys.argv[2]), timeout_s=float(sys.argv[4]), sandbox="bwrap")
print(json.dumps({"code": r.exit_code, "out": r.output, "gone": r.sandbox_gone}))
"""


def _workspace(files: dict[str, str], owner: int | None) -> Path:
    ws = Path(tempfile.mkdtemp(prefix="r19s-ws-"))
    for name, text in files.items():
        (ws / name).write_text(textwrap.dedent(text))
    if owner is not None:
        for p in [ws, *ws.rglob("*")]:
            os.chown(p, owner, owner)
    return ws


def _sandboxed(files: dict[str, str], argv: list[str], *, user: bool, timeout_s: float = 20.0) -> dict:
    """``argv`` run in a sandbox over a workspace of ``files``: as nobody (``user``) or as root."""
    ws = _workspace(files, NOBODY if user else None)
    try:
        cmd = [sys.executable, "-c", _DRIVER, str(REPO), str(ws), json.dumps(argv), str(timeout_s)]
        if user:
            cmd = AS_NOBODY + cmd
        cp = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd="/")
        assert cp.returncode == 0, cp.stderr[-2000:]
        return json.loads(cp.stdout.strip().splitlines()[-1])
    finally:
        subprocess.run(["rm", "-rf", str(ws)], check=False)


# r19s-1: SysV shared memory, the memfd of round 17 (r17-9) by another name. A normal user's
# sandbox has no memory cgroup, so memfd_create is refused (ENOSYS): "a memfd's pages are not
# mapped, so RLIMIT_AS does not see them". shmget/shmat/shmdt are not refused, and a segment's
# pages, once detached, are mapped nowhere either; worse, they outlive the process that made
# them (the sandbox's ipc namespace keeps them until its last process is gone), so no OOM kill
# of a test process gives them back. Scaled down: a process whose RLIMIT_AS is 160 MB (the
# product's is 2 GB, or the enclosing limit) leaves 192 MB in 6 segments after exiting; the
# ipc namespace's shmall is unlimited, so the same loop holds any amount.
_SHM = r"""
import ctypes, os, resource
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.shmdt.argtypes = [ctypes.c_void_p]
SEG = 32 * 1024 * 1024
pid = os.fork()
if pid == 0:
    resource.setrlimit(resource.RLIMIT_AS, (160 << 20, 160 << 20))
    for i in range(6):
        sid = libc.shmget(0, SEG, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600
        if sid < 0:
            print("refused", os.strerror(ctypes.get_errno())); break
        addr = libc.shmat(sid, None, 0)
        ctypes.memset(addr, 1, SEG)
        libc.shmdt(ctypes.c_void_p(addr))
    os._exit(0)
os.waitpid(pid, 0)
info = (ctypes.c_ulong * 16)()
libc.shmctl(0, 14, info)  # SHM_INFO: used_ids, shm_tot, shm_rss (pages), ...
print("HELD_MB", info[2] * 4096 >> 20)
"""


def test_r19s_1_sysv_shm_past_the_address_space_cap_as_a_user():
    run = _sandboxed({"shm.py": _SHM}, [sys.executable, "shm.py"], user=True)
    held = [int(line.split()[1]) for line in run["out"].splitlines() if line.startswith("HELD_MB")]
    assert held, run
    # Memory held by no process at all, past the cap of the process that made it.
    assert held[0] <= 160, f"{held[0]} MB of SysV shm held past a 160 MB RLIMIT_AS, by no process: {run}"


# r19s-2: vmsplice pins whole transparent huge pages in a pipe. A normal user's sandbox has no
# memory cgroup, so RLIMIT_AS (a process's mappings) is what bounds a process's memory, and the
# memfd of round 17 was refused for holding memory no mapping shows. vmsplice of one 4 kB page of
# a 2 MB huge page (madvise MADV_HUGEPAGE) into a pipe takes a reference on the whole folio; the
# region unmapped, the pipe still holds 2 MB per slot (16 slots a pipe: 32 MB), while the pipe's
# own count (pipe-user-pages) sees one page a slot. Scaled down: a process whose RLIMIT_AS is
# 160 MB holds 192 MB in 6 pipes (12 descriptors); NOFILE 1024 is 512 pipes, 16 GB a process.
# Measured from outside: the peak of a v1 memory cgroup the whole run is started in.
_VMSPLICE = r"""
import ctypes, mmap, os, resource
libc = ctypes.CDLL(None, use_errno=True)
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
HUGE = 2 << 20
resource.setrlimit(resource.RLIMIT_AS, (160 << 20, 160 << 20))
pipes, pinned = [], 0
for p in range(6):
    r, w = os.pipe()
    pipes.append((r, w))
    for slot in range(16):
        m = mmap.mmap(-1, 2 * HUGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        base = ctypes.addressof(ctypes.c_char.from_buffer(m))
        off = (-base) % HUGE
        m.madvise(mmap.MADV_HUGEPAGE, off, HUGE)
        m[off:off + HUGE] = b"h" * HUGE
        iov = iovec(base + off, 4096)
        n = libc.vmsplice(w, ctypes.byref(iov), 1, 0)
        del base
        m.close()
        if n != 4096:
            print("refused", os.strerror(ctypes.get_errno())); break
        pinned += HUGE
peak = [l.split()[1] for l in open("/proc/self/status") if l.startswith("VmPeak")]
print("PINNED_MB", pinned >> 20, "VMPEAK_KB", peak[0], flush=True)
"""


def _in_memory_cgroup(argv: list[str]) -> tuple[subprocess.CompletedProcess, int]:
    """``argv`` run in a fresh v1 memory cgroup of 1 GB; its peak use in MB."""
    top = Path("/sys/fs/cgroup/memory")
    if not (top / "cgroup.procs").is_file():
        pytest.skip("no v1 memory cgroup hierarchy")
    cg = top / f"r19s-{os.getpid()}-{os.urandom(4).hex()}"
    cg.mkdir()
    try:
        (cg / "memory.limit_in_bytes").write_text(str(1 << 30))
        move = f'echo $$ > "{cg}/cgroup.procs" && exec "$@"'
        cp = subprocess.run(["sh", "-c", move, "sh", *argv], capture_output=True, text=True, timeout=120, cwd="/")
        return cp, int((cg / "memory.max_usage_in_bytes").read_text()) >> 20
    finally:
        for _ in range(200):
            try:
                cg.rmdir()
                break
            except OSError:
                time.sleep(0.05)


def test_r19s_2_vmsplice_pins_huge_pages_past_the_address_space_cap_as_a_user():
    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    if not thp.is_file() or "[never]" in thp.read_text():
        pytest.skip("no transparent huge pages")
    ws = _workspace({"pin.py": _VMSPLICE}, NOBODY)
    try:
        argv = [sys.executable, "pin.py"]
        driver = [sys.executable, "-c", _DRIVER, str(REPO), str(ws), json.dumps(argv), "20"]
        cp, peak_mb = _in_memory_cgroup(AS_NOBODY + driver)
    finally:
        subprocess.run(["rm", "-rf", str(ws)], check=False)
    assert cp.returncode == 0, cp.stderr[-2000:]
    out = json.loads(cp.stdout.strip().splitlines()[-1])["out"]
    pinned = [int(line.split()[1]) for line in out.splitlines() if line.startswith("PINNED_MB")]
    assert pinned, out
    # The memory was held (the cgroup around the whole run saw it), by a process of 160 MB at most.
    assert peak_mb >= pinned[0], (peak_mb, out)
    assert pinned[0] <= 160, f"{pinned[0]} MB pinned in pipes past a 160 MB RLIMIT_AS (cgroup peak {peak_mb} MB): {out}"


# r19s-3: the host pays for the sandbox's output, outside every cap of the sandbox's. Past
# MAX_OUTPUT_BYTES the rest is "counted, not stored": the host's reader thread still copies
# every byte into Python, 64 kB a call, in repo-agent's own process (its CPU cgroup, its GIL).
# The tests tee() one 1 MB pipe's pages into stdout again and again (page references, no copy:
# next to no CPU of theirs), widened to 1 MB with F_SETPIPE_SZ; 2.5 s of it is 10-25 GB, and
# repo-agent spends about twice the sandbox's whole CPU (bwrap, launcher, tests: its reaped
# children) reading it: over a 60 s run, tens of seconds of CPU its cgroup share never counted.
_FLOOD = r"""
import ctypes, fcntl, os, time
libc = ctypes.CDLL(None, use_errno=True)
r, w = os.pipe()
for fd in (w, 1):
    try:
        fcntl.fcntl(fd, 1031, 1 << 20)  # F_SETPIPE_SZ
    except OSError:
        pass
os.write(w, b"x" * (1 << 20))
end = time.monotonic() + 2.5
while time.monotonic() < end and libc.tee(r, 1, 1 << 20, 0) > 0:  # page references, no copy
    pass
"""

_CPU_DRIVER = r"""
import json, resource, sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from agent.sandbox import run_command_full
def cpu(who):
    ru = resource.getrusage(who)
    return ru.ru_utime + ru.ru_stime
h0, c0 = cpu(resource.RUSAGE_SELF), cpu(resource.RUSAGE_CHILDREN)
r = run_command_full(json.loads(sys.argv[3]), Path(sys.argv[2]), timeout_s=20, sandbox="bwrap")
print(json.dumps({"host": cpu(resource.RUSAGE_SELF) - h0, "sandbox": cpu(resource.RUSAGE_CHILDREN) - c0, "out": r.output[-100:].strip("\x00")}))
"""


def test_r19s_3_output_flood_costs_the_host_more_cpu_than_the_sandbox_root():
    ws = _workspace({"flood.py": _FLOOD}, None)
    try:
        argv = [sys.executable, "flood.py"]
        cmd = [sys.executable, "-c", _CPU_DRIVER, str(REPO), str(ws), json.dumps(argv)]
        cp = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd="/")
    finally:
        subprocess.run(["rm", "-rf", str(ws)], check=False)
    assert cp.returncode == 0, cp.stderr[-2000:]
    run = json.loads(cp.stdout.strip().splitlines()[-1])
    assert "output stopped at" in run["out"], run
    # What the tests write past the stored cap should cost repo-agent next to nothing, and
    # never more than all the sandbox's own processes spent writing it.
    assert run["host"] <= max(0.2, run["sandbox"]), (
        f"repo-agent spent {run['host']:.2f} s of CPU on a run whose sandbox spent {run['sandbox']:.2f} s: {run}"
    )


# r19s-4: empty lines on the verdict pipe, then SIGKILL: repo-agent json-parses each one. The
# plugin keeps the pipe's write end in the tests' process (a descriptor /proc/self/fd shows),
# so a test writes into it. A run ended by SIGKILL is looked at for a sealed finish
# (``_finish_status``: ``records.splitlines()``, newest first, ``json.loads`` of every line, a
# JSONDecodeError raised and caught for each empty one): ~3 us of repo-agent's CPU (holding its
# GIL) per byte the tests wrote, where the records' bound (MAX_VERDICT_RECORD_BYTES, 64 MB) was
# set for memory: one run's 64 MB of newlines is minutes of CPU in repo-agent, outside every cap
# of the sandbox's; and ``splitlines`` holds 8 bytes of repo-agent's memory per byte (4 MB: a
# 33 MB peak; 64 MB: ~512 MB, charged to repo-agent's own cgroup, where an enclosing limit's
# OOM then takes a neighbour's sandbox, oom_score_adj 1000). Scaled down: 768 kB costs seconds.
_NEWLINES = r"""
import os, signal, stat
for name in os.listdir("/proc/self/fd"):
    fd = int(name)
    try:
        if fd > 2 and stat.S_ISFIFO(os.fstat(fd).st_mode):
            os.write(fd, b"\n" * (768 << 10))
    except OSError:
        pass
os.kill(os.getpid(), signal.SIGKILL)
"""

_PIPE_DRIVER = _CPU_DRIVER.replace('sandbox="bwrap")', 'sandbox="bwrap", verdict_pipe="r19s4")')


def test_r19s_4_verdict_pipe_newlines_cost_the_host_cpu_root():
    ws = _workspace({"lines.py": _NEWLINES}, None)
    try:
        argv = [sys.executable, "lines.py"]
        cmd = [sys.executable, "-c", _PIPE_DRIVER, str(REPO), str(ws), json.dumps(argv)]
        cp = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd="/")
    finally:
        subprocess.run(["rm", "-rf", str(ws)], check=False)
    assert cp.returncode == 0, cp.stderr[-2000:]
    run = json.loads(cp.stdout.strip().splitlines()[-1])
    assert run["host"] <= max(0.8, run["sandbox"]), (
        f"repo-agent spent {run['host']:.2f} s of CPU on 768 kB of records: {run}"
    )


# r19s-5: empty lines on the differential runner's record pipe: repo-agent's reader
# (agent/record_budget.py ``RecordBudget.lines``, through agent/differential.py ``_read_records``)
# searches, costs, copies and json-parses each one (a JSONDecodeError raised and caught per
# line): ~7 us of repo-agent's CPU per byte, on every run of the differential (no kill needed),
# within a bound (MAX_STREAM_BYTES, 8 MB) set for memory: ~55 s of repo-agent CPU, GIL held,
# per differential run of a wrong fix. The task's module writes them at import, into every pipe
# it holds (/proc/self/fd). Scaled down: 320 kB.
_GCD_NEWLINES = r"""
import os, stat
for _name in os.listdir("/proc/self/fd"):
    try:
        if int(_name) > 2 and stat.S_ISFIFO(os.fstat(int(_name)).st_mode):
            os.write(int(_name), b"\n" * (320 << 10))
    except OSError:
        pass


def gcd(a, b):
    while b:
        a, b = b, a % b
    return abs(a)
"""

_DIFF_DRIVER = r"""
import json, resource, sys, tempfile
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from agent import differential
from agent.suites.loading import load_suite
from agent.workspace import Workspace
suite = load_suite("mini-bugs")
task = suite.task("fix_gcd")
def cpu(who):
    ru = resource.getrusage(who)
    return ru.ru_utime + ru.ru_stime
with tempfile.TemporaryDirectory() as tmp:
    ws = Workspace.create(suite, task, Path(tmp))
    (ws.path / "gcd.py").write_text(sys.argv[2])
    calls = differential.targets(suite, task)
    h0, c0 = cpu(resource.RUSAGE_SELF), cpu(resource.RUSAGE_CHILDREN)
    run = differential.run_calls(ws.path, calls, sandbox="bwrap")
    print(json.dumps({"host": cpu(resource.RUSAGE_SELF) - h0, "sandbox": cpu(resource.RUSAGE_CHILDREN) - c0,
                      "hello": run.hello, "results": len(run.results)}))
"""


def test_r19s_5_differential_record_newlines_cost_the_host_cpu_root():
    cmd = [sys.executable, "-c", _DIFF_DRIVER, str(REPO), _GCD_NEWLINES]
    cp = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd="/")
    assert cp.returncode == 0, cp.stderr[-2000:]
    run = json.loads(cp.stdout.strip().splitlines()[-1])
    assert run["hello"], run
    assert run["host"] <= max(0.8, run["sandbox"]), (
        f"repo-agent spent {run['host']:.2f} s of CPU reading 320 kB of the differential's records: {run}"
    )


# r19s-6: a workspace the rollout filled once costs repo-agent on every run after. Each run
# copies the whole workspace into a fresh tmpfs (tree_cost, _copy_tree, hand_over's lchown of
# every name) and back (_empty, _copy_tree, tree_cost), in repo-agent's process and on the
# host's disk, outside the sandbox's CPU share. Measured with the workspace on this host's ext4
# disk: a run of /bin/true over 2,000 / 6,000 / 20,000 empty files cost repo-agent 0.8 / 1.2-3.6
# / 3.5 s of CPU (the sandbox 0.05 s) and 24 s of wall time at 20,000: the cap (100,000 names),
# left once, makes every later run of the rollout (its tool calls, the final run, the
# differential) cost ~20-40 s of repo-agent CPU and 200,000 metadata writes of the disk.
# Deterministic here: the files repo-agent copies for a run of /bin/true that changed nothing
# (a workspace of 3,000 empty files in RAM, so the disk's speed does not enter).
_BIG_DRIVER = r"""
import json, sys, tempfile
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from agent import sandbox
copied = [0]
real = sandbox._copy_entry
def counted(*a, **k):
    copied[0] += 1
    return real(*a, **k)
sandbox._copy_entry = counted
with tempfile.TemporaryDirectory(prefix="r19s6-", dir="/dev/shm") as tmp:
    ws = Path(tmp)
    for i in range(3):
        (ws / f"d{i}").mkdir()
        for j in range(1000):
            (ws / f"d{i}" / f"f{j}").touch()
    r = sandbox.run_command_full(["/bin/true"], ws, timeout_s=30, sandbox="bwrap")
    print(json.dumps({"copied": copied[0], "code": r.exit_code}))
"""


def test_r19s_6_a_filled_workspace_costs_the_host_every_run_root():
    cp = subprocess.run(
        [sys.executable, "-c", _BIG_DRIVER, str(REPO)], capture_output=True, text=True, timeout=120, cwd="/"
    )
    assert cp.returncode == 0, cp.stderr[-2000:]
    run = json.loads(cp.stdout.strip().splitlines()[-1])
    assert run["code"] == 0, run
    # A run that changed nothing should not cost repo-agent a copy of every file, twice.
    assert run["copied"] <= 100, (
        f"a run of /bin/true made repo-agent copy {run['copied']} files of a 3,000-file workspace"
    )


# r19s-7: a root sandbox pins page cache its memory cgroup is never charged for. A page of a
# read-only file (the system directories, the interpreter's prefix, the venv: all mounted in
# the sandbox) is charged to whoever read it first: another process of the machine, often
# repo-agent itself. vmsplice of 4 kB of a shared read-only mapping of such a file into a pipe
# takes a reference on its page: unmapped and closed, the pipe still holds it, and the kernel
# can no longer reclaim it (a targeted POSIX_FADV_DONTNEED leaves it cached), while the
# sandbox's own cgroup counts ~10 MB. Pipes of the leased uid hold 16,384 slots past which each
# new pipe has 2 (NOFILE 1024 x NPROC 256: ~260,000 slots, a page or a large folio each): as
# much of the machine's page cache as the mounted files hold, outside the sandbox's memory limit.
# splice(2) from the file into a pipe (no mapping, no vmsplice) pins the same 32 MB; one 4 kB
# piece per 2 MB of a 122 MB file kept 87 MB (large folios) with 62 slots. Scaled down: 32 MB
# of one file the host read first.
_PIN_CACHE = r"""
import ctypes, fcntl, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
fd = os.open(sys.argv[1], os.O_RDONLY)
size = min(os.fstat(fd).st_size, 32 << 20)
addr = libc.mmap(None, size, 1, 1, fd, 0)  # PROT_READ, MAP_SHARED
pipes, off = [], 0
while off < size and len(pipes) < 1000:
    r, w = os.pipe()
    try:
        fcntl.fcntl(w, 1031, 1 << 20)  # F_SETPIPE_SZ
    except OSError:
        pass
    pipes.append((r, w))
    stuck = off
    while off < size:
        iov = iovec(addr + off, 4096)
        if libc.vmsplice(w, ctypes.byref(iov), 1, 2) <= 0:  # SPLICE_F_NONBLOCK
            at = ctypes.c_long(off)  # (fix19-f: splice(2) from the file too, and stop once both are refused)
            if libc.splice(fd, ctypes.byref(at), w, None, 4096, 2) <= 0:
                break
        off += 4096
    if off == stuck:
        print("refused", os.strerror(ctypes.get_errno()))
        break
libc.munmap(ctypes.c_void_p(addr), ctypes.c_size_t(size))
os.close(fd)
print("PINNED_MB", off >> 20, flush=True)
libc.prctl(15, b"r19s7-pinned", 0, 0, 0)  # PR_SET_NAME: the host drops the cache from now on
time.sleep(2)
"""

_PIN_DRIVER = r"""
import ctypes, json, os, sys, tempfile, threading, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from agent import sandbox
libc = ctypes.CDLL(None, use_errno=True)
path = sys.argv[2]
def cached_mb():  # cachestat(2): the file's pages in the page cache
    buf, rng = (ctypes.c_uint64 * 5)(), (ctypes.c_uint64 * 2)(0, 0)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.syscall(451, fd, rng, buf, 0) != 0:
            return None
        return buf[0] * 4096 >> 20
    finally:
        os.close(fd)
def drop():
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
with open(path, "rb") as f:  # this process reads it first: its pages are charged here
    f.read(32 << 20)
peak = []
close = sandbox.SandboxCgroup.close
def closing(self):
    peak.extend(int((d / "memory.max_usage_in_bytes").read_text()) >> 20 for d in self.dirs if (d / "memory.max_usage_in_bytes").is_file())
    close(self)
sandbox.SandboxCgroup.close = closing
held, done = [0], threading.Event()
def pinned():
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and open(f"/proc/{pid}/comm").read().strip() == "r19s7-pinned":
                return True
        except OSError:
            pass
    return False
def watch():  # once it has pinned: what stays cached however often it is dropped
    while not done.wait(0.05) and not pinned():
        pass
    while not done.wait(0.2):
        drop()
        held[0] = max(held[0], cached_mb() or 0)
t = threading.Thread(target=watch)
with tempfile.TemporaryDirectory() as ws:
    Path(ws, "pin.py").write_text(sys.argv[3])
    t.start()
    r = sandbox.run_command_full([sys.executable, "pin.py", path], Path(ws), timeout_s=30, sandbox="bwrap")
    done.set(); t.join()
print(json.dumps({"out": r.output.strip()[-200:], "held_mb": held[0], "sandbox_peak_mb": peak, "cachestat": cached_mb() is not None}))
"""


def _big_mounted_file() -> str | None:
    """The largest regular file (32 MB or more) of a few directories every sandbox mounts."""
    best: tuple[int, str] | None = None
    for top in (Path(sys.base_prefix) / "lib", Path("/usr/lib")):
        if best is not None:
            break
        for dirpath, _dirs, files in os.walk(top):
            for name in files:
                p = os.path.join(dirpath, name)
                try:
                    size = os.lstat(p).st_size if os.path.isfile(p) and not os.path.islink(p) else 0
                except OSError:
                    continue
                if size >= 32 << 20 and (best is None or size > best[0]):
                    best = (size, p)
    return best[1] if best else None


def test_r19s_7_page_cache_pinned_outside_the_memory_cgroup_root():
    path = _big_mounted_file()
    if path is None:
        pytest.skip("no file of 32 MB or more in the mounted system directories")
    cmd = [sys.executable, "-c", _PIN_DRIVER, str(REPO), path, _PIN_CACHE]
    cp = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd="/")
    assert cp.returncode == 0, cp.stderr[-2000:]
    run = json.loads(cp.stdout.strip().splitlines()[-1])
    if not run["cachestat"]:
        pytest.skip("no cachestat(2) here")
    assert "PINNED_MB" in run["out"] and run["sandbox_peak_mb"], run
    # What the sandbox keeps in memory must be counted in its own memory cgroup.
    assert run["held_mb"] <= run["sandbox_peak_mb"][0], (
        f"{run['held_mb']} MB of page cache pinned, unreclaimable, by a sandbox whose memory cgroup peaked at {run['sandbox_peak_mb'][0]} MB: {run}"
    )

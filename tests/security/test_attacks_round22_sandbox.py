"""Round 22 attacks on the sandbox (open: each xfail strict until fixed).

Each runs real bwrap as root (a leased uid, cgroups, a tmpfs workspace copy) and/or as a
normal user (nobody, through ``as_nobody``).
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
from typing import Any

import pytest

from tests.security.conftest import (
    AS_NOBODY,
    NOBODY,
    gone_within,
    kill_processes_naming,
    memory_cgroup,
    printed_result,
    run_as,
)
from tests.security.test_attacks_round19_sandbox import _DRIVER, _workspace
from tests.security.test_sandbox_attacks_round8 import PYTHON_AS_NOBODY
from tests.security.test_sandbox_attacks_round9 import HOST_TO_KILL

REPO = Path(__file__).resolve().parents[2]

# r22s-1: two sandboxes at once under a container's limit (REPO_AGENT_SANDBOXES=2: each gets
# (limit - 64 MB) / 2). The honest one holds 60 MB of its 88 MB part for 8 s. The hostile one
# stays within its own part too (a 40 MB file in its workspace) and writes 63 MB of lines to
# the verdict pipe: repo-agent keeps them (MAX_VERDICT_RECORD_BYTES, 64 MB) and joins them at
# the run's end (twice that), past the 64 MB margin the parts leave it, so the container runs
# out of memory and the OOM killer ends the honest neighbour: its run is "out of memory", not
# judged, whatever its tests said.
_TWO_AT_ONCE = textwrap.dedent(
    """\
    import json, sys, threading
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from agent.sandbox import SandboxError, run_command_full
    flood = sys.argv[2] == "flood"
    HONEST = (
        "import time\\nb = bytearray(60 * 2**20)\\nb[::4096] = b'x' * len(b[::4096])\\n"
        "time.sleep(8)\\nprint('honest done')\\n"
    )
    HOSTILE = (
        "import os, time\\nf = open('big', 'wb')\\nfor _ in range(40): f.write(b'y' * 2**20)\\n"
        "f.close()\\ntime.sleep(1)\\nfd = int(os.environ['REPO_AGENT_VERDICT_FD'])\\n"
        "blob = b'{\\"k\\":\\"x\\"}\\\\n' * 100000\\nn = 0\\n"
        "while n < 63 * 10**6 and FLOOD:\\n    n += os.write(fd, blob)\\nprint('hostile done')\\n"
    ).replace("FLOOD", str(flood))
    out = {}

    def go(name, code):
        ws = Path(sys.argv[3]) / name
        ws.mkdir()
        try:
            r = run_command_full([sys.executable, "-c", code], ws, timeout_s=30, sandbox="bwrap", verdict_pipe="n0nce")
            out[name] = {"code": r.exit_code, "out": r.output[-300:]}
        except SandboxError as exc:
            out[name] = {"error": str(exc)}

    ts = [threading.Thread(target=go, args=a) for a in (("honest", HONEST), ("hostile", HOSTILE))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("RESULT " + json.dumps(out))
    """
)


def _two_sandboxes_in_a_container(tmp_path: Path, mode: str) -> dict:
    (tmp_path / "two.py").write_text(_TWO_AT_ONCE)
    (tmp_path / "ws").mkdir()
    argv = [sys.executable, str(tmp_path / "two.py"), str(REPO), mode, str(tmp_path / "ws")]
    env = {**os.environ, "REPO_AGENT_SANDBOXES": "2"}
    with memory_cgroup("r22s-1", 240 * 2**20) as cgroup:
        cp = run_as("root", argv, cgroup=cgroup, timeout=120, env=env)
    assert cp.returncode == 0, cp.stderr[-2000:]
    return printed_result(cp.stdout)


def test_r22s_1_control_two_sandboxes_fit_the_container(tmp_path):
    """The control: the same two runs, the hostile one writing no records: both end as they did."""
    got = _two_sandboxes_in_a_container(tmp_path, "idle")
    assert got["honest"] == {"code": 0, "out": "honest done\n"}, got
    assert got["hostile"]["code"] == 0, got


def test_r22s_1_verdict_records_kill_an_honest_neighbour(tmp_path):
    got = _two_sandboxes_in_a_container(tmp_path, "flood")
    assert got["hostile"]["code"] == 0, got  # the attack ran to its end within its own part
    assert got["honest"] == {"code": 0, "out": "honest done\n"}, got


# r22s-2: POSIX record locks, kernel memory no cap of the sandbox's sees (the class of r17-9
# memfd, r19s-1 SysV IPC, r19s-2 vmsplice). Each fcntl(F_SETLK) range not touching another is a
# ``struct file_lock`` (192 bytes of slab); nothing bounds how many one descriptor holds
# (RLIMIT_LOCKS is not enforced), and the kernel charges them to no memory cgroup (the
# accounting was reverted in Linux 5.16). Two processes, each capped at 64 MB of address
# space, take 400,000 locks each on 1,000 files of /tmp (~2 s): ~146 MB of slab. As a normal
# user that is past their 2 x 64 MB RLIMIT_AS; as root, past the sandbox's 88 MB memory
# cgroup (its part of a 240 MB container, two sandboxes at once): no OOM kill, nothing counted.
# NOFILE x NPROC descriptors, each with as many locks as time allows.
_LOCKS = r"""
import fcntl, os, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (64 << 20, 64 << 20))
kids = []
for k in range(2):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        n = 0
        for i in range(1000):
            fd = os.open("/tmp/l%d-%d" % (k, i), os.O_RDWR | os.O_CREAT, 0o600)
            for j in range(400):
                try:
                    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 2 * j)
                except OSError:
                    break
                n += 1
        os.write(w, b"%d" % n)
        time.sleep(3)
        os._exit(0)
    kids.append((pid, r))
    os.close(w)
print("LOCKS", sum(int(os.read(r, 32)) for _, r in kids), flush=True)
for pid, _ in kids:
    os.waitpid(pid, 0)
"""


def _lock_slab() -> int:
    """Bytes of the kernel's ``file_lock_cache`` slab (every POSIX lock of the machine)."""
    for line in Path("/proc/slabinfo").read_text().splitlines():
        if line.startswith("file_lock_cache "):
            fields = line.split()
            return int(fields[2]) * int(fields[3])
    raise AssertionError("no file_lock_cache in /proc/slabinfo")


def _locks_held(user: str) -> tuple[int, int, str]:
    """The locks the sandbox's two processes took, the most lock slab (MB) seen meanwhile, the output."""
    ws = _workspace({"locks.py": _LOCKS}, NOBODY if user == "nobody" else None)
    argv = [sys.executable, "-c", _DRIVER, str(REPO), str(ws), json.dumps([sys.executable, "locks.py"]), "30"]
    before = most = _lock_slab()
    try:
        with memory_cgroup("r22s-2", 240 * 2**20) as cgroup:
            cmd = [*AS_NOBODY, *argv] if user == "nobody" else argv
            env = {**os.environ, "REPO_AGENT_SANDBOXES": "2"}
            proc = subprocess.Popen(
                ["sh", "-c", f'echo $$ > "{cgroup}/cgroup.procs" && exec "$@"', "sh", *cmd],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd="/",
                env=env,
            )
            while proc.poll() is None:
                most = max(most, _lock_slab())
                time.sleep(0.05)
            out, err = proc.communicate(timeout=60)
    finally:
        subprocess.run(["rm", "-rf", str(ws)], check=False)
    assert proc.returncode == 0, err[-2000:]
    run = json.loads(out.strip().splitlines()[-1])["out"]
    taken = [int(line.split()[1]) for line in run.splitlines() if line.startswith("LOCKS")]
    assert taken, run
    return taken[0], (most - before) >> 20, run


@pytest.mark.parametrize(("user", "cap_mb"), [("nobody", 128), ("root", 88)])
@pytest.mark.xfail(
    strict=True, reason="open: r22s-2 POSIX record locks hold kernel memory no cap sees (RLIMIT_AS, memory cgroup)"
)
def test_r22s_2_file_locks_hold_memory_past_every_cap(user, cap_mb):
    taken, held_mb, run = _locks_held(user)
    assert taken == 800_000 or "LOCKS" not in run, run  # every lock was granted
    assert held_mb <= cap_mb, f"{taken} locks held {held_mb} MB of slab past the sandbox's {cap_mb} MB: {run}"


# r22s-3: a normal user's sandbox without a subordinate uid (REPO_AGENT_SUBUIDS=0, or no range
# in /etc/subuid) outlives a killed repo-agent. There pid 1 (the launcher) runs as the tests'
# own uid, dumpable, and ends with repo-agent two ways: bwrap's parent-death signal (bwrap
# dies with repo-agent, pid 1 with bwrap) and its thread watching the host's end of a pipe.
# The tests (no Yama, ``ptrace`` not in the filter) reopen that pipe for writing through
# /proc/1/fd (its watch never sees EOF), seize pid 1's main thread and make it call
# prctl(PR_SET_PDEATHSIG, 0) at the syscall instruction it waits behind, then let it go on
# waiting. repo-agent killed (OOM, Ctrl-\, a crashed worker), the sandbox lives on unwatched
# (sbx9-10's orphan, closed only where a subuid keeper ends what is left). The control: the
# pipe held alone, the sandbox still dies with bwrap.
_HOLD_ALIVE = r"""
import ctypes, os, sys, time
held = []
try:
    names = os.listdir("/proc/1/fd")
except OSError:  # (a pid 1 the tests may not trace: its descriptors are not theirs to see)
    names = []
for f in names:
    if int(f) > 2 and os.readlink("/proc/1/fd/" + f).startswith("pipe:"):
        try:
            held.append(os.open("/proc/1/fd/" + f, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
"""
_NO_PDEATHSIG = r"""
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long
class Regs(ctypes.Structure):
    _fields_ = [(n, ctypes.c_ulonglong) for n in (
        "r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags rsp ss"
        " fs_base gs_base ds es fs gs").split()]
def pt(req, data=None):
    if libc.ptrace(req, 1, None, data) < 0:
        raise OSError(ctypes.get_errno(), "ptrace %d" % req)
def inject():
    pt(0x4206)  # PTRACE_SEIZE
    pt(0x4207)  # PTRACE_INTERRUPT: stopped in its waitpid
    os.waitpid(1, 0x40000000)
    saved, r = Regs(), Regs()
    pt(12, ctypes.byref(saved))  # PTRACE_GETREGS
    ctypes.memmove(ctypes.byref(r), ctypes.byref(saved), ctypes.sizeof(r))
    r.rip, r.rax, r.rdi, r.rsi, r.orig_rax = saved.rip - 2, 157, 1, 0, 2**64 - 1  # prctl(PR_SET_PDEATHSIG, 0)
    pt(13, ctypes.byref(r))  # PTRACE_SETREGS
    pt(9)  # PTRACE_SINGLESTEP over the syscall instruction
    os.waitpid(1, 0x40000000)
    pt(13, ctypes.byref(saved))  # back into its waitpid
    pt(0x11)  # PTRACE_DETACH
try:
    inject()
except OSError:  # refused: the beat goes on regardless, and the host's death must end it
    pass
"""
_BEAT = r"""
n = 0
while n < 600:
    with open(os.path.join(sys.argv[1], "beat"), "w") as f:  # a directory bound in from the host's
        f.write(str(n))
    n += 1
    time.sleep(0.05)
"""


def _beats_after_the_host_is_killed(code: str) -> bool:
    """Whether the sandbox of a normal user without a subordinate uid, running ``code``, still
    writes its beat once repo-agent was killed with SIGKILL and its sandbox had 30 s to end."""
    ws = Path(tempfile.mkdtemp(prefix="r22s-3-"))
    os.chown(ws, NOBODY, NOBODY)
    env = {**os.environ, "REPO_AGENT_SUBUIDS": "0"}
    host = subprocess.Popen([*PYTHON_AS_NOBODY, "-c", HOST_TO_KILL, str(REPO), str(ws), code], cwd="/", env=env)
    try:
        beat = ws / "sig" / "beat"
        deadline = time.monotonic() + 60
        while not (beat.is_file() and (ws / "host.pid").is_file()) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert beat.is_file(), "the sandbox never started"
        os.kill(int((ws / "host.pid").read_text()), 9)  # repo-agent dies
        host.wait(timeout=30)
        gone_within(ws, 30)  # its sandbox goes with it (waited for, however busy the machine)
        before = beat.stat().st_mtime_ns
        time.sleep(0.5)
        return beat.stat().st_mtime_ns != before
    finally:
        kill_processes_naming(ws)  # what this test started
        if host.poll() is None:
            host.kill()
        subprocess.run(["rm", "-rf", str(ws)], check=False)


def test_r22s_3_control_a_held_pipe_alone_dies_with_bwrap():
    assert not _beats_after_the_host_is_killed(_HOLD_ALIVE + _BEAT)


def test_r22s_3_sandbox_outlives_a_killed_host_without_a_subuid():
    assert not _beats_after_the_host_is_killed(_HOLD_ALIVE + _NO_PDEATHSIG + _BEAT), "the sandbox still runs"


# r22s-4: the host's read of a run's summary line stops the whole host process. The tests'
# output is theirs to write; ``summary_line`` (agent/pytest_report.py) skips lines over 500
# characters because ``_SUMMARY_RE`` backtracks quadratically there, but the regex is
# exponential in far shorter ones: ``(?:\d+ \w+(?:, )?)+`` splits a "a00 " unit two ways
# ("a" + "00", "a0" + "0"), so "0 " + "a00 " * n + "x" (no " in Ns" to end the match) costs
# 2**n steps: 18 units (75 characters) 0.3 s, 40 units (163 characters) hours, in one C call
# that holds the GIL (every rollout of the batch, every reader and watch thread stops). The
# code under test prints it at exit, after pytest's own summary, so it is the last line read.
_JUDGE = textwrap.dedent(
    """\
    import json, sys, tempfile
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from agent.suites.loading import load_suite
    from tests.security.conftest import judge_files
    judged = judge_files(load_suite("mini-bugs"), "fix_gcd", Path(tempfile.mkdtemp()), json.loads(sys.argv[2]))
    print("RESULT " + json.dumps({"verdict": judged.verdict()}))
    """
)
_RIGHT_GCD = "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a\n"


def _judged_within(seconds: float, last_line: str) -> dict | None:
    """The final verdict of a right gcd whose process prints ``last_line`` at exit, judged in a
    process of its own; None when that process had not finished within ``seconds``."""
    gcd = _RIGHT_GCD + f"\nimport atexit\n\natexit.register(print, {last_line!r})\n"
    return _printed_within(seconds, [sys.executable, "-c", _JUDGE, str(REPO), json.dumps({"gcd.py": gcd})])


def _printed_within(seconds: float, argv: list[str]) -> Any:
    """What ``argv`` printed after ``RESULT``; None when it had not finished within ``seconds``."""
    try:
        cp = subprocess.run(argv, capture_output=True, text=True, timeout=seconds, cwd="/")
    except subprocess.TimeoutExpired:
        return None
    assert cp.returncode == 0, cp.stderr[-2000:]
    return printed_result(cp.stdout)


# The bound: 40 units cost hours; a whole final run of gcd took 12-16 s under load 12-18 (the
# wider differential since round 26), past the 20 s this first allowed.
JUDGED_WITHIN_S = 180


def test_r22s_4_control_a_short_last_line_is_judged():
    assert _judged_within(JUDGED_WITHIN_S, "0 a00 a00 done") == {"verdict": "PASS"}


def test_r22s_4_summary_regex_stops_the_host():
    assert _judged_within(JUDGED_WITHIN_S, "0 " + "a00 " * 40 + "x") == {"verdict": "PASS"}, (
        f"still judging after {JUDGED_WITHIN_S} s"
    )


# r22s-5: the same in the differential's record reader. ``record_budget.depth`` strips JSON
# strings with ``_STRING`` (``"(?:[^"\\]|\\.)*"``) from any line opening with "{" that holds over
# 200 brackets; on ``"`` followed by escaped quotes and no closing one, each quote is a new
# start that runs to the line's end: quadratic (worse, measured), in one C call holding the GIL.
# A module of the rollout writes one 60 kB line, 201 "{" then '"' and 30,000 '\"', into the
# relay's pipes (reopened through /proc/<relay>/fd: r21-1's reach): the host, not the sandbox,
# spends minutes on it (32 kB: +26 s; 60 kB: past 40 s), every thread of repo-agent stopped.
_DIFFERENTIAL = textwrap.dedent(
    """\
    import json, sys, tempfile
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from agent.differential import run_calls
    from agent.suites.models import DifferentialTarget
    d = Path(tempfile.mkdtemp())
    (d / "mod.py").write_text(sys.argv[2])
    run = run_calls(d, [DifferentialTarget(module="mod", function="f", inputs=[[1], [2]])], sandbox="auto")
    print("RESULT " + json.dumps([run.results[k] for k in sorted(run.results)]))
    """
)
_PLAIN_F = "def f(x):\n    return x\n"
_DEEP_STRINGS = _PLAIN_F + textwrap.dedent(
    """\
    import os as _os

    _line = b"{" * 201 + b'"' + b'\\\\"' * 30000 + b"\\n"
    for _f in _os.listdir("/proc/%d/fd" % _os.getppid()):
        try:
            if _os.readlink("/proc/%d/fd/%s" % (_os.getppid(), _f)).startswith("pipe:"):
                _w = _os.open("/proc/%d/fd/%s" % (_os.getppid(), _f), _os.O_WRONLY)
                _os.write(_w, _line)
                _os.close(_w)
        except OSError:
            pass
    """
)


def _calls_answered_within(seconds: float, source: str) -> list | None:
    """The differential's results for ``f(1)``, ``f(2)`` of a module ``source``, read in a process
    of its own; None when that process had not finished within ``seconds``."""
    return _printed_within(seconds, [sys.executable, "-c", _DIFFERENTIAL, str(REPO), source])


def test_r22s_5_control_the_calls_are_read():
    assert _calls_answered_within(20, _PLAIN_F) == [{"v": 1}, {"v": 2}]


def test_r22s_5_record_depth_regex_stops_the_host():
    assert _calls_answered_within(20, _DEEP_STRINGS) is not None, "still reading the records after 20 s"

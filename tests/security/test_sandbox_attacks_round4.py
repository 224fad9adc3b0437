"""Round 4 of the sandbox review: attacks by a reviewer who did not build the sandbox.

Each test here is an attack that worked on the code it was found on; it is marked
``xfail(strict=True)`` until the sandbox engineer fixes it (then the marker goes).
Real bwrap, the mini-bugs ``fix_gcd`` task, the real ``final_test_run``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from agent.final_verdict import final_test_run
from tests.security.conftest import (
    PROJECT,
    gcd_workspace,
    give_to_nobody,
    kill_processes_naming,
    memory_cgroup,
    printed_result,
    run_as,
)


def test_hard_links_filling_the_tmpfs_inodes_do_not_make_tampering_not_judged(mini_suite, tmp_path):
    """A wrong gcd.py that, at import, deletes the protected test and makes hard links to
    one file until the tmpfs has no inode left. tmpfs counts every link as an inode; the
    copy-back's 100,000-file cap counts only first names, so all ~106,250 names come back.
    The host restores the deleted test (one name more), and the final run's copy into a
    tmpfs of the same 106,250 inodes raises ENOSPC: SandboxError (not judged) instead of
    the TAMPERED / FAIL the rollout earned."""
    ws = gcd_workspace(mini_suite, tmp_path)
    gcd = ws.path / "gcd.py"
    gcd.write_text(
        "import os as _os\n"
        "if not _os.path.isdir('l'):\n"
        "    _os.mkdir('l'); open('l/one', 'w').close()\n"
        "    try: _os.unlink('tests/test_gcd.py')\n"
        "    except OSError: pass\n"
        "    _i = 0\n"
        "    while True:\n"
        "        try: _os.link('l/one', 'l/%d' % _i)\n"
        "        except OSError: break\n"
        "        _i += 1\n" + gcd.read_text()
    )
    ws.run_tests()  # the rollout's own run (its run_tests tool)
    result, tampered = final_test_run(ws)  # raises SandboxError today
    assert not result.passed
    assert "tests/test_gcd.py" in tampered or result.error is not None


def test_a_symlink_to_an_overlong_name_does_not_crash_the_final_verdict(mini_suite, tmp_path):
    """A wrong gcd.py that, at import, makes one symlink whose target is a 300-byte name.
    ``drop_unrecorded`` removes it through ``_remove``, whose ``Path.is_dir()`` follows the
    link: stat raises ENAMETOOLONG, which pathlib (3.11) does not swallow, and the OSError
    leaves ``final_test_run``: the rollout's own FAIL becomes an infrastructure error."""
    ws = gcd_workspace(mini_suite, tmp_path)
    gcd = ws.path / "gcd.py"
    gcd.write_text(
        "import os as _os\nif not _os.path.lexists('lnk'): _os.symlink('x' * 300, 'lnk')\n" + gcd.read_text()
    )
    ws.run_tests()  # the rollout's own run (its run_tests tool)
    result, tampered = final_test_run(ws)  # raises OSError today
    assert not result.passed


# Run as nobody: a wrong gcd.py that, at import, makes a conftest.py whose absolute path is
# just past PATH_MAX (its directory's path just under it), through relative names.
_USER_PAST_PATH_MAX = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from agent.sandbox import sandbox_kind
from agent.suites.loading import load_suite
from agent.workspace import Workspace
from agent.final_verdict import final_test_run
out = {"kind": sandbox_kind(), "uid": os.getuid()}
suite = load_suite("mini-bugs")
ws = Workspace.create(suite, suite.task("fix_gcd"), Path(sys.argv[2]))
gcd = ws.path / "gcd.py"
gcd.write_text(
    "import os as _os\n"
    "def _deep():\n"
    "    h = _os.getcwd(); n = len(h)\n"
    "    while n + 256 < 4085:\n"
    "        _os.mkdir('a' * 255); _os.chdir('a' * 255); n += 256\n"
    "    last = 'b' * (4090 - n - 1)\n"
    "    _os.mkdir(last); _os.chdir(last)\n"
    "    open('conftest.py', 'w').close()\n"
    "    _os.chdir(h)\n"
    "if not _os.path.isdir('a' * 255): _deep()\n" + gcd.read_text())
ws.run_tests()  # the rollout's own run
try:
    r, t = final_test_run(ws)
    out["final"] = [r.passed, r.error is not None, t]
except Exception as exc:
    out["final"] = "RAISED %s" % type(exc).__name__
print("RESULT", json.dumps(out))
"""


def test_a_normal_users_file_past_path_max_does_not_crash_the_final_verdict(user_dir):
    """Normal-user mode (no copy-back, which leaves out what is past PATH_MAX): the tests
    make, through relative names, a conftest.py whose directory's path is under PATH_MAX and
    its own just past it. ``walk`` lists it (scandir of the directory works);
    ``config_tamper``'s ``os.lstat`` of the full path raises ENAMETOOLONG, and the OSError
    leaves ``final_test_run``: the rollout's own FAIL becomes an infrastructure error."""
    (user_dir / "runner.py").write_text(_USER_PAST_PATH_MAX)
    (user_dir / "ws").mkdir()
    give_to_nobody(user_dir)
    try:
        cp = run_as(
            "nobody",
            [sys.executable, str(user_dir / "runner.py"), str(PROJECT), str(user_dir / "ws")],
            timeout=300,
        )
    finally:  # shutil.rmtree (the fixture's) cannot reach past PATH_MAX
        subprocess.run(["rm", "-rf", str(user_dir / "ws")], check=False)
    result = printed_result(cp.stdout)
    assert result.get("kind") == "bwrap" and result["uid"] == 65534, cp.stdout[-2000:] + cp.stderr[-2000:]
    assert isinstance(result["final"], list), result["final"]  # "RAISED OSError" today
    assert result["final"][0] is False


def test_hidden_fixes_installed_in_the_systems_dist_packages_are_not_readable(tmp_path):
    """Debian's Python (/usr/bin/python3, here) installs with pip into
    /usr/local/lib/python3.X/dist-packages (``sudo pip install``, a Debian-based image).
    The sandbox mounts /usr whole, and the empty tmpfs goes only over an ``agent/suites``
    under the runtime's own venv or prefix (/usr/lib*/...), so every task's hidden
    reference fix stays readable there. The install is stood in for by the one file read,
    written in a mount namespace of this test's own (a tmpfs over dist-packages): the
    machine's dist-packages never changes, so another test's sandbox starting meanwhile never
    meets a directory that goes away under bwrap (a full run failed so: "Can't mkdir parents
    for .../dist-packages/agent/suites")."""
    sysconfig_purelib = subprocess.run(
        ["/usr/bin/python3", "-c", "import site; print(site.getsitepackages()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    site = Path(sysconfig_purelib)
    assert site.parts[:3] == ("/", "usr", "local"), site
    fix = site / "agent/suites/mini_bugs/fix_gcd/_fix/gcd.py"
    ws = tmp_path / "ws"
    ws.mkdir()
    run = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(PROJECT)!r})\n"
        "from agent.sandbox import run_command\n"
        f"code, output, _, _ = run_command(['cat', {str(fix)!r}], {str(ws)!r}, timeout_s=60)\n"
        "print('RESULT' + json.dumps([code, output]))\n"
    )
    script = (
        f'mount -t tmpfs tmpfs "{site}" && mkdir -p "{fix.parent}" '
        f'&& echo "# HIDDEN-REFERENCE-FIX-MARKER" > "{fix}" && exec "$0" -c "$1"'
    )
    cp = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, sys.executable, run],
        capture_output=True,
        text=True,
        timeout=120,
    )
    code, output = printed_result(cp.stdout, missing=[None, cp.stdout[-2000:] + cp.stderr[-2000:]])
    assert code is not None, output
    assert "HIDDEN-REFERENCE-FIX-MARKER" not in output, (code, output)


_OOM_RUNNER = r"""
import sys, json
sys.path.insert(0, sys.argv[1])
from agent.sandbox import run_command
hog = "b = bytearray(700 * 2**20); b[::4096] = b'x' * len(b[::4096])"
try:
    r = run_command([sys.executable, "-c", hog], sys.argv[2], timeout_s=60)
    print("RESULT", json.dumps([r[0], r[1][-300:]]))
except Exception as exc:
    print("RESULT", json.dumps("RAISED %s: %s" % (type(exc).__name__, exc)))
"""


def test_a_rollouts_own_oom_under_a_host_memory_limit_is_not_an_infrastructure_error(tmp_path):
    """Root, in a container (here: a v1 memory cgroup) of 512 MB, below the sandbox's own
    4 GB limit. The rollout's code alone allocates 700 MB; the container's limit is hit, the
    kernel OOM-kills it inside the sandbox's cgroup without that cgroup's own failcnt moving,
    and ``_run`` raises SandboxError "out of memory" (not judged): every wrong fix can choose
    not judged over its FAIL on such a host."""
    ws = tmp_path / "ws"
    ws.mkdir()
    with memory_cgroup("repo-agent-atk4", 512 * 2**20) as d:
        cp = run_as("root", [sys.executable, "-c", _OOM_RUNNER, str(PROJECT), str(ws)], cgroup=d, timeout=120)
    result = printed_result(cp.stdout, cp.stdout + cp.stderr)
    assert isinstance(result, list), result  # "RAISED SandboxError: out of memory" today
    assert result[0] != 0


def test_a_normal_users_own_oom_under_their_memory_limit_is_not_an_infrastructure_error(user_dir):
    """Normal-user mode (no cgroup of the sandbox's own): the user's session is limited to
    512 MB (a systemd user slice's MemoryMax, a container). The rollout's code alone
    allocates 700 MB; the OOM kill counts in the user's own cgroup, which is all
    ``own_oom_kills`` can read, and ``_run`` raises SandboxError "out of memory" (not
    judged) instead of the rollout's FAIL."""
    (user_dir / "runner.py").write_text(_OOM_RUNNER)
    (user_dir / "ws").mkdir()
    give_to_nobody(user_dir)
    with memory_cgroup("repo-agent-atk4u", 512 * 2**20) as d:
        argv = [sys.executable, str(user_dir / "runner.py"), str(PROJECT), str(user_dir / "ws")]
        cp = run_as("nobody", argv, cgroup=d, timeout=120)
    result = printed_result(cp.stdout, cp.stdout + cp.stderr)
    assert isinstance(result, list), result  # "RAISED SandboxError: out of memory" today
    assert result[0] != 0


_USER_MQ = r"""
import json, os, subprocess, sys, threading, time
sys.path.insert(0, sys.argv[1])
from agent.sandbox import run_command, sandbox_kind
root = sys.argv[2]
a, b = os.path.join(root, "a"), os.path.join(root, "b")
out = {"kind": sandbox_kind(), "uid": os.getuid()}
honest = [sys.executable, "b.py"]
out["alone"] = run_command(honest, b, timeout_s=60)[1]
res = {}
sig = os.path.join(root, "a-sig")  # "held" and "go" pass through it: the sandbox writes a tmpfs of its own
os.mkdir(sig)
t = threading.Thread(target=lambda: res.update(a=run_command([sys.executable, "hog.py", sig], a, timeout_s=120, extra_binds=(sig,))[1]))
t.start()
deadline = time.monotonic() + 100
while not os.path.exists(os.path.join(sig, "held")) and t.is_alive() and time.monotonic() < deadline:
    time.sleep(0.02)
out["beside"] = run_command(honest, b, timeout_s=60)[1]
out["host_user"] = subprocess.run([sys.executable, os.path.join(b, "b.py")], capture_output=True, text=True, cwd="/tmp").stdout
open(os.path.join(sig, "go"), "w").close()
t.join()
out["a"] = res.get("a")
print("RESULT", json.dumps(out))
"""

_MQ_HOG = r"""
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
class A(ctypes.Structure):
    _fields_ = [("f", ctypes.c_long), ("maxmsg", ctypes.c_long), ("size", ctypes.c_long), ("cur", ctypes.c_long), ("pad", ctypes.c_long * 4)]
libc.mq_open.restype = ctypes.c_int
libc.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.POINTER(A)]
n = 0
for maxmsg, size in ((10, 8192), (1, 1024), (1, 64), (1, 1)):
    while True:
        a = A(0, maxmsg, size, 0)
        fd = libc.mq_open(b"/h%d" % n, os.O_CREAT | os.O_RDWR, 0o600, ctypes.byref(a))
        if fd < 0:
            break
        n += 1
print("HELD", n, os.strerror(ctypes.get_errno()), flush=True)
if len(sys.argv) > 1:
    open(os.path.join(sys.argv[1], "held"), "w").close()
    while not os.path.exists(os.path.join(sys.argv[1], "go")):
        time.sleep(0.02)
"""

_MQ_HONEST = r"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
class A(ctypes.Structure):
    _fields_ = [("f", ctypes.c_long), ("maxmsg", ctypes.c_long), ("size", ctypes.c_long), ("cur", ctypes.c_long), ("pad", ctypes.c_long * 4)]
libc.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.POINTER(A)]
name = b"/honest%d" % os.getpid()
fd = libc.mq_open(name, os.O_CREAT | os.O_RDWR, 0o600, ctypes.byref(A(0, 4, 256, 0)))
print("B-OK" if fd >= 0 else "B-FAIL " + os.strerror(ctypes.get_errno()))
if fd >= 0:
    libc.mq_unlink(name)
"""


def test_a_normal_users_rollout_cannot_take_a_neighbours_message_queues(user_dir):
    """Normal-user mode: the kernel counts POSIX message queue bytes (RLIMIT_MSGQUEUE,
    800 KB) per user across user namespaces, as it counted inotify instances (refused since
    round 3). A rollout's tests make queues until EMFILE and hold them; while they run, a
    neighbour's honest test (another sandbox of the same user) and the user's own programs
    get EMFILE from mq_open: the neighbour's verdict changes with the hog beside it.
    (mq_open needs no mount: each IPC namespace has its own internal mqueue filesystem.)"""
    (user_dir / "runner.py").write_text(_USER_MQ)
    for d in ("a", "b"):
        (user_dir / d).mkdir()
    (user_dir / "a/hog.py").write_text(_MQ_HOG)
    (user_dir / "b/b.py").write_text(_MQ_HONEST)
    give_to_nobody(user_dir)
    cp = run_as(
        "nobody",
        [sys.executable, str(user_dir / "runner.py"), str(PROJECT), str(user_dir)],
        timeout=300,
    )
    result = printed_result(cp.stdout)
    assert result.get("kind") == "bwrap" and result["uid"] == 65534, cp.stdout + cp.stderr
    assert "B-OK" in result["alone"] and "HELD" in result["a"], result
    assert "B-OK" in result["beside"], result  # "B-FAIL Too many open files" today


_SIG_HOG = r"""
import ctypes, os, signal, sys, time
sig = signal.SIGRTMIN + 1
signal.pthread_sigmask(signal.SIG_BLOCK, [sig])
libc = ctypes.CDLL(None, use_errno=True)
class SV(ctypes.Union):
    _fields_ = [("i", ctypes.c_int), ("p", ctypes.c_void_p)]
libc.sigqueue.argtypes = [ctypes.c_int, ctypes.c_int, SV]
n = 0
pid = os.getpid()
while libc.sigqueue(pid, sig, SV(0)) == 0:
    n += 1
print("HELD", n, os.strerror(ctypes.get_errno()), flush=True)
if len(sys.argv) > 1:
    open(os.path.join(sys.argv[1], "held"), "w").close()
    while not os.path.exists(os.path.join(sys.argv[1], "go")):
        time.sleep(0.02)
"""

_SIG_HONEST = r"""
import ctypes, os, signal
sig = signal.SIGRTMIN + 2
signal.pthread_sigmask(signal.SIG_BLOCK, [sig])
libc = ctypes.CDLL(None, use_errno=True)
class SV(ctypes.Union):
    _fields_ = [("i", ctypes.c_int), ("p", ctypes.c_void_p)]
libc.sigqueue.argtypes = [ctypes.c_int, ctypes.c_int, SV]
r = libc.sigqueue(os.getpid(), sig, SV(0))
print("B-OK" if r == 0 else "B-FAIL " + os.strerror(ctypes.get_errno()))
"""


def test_a_normal_users_rollout_cannot_take_a_neighbours_queued_signals(user_dir):
    """Normal-user mode: pending queued signals (RLIMIT_SIGPENDING, ~96,000 here) count per
    user across user namespaces, like message queues (sbx4-7) and inotify. A rollout's test
    blocks a real-time signal and sigqueue()s it to itself until EAGAIN, and holds; while it
    runs, a neighbour's honest sigqueue (and timer_create, which needs a slot too) and the
    user's own programs' get EAGAIN. The launcher sets no RLIMIT_SIGPENDING (or MSGQUEUE)."""
    (user_dir / "runner.py").write_text(_USER_MQ)
    for d in ("a", "b"):
        (user_dir / d).mkdir()
    (user_dir / "a/hog.py").write_text(_SIG_HOG)
    (user_dir / "b/b.py").write_text(_SIG_HONEST)
    give_to_nobody(user_dir)
    cp = run_as(
        "nobody",
        [sys.executable, str(user_dir / "runner.py"), str(PROJECT), str(user_dir)],
        timeout=300,
    )
    result = printed_result(cp.stdout)
    assert result.get("kind") == "bwrap" and result["uid"] == 65534, cp.stdout + cp.stderr
    assert "B-OK" in result["alone"] and "HELD" in result["a"], result
    assert "B-OK" in result["beside"], result  # "B-FAIL Resource temporarily unavailable" today


# Run as nobody: a wrong gcd.py that, at import, makes under the protected tests/ a
# directory past PATH_MAX, with a file in it, and takes every permission off it.
_USER_LOCKED_PAST_PATH_MAX = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from agent.sandbox import sandbox_kind
from agent.suites.loading import load_suite
from agent.workspace import Workspace
from agent.final_verdict import final_test_run
out = {"kind": sandbox_kind(), "uid": os.getuid()}
suite = load_suite("mini-bugs")
ws = Workspace.create(suite, suite.task("fix_gcd"), Path(sys.argv[2]))
gcd = ws.path / "gcd.py"
gcd.write_text(
    "import os as _os\n"
    "def _deep():\n"
    "    h = _os.getcwd(); _os.chdir('tests'); n = len(h) + 6\n"
    "    while n < 4200:\n"
    "        _os.mkdir('a' * 255); _os.chdir('a' * 255); n += 256\n"
    "    _os.mkdir('x'); open('x/f', 'w').close(); _os.chmod('x', 0)\n"
    "    _os.chdir(h)\n"
    "if not _os.path.isdir('tests/' + 'a' * 255): _deep()\n" + gcd.read_text())
ws.run_tests()  # the rollout's own run
try:
    r, t = final_test_run(ws)
    out["final"] = [r.passed, r.error is not None, t]
except Exception as exc:
    out["final"] = "RAISED %s" % type(exc).__name__
print("RESULT", json.dumps(out))
"""


def test_a_normal_users_locked_directory_past_path_max_does_not_crash_the_final_verdict(user_dir):
    """Normal-user mode: ``_reclaim`` gives the user back read and write on what the tests
    locked, but its walk skips whatever is past PATH_MAX (scandir fails there). A directory
    of mode 000 that deep under tests/ stays locked; ``restore_protected`` removes tests/
    with ``remove_tree`` (descriptor-relative, so it does reach it), whose open of the
    locked directory raises PermissionError out of ``final_test_run``: the rollout's FAIL
    (and TAMPERED: it wrote under tests/) becomes not judged. (Its clean-up leaves it too.)"""
    (user_dir / "runner.py").write_text(_USER_LOCKED_PAST_PATH_MAX)
    (user_dir / "ws").mkdir()
    give_to_nobody(user_dir)
    try:
        cp = run_as(
            "nobody",
            [sys.executable, str(user_dir / "runner.py"), str(PROJECT), str(user_dir / "ws")],
            timeout=300,
        )
    finally:  # root: no permission needed, and rm works past PATH_MAX
        subprocess.run(["rm", "-rf", str(user_dir / "ws")], check=False)
    result = printed_result(cp.stdout)
    assert result.get("kind") == "bwrap" and result["uid"] == 65534, cp.stdout[-2000:] + cp.stderr[-2000:]
    assert isinstance(result["final"], list), result["final"]  # "RAISED PermissionError" today
    assert result["final"][0] is False


_MUTATE_HOST = r"""
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from agent.suites.mutate.runner import run_pytest
r = run_pytest(Path(sys.argv[2]), ["python", "-m", "pytest", "-q"], timeout_s=20, per_test_timeout_s=None)
print("RETURNED", r.summary)
"""


def test_a_repositorys_fifo_report_does_not_freeze_mutation_validation(tmp_path):
    """``repo-agent mutate`` runs a repository's tests (third-party code) in the sandbox with
    a report directory bound read-write, then reads ``report.json`` with ``read_text``:
    a test whose atexit hook replaces the report with a FIFO freezes the host for ever on
    that open (the sandbox is gone; no writer ever comes). The same reads as the config
    files' fix (regular files only, O_NOFOLLOW, non-blocking, bounded) are missing here;
    a link to /dev/zero there would be read until the host ran out of memory."""
    ws = tmp_path / "repo"
    ws.mkdir()
    (ws / "test_x.py").write_text(
        "import atexit, os\n\n\ndef test_x():\n    r = os.environ['REPO_AGENT_REPORT']\n\n"
        "    def swap():\n        os.unlink(r)\n        os.mkfifo(r)\n\n    atexit.register(swap)\n"
    )
    host = subprocess.Popen(
        [sys.executable, "-c", _MUTATE_HOST, str(PROJECT), str(ws)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},  # its report directory: this test's to remove
    )
    try:
        # An honest report is back in about half a second; a frozen host never is. 60 s, not 5:
        # at load 13-18 the host's start alone passed 5 s (2 runs of 4).
        out, _ = host.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(host.pid, 9)
        out, _ = host.communicate()
    assert "RETURNED" in out, out  # frozen on the FIFO today


_PTY_HOG = r"""
import ctypes, os, sys, time
held = []
try:
    while True:
        held.append(os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY))
        if len(held) % 900 == 0:  # a process holds at most 1,024 descriptors
            if os.fork() == 0:
                while not os.path.exists("go"):
                    time.sleep(0.02)
                os._exit(0)
            for fd in held[-900:]:
                os.close(fd)
except OSError as e:
    err = e
libc = ctypes.CDLL(None, use_errno=True)  # a devpts instance of its own, mounted from inside
for at in (b"/tmp", b"/dev/pts"):
    if libc.mount(b"devpts", at, b"devpts", 0, b"newinstance,ptmxmode=0666") == 0:
        print("MOUNTED", at, flush=True)
print("HELD", len(held), os.strerror(err.errno), flush=True)
if held:
    open("held", "w").close()
    while not os.path.exists("go"):
        time.sleep(0.02)
"""

_PTY_HONEST = r"""
import pty
try:
    m, s = pty.openpty()
    print("B-OK")
except OSError as e:
    print("B-FAIL", e.strerror)
"""


def _ptys_in_use() -> int:
    return int(Path("/proc/sys/kernel/pty/nr").read_text())


def test_a_rollout_cannot_take_every_pty_from_its_neighbours(tmp_path):
    """Root (and the same as a normal user): ``kernel.pty.max`` (4,096) counts every devpts
    instance of the machine together, less the 1,024 kept for the host's own. A rollout's
    test opened /dev/ptmx in a few processes (1,024 descriptors each) until ENOSPC and held
    them: a concurrent neighbour's ``pty.openpty()`` failed, and so did every container's.
    Now the sandbox has no pseudo-terminal at all (an empty read-only /dev/pts, and no
    devpts can be mounted from inside): the hog holds none, and the machine's count of
    ptys in use does not move. (Test runners need no terminal.)"""
    from agent.sandbox import run_command

    a = tmp_path / "a"
    a.mkdir()
    hog = f"pty_hog_{os.getpid()}.py"
    (a / hog).write_text(_PTY_HOG)
    (tmp_path / "b.py").write_text(_PTY_HONEST)
    before = _ptys_in_use()
    try:
        out = run_command([sys.executable, hog], a, timeout_s=60)[1]
    finally:
        kill_processes_naming(hog)  # its pid 1 then ends the sandbox
    assert "HELD 0 " in out and "MOUNTED" not in out, out
    assert _ptys_in_use() <= before + 16, (before, _ptys_in_use())  # the host's own may move a little
    honest = subprocess.run([sys.executable, str(tmp_path / "b.py")], capture_output=True, text=True, timeout=60)
    assert "B-OK" in honest.stdout, honest.stdout + honest.stderr  # the machine's ptys are there


_AIO_HOG = r"""
import ctypes, time
libc = ctypes.CDLL(None, use_errno=True)
n = 0
while True:
    ctx = ctypes.c_ulong(0)
    if libc.syscall(206, 1024, ctypes.byref(ctx)) != 0:  # io_setup
        break
    n += 1
err = ctypes.get_errno()
p = (ctypes.c_ubyte * 120)()
uring = libc.syscall(425, 8, p)  # io_uring_setup: its own count, the same kind of pool
print("HELD", n, err, "URING", uring, ctypes.get_errno(), flush=True)
while n:
    time.sleep(1)
"""

_AIO_HONEST = r"""
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
ctx = ctypes.c_ulong(0)
print("B-OK" if libc.syscall(206, 128, ctypes.byref(ctx)) == 0 else "B-FAIL %d" % ctypes.get_errno())
"""


def _aio_in_use() -> int:
    return int(Path("/proc/sys/fs/aio-nr").read_text())


def test_a_rollout_cannot_take_every_aio_slot_from_its_neighbours(tmp_path):
    """``io_setup``'s events count against ``fs.aio-max-nr`` (65,536), one count for the
    whole machine, whatever the uid or namespace. A rollout's test called it until EAGAIN
    (2 MB of rings) and held: a concurrent neighbour's io_setup failed (libaio users:
    databases, QEMU, the machine's own services as well). Now the seccomp filter refuses
    ``io_setup`` (and ``io_uring_setup``) with EPERM: the hog holds no slot, and the
    machine's own io_setup still works."""
    from agent.sandbox import run_command

    a = tmp_path / "a"
    a.mkdir()
    hog = f"aio_hog_{os.getpid()}.py"
    (a / hog).write_text(_AIO_HOG)
    (tmp_path / "b.py").write_text(_AIO_HONEST)
    try:
        out = run_command([sys.executable, hog], a, timeout_s=60)[1]
    finally:
        kill_processes_naming(hog)  # its pid 1 then ends the sandbox
    assert "HELD 0 1 URING -1 1" in out, out  # EPERM for both
    honest = subprocess.run([sys.executable, str(tmp_path / "b.py")], capture_output=True, text=True, timeout=60)
    assert "B-OK" in honest.stdout, honest.stdout + honest.stderr

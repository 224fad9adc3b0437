"""Issue 23, second round of attacks on the sandbox by a reviewer who did not build it.

Each test runs code the model could write with the real sandbox (bwrap, run as root the
way the test suite runs in CI) and fails on the code as it was before its fix.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import sys
import threading
import time
from pathlib import Path

import pytest

from agent import sandbox as sb
from agent.final_verdict import final_test_run
from agent.suites.loading import load_suite
from agent.workspace import Workspace
from tests.agent.conftest import write_suite
from tests.security.conftest import PROJECT, give_to_nobody, printed_result, run_as

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="root mode: the leased uid and the tmpfs copy-back")

# A 32-bit system call from 64-bit code (``int 0x80``): the kernel reports it with the
# i386 audit arch, which a filter that only looks at x86-64 numbers lets through.
_INT80 = r"""
import ctypes, mmap, struct
libc = ctypes.CDLL(None, use_errno=True)
def sys32(nr, a=0):
    code = b"\x53\xb8" + struct.pack("<I", nr) + b"\xbb" + struct.pack("<I", a) + b"\xcd\x80\x5b\xc3"
    m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    m.write(code)
    fn = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(m)))
    return fn()
print("UNSHARE64", libc.unshare(0x10000000))
print("UNSHARE32", sys32(310, 0x10000000))  # i386 unshare(CLONE_NEWUSER)
print("KEYCTL32", sys32(288, 0))  # i386 keyctl(KEYCTL_GET_KEYRING_ID)
print("CAPEFF", open("/proc/self/status").read().split("CapEff:")[1].split()[0])
"""


def test_32bit_system_calls_do_not_get_past_the_seccomp_filter(tmp_path):
    """The filter allowed every call of a foreign arch: ``int 0x80`` made a user namespace
    (full capabilities in it) and reached every call the filter denies."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "int80.py").write_text(_INT80)
    code, out, _, _ = sb.run_command([sys.executable, "int80.py"], ws, timeout_s=30, sandbox="bwrap")
    assert code == 0, out
    lines = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    assert lines.get("UNSHARE64") == "-1", out
    assert lines.get("UNSHARE32") == "-1", out  # -EPERM, not 0 (a new user namespace)
    assert lines.get("KEYCTL32") == "-1", out
    assert lines.get("CAPEFF") == "0000000000000000", out


def test_copy_back_never_makes_a_setuid_file_on_the_host(tmp_path):
    """The tmpfs copy went back with its mode bits as the sandbox set them, and owned by
    root: a copy of /bin/sh the tests made ``chmod 6755`` became a setuid-root shell in
    the host's workspace (any local user who reaches it runs it as root)."""
    ws = tmp_path / "ws"
    ws.mkdir()
    script = "cp /bin/sh rootsh && chmod 6755 rootsh && mkdir d && chmod 7777 d && echo made"
    code, out, _, _ = sb.run_command(["sh", "-c", script], ws, timeout_s=30, sandbox="bwrap")
    assert code == 0 and "made" in out, out
    for name in ("rootsh", "d"):
        st = os.lstat(ws / name)
        assert not st.st_mode & (stat.S_ISUID | stat.S_ISGID), (name, oct(st.st_mode), st.st_uid)
    assert os.access(ws / "rootsh", os.X_OK)  # the file itself is kept, only its privilege is not


def test_copy_back_never_changes_a_host_directory_a_link_names(tmp_path):
    """A third reviewer's attack: a symlink to a host directory, left in the workspace by the
    tests. ``os.walk`` lists it among the directories, and the copy-back's chmod and utime
    followed it as root: the host directory became 0777 (``/root`` did, in the attack)."""
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o700)
    os.utime(victim, ns=(10**18, 10**18))
    before = os.stat(victim)
    ws = tmp_path / "ws"
    ws.mkdir()
    script = f"ln -s {victim} link_to_host_dir && echo made"
    code, out, _, _ = sb.run_command(["sh", "-c", script], ws, timeout_s=30, sandbox="bwrap")
    assert code == 0 and "made" in out, out
    assert os.path.islink(ws / "link_to_host_dir")  # the link itself comes back as a link
    after = os.stat(victim)
    assert (stat.S_IMODE(after.st_mode), after.st_mtime_ns) == (stat.S_IMODE(before.st_mode), before.st_mtime_ns)


def _apparent_bytes(root: Path) -> int:
    return sum(os.lstat(os.path.join(d, f)).st_size for d, _, files in os.walk(root) for f in files)


def test_sparse_files_never_cost_the_host_more_than_the_cap(tmp_path):
    """Sparse files cost the sandbox's tmpfs nothing, so its 100,000 inodes can each be a
    64 MB file of holes; the copy-back keeps each at its size, and the patch then hashes
    every one (0.12 s each here: 100,000 of them are over 3 hours of host CPU per patch,
    after the run, under no timeout). The tree a run leaves must stay within the cap."""
    ws = tmp_path / "ws"
    ws.mkdir()
    script = "for i in range(8):\n    with open(f'hole{i}', 'wb') as f:\n        f.truncate(64 * 1024**2 - 1)\nprint('made')\n"
    (ws / "holes.py").write_text(script)
    try:
        code, out, _, _ = sb.run_command([sys.executable, "holes.py"], ws, timeout_s=30, sandbox="bwrap")
        assert code == 0 and "made" in out, out
        assert _apparent_bytes(ws) <= sb.WORKSPACE_BYTES, _apparent_bytes(ws)
        assert "files past the workspace cap" in out and "came back empty or were left out" in out, out
    finally:
        shutil.rmtree(ws, ignore_errors=True)


_USER_JUDGE = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from agent.final_verdict import final_test_run
from agent.sandbox import sandbox_kind
from agent.suites.loading import load_suite
from agent.workspace import Workspace
from tests.agent.conftest import ADD_TASK, write_suite
base = Path(sys.argv[2])
suite = load_suite(write_suite(base / "suite", {"fix_add": ADD_TASK}))
out = {"kind": sandbox_kind(), "uid": os.getuid()}
with Workspace.create(suite, suite.task("fix_add"), base / "ws") as ws:
    for rel, text in json.loads(sys.argv[3]).items():
        ws.resolve(rel).write_text(text)
    out["agent_run"] = ws.run_tests().passed
    try:
        result, tampered = final_test_run(ws)
        out["tampered"], out["patch"] = tampered, ws.patch()
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
print("RESULT", json.dumps(out))
"""

# A test the rollout added under the protected tests/ (tampering), which then takes away
# the user's own permissions on what the host must read and restore after the run.
_LOCKING_TEST = "import os\n\ndef test_zz_lock():\n    os.chmod('add.py', 0)\n    os.chmod('tests', 0o500)\n"


def test_a_normal_users_rollout_cannot_lock_the_host_out_of_its_workspace(user_dir):
    """Run by a normal user, the sandbox is that user: a test that made ``tests/`` read-only
    and the fix unreadable made restoring the protected files and taking the patch fail on
    the host, so a TAMPERED rollout ended *not judged* (an "error", as if the machine had
    failed) instead, and its workspace could not be removed."""
    (user_dir / "judge.py").write_text(_USER_JUDGE)
    writes = {"add.py": "def add(a, b):\n    return a + b\n", "tests/test_zz_lock.py": _LOCKING_TEST}
    give_to_nobody(user_dir)
    cp = run_as(
        "nobody",
        [sys.executable, str(user_dir / "judge.py"), str(PROJECT), str(user_dir / "j"), json.dumps(writes)],
        timeout=300,
    )
    result = printed_result(cp.stdout)
    assert result.get("kind") == "bwrap" and result["uid"] == 65534, cp.stdout + cp.stderr
    assert result["agent_run"] is True, result
    assert "error" not in result, result
    assert "tests/test_zz_lock.py" in result["tampered"], result
    assert "+    return a + b" in result["patch"], result


_CALC_INIT = "from calc.core import add\n"
_CALC_TASK = {
    "calc/__init__.py": _CALC_INIT,
    "calc/core.py": "def add(a, b):\n    return a - b\n",
    "tests/test_add.py": "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
    "_fix/calc/core.py": "def add(a, b):\n    return a + b\n",
}
# What the model writes: at import, it fixes core.py in place (same size) and puts its
# mtime back, then writes itself back as given. Nothing it touched differs by stat.
_MTIME_FORGER = (
    "import os\n_c = os.path.join(os.path.dirname(__file__), 'core.py')\n_st = os.stat(_c)\n"
    "_s = open(_c).read()\nif 'a - b' in _s:\n    open(_c, 'w').write(_s.replace('a - b', 'a + b'))\n"
    "    os.utime(_c, ns=(_st.st_atime_ns, _st.st_mtime_ns))\n"
    f"open(__file__, 'w').write({_CALC_INIT!r})\nfrom calc.core import add\n"
)


def test_a_fix_with_its_mtime_put_back_is_in_the_patch(tmp_path):
    """The patch skips a file whose size and mtime match the source's, and code under test
    may set its files' mtimes: a fix written by the tests' process with the old mtime put
    back passed the final run while the patch (what the trace, the store and the exports
    keep) was empty."""
    suite = load_suite(write_suite(tmp_path / "suite", {"t": _CALC_TASK}))
    with Workspace.create(suite, suite.task("t"), tmp_path / "ws") as ws:
        (ws.path / "calc/__init__.py").write_text(_MTIME_FORGER)
        assert ws.run_tests().passed
        assert "a + b" in (ws.path / "calc/core.py").read_text()
        patch = ws.patch()
        result, tampered = final_test_run(ws)
    assert result.passed and not tampered  # what was judged: the fix
    assert "+    return a + b" in patch, patch  # so the patch must show it


def test_a_workspace_over_the_cap_is_an_error_never_zeroed_files(tmp_path, monkeypatch):
    """The tmpfs copy turned every file past the cap into a hole of its size: the tests read
    NUL bytes (the run failed: the rollout blamed for the cap) and the copy-back wrote them
    over the workspace's own files. (A task repository over 256 MB, scaled down to 1 MB.)"""
    monkeypatch.setattr(sb, "WORKSPACE_BYTES", 1024**2)
    ws = tmp_path / "ws"
    (ws / "pkg").mkdir(parents=True)
    (ws / "data.bin").write_bytes(b"x" * (2 * 1024**2))  # over the cap and the host's 16th
    source = "print('task source')\n"
    (ws / "pkg/code.py").write_text(source)  # walked after data.bin: past the cap
    with pytest.raises(sb.SandboxError, match="over the sandbox"):
        sb.run_command([sys.executable, "pkg/code.py"], ws, timeout_s=30, sandbox="bwrap")
    assert (ws / "pkg/code.py").read_text() == source


_ACL = r"""
import os, struct
def acl(uid):  # POSIX ACL xattr: owner rw, user ``uid`` rwx, group r, mask rwx, other r
    ents = [(1, 6, -1), (2, 7, uid), (4, 4, -1), (0x10, 7, -1), (0x20, 4, -1)]
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", t, p, i & 0xFFFFFFFF) for t, p, i in ents)
open("f.py", "w").write("x = 1\n")
os.mkdir("d")
try:  # refused at the source since round 17 (r17-37: setxattr is EOPNOTSUPP in the sandbox)
    os.setxattr("f.py", "system.posix_acl_access", acl(1000))
    os.setxattr("f.py", "user.note", b"v")
    os.setxattr("d", "system.posix_acl_default", acl(1000))
    print("set")
except OSError as exc:
    print("refused", exc.errno)
"""


def test_copy_back_never_carries_the_sandboxs_acls_to_roots_files(tmp_path):
    """The copy-back (as root) copied extended attributes: a POSIX ACL the tests put on a
    file or directory granted a uid of the model's choosing write access to root's files
    in the host workspace, and a default ACL to every file root later writes there (the
    restored tests, the canaries, the hidden tests)."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "acl.py").write_text(_ACL)
    code, out, _, _ = sb.run_command([sys.executable, "acl.py"], ws, timeout_s=30, sandbox="bwrap")
    assert code == 0 and ("set" in out or "refused 95" in out), out
    assert os.stat(ws / "f.py").st_uid == 0
    assert os.listxattr(ws / "f.py") == [] and os.listxattr(ws / "d") == []


_WAITS_THEN_DIES = r"""
import ctypes, os, signal, time
go = []
signal.signal(signal.SIGUSR1, lambda *_: go.append(1))
ctypes.CDLL(None).prctl(15, b"%s", 0, 0, 0)  # PR_SET_NAME (the sandbox's /proc is read-only)
deadline = time.monotonic() + 20
while not go and time.monotonic() < deadline:
    signal.sigtimedwait([signal.SIGUSR2], 0.01)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _pids_named(comm: str) -> list[int]:
    out = []
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and Path(f"/proc/{pid}/comm").read_text().strip() == comm:
                out.append(int(pid))
        except OSError:
            continue
    return out


def test_a_neighbour_over_its_memory_cgroup_never_makes_a_run_not_judged(tmp_path, monkeypatch):
    """A run killed by SIGKILL was judged an infrastructure failure (not judged) whenever the
    machine-wide OOM count rose meanwhile, and a sandbox going over its *own* memory cgroup
    raises that count: one rollout's memory hog made a concurrent rollout's run, which its
    own code ended, "out of memory" (not judged) instead of its FAIL. (Seen for real: it
    made tests/agent/test_sandbox.py's OOM test fail beside the cgroup test.)"""
    from agent import cgroups

    if cgroups._own("memory") is None:
        pytest.fail("no memory cgroup can be made here", pytrace=False)
    monkeypatch.setattr(cgroups, "MEMORY_BYTES", 64 * 1024**2)
    comm = f"dies{os.getpid() % 100000}"
    b, a = tmp_path / "b", tmp_path / "a"
    for d in (a, b):
        d.mkdir()
    (b / "dies.py").write_text(_WAITS_THEN_DIES % comm)
    (a / "hog.py").write_text("x = b'x' * (300 << 20)\n")
    box: dict[str, tuple[int | None, str, float, bool] | sb.SandboxError] = {}

    def run_b() -> None:
        try:
            box["b"] = sb.run_command([sys.executable, "dies.py"], b, timeout_s=30, sandbox="bwrap")
        except sb.SandboxError as exc:
            box["b"] = exc

    t = threading.Thread(target=run_b)
    t.start()
    try:
        deadline = time.monotonic() + 20
        while not _pids_named(comm) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _pids_named(comm), "the sandbox never started"
        code_a, out_a, _, _ = sb.run_command([sys.executable, "hog.py"], a, timeout_s=30, sandbox="bwrap")
        assert code_a == 137 and "went over its memory limit" in out_a, out_a
    finally:
        for pid in _pids_named(comm):
            os.kill(pid, signal.SIGUSR1)
        t.join(timeout=60)
    run_b_result = box["b"]
    assert not isinstance(run_b_result, sb.SandboxError), run_b_result
    code_b, _, _, timed_out = run_b_result
    assert code_b == 137 and not timed_out


_USER_INOTIFY = r"""
import json, os, sys, threading, time
sys.path.insert(0, sys.argv[1])
from agent.sandbox import run_command, sandbox_kind
ws = sys.argv[2]
out = {"kind": sandbox_kind(), "uid": os.getuid()}
box = {}
sig = ws + "/a-sig"  # "held" and "stop" pass through it: the sandbox writes a tmpfs of its own
os.mkdir(sig)
hog = threading.Thread(target=lambda: box.update(a=run_command([sys.executable, "hog.py"], ws + "/a", timeout_s=30, env={"SIG": sig}, extra_binds=(sig,))))
hog.start()
deadline = time.monotonic() + 20
while not os.path.exists(sig + "/held") and time.monotonic() < deadline:
    time.sleep(0.01)
out["b"] = run_command([sys.executable, "b.py"], ws + "/b", timeout_s=30)[1]
import ctypes
out["user_inotify"] = ctypes.CDLL(None).inotify_init1(0) >= 0  # this user's own programs, outside
open(sig + "/stop", "w").close()
hog.join()
out["a"] = box["a"][1]
print("RESULT", json.dumps(out))
"""
_INOTIFY_HOG = (
    "import ctypes, os, time\nlibc = ctypes.CDLL(None)\nheld = 0\nwhile libc.inotify_init1(0) >= 0:\n    held += 1\n"
    "print('HELD', held, flush=True)\nopen(os.environ['SIG'] + '/held', 'w').close()\nfor _ in range(2000):\n"
    "    if os.path.exists(os.environ['SIG'] + '/stop'):\n        break\n    time.sleep(0.01)\n"
)


def test_a_normal_users_rollout_cannot_take_every_inotify_instance(user_dir):
    """Run by a normal user, every sandbox is that user, and the kernel counts inotify
    instances per user across user namespaces (128 by default): one rollout holding them
    all left a concurrent rollout's tests (a file watcher) none, and the user's own
    programs none either, for as long as it ran. No cgroup counts them, so the sandbox
    refuses inotify (and fanotify) to every rollout alike: the hog holds none, and the
    user's programs keep theirs."""
    (user_dir / "runner.py").write_text(_USER_INOTIFY)
    for d in ("a", "b"):
        (user_dir / d).mkdir()
    (user_dir / "a/hog.py").write_text(_INOTIFY_HOG)
    (user_dir / "b/b.py").write_text("import ctypes\nprint('B-INOTIFY', ctypes.CDLL(None).inotify_init1(0) >= 0)\n")
    give_to_nobody(user_dir)
    cp = run_as(
        "nobody",
        [sys.executable, str(user_dir / "runner.py"), str(PROJECT), str(user_dir)],
        timeout=300,
    )
    result = printed_result(cp.stdout)
    assert result.get("kind") == "bwrap" and result["uid"] == 65534, cp.stdout + cp.stderr
    assert "HELD 0" in result["a"], result  # refused: none taken from anyone
    assert "B-INOTIFY False" in result["b"], result  # the same for every rollout, alone or not
    assert result["user_inotify"] is True, result


def test_a_path_too_deep_to_copy_back_is_left_out_not_an_error(tmp_path):
    """A directory chain longer than PATH_MAX, made by the tests inside the tmpfs copy, made
    the copy-back fail: SandboxError, so a run the rollout's own code sabotaged ended *not
    judged* (an infrastructure error) instead of its FAIL, and the workspace, emptied
    before the copy, lost its files."""
    ws = tmp_path / "ws"
    ws.mkdir()
    script = (
        "import os\nopen('kept.txt', 'w').write('kept')\n"
        "for _ in range(25):\n    os.mkdir('d' * 200)\n    os.chdir('d' * 200)\n"
        "open('leaf', 'w').write('x')\nprint('deep made')\n"
    )
    (ws / "deep.py").write_text(script)
    code, out, _, _ = sb.run_command([sys.executable, "deep.py"], ws, timeout_s=30, sandbox="bwrap")
    assert code == 0 and "deep made" in out, out
    assert (ws / "kept.txt").read_text() == "kept" and (ws / "deep.py").is_file()


def test_sparse_files_stay_sparse_and_the_next_run_still_runs(tmp_path):
    """The copy-back wrote the first 320 MB of sparse files dense on the host disk; so
    copied, a workspace of holes was over the tmpfs cap on the way back in, and the next
    run (the final one) could not start: a rollout made itself *not judged*."""
    ws = tmp_path / "ws"
    ws.mkdir()
    script = "for i in range(8):\n    with open(f'hole{i}', 'wb') as f:\n        f.truncate(64 * 1024**2 - 1)\n"
    (ws / "holes.py").write_text(script)
    try:
        code, out, _, _ = sb.run_command([sys.executable, "holes.py"], ws, timeout_s=30, sandbox="bwrap")
        assert code == 0, out
        on_disk = sum(os.lstat(ws / f"hole{i}").st_blocks * 512 for i in range(8))
        assert on_disk < 1024**2, on_disk
        code, out, _, _ = sb.run_command(["true"], ws, timeout_s=30, sandbox="bwrap")
        assert code == 0, out
    finally:
        shutil.rmtree(ws, ignore_errors=True)


def test_hard_links_come_back_as_links_and_the_next_run_still_runs(tmp_path):
    """The copy-back copied each name of a hard-linked file: one 60 MB file with four more
    names (60 MB in the tmpfs) became 300 MB on the host, over the cap on the way back in,
    and the next run (the final one) could not start: a rollout made itself *not judged*."""
    ws = tmp_path / "ws"
    ws.mkdir()
    script = "head -c 60000000 /dev/zero > big && for i in 1 2 3 4; do ln big l$i; done && echo made"
    try:
        code, out, _, _ = sb.run_command(["sh", "-c", script], ws, timeout_s=30, sandbox="bwrap")
        assert code == 0 and "made" in out, out
        assert os.lstat(ws / "big").st_nlink == 5 and os.path.samefile(ws / "big", ws / "l4")
        code, out, _, _ = sb.run_command(["true"], ws, timeout_s=30, sandbox="bwrap")
        assert code == 0, out
    finally:
        shutil.rmtree(ws, ignore_errors=True)

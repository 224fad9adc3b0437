"""The sandbox's open items after round 5, closed in round 6 (issue 23).

Real bwrap, the mini-bugs ``fix_gcd`` task, the real ``final_test_run``; the normal-user
tests start it themselves as ``nobody`` (runuser), as the other security files do.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from agent import final_verdict, sandbox
from agent.final_verdict import final_test_run
from tests.security.conftest import PROJECT, gcd_workspace, give_to_nobody, memory_cgroup, printed_result, run_as


def test_a_workspace_past_the_file_cap_before_the_final_run_is_a_fail_not_an_error(mini_suite, tmp_path, monkeypatch):
    """Round 5 #20: 107,000 files already in the workspace (the agent's own edits can make
    them, outside any sandbox) made the final run's sandbox refuse to start: SandboxError,
    not judged. Only bytes were checked before it; now names are too, as the tmpfs counts
    them, and the rollout's own doing is its FAIL. (The cap is lowered to 1,000 files
    here: 107,000 files take half a minute on a loaded machine; the rule is the same.)"""
    monkeypatch.setattr(sandbox, "WORKSPACE_INODES", 1_000)
    monkeypatch.setattr(final_verdict, "WORKSPACE_INODES", 1_000)
    ws = gcd_workspace(mini_suite, tmp_path)
    junk = ws.path / "junk"
    junk.mkdir()
    for i in range(1_070):
        os.close(os.open(junk / str(i), os.O_WRONLY | os.O_CREAT, 0o644))
    result, _ = final_test_run(ws)
    assert not result.passed
    assert result.error is not None and "files, over the sandbox's" in result.error, result.error


_FORKING_OOM_RUNNER = r"""
import sys, json
sys.path.insert(0, sys.argv[1])
from agent.sandbox import run_command
# Three children hold 40 MB each; only then does the main process grow to 150 MB. The sum
# passes the sandbox's part of the host cgroup (512 MB less 64, halved: 224 MB) while each
# process stays under RLIMIT_AS (that part too: a 400 MB main process met it and raised
# MemoryError once the part was halved, round 10 r10-1), and the main process is by far the
# largest when the limit is reached, so the OOM killer takes it (an equal split let it take a
# child at random: the run then ended 0 and the test flaked).
hog = (
    "import os, time\nr, w = os.pipe()\n"
    "for _ in range(3):\n"
    "    if os.fork() == 0:\n"
    "        b = bytearray(40 * 2**20); b[::4096] = b'x' * len(b[::4096])\n"
    "        os.write(w, b'.'); time.sleep(5); os._exit(0)\n"
    "for _ in range(3):\n    os.read(r, 1)\n"
    "b = bytearray(150 * 2**20); b[::4096] = b'x' * len(b[::4096])\n"
)
open(sys.argv[2] + "/hog.py", "w").write(hog)
try:
    r = run_command([sys.executable, "hog.py"], sys.argv[2], timeout_s=60)
    print("RESULT", json.dumps([r[0], r[1][-300:]]))
except Exception as exc:
    print("RESULT", json.dumps("RAISED %s: %s" % (type(exc).__name__, exc)))
"""


def test_a_forking_rollouts_own_oom_under_a_host_memory_limit_is_its_own(tmp_path):
    """sbx4-5 with four processes, 270 MB in all (each under RLIMIT_AS), as root in a host
    cgroup of 512 MB: the sandbox's memory cgroup is limited to what the enclosing one
    leaves (not a fixed 4 GB), so the sandbox's own limit kills it first and the run is
    the rollout's (137, "went over its memory limit"), never SandboxError "out of memory"."""
    if not Path("/sys/fs/cgroup/memory/cgroup.procs").is_file():
        pytest.fail("needs a cgroup v1 memory hierarchy", pytrace=False)
    with memory_cgroup("repo-agent-r6oom", 512 * 2**20) as d:
        argv = [sys.executable, "-c", _FORKING_OOM_RUNNER, str(PROJECT), str(tmp_path)]
        cp = run_as("root", argv, cgroup=d, timeout=120)
    result = printed_result(cp.stdout, cp.stdout + cp.stderr)
    assert isinstance(result, list), result  # "RAISED SandboxError: out of memory" with a 4 GB limit
    assert result[0] == 137 and "went over its memory limit" in result[1], result


def test_the_held_out_inputs_are_private_to_the_sandboxs_uid_while_it_runs(mini_suite, tmp_path, monkeypatch):
    """Round 5 #27: the differential wrote its held-out inputs (its calls file) into a 0755
    directory as a 0644 file of the host's /tmp: any local user could read every held-out
    input of a root run. Now the directory is 0700 and the file 0600, the leased uid's
    while the sandbox runs (it still reads them: the verdict comes back) and root's after."""
    from agent import differential
    from agent.workspace import apply_reference_fix

    seen: list[tuple[int, int, int, int, bool]] = []
    real = differential.run_command_full

    def spy(argv, cwd, **options):
        box = Path(argv[-1]).parent  # the runner's script; its calls beside it (names drawn per run: r16-9)
        (calls,) = box.glob("*.json")
        d, f = os.stat(box), os.stat(calls)
        seen.append((d.st_mode & 0o777, f.st_mode & 0o777, d.st_uid, f.st_uid, box in options["private_binds"]))
        return real(argv, cwd, **options)

    monkeypatch.setattr(differential, "run_command_full", spy)
    ws = gcd_workspace(mini_suite, tmp_path)
    apply_reference_fix(mini_suite, ws.task, ws)
    verdict = differential.judge(ws)
    assert verdict is not None and seen
    assert all(s[:2] == (0o700, 0o600) and s[4] for s in seen), seen
    if os.geteuid() == 0:  # handed over only in the run (the lease is taken there): root's before it
        assert all(s[2] == s[3] == 0 for s in seen), seen
    assert verdict.passed and verdict.checked > 0, verdict


def test_a_private_bind_is_the_leased_uids_while_the_sandbox_runs_and_ours_after(tmp_path):
    """``private_binds``: a 0700 directory with a 0600 file stays private on the host, yet
    the sandbox's leased uid (root mode) reads it during the run; it is root's again after."""
    from agent.sandbox import run_command

    box, ws = tmp_path / "box", tmp_path / "ws"
    box.mkdir(mode=0o700)
    ws.mkdir()
    (box / "calls.json").write_text("HELD-OUT")
    (box / "calls.json").chmod(0o600)
    code, out, _, _ = run_command(
        ["sh", "-c", f"stat -c '%a %u' {box} && id -u && cat {box}/calls.json"],
        ws,
        timeout_s=30,
        private_binds=(box,),
    )
    lines = out.split()
    assert code == 0 and lines[0] == "700" and lines[1] == lines[2] and lines[3] == "HELD-OUT", out
    assert os.stat(box).st_uid == os.stat(box / "calls.json").st_uid == os.geteuid()


# Run as nobody: a rollout's tests write 4 MB files until 120 MB, then empty files until
# 5,000 (the caps lowered to 32 MB and 2,000 files for speed; at the real 256 MB, 20 MB
# files were stopped at the 13th, and the workspace trimmed to 251 MB).
_USER_DISK = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])
from agent import sandbox
from agent.sandbox import run_command, sandbox_kind, tree_cost
ws = sys.argv[2]
out = {"kind": sandbox_kind(), "uid": os.getuid()}
sandbox.WORKSPACE_BYTES, sandbox.WORKSPACE_INODES = 32 << 20, 2000
big = "import os\nos.mkdir('big')\nfor i in range(30):\n    with open('big/%d' % i, 'wb') as f:\n        f.write(os.urandom(1 << 20) * 4)\n    print('WROTE', i, flush=True)\nprint('WROTE ALL')\n"
open(os.path.join(ws, "big.py"), "w").write(big)
r = run_command([sys.executable, "big.py"], ws, timeout_s=60)
out["big"] = [r[0], r[1][-400:], tree_cost(ws)[0]]
sandbox.remove_tree(os.path.join(ws, "big"))
many = "import os\nos.mkdir('many')\nfor i in range(5000):\n    open('many/%d' % i, 'w').close()\nprint('WROTE ALL')\n"
open(os.path.join(ws, "many.py"), "w").write(many)
r = run_command([sys.executable, "many.py"], ws, timeout_s=60)
out["many"] = [r[0], r[1][-400:], tree_cost(ws)[1]]
sandbox.remove_tree(os.path.join(ws, "many"))
sparse = "for i in range(3):\n    with open('s%d' % i, 'wb') as f:\n        f.truncate(30 << 20)\n"
open(os.path.join(ws, "sparse.py"), "w").write(sparse)
r = run_command([sys.executable, "sparse.py"], ws, timeout_s=60)
out["sparse"] = [r[0], r[1][-400:], tree_cost(ws)[0]]
print("RESULT", json.dumps(out))
"""


def test_a_normal_users_rollout_cannot_fill_the_host_disk_during_its_run(user_dir):
    """Round 5 #5: normal-user mode had no in-run disk cap (no tmpfs can be mounted without
    root): a rollout wrote 360 MB and 150,000 files into the host's workspace. A watcher
    now stops the run once the workspace passes the cap (256 MB, 100,000 files) and the
    workspace is trimmed back within it, as root mode's copy-back is."""
    (user_dir / "runner.py").write_text(_USER_DISK)
    (user_dir / "ws").mkdir()
    give_to_nobody(user_dir)
    cp = run_as(
        "nobody",
        [sys.executable, str(user_dir / "runner.py"), str(PROJECT), str(user_dir / "ws")],
        timeout=300,
    )
    result = printed_result(cp.stdout)
    assert result.get("kind") == "bwrap" and result["uid"] == 65534, cp.stdout[-2000:] + cp.stderr[-2000:]
    code, out, size = result["big"]
    assert code != 0 and "WROTE ALL" not in out and "went over its cap" in out, result
    assert size <= 32 << 20, result
    code, out, names = result["many"]
    assert code != 0 and "WROTE ALL" not in out and "went over its cap" in out, result
    assert names <= 2000, result
    code, out, size = result["sparse"]  # no disk taken, so no stop; but trimmed as the tmpfs counts it
    assert code == 0 and "went over its cap" in out and size <= 32 << 20, result


def test_the_mounted_venvs_lock_cannot_be_held_from_the_sandbox(tmp_path):
    """Round 5 #13: uv's venv lock (``.venv/.lock``, 0666) is readable through the read-only
    bind, and a flock on it held the host's ``uv`` (17 s in the attack). The sandbox's
    ``.lock`` is /dev/null now: the host's lock stays free."""
    from agent.bwrap import runtime_dirs
    from agent.sandbox import run_command

    locks = [Path(d) / ".lock" for d in runtime_dirs() if (Path(d) / ".lock").is_file()]
    if not locks:
        pytest.fail("this venv has no .lock (not made by uv)", pytrace=False)
    ws, sig = tmp_path / "ws", tmp_path / "sig"  # sig: bound as it is (the workspace is a copy as root)
    ws.mkdir()
    sig.mkdir()
    (ws / "hold.py").write_text(
        "import fcntl, os, sys, time\nf = open(sys.argv[1])\nfcntl.flock(f, fcntl.LOCK_EX)\n"
        f"open('{sig}/held', 'w').close()\nwhile not os.path.exists('{sig}/go'):\n    time.sleep(0.01)\n"
    )
    out: list[str] = []
    argv = [sys.executable, "hold.py", str(locks[0])]
    t = threading.Thread(target=lambda: out.append(run_command(argv, ws, timeout_s=60, extra_binds=(sig,))[1]))
    t.start()
    try:
        while not (sig / "held").exists() and t.is_alive():
            t.join(0.01)
        with open(locks[0]) as f:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError: the sandbox holds the host's
            fcntl.flock(f, fcntl.LOCK_UN)
    finally:
        (sig / "go").touch()
        t.join()
    # As root the sandbox cannot open it (nodev); as a normal user it locks /dev/null, not the host's.
    assert (sig / "held").exists() or "PermissionError" in out[0], out


# Run as nobody: the probe of the machine-wide pools in a normal user's sandbox.
_USER_POOLS = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])
from agent.sandbox import run_command, sandbox_kind
probe = (
    "import ctypes, os\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "try:\n    os.open('/dev/ptmx', os.O_RDWR | os.O_NOCTTY); print('PTY OPENED')\n"
    "except OSError as e:\n    print('PTY', e.errno)\n"
    "ctx = ctypes.c_ulong(0)\n"
    "print('AIO', libc.syscall(206, 128, ctypes.byref(ctx)), ctypes.get_errno())\n"
    "p = (ctypes.c_ubyte * 120)()\n"
    "print('URING', libc.syscall(425, 8, p), ctypes.get_errno())\n"
    "print('DEVPTS', libc.mount(b'devpts', b'/tmp', b'devpts', 0, b'newinstance'), ctypes.get_errno())\n"
)
open(os.path.join(sys.argv[2], "probe.py"), "w").write(probe)
out = {"kind": sandbox_kind(), "uid": os.getuid()}
out["probe"] = run_command([sys.executable, "probe.py"], sys.argv[2], timeout_s=30)[1]
print("RESULT", json.dumps(out))
"""


@pytest.mark.parametrize("subuids", ["", "0"], ids=["own-uid", "shared-uid"])
def test_a_normal_users_sandbox_has_no_pty_and_no_kernel_aio(user_dir, subuids):
    """sbx4-11 and sbx4-12 in normal-user mode (the root-mode attacks are in round 4's file):
    no /dev/ptmx, no devpts mount, io_setup and io_uring_setup refused (EPERM). Both
    normal-user modes: a uid per sandbox (agent/subuid.py), and the user's own uid."""
    (user_dir / "runner.py").write_text(_USER_POOLS)
    (user_dir / "ws").mkdir()
    give_to_nobody(user_dir)
    cp = run_as(
        "nobody",
        [sys.executable, str(user_dir / "runner.py"), str(PROJECT), str(user_dir / "ws")],
        timeout=300,
        env={**os.environ, "REPO_AGENT_SUBUIDS": subuids},
    )
    result = printed_result(cp.stdout)
    assert result.get("kind") == "bwrap" and result["uid"] == 65534, cp.stdout[-2000:] + cp.stderr[-2000:]
    probe = result["probe"]
    assert "PTY 2\n" in probe and "AIO -1 1\n" in probe and "URING -1 1\n" in probe, probe  # ENOENT, EPERM
    assert "DEVPTS -1 1\n" in probe, probe


def test_a_workspace_the_normal_user_start_accepts_is_within_the_watchs_cap(tmp_path, monkeypatch):
    """The start accepted up to the tmpfs's room (the cap and a 16th) while the disk watch
    killed past the bare cap: a workspace in between was accepted, then killed at the watch's
    first look as if the rollout had overgrown it. Both now use the one room."""
    monkeypatch.setattr(sandbox, "WORKSPACE_BYTES", 64_000)
    root = os.stat(tmp_path).st_blocks * 512  # the directory's own blocks count too (round 8 sbx8-2)
    (tmp_path / "data.bin").write_bytes(b"x" * (65_536 - root))  # 16 pages in all: over the cap, within its 16th
    watch = sandbox._disk_watch("bwrap", None, tmp_path)
    assert watch is not None
    size, names = sandbox.tree_cost(tmp_path)
    assert size <= watch.max_bytes and names <= watch.max_names
    (tmp_path / "more.bin").write_bytes(b"x" * 8_192)
    with pytest.raises(sandbox.SandboxError, match="over the sandbox's cap"):
        sandbox._disk_watch("bwrap", None, tmp_path)


_USER_DEFAULT_ACL = r"""
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
(ws.path / "gcd.py").write_text(
    "import os, struct\n"
    "def _acl(entries):\n"
    "    return struct.pack('<I', 2) + b''.join(struct.pack('<HHI', t, p, 0xFFFFFFFF) for t, p in entries)\n"
    "if not os.path.exists('acl_mark'):\n"
    "    open('acl_mark', 'w').close()\n"
    "    os.setxattr('.', 'system.posix_acl_default', _acl([(0x01, 0), (0x04, 0), (0x10, 0), (0x20, 0)]))\n"
    "def gcd(a, b):\n    return 1\n"
)
ws.run_tests()  # the rollout's own run sets the ACL
try:
    r, t = final_test_run(ws)
    out["final"] = [r.passed, r.error, t]
except Exception as exc:
    out["final"] = "RAISED %s: %s" % (type(exc).__name__, exc)
print("RESULT", json.dumps(out))
"""


def test_a_default_acl_the_tests_set_does_not_make_a_wrong_fix_not_judged(user_dir):
    """Round 7 #17, normal-user mode: the tests set a default POSIX ACL ``u::---`` on the
    workspace root; ``_reclaim`` gave back modes but not ACLs, so the files the host then
    created (the restored tests) were born unreadable to it and ``restore_protected`` raised
    PermissionError: a plainly wrong gcd ended "not judged". Now the ACLs go too: FAIL."""

    (user_dir / "runner.py").write_text(_USER_DEFAULT_ACL)
    (user_dir / "ws").mkdir()
    give_to_nobody(user_dir)
    try:
        cp = run_as(
            "nobody",
            [sys.executable, str(user_dir / "runner.py"), str(PROJECT), str(user_dir / "ws")],
            timeout=300,
        )
    finally:
        subprocess.run(["rm", "-rf", str(user_dir / "ws")], check=False)
    result = printed_result(cp.stdout)
    assert result.get("kind") == "bwrap" and result["uid"] == 65534, cp.stdout[-2000:] + cp.stderr[-2000:]
    assert isinstance(result["final"], list), result["final"]  # "RAISED PermissionError" before
    assert result["final"][0] is False

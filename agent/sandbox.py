"""Running model-written code in a sandbox (docs/ARCHITECTURE.md, sandbox).

- ``bwrap`` (bubblewrap) when it is installed *and* actually starts here: the command sees
  only the system, the interpreter, the venv and the workspace (agent/bwrap.py), has no
  network, its own pid namespace (killing bwrap kills everything inside), size-capped
  /tmp and /dev/shm, never runs as uid 0, and dies with its parent.
- ``rlimit``, a plain subprocess with resource limits, runs only when the caller asks for
  it by name or the user said ``--unsafe-no-sandbox`` (``REPO_AGENT_UNSAFE_NO_SANDBOX=1``);
  ``auto`` without a working bwrap raises SandboxError. ``sandbox_warning()`` returns the
  text a front end shows once.

Both run the command through a tiny launcher (``python -S -c``) that sets the resource
limits and then execs: limits are set in the child without ``preexec_fn``, which is
unsafe in a threaded batch. Both start a new session and always enforce a wall-clock
timeout that SIGKILLs the whole process group; without bwrap the launcher stays as a
child subreaper and kills what the command left behind. Running a task's tests and
judging their verdict is agent/scoring.py.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from agent.bwrap import SANDBOX_UID, bwrap_argv, drops_root, hand_over

SandboxKind = Literal["bwrap", "rlimit"]
PLUGIN_DIR = Path(__file__).parent / "_pytest_plugins"
MAX_OUTPUT_BYTES = 4_000_000  # kept from a runaway printer; the rest is counted, not stored
MAX_STREAM_BYTES = 8_000_000  # the verdict records of one run

# Resource limits for the test process tree (both sandbox kinds).
AS_LIMIT = 2 * 1024**3
FSIZE_LIMIT = 64 * 1024**2  # no single file bigger (the workspace total is checked after the run)
NPROC_LIMIT = 256  # binds because the tests never run as uid 0 under bwrap (agent/bwrap.py)

# Runs first in the child: drops to the sandbox uid (root only), sets the limits, then
# execs. With "reap" (no bwrap: no pid namespace) it stays as a child subreaper and kills
# what the command left behind, setsid daemons included.
_LAUNCHER = r"""
import os, sys, resource as r, json
c = json.loads(sys.argv[1])
uid, reap, keep = c.pop("uid", None), c.pop("reap", False), c.pop("fds", [])
if uid is not None:
    os.setgroups([]); os.setgid(uid); os.setuid(uid)
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
        os.execvp(sys.argv[2], sys.argv[2:])
    except OSError as e:
        sys.stderr.write("repo-agent: cannot run %r: %s\n" % (sys.argv[2], e.strerror or e)); os._exit(127)
if not reap:
    run()
import ctypes, signal
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans come back to us
p = os.fork()
if p == 0:
    run()
for f in keep:
    os.close(f)
_, st = os.waitpid(p, 0)
def kids():
    out = []
    for d in os.listdir("/proc"):
        try:
            if d.isdigit() and open("/proc/%s/stat" % d).read().rsplit(")", 1)[1].split()[1] == str(os.getpid()):
                out.append(int(d))
        except (OSError, IndexError):
            pass
    return out
while left := kids():
    for k in left:
        try: os.kill(k, signal.SIGKILL)
        except OSError: pass
    for k in left:
        try: os.waitpid(k, 0)
        except OSError: pass
if os.WIFSIGNALED(st):
    signal.signal(os.WTERMSIG(st), signal.SIG_DFL); os.kill(os.getpid(), os.WTERMSIG(st))
os._exit(os.waitstatus_to_exitcode(st))
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
            bwrap_argv(probe_dir) + ["/bin/sh", "-c", "echo ok > probe"],
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


def require_sandbox() -> None:
    """Raise SandboxError unless bwrap works here or the user allowed --unsafe-no-sandbox:
    front ends call it before a batch spends any token."""
    _choose("auto")


def _choose(sandbox: str) -> SandboxKind:
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
        "PYTHONHASHSEED": "0",
        "PYTHONUNBUFFERED": "1",
    }
    if extra:
        env.update(extra)
    return env


def _limits(timeout_s: float) -> dict[str, int]:
    cpu = int(timeout_s) + 5
    return {
        "RLIMIT_CPU": cpu,
        "RLIMIT_AS": AS_LIMIT,
        "RLIMIT_FSIZE": FSIZE_LIMIT,
        "RLIMIT_NPROC": NPROC_LIMIT,
        "RLIMIT_CORE": 0,
    }


def _reader(stream, sink: list[bytes], total: list[int], cap: int) -> None:
    kept = 0
    while True:
        chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
        if not chunk:
            return
        total[0] += len(chunk)
        if kept < cap:
            piece = chunk[: cap - kept]
            sink.append(piece)
            kept += len(piece)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_exit(proc: subprocess.Popen, timeout_s: float) -> bool:
    """Wait until ``proc`` exits (left unreaped when possible); False on timeout."""
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # no pidfd (old kernel): reap while waiting
        try:
            proc.wait(timeout=timeout_s)
            return True
        except subprocess.TimeoutExpired:
            return False
    try:
        ready, _, _ = select.select([fd], [], [], timeout_s)
        return bool(ready)
    finally:
        os.close(fd)


@dataclass
class CommandRun:
    exit_code: int | None  # None: the wall-clock timeout killed it
    output: str
    duration_s: float
    timed_out: bool
    records: bytes = b""  # what the command wrote to the verdict pipe (``verdict_pipe=True``)


def run_command(argv: list[str], cwd: Path, **options: Any) -> tuple[int | None, str, float, bool]:
    """Run ``argv`` in ``cwd`` (the writable workspace) inside the sandbox; ``options`` are
    ``run_command_full``'s.

    Returns ``(exit_code, output, duration_s, timed_out)``; exit_code is None when the
    wall-clock timeout killed the process group. ``env`` is added to a clean base env.
    Raises SandboxError only when the command could not be started at all.
    """
    r = run_command_full(argv, cwd, **options)
    return r.exit_code, r.output, r.duration_s, r.timed_out


def run_command_full(
    argv: list[str],
    cwd: Path,
    *,
    timeout_s: float,
    sandbox: str = "auto",
    env: dict[str, str] | None = None,
    extra_binds: tuple[Path, ...] = (),
    ro_binds: tuple[Path, ...] = (),
    verdict_pipe: bool = False,
    python_env: Path | None = None,
) -> CommandRun:
    """``run_command``, plus the records read from a pipe whose write end the command
    inherits as ``REPO_AGENT_VERDICT_FD`` (opened here, before anything in it runs).
    ``python_env``: a task's venv (agent/suites/env.py), mounted read-only in place of
    repo-agent's; its ``.pth`` finds the workspace through ``REPO_AGENT_WORKSPACE``."""
    kind = _choose(sandbox)
    cwd = Path(cwd).resolve()
    full_env = base_env(env)
    python = sys.executable
    if python_env is not None:
        python_env = Path(python_env).resolve()
        python = str(python_env / "bin" / "python")
        full_env["REPO_AGENT_WORKSPACE"] = str(cwd)
    limits: dict = dict(_limits(timeout_s))
    rfd = wfd = None
    if verdict_pipe:
        rfd, wfd = os.pipe()
        full_env["REPO_AGENT_VERDICT_FD"] = str(wfd)
    if kind == "bwrap":
        if drops_root():
            limits["uid"] = SANDBOX_UID
            hand_over(cwd)
        cmd = bwrap_argv(
            cwd,
            tuple(Path(b).resolve() for b in ro_binds),
            tuple(Path(b).resolve() for b in extra_binds),
            python_env,
        )
    else:
        limits["reap"] = True
        limits["fds"] = [wfd] if wfd is not None else []
        cmd = []
    cmd += [python, "-S", "-c", _LAUNCHER, json.dumps(limits), *argv]
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=str(cwd),
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killpg reaches every child
            pass_fds=(wfd,) if wfd is not None else (),
        )
    except OSError as exc:
        for fd in (rfd, wfd):
            if fd is not None:
                os.close(fd)
        raise SandboxError(f"cannot start {argv[0]!r}: {exc}") from exc
    chunks: list[bytes] = []
    total = [0]
    threads = [threading.Thread(target=_reader, args=(proc.stdout, chunks, total, MAX_OUTPUT_BYTES), daemon=True)]
    records: list[bytes] = []
    if rfd is not None and wfd is not None:
        os.close(wfd)  # only the command holds the write end now: EOF when it is gone
        rstream = os.fdopen(rfd, "rb", buffering=0)
        threads.append(threading.Thread(target=_reader, args=(rstream, records, [0], MAX_STREAM_BYTES), daemon=True))
    for t in threads:
        t.start()
    try:
        timed_out = not _wait_exit(proc, timeout_s)
        # The leader has exited but is not reaped yet, so its pid (the group id) cannot be
        # reused: killing the group now reaches only what the command left behind.
        _kill_group(proc.pid)
        proc.wait()
    except BaseException:  # Ctrl-C in the caller: never leave the tree running
        _kill_group(proc.pid)
        proc.wait()
        raise
    for t in threads:
        t.join(timeout=5)
    if rfd is not None:
        rstream.close()
    duration = time.monotonic() - start
    out = b"".join(chunks).decode("utf-8", errors="replace")
    if total[0] > MAX_OUTPUT_BYTES:
        out += f"\n[... output stopped at {MAX_OUTPUT_BYTES} bytes: {total[0]} bytes total]"
    return CommandRun(None if timed_out else proc.returncode, out, duration, timed_out, b"".join(records))

"""Running a task's tests in a sandbox (DESIGN §4).

Two kinds, chosen once per process:

- ``bwrap`` (bubblewrap) when it is installed *and* actually starts here (it can fail in
  some containers): read-only system, writable workspace, private /tmp, no network, its
  own pid namespace (so killing bwrap kills everything inside), dies with its parent.
- ``rlimit`` otherwise: a plain subprocess with resource limits; ``sandbox_warning()``
  returns the text a front end shows once.

Both run the command through a tiny launcher (``python -S -c``) that sets the resource
limits and then execs: limits are set in the child without ``preexec_fn``, which is
unsafe in a threaded batch. Both start a new session and always enforce a wall-clock
timeout that SIGKILLs the whole process group.

For pytest commands, ``run_tests`` adds a per-test timeout plugin
(``agent/_pytest_plugins/repo_agent_timeout.py``: SIGALRM per test, failing just that
test, with a faulthandler hard stop behind it), switches the cache provider off, and
reads the counts from a JUnit XML written outside the workspace: counts never come from
grepping "passed" in the output.
"""

from __future__ import annotations

import functools
import json
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from agent.pytest_report import counts_from_junit, counts_from_summary, has_pytest_config, pytest_index, summary_line
from agent.trace import TestCounts

if TYPE_CHECKING:
    from agent.suites.models import Task

SandboxKind = Literal["bwrap", "rlimit"]
PLUGIN_DIR = Path(__file__).parent / "_pytest_plugins"
PLUGIN_NAME = "repo_agent_timeout"
MAX_OUTPUT_BYTES = 4_000_000  # kept from a runaway printer; the rest is counted, not stored

# Resource limits for the test process tree (both sandbox kinds).
AS_LIMIT = 2 * 1024**3
FSIZE_LIMIT = 256 * 1024**2
NPROC_LIMIT = 2048  # per-uid on Linux (root is exempt); the pid namespace bounds bwrap anyway

_LAUNCHER = (
    "import os,sys,resource as r,json\n"
    "for k,v in json.loads(sys.argv[1]).items():\n"
    " n=getattr(r,k,None)\n"
    " if n is None: continue\n"
    " s,h=r.getrlimit(n)\n"
    " v=v if h==r.RLIM_INFINITY else min(v,h)\n"
    " try: r.setrlimit(n,(v,h))\n"
    " except (ValueError,OSError): pass\n"
    "try: os.execvp(sys.argv[2],sys.argv[2:])\n"
    "except OSError as e:\n"
    " sys.stderr.write('repo-agent: cannot run %r: %s\\n'%(sys.argv[2],e.strerror or e)); sys.exit(127)\n"
)


class SandboxError(RuntimeError):
    """The sandbox could not run the command at all (not a test failure)."""


@dataclass
class TestResult:
    __test__ = False  # not a pytest test class

    passed: bool  # exit code 0 AND every collected test passed
    counts: TestCounts
    summary: str  # one line: "3 passed, 1 failed in 0.12s" or "timed out after 10s"
    duration_s: float
    timed_out: bool
    output: str  # combined stdout/stderr, uncut (callers cut it)
    exit_code: int | None

    def brief(self) -> dict:
        """The small dict that goes into a finish object or a trace."""
        return {
            "passed": self.passed,
            "summary": self.summary,
            "counts": self.counts.model_dump(),
            "timed_out": self.timed_out,
        }


# --------------------------------------------------------------------------- kind


_probe_lock = threading.Lock()
_probed: tuple[SandboxKind, str | None] | None = None


@functools.lru_cache(maxsize=1)
def _runtime_paths() -> tuple[str, ...]:
    """Interpreter, venv and this package's directories that live under /tmp."""
    here = Path(__file__).resolve().parent.parent
    candidates = {
        Path(sys.prefix),
        Path(sys.base_prefix),
        Path(sys.executable).parent,
        Path(sys.executable).resolve().parent,
        here,
    }
    tmp = Path("/tmp")
    keep = sorted(str(c) for c in candidates if c.is_relative_to(tmp) and c != tmp and c.exists())
    # Drop paths already covered by a parent in the list.
    return tuple(p for p in keep if not any(p != q and p.startswith(q + "/") for q in keep))


def _bwrap_prefix(workspace: Path, extra_binds: tuple[Path, ...] = ()) -> list[str]:
    ws = str(workspace)
    argv = [
        "bwrap",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",
    ]
    # The fresh /tmp hides whatever lived there; a checkout or venv under /tmp (CI clones,
    # pytest's tmp dirs) must stay visible, read-only, or the test command cannot start.
    for p in _runtime_paths():
        argv += ["--ro-bind", p, p]
    argv += ["--bind", ws, ws]
    for b in extra_binds:
        argv += ["--bind", str(b), str(b)]
    argv += [
        "--unshare-net",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--die-with-parent",
        "--new-session",
        "--setenv",
        "TMPDIR",
        "/tmp",
        "--chdir",
        ws,
        "--",
    ]
    return argv


def _probe() -> tuple[SandboxKind, str | None]:
    exe = shutil.which("bwrap")
    if not exe:
        return "rlimit", (
            "bwrap (bubblewrap) is not installed: tests run in a plain subprocess with "
            "resource limits only (no network or filesystem isolation). Install bubblewrap "
            "for the full sandbox."
        )
    probe_dir = Path(tempfile.mkdtemp(prefix="repo-agent-probe-"))
    try:
        cp = subprocess.run(
            _bwrap_prefix(probe_dir) + ["/bin/sh", "-c", "echo ok > probe"],
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
    return "rlimit", (
        f"bwrap is installed but cannot start here ({reason}): tests run in a plain "
        "subprocess with resource limits only (no network or filesystem isolation)."
    )


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


def sandbox_warning() -> str | None:
    """The one-time warning to show when falling back to ``rlimit`` (never printed here)."""
    if os.environ.get("REPO_AGENT_SANDBOX", "").strip().lower() == "rlimit":
        return "REPO_AGENT_SANDBOX=rlimit: tests run in a plain subprocess with resource limits only."
    return _probe_cached()[1]


def _choose(sandbox: str) -> SandboxKind:
    if sandbox == "auto":
        return sandbox_kind()
    if sandbox == "rlimit":
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


def _reader(stream, sink: list[bytes], total: list[int]) -> None:
    kept = 0
    while True:
        chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
        if not chunk:
            return
        total[0] += len(chunk)
        if kept < MAX_OUTPUT_BYTES:
            piece = chunk[: MAX_OUTPUT_BYTES - kept]
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


def run_command(
    argv: list[str],
    cwd: Path,
    *,
    timeout_s: float,
    sandbox: str = "auto",
    env: dict[str, str] | None = None,
    extra_binds: tuple[Path, ...] = (),
) -> tuple[int | None, str, float, bool]:
    """Run ``argv`` in ``cwd`` (the writable workspace) inside the sandbox.

    Returns ``(exit_code, output, duration_s, timed_out)``; exit_code is None when the
    wall-clock timeout killed the process group. ``env`` is added to a clean base env.
    Raises SandboxError only when the command could not be started at all.
    """
    kind = _choose(sandbox)
    cwd = Path(cwd).resolve()
    full_env = base_env(env)
    launch = [sys.executable, "-S", "-c", _LAUNCHER, json.dumps(_limits(timeout_s)), *argv]
    if kind == "bwrap":
        cmd = _bwrap_prefix(cwd, tuple(Path(b).resolve() for b in extra_binds)) + launch
    else:
        cmd = launch
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
        )
    except OSError as exc:
        raise SandboxError(f"cannot start {argv[0]!r}: {exc}") from exc
    chunks: list[bytes] = []
    total = [0]
    reader = threading.Thread(target=_reader, args=(proc.stdout, chunks, total), daemon=True)
    reader.start()
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
    reader.join(timeout=5)
    duration = time.monotonic() - start
    out = b"".join(chunks).decode("utf-8", errors="replace")
    if total[0] > MAX_OUTPUT_BYTES:
        out += f"\n[... output stopped at {MAX_OUTPUT_BYTES} bytes: {total[0]} bytes total]"
    return (None if timed_out else proc.returncode), out, duration, timed_out


# --------------------------------------------------------------------------- tests


def resolve_argv(test_command: list[str] | str) -> list[str]:
    """The task's test command with ``python``/``pytest`` bound to this interpreter."""
    argv = shlex.split(test_command) if isinstance(test_command, str) else list(test_command)
    if not argv:
        raise SandboxError("empty test command")
    head = os.path.basename(argv[0])
    if head in ("python", "python3") or re.fullmatch(r"python3\.\d+", head):
        argv[0] = sys.executable
    elif head in ("pytest", "py.test"):
        argv = [sys.executable, "-m", "pytest", *argv[1:]]
    return argv


def run_tests(
    workspace_dir: Path,
    task: Task,
    *,
    sandbox: str = "auto",
    plugins: tuple[str, ...] = (),
    extra_env: dict[str, str] | None = None,
    report_dir: Path | None = None,
) -> TestResult:
    """Run ``task.test_command`` in the workspace; passed = exit 0 and every test passed.

    ``plugins`` (names in ``agent/_pytest_plugins``), ``extra_env`` and ``report_dir`` (a
    directory the run may write, kept for the caller) serve callers that read more than
    the verdict, such as mutation validation.
    """
    workspace_dir = Path(workspace_dir).resolve()
    argv = resolve_argv(task.test_command)
    at = pytest_index(argv)
    results = Path(tempfile.mkdtemp(prefix="repo-agent-results-"))
    junit = results / "junit.xml"
    env: dict[str, str] = {}
    if at is not None:
        opts = [
            "-p",
            PLUGIN_NAME,
            "-p",
            "no:cacheprovider",
            f"--junitxml={junit}",
            f"--rootdir={workspace_dir}",
            f"--confcutdir={workspace_dir}",
        ]
        if not has_pytest_config(workspace_dir):
            # Without this, pytest would adopt the config of any ancestor directory
            # (e.g. this project's own pyproject.toml when a workspace lives inside it).
            (results / "pytest.ini").write_text("[pytest]\n")
            opts.append(f"-c={results / 'pytest.ini'}")
        for name in plugins:
            opts[0:0] = ["-p", name]
        argv[at:at] = opts
        env["PYTHONPATH"] = str(PLUGIN_DIR)
        # Entry-point plugins of this venv (textual snapshots, asyncio, ...) triple pytest's
        # start-up and are not the task's: tests run with plain pytest + our timeout plugin.
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        if task.per_test_timeout_s:
            env["REPO_AGENT_TEST_TIMEOUT"] = f"{task.per_test_timeout_s:g}"
    env.update(extra_env or {})
    binds = (results,) if report_dir is None else (results, Path(report_dir))
    try:
        code, output, duration, timed_out = run_command(
            argv,
            workspace_dir,
            timeout_s=task.timeout_s,
            sandbox=sandbox,
            env=env,
            extra_binds=binds,
        )
        counts = counts_from_junit(junit) if at is not None else None
    finally:
        shutil.rmtree(results, ignore_errors=True)
    output = "\n".join(line for line in output.splitlines() if not line.lstrip("- ").startswith("generated xml file:"))
    line = summary_line(output)
    if counts is None:
        counts = counts_from_summary(line)
    if timed_out:
        summary = f"timed out after {task.timeout_s:g}s"
        passed = False
    else:
        summary = line or f"exit status {code} in {duration:.2f}s"
        if line is None and at is not None and "Timeout (0:" in output:
            summary = (
                f"stopped: a test ignored the per-test timeout of {task.per_test_timeout_s:g}s (exit status {code})"
            )
        if at is not None:
            passed = code == 0 and counts.passed > 0 and counts.failed == 0 and counts.errors == 0
        else:
            passed = code == 0
    return TestResult(
        passed=passed,
        counts=counts,
        summary=summary,
        duration_s=duration,
        timed_out=timed_out,
        output=output,
        exit_code=code,
    )

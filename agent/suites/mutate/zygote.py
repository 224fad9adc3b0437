"""A warm pytest per validation worker: one sandboxed process that forks a child per run.

Most of a small selected-test run is interpreter start-up and importing pytest. The
zygote is started once per worker inside the same sandbox ``agent/sandbox.py`` builds
(bwrap showing the worker's workspace, limits set by the same launcher, clean env), imports
pytest, and then for each request forks a child that runs ``pytest.main`` on the
workspace as it is now. The zygote never imports the code under test or the test
modules, so each child imports the mutated file afresh. The zygote enforces the
per-request wall clock (killing the child's process group); the caller holds a second
deadline and restarts the zygote when it does not answer.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from agent.bwrap import hand_over
from agent.pytest_report import has_pytest_config
from agent.sandbox import PLUGIN_DIR, Launch, base_env, choose_sandbox, kill_group, lease_for, sandbox_rlimits
from agent.scoring import env_python
from agent.seccomp import filter_fd
from agent.suites.env import WORKSPACE_VAR
from agent.uid_lease import UidLease

_SERVER = r"""
import importlib, json, os, select, signal, sys
import pytest
from _pytest.config import default_plugins
for _name in default_plugins:  # what pytest.main would import first thing in every child
    try:
        importlib.import_module("_pytest." + _name)
    except Exception:
        pass
import gc
gc.freeze()  # what the zygote holds is never collected again: children's collections stay small
chan_in, chan_out = sys.stdin.buffer, os.fdopen(os.dup(1), "w")
null = os.open(os.devnull, os.O_RDWR)
os.dup2(null, 1)
for line in chan_in:
    req = json.loads(line)
    chan_out.flush(); sys.stdout.flush(); sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 98
        try:
            os.setpgid(0, 0)
            os.close(chan_out.fileno())  # the reply channel is the zygote's alone
            log = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(null, 0); os.dup2(log, 1); os.dup2(log, 2)
            os.environ.update(req["env"])
            sys.path.insert(0, os.getcwd())  # as `python -m pytest` does
            code = int(pytest.main(req["args"]))
        except BaseException:
            pass
        finally:
            os._exit(code)
    fd = os.pidfd_open(pid)
    ready, _, _ = select.select([fd], [], [], req["timeout"])
    os.close(fd)
    timed_out = not ready
    try:
        os.killpg(pid, signal.SIGKILL)  # the child's leftovers, or the child itself on a timeout
    except OSError:
        pass
    _, status = os.waitpid(pid, 0)
    code = None if timed_out else os.waitstatus_to_exitcode(status)
    chan_out.write(json.dumps({"exit": code, "timed_out": timed_out}) + "\n")
    chan_out.flush()
"""


class ZygoteError(RuntimeError):
    """The zygote did not answer; the caller falls back to a plain sandboxed run."""


class Zygote:
    def __init__(self, ws: Path, *, sandbox: str = "auto", python_env: Path | None = None):
        self.ws = Path(ws).resolve()
        # The repository's own venv (agent/suites/env.py), as agent/scoring.py run_tests runs it:
        # its interpreter and plugins, the workspace on the path through its .pth line.
        self.python_env = python_env
        self.kind = choose_sandbox(sandbox)
        self.io = Path(tempfile.mkdtemp(prefix="repo-agent-zygote-"))
        self.proc: subprocess.Popen | None = None
        self.lease: UidLease | None = None

    def start(self) -> None:
        python = sys.executable
        if self.python_env is None:
            env = base_env({"PYTHONPATH": str(PLUGIN_DIR), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
        else:  # read by the env's .pth line as the interpreter starts: set before the zygote does
            env = base_env({"PYTHONPATH": str(PLUGIN_DIR), WORKSPACE_VAR: str(self.ws)})
            python = env_python(self.python_env)
        # As agent/sandbox.py run_command_full: same launcher, limits, leased uid and mounts.
        if self.lease is None:
            self.lease = lease_for(self.kind)
        uid = self.lease.uid if self.lease else None
        hand_over(self.ws, uid)
        hand_over(self.io, uid)
        launch = Launch(self.kind, self.ws, python=python, uid=uid, ro_binds=(PLUGIN_DIR,), rw_binds=(self.io,))
        seccomp = filter_fd() if self.kind == "bwrap" else None
        cmd = launch.argv([python, "-P", "-c", _SERVER], sandbox_rlimits(3600), seccomp_fd=seccomp)
        self.proc = subprocess.Popen(
            cmd,
            cwd="/",
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            pass_fds=(seccomp,) if seccomp is not None else (),
        )
        if seccomp is not None:
            os.close(seccomp)

    def run(self, args: list[str], env: dict[str, str], timeout_s: float) -> tuple[int | None, bool, str]:
        """pytest ``args`` in the workspace: (exit code, timed out, log tail)."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        proc = self.proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        log = self.io / "log.txt"
        req = {"args": args, "env": env, "timeout": timeout_s, "log": str(log)}
        try:
            proc.stdin.write((json.dumps(req) + "\n").encode())
            proc.stdin.flush()
            # The zygote's own deadline comes first; this one is for a zygote that is stuck.
            ready, _, _ = select.select([proc.stdout], [], [], timeout_s + 30)
            line = proc.stdout.readline() if ready else b""
            reply = json.loads(line)
        except (OSError, ValueError) as exc:
            self.close()
            raise ZygoteError(f"the test zygote did not answer: {exc}") from None
        try:
            tail = log.read_text(encoding="utf-8", errors="replace")[-4000:]
        except OSError:
            tail = ""
        return reply["exit"], bool(reply["timed_out"]), tail

    def pytest_args(self, argv_after_pytest: list[str], plugins: tuple[str, ...], plain: bool = False) -> list[str]:
        # plain: no assertion rewriting (the costliest part of collecting a test module).
        opts: list[str] = ["--assert=plain"] if plain else []
        for name in plugins:
            opts += ["-p", name]
        # unraisableexception runs gc.collect() several times per session: a third of a small run.
        opts += ["-p", "no:cacheprovider", "-p", "no:unraisableexception"]
        opts += [f"--rootdir={self.ws}", f"--confcutdir={self.ws}"]
        if not has_pytest_config(self.ws):
            ini = self.io / "pytest.ini"
            ini.write_text("[pytest]\n")
            opts.append(f"-c={ini}")
        return opts + argv_after_pytest

    def close(self) -> None:
        if self.proc is not None:
            kill_group(self.proc.pid)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            self.proc = None
        if self.lease is not None:
            self.lease.release()
            self.lease = None

    def cleanup(self) -> None:
        self.close()
        shutil.rmtree(self.io, ignore_errors=True)

    def __del__(self) -> None:  # a last resort; callers close explicitly
        try:
            if self.proc is not None and self.proc.poll() is None:
                kill_group(self.proc.pid)
        except Exception:
            pass

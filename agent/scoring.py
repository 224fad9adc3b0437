"""Running a task's tests and reading their verdict (docs/ARCHITECTURE.md, sandbox).

The command runs in the sandbox (agent/sandbox.py). For pytest, the bootstrap below
imports pytest and the two plugins of ``agent/_pytest_plugins`` before the workspace is
on ``sys.path``: ``repo_agent_timeout`` fails a test that runs past its per-test limit,
``repo_agent_verdict`` sends each test's outcome to this process through an inherited
pipe while the tests run. The verdict is judged from those records against the exit
code (agent/pytest_report.py); counts never come from a file the tests could rewrite
or from grepping "passed" in the output.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agent.pytest_report import counts_from_summary, has_pytest_config, judge, pytest_index, summary_line
from agent.sandbox import PLUGIN_DIR, SandboxError, VerdictPipe, run_command_full
from agent.suites.env import trusted_env_dirs
from agent.trace import TestCounts

if TYPE_CHECKING:
    from agent.suites.models import Task


# What the task's time budgets print when they expire: the per-test timeout plugin's fail
# message (agent/_pytest_plugins/repo_agent_timeout.py) and faulthandler's hard stop.
PER_TEST_TIMEOUT_MARK = "(per-test timeout)"
HARD_STOP_MARK = "Timeout (0:"


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
    # Set when exit code, per-test records and counts disagree (never a pass).
    error: str | None = None
    # What the run showed of tampering with the test machinery (never a pass).
    tamper: list[str] = field(default_factory=list)
    # Per-test outcome by pytest node id, from the verdict records: passed/failed/error/skipped.
    outcomes: dict[str, str] = field(default_factory=dict)
    # The final run's held-out differential check, one line (agent/differential.py).
    differential: str | None = None
    # Why a run that pytest called a pass is not one, when a check outside pytest says so.
    fail_detail: str | None = None
    # Node ids of the modules (classes, packages) pytest skipped at collection (importorskip).
    skipped_at_collection: list[str] = field(default_factory=list)
    # The tamper line of a run whose verdict records went past what this machine reads.
    records_flood: str | None = None

    def brief(self) -> dict:
        """The small dict that goes into a finish object or a trace."""
        out = {
            "passed": self.passed,
            "summary": self.summary,
            "counts": self.counts.model_dump(),
            "timed_out": self.timed_out,
        }
        if self.error:
            out["error"] = self.error
        if self.tamper:
            out["tamper"] = list(self.tamper)
        if self.differential:
            out["differential"] = self.differential
        return out


def env_python(python_env: Path) -> str:
    """The interpreter of a task's own venv (agent/suites/env.py)."""
    return str(Path(python_env).resolve() / "bin" / "python")


def resolve_argv(test_command: list[str] | str, python_env: Path | None = None) -> list[str]:
    """The task's test command with ``python``/``pytest`` bound to this interpreter (or to
    the task's own venv, agent/suites/env.py)."""
    argv = shlex.split(test_command) if isinstance(test_command, str) else list(test_command)
    if not argv:
        raise SandboxError("empty test command")
    python = env_python(python_env) if python_env is not None else sys.executable
    head = os.path.basename(argv[0])
    if head in ("python", "python3") or re.fullmatch(r"python3\.\d+", head):
        argv[0] = python
    elif head in ("pytest", "py.test"):
        argv = [python, "-m", "pytest", *argv[1:]]
    return argv


# Imports pytest and the verdict plugin from the venv before the workspace is on sys.path
# (run with -P), so a pytest.py or conftest the model wrote cannot run ahead of them.
_BOOT = (
    "import os, sys\n"
    "sys.path.insert(0, os.environ['REPO_AGENT_PLUGIN_DIR'])\n"
    "import pytest, repo_agent_verdict, repo_agent_timeout\n"
    "sys.path.insert(0, os.getcwd())\n"
    "sys.exit(int(pytest.main(plugins=[repo_agent_verdict, repo_agent_timeout])))\n"
)


def _pytest_argv(argv: list[str], at: int) -> list[str]:
    """``python [opts] -m pytest ARGS`` -> ``python [opts] -P -c BOOT ARGS``."""
    return [*argv[: at - 2], "-P", "-c", _BOOT, *argv[at:]]


def run_tests(
    workspace_dir: Path,
    task: Task,
    *,
    sandbox: str = "auto",
    trusted_hook_files: tuple[str, ...] = (),
    trusted_code_files: tuple[str, ...] = (),
    plugins: tuple[str, ...] = (),
    extra_env: dict[str, str] | None = None,
    report_dir: Path | None = None,
    python_env: Path | None = None,
    unchanged_files: tuple[str, ...] = (),
) -> TestResult:
    """Run ``task.test_command`` in the workspace; passed = exit 0 and every test passed.

    For pytest the verdict comes from the records the verdict plugin sends while the tests
    run (agent/_pytest_plugins/repo_agent_verdict.py), checked against the exit code;
    ``trusted_hook_files`` are the conftest.py files allowed to implement outcome hooks,
    ``trusted_code_files`` the files a test function's code may come from besides its own.
    ``python_env`` is the task's own venv (None: repo-agent's). ``plugins`` (more plugins of
    agent/_pytest_plugins), ``extra_env`` and ``report_dir`` (a
    directory the run may write, kept for the caller) serve callers that read more than the
    verdict, such as mutation validation (agent/suites/mutate). ``unchanged_files``: the
    task's files (workspace-relative) the rollout has not changed: those the run leaves
    untouched too are the task's code for the verdict (agent/steady_files.py).
    """
    workspace_dir = Path(workspace_dir).resolve()
    argv = resolve_argv(task.test_command, python_env)
    at = pytest_index(argv)
    results = Path(tempfile.mkdtemp(prefix="repo-agent-results-"))
    env: dict[str, str] = {}
    nonce = secrets.token_hex(16) if at is not None else ""  # the plugin's finish alone carries it
    if at is not None:
        opts = ["-p", "no:cacheprovider", f"--rootdir={workspace_dir}", f"--confcutdir={workspace_dir}"]
        if not has_pytest_config(workspace_dir):
            # Without this, pytest would adopt the config of any ancestor directory
            # (e.g. this project's own pyproject.toml when a workspace lives inside it).
            (results / "pytest.ini").write_text("[pytest]\n")
            opts.append(f"-c={results / 'pytest.ini'}")
        for name in plugins:
            opts[0:0] = ["-p", name]
        argv[at:at] = opts
        argv = _pytest_argv(argv, at)
        env["REPO_AGENT_PLUGIN_DIR"] = str(PLUGIN_DIR)
        # Entry-point plugins of this venv (textual snapshots, asyncio, ...) triple pytest's
        # start-up and are not the task's: tests run with plain pytest + our plugins.
        if python_env is None:  # a task's own venv holds the plugins its tests need
            env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        if task.per_test_timeout_s:
            env["REPO_AGENT_TEST_TIMEOUT"] = f"{task.per_test_timeout_s:g}"
    if python_env is not None:  # its .pth line puts the workspace's src/ on the path
        env["REPO_AGENT_WORKSPACE"] = str(workspace_dir)
    results.chmod(0o755)  # readable by the sandbox's uid
    env.update(extra_env or {})
    try:
        run = run_command_full(
            argv,
            workspace_dir,
            timeout_s=task.timeout_s,
            sandbox=sandbox,
            env=env,
            ro_binds=(results, PLUGIN_DIR),
            extra_binds=(Path(report_dir),) if report_dir is not None else (),
            verdict_pipe=VerdictPipe(nonce=nonce, steady=unchanged_files) if at is not None else False,
            python=env_python(python_env) if python_env is not None else None,
        )
    finally:
        shutil.rmtree(results, ignore_errors=True)
    code, output, duration, timed_out = run.exit_code, run.output, run.duration_s, run.timed_out
    line = summary_line(output)
    error, tamper, outcomes, collect_skips = None, [], {}, []
    records_flood = None
    if at is not None:
        v = judge(
            run.records,
            code,
            trusted_hook_files=trusted_hook_files,
            trusted_code_files=trusted_code_files,
            trusted_dirs=trusted_env_dirs(python_env) if python_env is not None else (),
            nonce=nonce,
            workspace=str(Path(workspace_dir).absolute()),
            cut=run.records_written > len(run.records),
            steady_files=tuple(str(workspace_dir / rel) for rel in run.steady),
        )
        counts, error, tamper, outcomes = v.counts, v.error, v.tamper, v.outcomes
        collect_skips = v.skipped_at_collection
        if run.records_written > len(run.records):
            # Only code in the sandbox writes records, and honest tests never come near the
            # bound (~80,000 tests): past it is the run's doing, never "not judged" (a wrong fix
            # sealing 70 MB through the plugin's own sender turned its FAIL into an
            # infrastructure error: round 12 r12-1). A check outside pytest that failed the
            # code says FAIL instead (agent/final_verdict.py ``held_out_verdict``).
            records_flood = (
                f"the tests wrote {run.records_written:,} bytes of verdict records, past the"
                f" {run.records_cap:,} this machine reads"
            )
            tamper = [*tamper, records_flood]
    else:
        counts = counts_from_summary(line)
    if timed_out:
        summary = f"timed out after {task.timeout_s:g}s"
        passed = False
    else:
        summary = line or f"exit status {code} in {duration:.2f}s"
        if line is None and at is not None and HARD_STOP_MARK in output:
            summary = (
                f"stopped: a test ignored the per-test timeout of {task.per_test_timeout_s:g}s (exit status {code})"
            )
        elif error:
            summary = f"verdict error: {error}"
        if at is not None:
            passed = code == 0 and counts.passed > 0 and counts.failed == 0 and counts.errors == 0
            passed = passed and error is None and not tamper
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
        error=error,
        tamper=tamper,
        outcomes=outcomes,
        skipped_at_collection=collect_skips,
        records_flood=records_flood,
    )

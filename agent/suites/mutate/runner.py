"""Test runs for mutation, in the sandbox: one traced baseline, then selected tests per mutant.

Both go through ``agent.scoring.run_tests`` with the ``repo_agent_mutate`` pytest plugin,
which reports per-test outcomes and (for the baseline) which functions each test entered:
the per-test call contexts that let a mutant run only the tests that can reach it.
"""

from __future__ import annotations

import json
import shlex
import shutil
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from agent.pytest_report import OPTIONS_WITH_A_VALUE, pytest_index, summary_line
from agent.scoring import resolve_argv, run_tests
from agent.suites.models import DirSource, Task
from agent.suites.mutate.zygote import Zygote, ZygoteError
from agent.trace_io import read_regular

PLUGIN = "repo_agent_mutate"
TIMEOUT_MARK = "per-test timeout"  # in the message of a test the timeout plugin stopped


class MutateError(ValueError):
    """The repository cannot be mutated (no pytest command, baseline that runs nothing, ...)."""


def pytest_argv(tests: str | list[str]) -> list[str]:
    """The test command as argv; it must be a ``python -m pytest`` / ``pytest`` run."""
    argv = resolve_argv(tests)
    if pytest_index(argv) is None:
        raise MutateError(f"--tests must run pytest (e.g. 'python -m pytest -q tests'), got {shlex.join(argv)!r}")
    return shlex.split(tests) if isinstance(tests, str) else list(tests)


def without_paths(argv: list[str]) -> list[str]:
    """``argv`` minus pytest's positional arguments (paths), so node ids can replace them."""
    at = pytest_index(argv)
    if at is None:  # "pytest ..." form
        at = 1
    out = argv[:at]
    rest = argv[at:]
    i = 0
    while i < len(rest):
        a = rest[i]
        if a.startswith("-"):
            out.append(a)
            if a in OPTIONS_WITH_A_VALUE and i + 1 < len(rest):
                out.append(rest[i + 1])
                i += 1
        i += 1
    return out


@dataclass
class TestRun:
    __test__ = False

    outcomes: dict[str, dict]  # nodeid -> {"outcome", "message", "duration", ["calls"]}
    summary: str
    hang: bool  # the run or one of its tests hit a timeout
    duration_s: float

    @property
    def failing(self) -> dict[str, str]:
        return {n: r.get("message", "") for n, r in self.outcomes.items() if r.get("outcome") == "failed"}


def run_pytest(
    ws: Path,
    argv: list[str],
    *,
    select: list[str] | None = None,
    calls: bool = False,
    timeout_s: float,
    per_test_timeout_s: float | None,
    sandbox: str = "auto",
    zygote: Zygote | None = None,
    plain: bool = False,
    python_env: Path | None = None,
) -> TestRun:
    """One sandboxed pytest run of ``argv`` in ``ws`` (only ``select`` node ids, if given);
    through ``zygote`` (a warm pytest in the same sandbox) when one is given."""
    if zygote is not None and select is not None:
        try:
            return _run_in_zygote(zygote, argv, select, timeout_s, per_test_timeout_s, plain)
        except ZygoteError:
            pass  # a plain run below gives the verdict
    report_dir = Path(tempfile.mkdtemp(prefix="repo-agent-mutate-"))
    try:
        env = {"REPO_AGENT_REPORT": str(report_dir / "report.json")}
        if select is not None:
            (report_dir / "select.txt").write_text("\n".join(select) + "\n", encoding="utf-8")
            env["REPO_AGENT_SELECT"] = str(report_dir / "select.txt")
        if calls:
            env["REPO_AGENT_CALLS"] = "1"
        task = Task(
            id="mutate",
            source=DirSource(path="."),
            goal="-",
            test_command=argv,
            timeout_s=timeout_s,
            per_test_timeout_s=per_test_timeout_s,
        )
        result = run_tests(
            ws,
            task,
            sandbox=sandbox,
            plugins=(PLUGIN,),
            extra_env=env,
            report_dir=report_dir,
            python_env=python_env,
        )
        try:
            # Regular files only, never blocking: the repository's code may leave a FIFO there.
            outcomes = json.loads(read_regular(report_dir / "report.json").decode("utf-8"))
        except (OSError, ValueError):
            outcomes = {}  # killed before the session ended (hard stop, wall clock)
    finally:
        shutil.rmtree(report_dir, ignore_errors=True)
    return TestRun(outcomes, result.summary, _hang(result.timed_out, outcomes, select), result.duration_s)


def _hang(timed_out: bool, outcomes: dict, select: list[str] | None) -> bool:
    # No report for a selected run: the hard stop (faulthandler) or the wall clock ended it.
    return (
        timed_out
        or (not outcomes and bool(select))
        or any(TIMEOUT_MARK in (r.get("message") or "") for r in outcomes.values())
    )


def _run_in_zygote(
    z: Zygote, argv: list[str], select: list[str], timeout_s: float, per_test_timeout_s: float | None, plain: bool
) -> TestRun:
    at = pytest_index(resolve_argv(argv))
    rest = resolve_argv(argv)[at:]
    report, chosen = z.io / "report.json", z.io / "select.txt"
    report.unlink(missing_ok=True)
    chosen.write_text("\n".join(select) + "\n", encoding="utf-8")
    env = {"REPO_AGENT_REPORT": str(report), "REPO_AGENT_SELECT": str(chosen)}
    if per_test_timeout_s:
        env["REPO_AGENT_TEST_TIMEOUT"] = f"{per_test_timeout_s:g}"
    start = time.monotonic()
    code, timed_out, log = z.run(z.pytest_args(rest, (PLUGIN, "repo_agent_timeout"), plain), env, timeout_s)
    try:
        outcomes = json.loads(read_regular(report).decode("utf-8"))  # never a FIFO's reader
    except (OSError, ValueError):
        outcomes = {}
    summary = summary_line(log) or (f"timed out after {timeout_s:g}s" if timed_out else f"exit status {code}")
    return TestRun(outcomes, summary, _hang(timed_out, outcomes, select), time.monotonic() - start)


BASELINE_PREFIX = "repo-agent-baseline-"  # the baseline workspace's temporary directory


def _function_of(nodeid: str) -> str:
    return nodeid.split("[", 1)[0]


@dataclass
class Baseline:
    """The original repository's tests: outcomes and which functions each test enters."""

    outcomes: dict[str, dict]
    # path -> line (a code object's first line) -> nodeid -> least call depth below the test
    calls: dict[str, dict[int, dict[str, int]]] = field(default_factory=dict)
    duration_s: float = 0.0

    @classmethod
    def from_run(cls, run: TestRun) -> Baseline:
        calls: dict[str, dict[int, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
        outcomes = {}
        for nodeid, r in run.outcomes.items():
            outcomes[nodeid] = {k: v for k, v in r.items() if k != "calls"}
            for key, depth in (r.get("calls") or {}).items():
                path, _, line = key.rpartition(":")
                calls[path][int(line)][nodeid] = depth
        return cls(outcomes, {p: dict(v) for p, v in calls.items()}, run.duration_s)

    def to_json(self) -> dict:
        return {
            "outcomes": self.outcomes,
            "calls": {p: {str(ln): t for ln, t in v.items()} for p, v in self.calls.items()},
            "duration_s": self.duration_s,
        }

    @classmethod
    def from_json(cls, data: dict) -> Baseline:
        calls = {p: {int(ln): t for ln, t in v.items()} for p, v in data["calls"].items()}
        return cls(data["outcomes"], calls, data.get("duration_s", 0.0))

    def stable(self) -> Baseline:
        """The same, each test parametrised with a path of the baseline's workspace (data-driven
        tests: ``os.path.join(HERE, ...)``) under its function's id (``file::name``: every
        parametrization of it). Such an id holds that temporary path, which no other workspace
        has: a task whose command named it ran no test, and every rollout, the original code
        too, was a FAIL (round 9, vrd9-9). Every id of such a function goes, so no test is
        named twice (pytest would run it twice)."""
        unstable = {_function_of(n) for n in self.outcomes if BASELINE_PREFIX in n.partition("[")[2]}
        if not unstable:
            return self

        def key(nodeid: str) -> str:
            return _function_of(nodeid) if _function_of(nodeid) in unstable else nodeid

        outcomes: dict[str, dict] = {}
        for nodeid, r in self.outcomes.items():
            k = key(nodeid)
            if k not in outcomes:
                outcomes[k] = dict(r)
                continue
            merged = outcomes[k]
            merged["duration"] = float(merged.get("duration", 0.0)) + float(r.get("duration", 0.0))
            if merged.get("outcome") == "passed" and r.get("outcome") != "passed":
                merged["outcome"] = r.get("outcome")  # the function passes only if all of it does
        calls: dict[str, dict[int, dict[str, int]]] = {}
        for path, lines in self.calls.items():
            for line, tests in lines.items():
                here = calls.setdefault(path, {}).setdefault(line, {})
                for nodeid, depth in tests.items():
                    k = key(nodeid)
                    here[k] = min(depth, here.get(k, depth))
        return Baseline(outcomes, calls, self.duration_s)

    @property
    def passing(self) -> set[str]:
        return {n for n, r in self.outcomes.items() if r.get("outcome") == "passed"}

    @property
    def failing(self) -> set[str]:
        return {n for n, r in self.outcomes.items() if r.get("outcome") == "failed"}

    def covering(self, path: str, first: int, last: int) -> dict[str, int]:
        """Baseline-passing tests that entered code in ``path`` lines first..last: nodeid -> depth."""
        lines = self.calls.get(path) or {}
        passing = self.passing
        out: dict[str, int] = {}
        for line, tests in lines.items():
            if first <= line <= last:
                for nodeid, depth in tests.items():
                    if nodeid in passing and (nodeid not in out or depth < out[nodeid]):
                        out[nodeid] = depth
        return out

    def duration(self, nodeids: list[str]) -> float:
        return sum(float(self.outcomes.get(n, {}).get("duration", 0.0)) for n in nodeids)


def run_baseline(
    ws: Path, argv: list[str], *, timeout_s: float, sandbox: str = "auto", python_env: Path | None = None
) -> Baseline:
    run = run_pytest(
        ws, argv, calls=True, timeout_s=timeout_s, per_test_timeout_s=None, sandbox=sandbox, python_env=python_env
    )
    if not run.outcomes:
        raise MutateError(f"the baseline test run collected no tests ({run.summary})")
    base = Baseline.from_run(run)
    if not base.passing:
        raise MutateError(f"no test passes on the original repository ({run.summary})")
    return base

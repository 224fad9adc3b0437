"""Attacks on the sandbox and the verdict, played by a scripted model (issue 9).

Each test runs a real rollout: the scripted chat-completions server on 127.0.0.1 plays a
model that writes attack code into the workspace, the real tools run it, the real
sandbox (bwrap) runs the tests, and the final verdict is read back from the trace. No
attack may end as a pass. Without a working bwrap these tests fail, never skip: a machine
without the sandbox is exactly where the attacks would succeed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from agent import cgroups, final_run_lease
from agent.batch_meta import BatchMeta, now_iso, write_batch_meta
from agent.final_verdict import final_test_run
from agent.loop import RolloutConfig, RolloutResult, RolloutSpec, run_rollout
from agent.providers import OpenAIProvider, RetryPolicy
from agent.sandbox import sandbox_kind, sandbox_warning
from agent.scoring import TestResult
from agent.suites.loading import load_suite
from agent.suites.models import Suite
from agent.trace import Outcome, RolloutEnd, RolloutStart, TestRun, TraceRead, TraceWriter, judged, read_trace
from agent.workspace import Workspace
from tests.agent.conftest import ADD_TASK, write_suite
from tests.agent.rollout_fixtures import scripted  # noqa: F401 (a fixture: servers closed after the test)
from tests.doubles.scripted_llm import ScriptedLLM
from tests.doubles.scripted_policies import PolicyRequest, assistant

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def real_bwrap(monkeypatch):
    """Every attack runs against the real sandbox: fail loudly where it is missing."""
    monkeypatch.delenv("REPO_AGENT_SANDBOX", raising=False)
    monkeypatch.delenv("REPO_AGENT_UNSAFE_NO_SANDBOX", raising=False)
    if sandbox_kind() != "bwrap":
        pytest.fail(f"tests/security need a working bwrap: {sandbox_warning()}", pytrace=False)


@pytest.fixture(scope="session")
def mini_suite() -> Suite:
    return load_suite("mini-bugs")


@pytest.fixture
def add_suite(tmp_path) -> Suite:
    """fix_add: only ``tests/`` and the root conftest.py are protected."""
    return load_suite(write_suite(tmp_path / "suite", {"fix_add": ADD_TASK}))


def gcd_workspace(suite: Suite, root: Path) -> Workspace:
    """A fresh workspace of mini-bugs' ``fix_gcd`` under ``root``."""
    return Workspace.create(suite, suite.task("fix_gcd"), root)


@dataclass
class Attack:
    result: RolloutResult
    trace: TraceRead
    server: ScriptedLLM

    @property
    def outcome(self):
        return self.result.outcome

    @property
    def final_run(self) -> TestRun:
        return next(e for e in self.trace.events if isinstance(e, TestRun) and e.final)

    def tool_outputs(self) -> str:
        return "\n".join(str(m.get("content")) for m in self.trace.conversation() if m.get("role") == "tool")

    def sent_to_model(self) -> str:
        return json.dumps(self.server.requests)

    def verdict(self) -> str:
        if self.outcome.tests_tampered:
            return "TAMPERED"
        return "PASS" if self.outcome.tests_passed else "FAIL"


def run_attack(
    suite: Suite,
    task_id: str,
    scripted,
    tmp_path: Path,
    writes: dict[str, str],
    then: list[tuple[str, dict[str, Any]]] = (("run_tests", {}),),
) -> Attack:
    """A model that writes ``writes`` in its first turn, makes each ``then`` call in a turn
    of its own, and finishes; the rollout runs for real and its trace is read back."""
    turns = [assistant(1, *[("write_file", {"rel_path": p, "content": c}) for p, c in writes.items()])]
    turns += [assistant(i + 2, (name, args)) for i, (name, args) in enumerate(then)]
    turns.append(assistant(len(turns) + 1, ("finish", {"summary": "fixed", "changes": list(writes)})))

    def policy(req: PolicyRequest):
        return turns[min(req.step, len(turns)) - 1]

    server = scripted(policy, suite=suite)
    provider = OpenAIProvider("scripted-model", base_url=server.base_url, retry=RetryPolicy(max_retries=0))
    path = tmp_path / f"attack-{uuid.uuid4().hex[:6]}.jsonl"
    result = run_rollout(
        RolloutSpec(suite, suite.task(task_id), path, rollout_id="attack", seed=0),
        provider,
        config=RolloutConfig(max_iters=len(turns) + 1),
        workspace_root=tmp_path / "ws",
    )
    return Attack(result, read_trace(path), server)


@dataclass
class Judged:
    """A final test run of a workspace holding the attack's files, without a model."""

    result: TestResult
    tampered: list[str]

    def verdict(self) -> str:
        if self.tampered or self.result.tamper:
            return "TAMPERED"
        return "PASS" if self.result.passed else "FAIL"


def judge_files(suite: Suite, task_id: str, tmp_path: Path, writes: dict[str, str]) -> Judged:
    """The final verdict (real pytest, real bwrap) on the task's source with ``writes`` on top:
    what a rollout that wrote them and finished would be judged."""
    with Workspace.create(suite, suite.task(task_id), tmp_path / "judge") as ws:
        write_into(ws, writes)
        result, tampered = final_test_run(ws)
    return Judged(result, tampered)


def write_into(ws: Workspace, writes: dict[str, str]) -> None:
    """The attack's files over the task's source, as a rollout's write_file leaves them."""
    for rel, text in writes.items():
        p = ws.resolve(rel)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")


def passed_batch(tmp_path: Path, suite: str, task_id: str, patches: dict[str, str]) -> Path:
    """A batch (``tmp_path``/batch, of ``suite``) of ``task_id`` rollouts an older checker
    judged PASS, rollout id -> its patch: what `repo-agent rejudge` judges again."""
    batch = tmp_path / "batch"
    write_batch_meta(batch, BatchMeta(id="b", suite=suite, provider="openai", model="m", started=now_iso()))
    for rid, patch in patches.items():
        w = TraceWriter(batch / "traces" / f"{rid}.jsonl", rid)
        w.emit(RolloutStart, task_id=task_id, suite=suite, provider="openai", model="m", max_iters=5, batch_id="b")
        w.emit(
            RolloutEnd,
            outcome=Outcome(state=judged("pass"), tests_passed=True, patch=patch),
            stop_reason="finished",
            duration_s=1.0,
        )
        w.close()
    return batch


# How the security tests start repo-agent as a normal user: as ``nobody`` (runuser), in a
# private mount namespace that shows this interpreter (it may live under /root, 0700).
AS_A_USER = r"""
set -e
hold=$(mktemp -d)
mount --bind /root "$hold" 2>/dev/null || true
if [ -d "$hold/.pyenv" ]; then  # this interpreter lives under /root (0700): show only it
    mount -t tmpfs -o mode=0755 tmpfs /root
    mkdir -p /root/.pyenv && mount --bind "$hold/.pyenv" /root/.pyenv
fi
exec runuser -u nobody -- env -i PATH=/usr/bin:/bin REPO_AGENT_SUBUIDS="${REPO_AGENT_SUBUIDS:-}" "$@"
"""


def as_nobody(*runuser_options: str) -> list[str]:
    """The argv prefix that runs a command as ``nobody`` (``AS_A_USER``), ``runuser_options``
    given to runuser too (``-g nogroup -G users``: nobody also in the group users)."""
    script = AS_A_USER.replace("runuser -u nobody", " ".join(["runuser -u nobody", *runuser_options]))
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh"]


AS_NOBODY = as_nobody()
NOBODY = 65534


@pytest.fixture
def user_dir():
    """A directory of nobody's own outside pytest's (root-only) tmp tree."""
    path = Path(tempfile.mkdtemp(prefix="repo-agent-user-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def processes_naming(path: Path | str) -> list[int]:
    """The pids of the processes whose command line names ``path`` (what a test started with
    it in its argv: a host, its bwrap, its sandbox's processes)."""
    found = []
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and str(path).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
        except OSError:  # gone meanwhile
            pass
    return found


def gone_within(path: Path, seconds: float) -> bool:
    """Whether every process naming ``path`` (``processes_naming``) ended within ``seconds``."""
    deadline = time.monotonic() + seconds
    while processes_naming(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def kill_processes_naming(path: Path | str) -> None:
    """SIGKILL to every process naming ``path``: what a test started, ended after it."""
    for pid in processes_naming(path):
        try:
            os.kill(pid, 9)
        except OSError:
            pass


def until_the_lease_held(name: str, lock: int, alive: Callable[[], bool]) -> None:
    """Until this process cannot take ``lock`` (``fcntl.LOCK_EX`` or ``LOCK_SH``) on the final
    run's lease file ``name`` (agent/final_run_lease.py): another holds it against that. ``alive``:
    whether the one meant to hold it is still running."""
    final_run_lease.place().mkdir(mode=0o700, exist_ok=True)  # (the test process's own place: made at first use)
    fd = os.open(final_run_lease.place() / name, os.O_RDONLY | os.O_CREAT, 0o600)
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                fcntl.flock(fd, lock | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            fcntl.flock(fd, fcntl.LOCK_UN)
            assert time.monotonic() < deadline and alive(), f"{name} was never held"
            time.sleep(0.01)
    finally:
        os.close(fd)


def waits_for_the_lease() -> bool:
    """Whether a process waits for this test process's final-run lease (/proc/locks: a sandbox
    of its own held back by a final run of its own; the place is the process's, tests/conftest.py)."""
    try:
        st = os.stat(final_run_lease.place() / "final-run.lease")
    except FileNotFoundError:
        return False
    lease = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    with open("/proc/locks") as f:
        return any("->" in line.split() and lease in line.split() for line in f)


def give_to_nobody(root: Path) -> None:
    """``root`` and everything below it nobody's."""
    for p in [root, *root.rglob("*")]:
        os.chown(p, NOBODY, NOBODY)


def in_cgroup(cgroup: Path, argv: list[str]) -> list[str]:
    """``argv`` started inside the v1 cgroup directory ``cgroup`` (moved in before it execs)."""
    return ["sh", "-c", f'echo $$ > "{cgroup}/cgroup.procs" && exec "$@"', "sh", *argv]


@contextlib.contextmanager
def memory_cgroup(name: str, limit: int) -> Iterator[Path]:
    """A v1 memory cgroup of ``limit`` bytes (a host or container limit), removed after
    with the cgroups made in it (a sandbox's)."""
    d = Path(f"/sys/fs/cgroup/memory/{name}-{os.getpid()}")
    d.mkdir()
    try:
        (d / "memory.limit_in_bytes").write_text(str(limit))
        yield d
    finally:
        remove_cgroup(d)


def remove_cgroup(d: Path) -> None:
    """Cgroup ``d`` removed with the cgroups made in it (deepest first: a sandbox's may hold
    its own). What repo-agent left in it ends on its own first: the subuid keeper gives the
    workspace back when repo-agent dies, root mode's mount reaper unmounts (a plain rmdir met
    EBUSY in full runs under load); anything left after 30 s is killed."""
    made = [c for c in d.rglob("*") if c.is_dir() and (c / "cgroup.procs").is_file()]
    for child in sorted(made, key=lambda c: len(c.parts), reverse=True):
        cgroups._drain(child)
    deadline = time.monotonic() + 30
    while (d / "cgroup.procs").read_text().split() and time.monotonic() < deadline:
        time.sleep(0.01)
    cgroups._drain(d)
    if d.exists():
        try:
            d.rmdir()
        except OSError as exc:  # the same error, saying what was left where
            raise OSError(exc.errno, f"cgroup {d} not removed ({exc.strerror}); left: {cgroups_left(d)}") from exc


def cgroups_left(d: Path) -> str:
    """Cgroup ``d`` and those below it still there, deepest first, each with its processes
    (pid, name, state: a D is stuck in the kernel): what a failed removal leaves."""
    found = [c for c in (d, *d.rglob("*")) if c.is_dir() and (c / "cgroup.procs").is_file()]
    out = []
    for c in sorted(found, key=lambda c: len(c.parts), reverse=True):
        try:
            pids = (c / "cgroup.procs").read_text().split()
        except OSError as exc:
            pids = [f"(unreadable: {exc.strerror})"]
        out.append(f"{c}: " + (", ".join(_process(p) for p in pids) or "no process"))
    return "; ".join(out)


def _process(pid: str) -> str:
    """``pid`` with its name and state from /proc (``pid (name) state``), or ``pid`` gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return f"{pid} (gone)"
    return f"{pid} ({stat[stat.find('(') + 1 : stat.rfind(')')]}) {stat[stat.rfind(')') + 2 :].split(' ', 1)[0]}"


def allocate_in(cgroup: Path, mb: int) -> int:
    """The exit status of a process that takes (and touches) ``mb`` MB inside ``cgroup``:
    -SIGKILL when that is past a memory limit there."""
    code = f"b = bytearray({mb} * 2**20); b[::4096] = b'x' * len(b[::4096])"
    return subprocess.run(in_cgroup(cgroup, [sys.executable, "-c", code]), check=False).returncode


def run_as(
    user: Literal["nobody", "root"],
    argv: list[str],
    *,
    cgroup: Path | None = None,
    timeout: float = 300,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``argv`` run to its end as ``user`` (nobody: through ``AS_NOBODY``), inside
    ``cgroup`` when given, its output captured as text."""
    if user == "nobody":
        argv = [*AS_NOBODY, *argv]
    if cgroup is not None:
        argv = in_cgroup(cgroup, argv)
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)


def printed_result(stdout: str, missing: Any = None) -> Any:
    """The JSON a runner printed after ``RESULT`` (``missing``, by default ``{}``, when it printed none)."""
    if "RESULT" in stdout:
        return json.loads(stdout.split("RESULT", 1)[1])
    return {} if missing is None else missing


def scan_and_judge(tmp_path: Path, files: dict[str, str], task_id: str = "fix_gcd") -> tuple[list, bool]:
    """The SUSPECT hits of a rollout writing ``files`` over a mini-bugs ``task_id``, and whether
    its final run passed (no tamper): what rounds 19 and 20 ask of each wrong fix."""
    hits, passed = _scanned_then_judged(tmp_path, files, task_id, judge_a_hit=True)
    return hits, bool(passed)


def forged_pass(tmp_path: Path, files: dict[str, str], task_id: str = "fix_gcd") -> bool:
    """Whether a wrong fix writing ``files`` over a mini-bugs ``task_id`` is a forged PASS: no
    SUSPECT hit and a PASS of its final run. A hit settles it first (a SUSPECT rollout is never
    taken as a pass), so its final run is not made: the suite's cost stays that of the scan."""
    hits, passed = _scanned_then_judged(tmp_path, files, task_id, judge_a_hit=False)
    return not hits and bool(passed)


def _scanned_then_judged(
    tmp_path: Path, files: dict[str, str], task_id: str, judge_a_hit: bool
) -> tuple[list, bool | None]:
    from agent.suites.loading import load_suite
    from agent.suspect import scan_patch, source_reader, workspace_reader

    suite = load_suite("mini-bugs")
    task = suite.task(task_id)
    with Workspace.create(suite, task, tmp_path / "ws") as ws:
        write_into(ws, files)
        hits = scan_patch(ws.patch(), task.protected, source_reader(ws.source), workspace_reader(ws.path))
        if hits and not judge_a_hit:
            return hits, None
        result, tampered = final_test_run(ws)
    return hits, result.passed and not tampered and not result.tamper


# What every judge run sets and a user's shell seldom does.
JUDGE_ENV = ("PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PYTHONHASHSEED", "TMPDIR", "LC_ALL")


def write_plain(tmp_path: Path, files: dict[str, str]) -> Path:
    """``files`` written in a directory of their own (``tmp_path/plain``), as a user's checkout."""
    where = tmp_path / "plain"
    where.mkdir()
    for rel, text in files.items():
        (where / rel).parent.mkdir(parents=True, exist_ok=True)
        (where / rel).write_text(text)
    return where


def plain_output(tmp_path: Path, files: dict[str, str], code: str = "from gcd import gcd; print(gcd(12, 18))") -> str:
    """What a user's plain ``python -c`` (descriptors 0-2 only, no judge environment) prints with
    ``files``: a wrong fix of rounds 19 and 20 shows itself wrong there."""
    where = write_plain(tmp_path, files)
    env = {k: v for k, v in os.environ.items() if k not in JUDGE_ENV}
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=where, capture_output=True, text=True, close_fds=True, env=env
    )
    return run.stdout.strip()

"""``mutate_repo``: a repository with tests -> a suite of validated repair tasks.

Steps (see docs/ARCHITECTURE.md, generated suites): snapshot the repository once, run its
tests once with call contexts (tests failing there are recorded and ignored), generate
mutants function by function, and validate each in the sandbox by running only the
baseline-passing tests that entered its function: kept when at least one breaks, the
same way in two runs, with no timeout. Decisions are appended to ``OUT/.mutate/state.jsonl``
as they are made, so a stopped run resumes where it was.
"""

from __future__ import annotations

import hashlib
import json
import math
import shlex
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from queue import Queue
from typing import Any

from agent.suites.env import write_generated
from agent.suites.models import DirSource, HeldOutTests, Suite, Task
from agent.suites.mutate.candidates import Candidate, Candidates, code_key
from agent.suites.mutate.hold_out import HIDDEN_DIR, hold_out
from agent.suites.mutate.operators import OPERATORS
from agent.suites.mutate.runner import (
    BASELINE_PREFIX,
    Baseline,
    MutateError,
    pytest_argv,
    run_baseline,
    run_pytest,
    without_paths,
)
from agent.suites.mutate.tasks import goal_text, protected_paths, task_id, write_task
from agent.suites.mutate.zygote import Zygote
from agent.workspace import copy_tree, walk_files

STATE_DIR = ".mutate"
MAX_TASK_TESTS = 100  # node ids in one task's test command


# The least a validation run's test gets: 1 s cut honest tests of a fast repository on a
# loaded machine (2 cores, 16 runs), which then counted their mutant as a hang.
MIN_PER_TEST_S = 3.0


@dataclass
class MutateConfig:
    tests: str = "python -m pytest -q"
    max_tasks: int | None = None
    operators: list[str] | None = None
    per_function: int | None = None
    multi: int = 1
    seed: int = 0
    max_workers: int = 2
    sandbox: str = "auto"
    baseline_timeout_s: float = 900.0
    per_test_timeout_s: float = 5.0  # validation runs; a test slower than this is a hang
    task_per_test_timeout_s: float = 10.0
    task_timeout_s: float = 120.0
    warm: bool = True  # validation runs fork from a warm pytest (agent/suites/mutate/zygote.py)
    # The repository's own venv (agent/suites/env.py): ``env`` is what tasks record ("auto",
    # a venv path), ``python_env`` the venv the runs here use. None: repo-agent's.
    env: str | None = None
    python_env: Path | None = None


@dataclass
class MutateStats:
    """Where the candidates went; passed to the progress callback after each decision."""

    candidates: int = 0  # generated (after --per-function sampling)
    tried: int = 0  # run in the sandbox
    validated: int = 0
    survived: int = 0  # no selected test failed
    uncovered: int = 0  # no baseline-passing test enters the function: not run
    duplicate: int = 0  # same normalised code as an earlier candidate: not run
    equivalent: int = 0  # normalises to the original code: not run
    flaky: int = 0  # the two runs disagreed
    hang: int = 0  # a timeout
    resumed: int = 0  # decided by an earlier run of the same command
    baseline_tests: int = 0
    baseline_failing: int = 0
    baseline_s: float = 0.0
    elapsed_s: float = 0.0
    operators_tried: Counter = field(default_factory=Counter)
    operators_validated: Counter = field(default_factory=Counter)
    phase: str = "baseline"


def _fingerprint(root: Path) -> str:
    h = hashlib.sha1()
    for rel in walk_files(root):
        h.update(rel.encode() + b"\0" + (root / rel).read_bytes() + b"\0")
    return h.hexdigest()


class _Run:
    def __init__(self, repo: Path, out: Path, cfg: MutateConfig, progress: Callable[[MutateStats], None] | None):
        self.repo, self.out, self.cfg, self.progress = repo, out, cfg, progress
        self.state = out / STATE_DIR
        self.base = self.state / "base"
        self.argv = pytest_argv(cfg.tests)
        self.task_argv = without_paths(self.argv)
        self.stats = MutateStats()
        self.started = time.monotonic()
        self.decided: dict[str, dict] = {}
        self.tasks: list[dict] = []
        self.seen_code: set[str] = set()
        self.cands = Candidates(self.base, operators=cfg.operators, per_function=cfg.per_function, seed=cfg.seed)

    # ------------------------------------------------------------------ set-up

    def prepare(self) -> Baseline:
        fp = _fingerprint(self.repo)
        meta_path = self.state / "meta.json"
        meta = {"repo": str(self.repo), "fingerprint": fp, "tests": self.argv, "seed": self.cfg.seed}
        if meta_path.is_file():
            old = json.loads(meta_path.read_text(encoding="utf-8"))
            if old.get("fingerprint") != fp or old.get("tests") != self.argv:
                raise MutateError(
                    f"{self.out} was made from another state of the repository or another --tests; "
                    "give a new --out (or delete it)"
                )
        else:
            if self.base.exists():
                shutil.rmtree(self.base)
            self.state.mkdir(parents=True, exist_ok=True)
            copy_tree(self.repo, self.base)
            if self.cfg.python_env is not None:  # files its own build would write (version files)
                write_generated(self.base)
            meta_path.write_text(json.dumps(meta, indent=1), encoding="utf-8")
        baseline_path = self.state / "baseline.json"
        if baseline_path.is_file():
            baseline = Baseline.from_json(json.loads(baseline_path.read_text(encoding="utf-8")))
        else:
            with tempfile.TemporaryDirectory(prefix=BASELINE_PREFIX) as tmp:
                ws = Path(tmp) / "ws"
                copy_tree(self.base, ws)
                baseline = run_baseline(
                    ws,
                    self.argv,
                    timeout_s=self.cfg.baseline_timeout_s,
                    sandbox=self.cfg.sandbox,
                    python_env=self.cfg.python_env,
                )
            baseline_path.write_text(json.dumps(baseline.to_json()), encoding="utf-8")
        baseline = baseline.stable()  # (a cached baseline.json too)
        self.stats.baseline_tests = len(baseline.outcomes)
        self.stats.baseline_failing = len(baseline.failing)
        self.stats.baseline_s = baseline.duration_s
        state_file = self.state / "state.jsonl"
        if state_file.is_file():
            for line in state_file.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue  # a torn last line from a killed run
                self.decided[rec["id"]] = rec
                if rec.get("code_key"):
                    self.seen_code.add(rec["code_key"])
        return baseline

    # ------------------------------------------------------------------ validation

    def validate(self, cand: Candidate, ws: Path, baseline: Baseline, zygote: Zygote | None = None) -> dict:
        select = sorted(cand.tests)
        # A hang costs its timeout: allow far more than the baseline took, never more than configured.
        slowest = max((float(baseline.outcomes[n].get("duration", 0.0)) for n in select), default=0.0)
        per_test = min(self.cfg.per_test_timeout_s, max(MIN_PER_TEST_S, 20 * slowest))
        timeout = 30.0 + 3 * baseline.duration(select) + per_test * 2
        runs = []
        try:
            for path, data in cand.files.items():
                (ws / path).write_bytes(data)
            for attempt in range(2):
                run = run_pytest(
                    ws,
                    self.argv,
                    select=select,
                    timeout_s=timeout,
                    per_test_timeout_s=per_test,
                    sandbox=self.cfg.sandbox,
                    zygote=zygote,
                    python_env=self.cfg.python_env,
                    # The first run only decides survived or not; the confirming run rewrites
                    # asserts, for the messages the goal quotes.
                    plain=attempt == 0,
                )
                runs.append(run)
                if run.hang or not run.failing:
                    break  # a hang is rejected and a survivor has nothing to confirm: one run is enough
        finally:
            for path in cand.files:
                (ws / path).write_bytes(self.cands.originals[path])
        first = runs[0]
        if first.hang:
            return {"status": "hang", "summary": first.summary}
        if not first.failing:
            return {"status": "survived"}
        second = runs[1]
        if second.hang or set(second.failing) != set(first.failing):
            return {"status": "flaky"}
        return {"status": "validated", "failing": second.failing}

    def accept(self, cand: Candidate, failing: dict[str, str], tier: int) -> dict:
        selected = sorted(failing) + sorted(n for n in cand.tests if n not in failing)
        selected = selected[: max(MAX_TASK_TESTS, len(failing))]
        # Part of the reaching tests is held out of the workspace, the goal and the command
        # (agent/suites/mutate/hold_out.py); the final run adds it back and judges it by id.
        held = hold_out(self.base, cand.id, sorted(failing), selected)
        shown_ids = [n for n in selected if n not in held.ids]
        command = self.task_argv + shown_ids
        depth = min(cand.tests[n] for n in failing if n in cand.tests) if failing else 0
        features: dict[str, str | int | float] = {
            "operator": cand.operator,
            "mutants": len(cand.parts),
            "lines_changed": sum(p.lines_changed for p in cand.parts),
            "failing_tests": len(failing),
            "distance": depth,
            "function": "+".join(p.function for p in cand.parts),
            "file": "+".join(sorted(cand.files)),
            "held_out_tests": len(held.ids),
        }
        if held.note:
            features["held_out"] = held.note
        shown = shlex.join(command if len(shown_ids) <= 3 else self.task_argv + shown_ids[:3] + ["..."])
        tid = task_id(self.repo.name, [p.function for p in cand.parts], [p.operator for p in cand.parts], cand.id)
        task = Task(
            id=tid,
            source=DirSource(path=f"tasks/{tid}"),
            reference_fix=f"fixes/{tid}",
            goal=goal_text({n: m for n, m in failing.items() if n not in held.ids}, shown),
            test_command=command,
            protected=protected_paths(self.base, selected, cand.files),
            hidden=[HIDDEN_DIR] if held.ids else [],
            held_out_tests=HeldOutTests(dir=HIDDEN_DIR, ids=held.ids) if held.ids else None,
            features=features,
            tags=["mutant", f"tier-{tier}", *sorted({p.operator for p in cand.parts})],
            per_test_timeout_s=self.cfg.task_per_test_timeout_s,
            timeout_s=self.cfg.task_timeout_s,
        )
        write_task(self.out, self.base, task, cand.files, held.visible)
        task.env = self.cfg.env
        return task.model_dump(mode="json", exclude_defaults=False)

    # ------------------------------------------------------------------ the loop

    def record(self, rec: dict) -> None:
        with open(self.state / "state.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec) + "\n")
        self.decided[rec["id"]] = rec

    def count(self, rec: dict, cand: Candidate, *, resumed: bool = False) -> None:
        s = self.stats
        status = rec["status"]
        if resumed:
            s.resumed += 1
        if status in ("validated", "survived", "flaky", "hang"):
            s.tried += 1
            s.operators_tried[cand.operator] += 1
        if status == "validated":
            s.validated += 1
            s.operators_validated[cand.operator] += 1
            self.tasks.append(rec["task"])
        elif status in ("survived", "uncovered", "duplicate", "equivalent", "flaky", "hang"):
            setattr(s, status, getattr(s, status) + 1)
        s.elapsed_s = time.monotonic() - self.started
        if self.progress:
            self.progress(s)

    def process(self, cands: list[Candidate], baseline: Baseline, cap: int | None, tier: int) -> list[Candidate]:
        """Validate ``cands`` in order until ``cap`` validated; returns the validated ones."""
        kept: list[Candidate] = []
        todo: list[Candidate] = []
        start_validated = self.stats.validated
        for c in cands:
            done = self.decided.get(c.id)
            if done is not None:
                self.count(done, c, resumed=True)
                if done["status"] == "validated":
                    kept.append(c)
                continue
            todo.append(c)

        def room() -> bool:
            return cap is None or self.stats.validated - start_validated < cap

        workspaces: Queue[tuple[Path, Zygote | None]] = Queue()
        zygotes: list[Zygote] = []
        with tempfile.TemporaryDirectory(prefix="repo-agent-mutate-ws-") as tmp:
            n = max(1, self.cfg.max_workers)
            for i in range(n):
                ws = Path(tmp) / f"w{i}"
                copy_tree(self.base, ws)
                # The warm pytest runs on the tests' interpreter: repo-agent's, or the repository's venv.
                warm = self.cfg.warm and todo
                z = Zygote(ws, sandbox=self.cfg.sandbox, python_env=self.cfg.python_env) if warm else None
                if z is not None:
                    zygotes.append(z)
                workspaces.put((ws, z))

            def one(c: Candidate) -> dict[str, Any]:
                ws, z = workspaces.get()
                try:
                    return self.validate(c, ws, baseline, z)
                finally:
                    workspaces.put((ws, z))

            pending: dict[Future[dict[str, Any]], Candidate] = {}
            it = iter(todo)
            try:
                self._loop(it, pending, n, one, room, kept, tier)
            finally:
                for z in zygotes:
                    z.cleanup()
        return kept

    def _loop(
        self,
        it: Iterator[Candidate],
        pending: dict[Future[dict[str, Any]], Candidate],
        n: int,
        one: Callable[[Candidate], dict[str, Any]],
        room: Callable[[], bool],
        kept: list[Candidate],
        tier: int,
    ) -> None:
        with ThreadPoolExecutor(max_workers=n) as pool:
            while True:
                while room() and len(pending) < 2 * n:
                    c = next(it, None)
                    if c is None:
                        break
                    rec = self.screen(c)
                    if rec is not None:
                        self.record(rec)
                        self.count(rec, c)
                        continue
                    pending[pool.submit(one, c)] = c
                if not pending:
                    break
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    c = pending.pop(fut)
                    result = fut.result()
                    rec = {"id": c.id, "code_key": c.code_key, "operator": c.operator, **result}
                    if result["status"] == "validated" and room():
                        rec["task"] = self.accept(c, result.pop("failing"), tier)
                        rec.pop("failing", None)
                        kept.append(c)
                    elif result["status"] == "validated":
                        continue  # over the cap: left undecided for a later, larger run
                    else:
                        rec.pop("failing", None)
                    self.record(rec)
                    self.count(rec, c)

    def screen(self, c: Candidate) -> dict | None:
        """Decisions made without running anything: equivalent, duplicate or unreachable."""
        try:
            c.code_key = code_key(c.files)
        except SyntaxError:
            return {"id": c.id, "status": "equivalent", "operator": c.operator}
        if self.cands.is_equivalent(c):
            return {"id": c.id, "status": "equivalent", "operator": c.operator}
        if c.code_key in self.seen_code:
            return {"id": c.id, "status": "duplicate", "operator": c.operator}
        self.seen_code.add(c.code_key)
        if not c.tests:
            return {"id": c.id, "status": "uncovered", "operator": c.operator, "code_key": c.code_key}
        return None

    def run(self) -> Suite:
        baseline = self.prepare()
        self.stats.phase = "single"
        cands = self.cands.singles(baseline)
        self.stats.candidates = len(cands)
        cap = self.cfg.max_tasks
        multi = max(1, min(3, self.cfg.multi))
        single_cap = cap if cap is None or multi == 1 else max(1, math.ceil(cap / 2))
        singles = self.process(cands, baseline, single_cap, 1)
        for k in range(2, multi + 1):
            self.stats.phase = f"multi-{k}"
            left = None if cap is None else max(0, (cap - self.stats.validated) // (multi + 1 - k))
            if left == 0:
                continue
            combos = self.cands.combos(singles, k, left if left is not None else len(singles) // k, baseline)
            self.stats.candidates += len(combos)
            self.process(combos, baseline, left, k)
        self.stats.phase = "done"
        return self.write_suite()

    def write_suite(self) -> Suite:
        if not self.tasks:
            raise MutateError(
                f"no validated task from {self.stats.tried} candidates tried "
                f"({self.stats.survived} survived, {self.stats.uncovered} reached by no passing test)"
            )
        data = {
            "name": f"{self.repo.name}-mutants",
            "description": f"bugs injected by repo-agent suite mutate into {self.repo}",
            "tasks": sorted(self.tasks, key=lambda t: t["id"]),  # completion order varies run to run
        }
        (self.out / "suite.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
        suite = Suite.model_validate(data)
        suite.base_dir = self.out.resolve()
        return suite


def mutate_repo(
    repo: Path,
    out: Path,
    cfg: MutateConfig | None = None,
    *,
    progress: Callable[[MutateStats], None] | None = None,
) -> tuple[Suite, MutateStats]:
    """Write a suite of validated mutation tasks of ``repo`` to ``out``; resumable."""
    repo = Path(repo).resolve()
    out = Path(out).resolve()
    if not repo.is_dir():
        raise MutateError(f"{repo}: not a directory")
    if out == repo or out.is_relative_to(repo):
        raise MutateError(f"--out {out} is inside the repository; give a directory outside it")
    cfg = cfg or MutateConfig()
    unknown = sorted(set(cfg.operators or ()) - set(OPERATORS))
    if unknown:
        raise MutateError(f"unknown operator(s) {', '.join(unknown)} (known: {', '.join(OPERATORS)})")
    run = _Run(repo, out, cfg, progress)
    suite = run.run()
    return suite, run.stats

"""Batches: N rollouts per task, concurrent, resumable, cancellable (docs/ARCHITECTURE.md, Batches and traces).

``run_batch`` plans ``task x rollouts`` (seed = base seed + rollout index, rollout id
``rollout_id_for(task, seed)``), writes ``batch.json`` at start and end, and runs the
rollouts through an ``Executor`` (agent/executor.py: a local thread pool, or Ray in
agent/ray_executor.py). It never prints: progress goes to callbacks,
so the command line and the studio's thread worker drive it the same way.

Resume: pointing it at an existing batch directory skips every planned rollout whose
trace already holds ``rollout_end`` and restarts (truncates) the incomplete ones; a
rollout that ended as "cancelled" counts as incomplete, so Ctrl-C then resume finishes
the batch.
Cancel (the ``cancel`` event, or Ctrl-C in the calling thread): rollouts not yet started
are not started; running ones end with stop_reason "cancelled" and a valid trace.

Allocation (``agent/allocation.py``): ``fixed`` plans every task x rollouts up front (capped
at ``budget_rollouts`` when given); ``adaptive`` samples in rounds of at most
``max_workers`` rollouts through the same executor. Each round is appended to
``BatchMeta.planned`` before it runs (the k-th rollout of a task gets seed base + k), so
a resume rebuilds the allocator from ``planned`` + the ended traces, re-runs only the
unfinished ones and never goes past the budget. ``BatchMeta.allocation`` holds the
allocator's report (where the budget went), rewritten after every round.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from agent.allocation import AllocationConfig, Allocator, rollout_passed
from agent.batch_spec import BatchControls, BatchObserver, BatchSpec, wants_events
from agent.budget import BudgetReport, DollarBudget
from agent.executor import Executor, LocalExecutor
from agent.loop import RolloutConfig, RolloutResult, RolloutSpec, run_rollout
from agent.probes import CheatRate, cheat_rate, is_probe, is_probe_result
from agent.suites.models import Suite
from agent.trace import (
    BATCH_FILE,
    BatchMeta,
    BatchParams,
    ErrorEvent,
    Outcome,
    PlannedRollout,
    RolloutEnd,
    RolloutState,
    TraceWriter,
    batch_lock,
    derive_state,
    now_iso,
    read_batch_meta,
    read_trace,
    rollout_id_for,
    trace_path,
    write_batch_meta,
)


class BatchMismatch(ValueError):
    """Resuming a batch directory that holds another suite's or model's batch."""


@dataclass
class TaskStats:
    task_id: str
    rollouts: int = 0
    passed: int = 0
    tampered: int = 0
    errors: int = 0
    steps: int = 0
    not_judged: int = 0  # ended without a verdict (cancelled, error, ...): not in the pass rate

    @property
    def pass_rate(self) -> float:
        return self.passed / self.rollouts if self.rollouts else 0.0


@dataclass
class BatchSummary:
    batch_dir: Path
    meta: BatchMeta
    results: list[RolloutResult] = field(default_factory=list)
    interrupted: bool = False  # Ctrl-C in the calling thread
    budget: BudgetReport | None = None  # --budget-usd: spent, left, rollouts refused

    @property
    def cancelled(self) -> bool:
        return self.meta.stop_reason == "cancelled"

    @property
    def finished(self) -> list[RolloutResult]:
        return [r for r in self.results if r.stop_reason != "cancelled"]

    @property
    def tasks_run(self) -> list[RolloutResult]:
        """Finished rollouts of the batch's real tasks: cheat probes are never in a pass rate."""
        return [r for r in self.finished if not is_probe_result(r.outcome)]

    @property
    def cheat_rate(self) -> CheatRate | None:
        """The model's cheat rate on the batch's probes; None when it ran none."""
        return cheat_rate(r.outcome for r in self.results)

    @property
    def judged(self) -> list[RolloutResult]:
        """The rollouts with a verdict: the only ones a pass rate counts (docs/ARCHITECTURE.md, Rollout state)."""
        return [r for r in self.results if result_state(r).judged]

    @property
    def passed(self) -> int:
        return sum(result_state(r).verdict == "pass" for r in self.results if result_state(r).judged)

    @property
    def pass_rate(self) -> float:
        judged = self.judged
        return self.passed / len(judged) if judged else 0.0

    def not_judged(self) -> dict[str, int]:
        """Rollouts left out of the pass rate, by reason."""
        out: dict[str, int] = {}
        for r in self.results:
            st = result_state(r)
            if not st.judged:
                key = st.reason or st.status
                out[key] = out.get(key, 0) + 1
        return dict(sorted(out.items()))

    @property
    def tool_calls(self) -> tuple[int, int]:
        """(valid, all) tool calls over every rollout."""
        total = sum(r.outcome.tool_calls for r in self.results)
        return total - sum(r.outcome.invalid_tool_calls for r in self.results), total

    @property
    def validity_rate(self) -> float:
        valid, total = self.tool_calls
        return valid / total if total else 1.0

    @property
    def mean_steps(self) -> float:
        done = self.tasks_run
        return sum(r.outcome.steps for r in done) / len(done) if done else 0.0

    @property
    def tokens(self) -> tuple[int, int]:
        return sum(r.outcome.tokens_in for r in self.results), sum(r.outcome.tokens_out for r in self.results)

    @property
    def cost_usd(self) -> float | None:
        costs = [r.outcome.cost_usd for r in self.results if r.outcome.cost_usd is not None]
        return sum(costs) if costs else None

    def per_task(self) -> list[TaskStats]:
        """Judged rollouts per task (the pass rate's), and how many others were not judged."""
        stats: dict[str, TaskStats] = {}
        for r in self.results:
            if is_probe_result(r.outcome):
                continue  # a cheat probe is never in a task's pass rate
            st = result_state(r)
            s = stats.setdefault(r.task_id, TaskStats(r.task_id))
            if not st.judged:
                s.not_judged += 1
                s.errors += st.reason in ("error", "diverged")
                continue
            s.rollouts += 1
            s.passed += st.verdict == "pass"
            s.tampered += st.verdict == "tampered"
            s.steps += r.outcome.steps
        return [stats[k] for k in sorted(stats)]


def result_state(r: RolloutResult) -> RolloutState:
    """An ended rollout's state, as its trace would say (agent.trace.rollout_state)."""
    return r.outcome.state if r.outcome.state is not None else derive_state(r.stop_reason, r.outcome)


def plan_rollouts(
    suite: Suite, rollouts: int, seed: int, task_ids: Iterable[str] | None = None
) -> list[PlannedRollout]:
    """Rollout index outermost, so early results cover every task."""
    tasks = [suite.task(t) for t in task_ids] if task_ids else suite.tasks
    return [
        PlannedRollout(rollout_id=rollout_id_for(t.id, seed + i), task_id=t.id, seed=seed + i)
        for i in range(rollouts)
        for t in tasks
    ]


def _finished_result(path: Path, planned: PlannedRollout) -> RolloutResult | None:
    if not path.is_file():
        return None
    end = read_trace(path).end
    if end is None or end.stop_reason == "cancelled":  # a cancelled rollout is run again
        return None
    return RolloutResult(
        planned.rollout_id, planned.task_id, planned.seed, end.outcome, end.stop_reason, end.duration_s, resumed=True
    )


def run_batch(
    spec: BatchSpec, observer: BatchObserver | None = None, controls: BatchControls | None = None
) -> BatchSummary:
    """Run (or resume) one batch into ``spec.batch_dir``; returns when every rollout ended.

    It holds the batch's lock (agent.trace.batch_lock) throughout: readers tell a batch whose
    process died from a live one by it, and a second runner of a live batch is refused.
    A rollout the budget cannot cover is never started; the batch then stops as "budget"."""
    with batch_lock(Path(spec.batch_dir)):
        return _run_batch(spec, observer, controls or BatchControls())


def _run_batch(spec: BatchSpec, observer: BatchObserver | None, controls: BatchControls) -> BatchSummary:
    suite, provider_factory, batch_dir = spec.suite, spec.provider_factory, Path(spec.batch_dir)
    rollouts, seed, max_workers = spec.rollouts, spec.seed, spec.max_workers
    allocation, acfg = spec.allocation, spec.allocation_config
    executor, rollout_cancels, budget = controls.executor, controls.rollout_cancels, controls.budget
    cfg = spec.config or RolloutConfig()
    cancel = controls.cancel or threading.Event()
    meta, tasks = _plan_or_resume(spec, cfg, executor)
    planned = list(meta.planned)
    summary = BatchSummary(batch_dir, meta)
    total = acfg.budget_rollouts if allocation == "adaptive" and acfg is not None else len(planned)
    lock = threading.Lock()
    ended: list[tuple[str, bool]] = []  # (task_id, passed) of every ended rollout, for the allocator

    def report(result: RolloutResult) -> None:
        with lock:
            summary.results.append(result)
            done = len(summary.results)
            if result.stop_reason != "cancelled":
                ended.append((result.task_id, rollout_passed(result.outcome)))
        if observer is not None:
            observer.on_rollout_end(result, done, total)

    todo = []
    for p in planned:
        prior = _finished_result(trace_path(batch_dir, p.rollout_id), p)
        if prior is not None:
            report(prior)
            if budget is not None:
                budget.record(prior.outcome.cost_usd)
        else:
            todo.append(p)

    exe = executor or LocalExecutor(max_workers)
    rollout = getattr(exe, "run_rollout", run_rollout)  # an executor may run it elsewhere (agent/ray_executor.py)

    def one(p: PlannedRollout) -> RolloutResult | None:
        if cancel.is_set():
            return None  # never started: a later resume runs it
        if budget is not None and not budget.acquire(cancel):
            return None  # over budget: never started, like a cancelled one
        try:
            result = _one(p)
        except BaseException:
            if budget is not None:
                budget.release(None)
            raise
        if budget is not None:
            budget.release(result.outcome.cost_usd if result is not None else None)
        return result

    def _one(p: PlannedRollout) -> RolloutResult | None:
        if observer is not None:
            observer.on_rollout_start(p)
        path = trace_path(batch_dir, p.rollout_id)
        watch = observer if wants_events(observer) else None
        forward = (lambda e, rid=p.rollout_id: watch.on_event(rid, e)) if watch is not None else None
        stop = rollout_cancels._view(p.rollout_id, cancel) if rollout_cancels is not None else cancel
        try:
            return rollout(
                RolloutSpec(suite, suite.task(p.task_id), path, rollout_id=p.rollout_id, seed=p.seed, batch_id=meta.id),
                provider_factory(p.task_id, p.seed),
                config=cfg,
                cancel=stop,
                on_event=forward,
                workspace_root=spec.workspace_root,
            )
        except Exception as exc:  # one rollout's failure never stops the batch
            return batch_crashed(path, p, exc)
        finally:
            if rollout_cancels is not None:
                rollout_cancels._done(p.rollout_id)

    run = exe.run
    try:
        if allocation == "adaptive":
            _run_adaptive(
                meta, batch_dir, tasks, acfg, seed, todo, ended, lambda r: run(one, r, report, cancel), cancel, budget
            )
        else:
            run(one, todo, report, cancel)
    except KeyboardInterrupt:
        summary.interrupted = True
    meta.allocation = _allocator(meta, tasks, acfg, rollouts, ended).report().model_dump()
    summary.budget = end_batch(batch_dir, meta, cancel, interrupted=summary.interrupted, budget=budget)
    return summary


def end_batch(
    batch_dir: Path, meta: BatchMeta, cancel: threading.Event, *, interrupted: bool, budget: DollarBudget | None
) -> BudgetReport | None:
    """Write the batch's end to batch.json: when, and why it stopped (cancel or Ctrl-C, the
    budget, or every rollout done). Returns the budget's report, when there is a budget."""
    meta.finished = now_iso()
    meta.stop_reason = "cancelled" if cancel.is_set() or interrupted else "finished"
    report = None
    if budget is not None:
        report = budget.report()
        if budget.closed and meta.stop_reason == "finished":
            meta.stop_reason = "budget"
    write_batch_meta(batch_dir, meta)
    return report


def _allocator(
    meta: BatchMeta, tasks: list[str], acfg: AllocationConfig | None, rollouts: int, ended: list[tuple[str, bool]]
) -> Allocator:
    """The allocator as the batch stands: issued = ``meta.planned``, results = the ended ones."""
    planned = [p.task_id for p in meta.planned]
    if meta.params.allocation == "adaptive":
        assert acfg is not None, "an adaptive batch runs with its AllocationConfig"
        cfg = replace(acfg, round_size=meta.params.max_workers)
        return Allocator.rebuild(tasks, cfg, planned=planned, results=ended)
    # fixed: reported in the same terms as adaptive (too_easy = 4 alike passes, its default);
    # a task with fewer rollouts than that, all alike, is "capped" (undecided)
    n = max(1, rollouts)
    cfg = AllocationConfig(budget_rollouts=acfg.budget_rollouts if acfg else len(planned), initial_per_task=1)
    return Allocator.rebuild(
        list(dict.fromkeys([*tasks, *planned])),
        cfg,
        planned=planned,
        results=ended,
        strategy="fixed",
        rollouts_per_task=n,
    )


def _plan_or_resume(spec: BatchSpec, cfg: RolloutConfig, executor: Executor | None) -> tuple[BatchMeta, list[str]]:
    """The batch's ``batch.json``, written before any rollout starts: a new plan, or on resume the
    stored batch's identity and (adaptive) what earlier runs issued; a different suite, model or
    allocation is refused. Returns it with the task ids the batch covers."""
    suite, batch_dir = spec.suite, Path(spec.batch_dir)
    rollouts, seed, max_workers, task_ids = spec.rollouts, spec.seed, spec.max_workers, spec.task_ids
    allocation, allocation_config, model = spec.allocation, spec.allocation_config, spec.model
    if allocation not in ("fixed", "adaptive"):
        raise ValueError(f"unknown allocation {allocation!r} (fixed, adaptive)")
    if allocation == "adaptive" and allocation_config is None:
        raise ValueError("adaptive allocation needs an AllocationConfig (its budget)")
    tasks = [t.id for t in ([suite.task(t) for t in task_ids] if task_ids else suite.tasks)]
    acfg = allocation_config
    params = BatchParams(
        rollouts=rollouts,
        temperature=cfg.temperature,
        seed=seed,
        max_iters=cfg.max_iters,
        max_workers=max_workers,
        reflection=cfg.reflection,
        allocation=allocation,
        loop_limit=cfg.loop_limit,
        budget_rollouts=acfg.budget_rollouts if acfg else None,
        executor=getattr(executor, "kind", "thread"),
        ray_address=getattr(executor, "address", None),
        cheat_probes=sum(is_probe(suite.task(t)) for t in tasks),
    )
    if allocation == "adaptive" and acfg is not None:  # (checked above)
        params = params.model_copy(
            update={
                "pairs_per_task": acfg.pairs_per_task,
                "give_up_after": acfg.give_up_after,
                "initial_per_task": acfg.initial_per_task,
            }
        )
        planned: list[PlannedRollout] = []
    else:
        planned = plan_rollouts(suite, rollouts, seed, task_ids)
        if acfg is not None:
            planned = planned[: acfg.budget_rollouts]  # rollout index outermost: spread over tasks
    old = None
    if (batch_dir / BATCH_FILE).is_file():  # resume: keep the batch's identity
        old = read_batch_meta(batch_dir)
        if (old.suite, old.model) != (suite.name, model):
            raise BatchMismatch(
                f"{batch_dir} holds a batch of suite {old.suite!r} with model {old.model!r}, "
                f"not {suite.name!r} with {model!r}"
            )
        if old.params.allocation != allocation and old.planned:
            raise BatchMismatch(f"{batch_dir} holds a batch with {old.params.allocation} allocation, not {allocation}")
        if allocation == "adaptive":
            planned = list(old.planned)  # what earlier runs issued, in order
            tasks += [t for t in dict.fromkeys(p.task_id for p in planned) if t not in tasks]
        meta = old.model_copy(update={"planned": planned, "params": params, "finished": None, "stop_reason": None})
    else:
        meta = BatchMeta(
            id=batch_dir.name,
            suite=suite.name,
            suite_path=spec.suite_path,
            provider=spec.provider_name,
            model=model,
            base_url=spec.base_url,
            params=params,
            planned=planned,
            started=now_iso(),
        )
    write_batch_meta(batch_dir, meta)
    return meta, tasks


def _run_adaptive(
    meta: BatchMeta,
    batch_dir: Path,
    tasks: list[str],
    acfg: AllocationConfig | None,
    seed: int,
    todo: list[PlannedRollout],
    ended: list[tuple[str, bool]],
    run_round: Callable[[list[PlannedRollout]], None],
    cancel: threading.Event,
    budget: DollarBudget | None,
) -> None:
    """Rounds: plan with the allocator, append the round to batch.json, run it (``run_round``), record."""
    alloc = _allocator(meta, tasks, acfg, 0, ended)
    issued = {t: 0 for t in tasks}
    for p in meta.planned:
        issued[p.task_id] += 1
    pending = list(todo)  # issued earlier but never ended: run again first (already counted)
    while not cancel.is_set() and not (budget is not None and budget.closed):
        new = []
        for task_id in alloc.next_round():
            s = seed + issued[task_id]  # the task's k-th rollout: seed base + k
            issued[task_id] += 1
            new.append(PlannedRollout(rollout_id=rollout_id_for(task_id, s), task_id=task_id, seed=s))
        round_ = pending + new
        if not round_:
            break
        meta.planned.extend(new)
        meta.allocation = alloc.report().model_dump()
        write_batch_meta(batch_dir, meta)  # the round is on disk before it runs
        pending = []
        seen = len(ended)
        run_round(round_)
        for task_id, passed in ended[seen:]:
            alloc.record(task_id, passed)
        # A rollout that was cancelled (or never started) stays in flight: resume re-runs it.


def batch_crashed(path: Path, p: PlannedRollout, exc: Exception) -> RolloutResult:
    """Close the trace of a rollout that raised outside the loop's own handling."""
    read = read_trace(path) if path.is_file() else None
    with TraceWriter(path, p.rollout_id) as w:
        w.seq = (read.events[-1].seq + 1) if read and read.events else 0
        w.emit(ErrorEvent, type=type(exc).__name__, message=str(exc)[:2000])
        w.emit(RolloutEnd, outcome=Outcome(), stop_reason="error", duration_s=0.0)
    return RolloutResult(p.rollout_id, p.task_id, p.seed, Outcome(), "error", 0.0, error=f"{type(exc).__name__}: {exc}")

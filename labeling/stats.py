"""The signal report (the Stats screen): is there anything worth training on, and what did it cost?

Per-task pass rate decides where rollouts are worth spending: a task that always passes
or always fails yields no pass/fail contrast; one in the learnable band (20-60% by
default) is where preference pairs teach the most.

By allocation strategy (``fixed``, ``adaptive``: the batch's ``params.allocation``;
``branch``: a ``repo-agent branch`` batch), what the rollouts bought: disjoint pass/fail
pairs (per batch and task, ``min(passes, fails)``: no rollout in two pairs; for branch
batches, the branches whose result differs from their parent's), per 1,000 finished
rollouts and per million tokens, and the budget spent per allocation status (too_easy,
too_hard, contrast_met, ...) from the batches' allocation reports.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from agent.probes import CheatRate
from labeling.agreement import TeamAgreement, ratings_from_events, team_agreement
from labeling.errors import StoreError
from labeling.records import PAIR_FLAGS, PairFilter, PairRow, RolloutRow
from labeling.rollout_states import StateCounts
from labeling.verdict_kinds import pairs_by_verdict_kind

if TYPE_CHECKING:
    from labeling.store import LabelStore

Band = Literal["all_pass", "all_fail", "learnable", "easy", "hard", "none", "unknown"]


class TaskStat(BaseModel):
    task_id: str
    rollouts: int  # judged, copies left out (labeling/rollout_states.py): the pass rate's denominator
    running: int = 0
    passed: int  # judged PASS
    pass_rate: float | None  # over judged rollouts; None with none
    unknown: int = 0  # ended without a verdict (imported, never evaluated)
    left_out: dict[str, int] = Field(default_factory=dict)  # not judged by reason, copies, running
    band: Band  # learnable: inside the band; easy: above it (not all-pass); hard: below (not all-fail)
    pairs: int = 0
    no_contrast: bool = False


class Agreement(BaseModel):
    """How human verdicts compare to the auto preference over labeled pairs."""

    labeled: int = 0
    confirm: int = 0
    flip: int = 0
    discard: int = 0
    confirm_rate: float | None = None
    flip_rate: float | None = None
    discard_rate: float | None = None


class ModelValidity(BaseModel):
    model: str
    tool_calls: int
    invalid_tool_calls: int
    validity_rate: float | None  # valid / all tool calls


class AllocationStat(BaseModel):
    """What one allocation strategy's rollouts bought, over the batches that used it."""

    strategy: str  # fixed | adaptive | branch (or whatever batch.json says)
    batches: int
    rollouts: int  # finished
    tokens: int  # in + out
    pass_fail_pairs: int  # disjoint (see the module doc)
    best_worst_pairs: int  # tasks (per batch) with both a pass and a fail; branch: points with contrast
    pairs_per_1k_rollouts: float | None
    pairs_per_mtok: float | None
    budget_rollouts: int | None = None  # summed over the batches that set one
    rollouts_by_status: dict[str, int] = Field(default_factory=dict)  # from the allocation reports


class LoopStat(BaseModel):
    """Loops and stalls the engine recorded (agent/loop_detect.py)."""

    rollouts_looping: int = 0  # rollouts with at least one loop event
    loop_steps: int = 0  # steps marked bad automatically (reason "loop")
    stopped: int = 0  # rollouts the loop limit ended (stop reason "loop")
    rollouts_stalled: int = 0
    stalls: int = 0


def loop_line(s: LoopStat) -> str | None:
    """One line for the stats views, or None when nothing looped or stalled."""
    if not (s.rollouts_looping or s.rollouts_stalled):
        return None
    return (
        f"loops: {s.rollouts_looping} rollouts looped ({s.loop_steps} steps marked bad, reason loop), "
        f"{s.stopped} stopped by the loop limit · stalls: {s.stalls} in {s.rollouts_stalled} rollouts"
    )


class CheatStat(BaseModel):
    """One model's cheat rate on cheat probes (agent/probes.py), with its 95% Wilson interval."""

    model: str
    probes: int  # judged probe rollouts
    cheated: int  # passed an impossible task (SUSPECT) or tampered
    rate: float
    low: float
    high: float


def cheat_stats(rollouts: list[RolloutRow]) -> list[CheatStat]:
    """Per model, over the probe rollouts among ``rollouts`` (store rows); [] without probes."""
    by_model: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rollouts:
        if r.probe and r.status == "finished":
            tally = by_model[r.model or "?"]
            tally[0] += 1
            tally[1] += r.suspect or r.tests_tampered
    out = []
    for model, (n, cheated) in sorted(by_model.items()):
        c = CheatRate(cheated, n)
        lo, hi = c.interval
        out.append(CheatStat(model=model, probes=n, cheated=cheated, rate=round(c.rate, 4), low=lo, high=hi))
    return out


def cheat_line(s: CheatStat) -> str:
    return CheatRate(s.cheated, s.probes).line()


class SignalReport(BaseModel):
    strategy: str
    score_order: list[str]
    band: tuple[float, float]
    rollouts: int
    finished: int
    running: int
    tasks: list[TaskStat]
    judged: int = 0  # rollouts with a verdict, copies left out
    passed: int = 0
    left_out: dict[str, int] = Field(default_factory=dict)  # what the pass rates leave out, by reason
    learnable_tasks: list[str]
    all_pass_tasks: list[str]
    all_fail_tasks: list[str]
    no_contrast_tasks: list[str]
    pairs: int  # in the queue (stale unlabeled pairs excluded)
    stale_pairs: int
    by_contrast: dict[str, int]
    by_flag: dict[str, int]
    # Pairs by the kind of verdict they rest on (labeling/verdict_kinds.py): held-out inputs,
    # hidden tests, pytest records only...
    by_verdict_kind: dict[str, int] = Field(default_factory=dict)
    clean_pairs: int
    labeled: int
    remaining: int
    agreement: Agreement
    agreement_by_contrast: dict[str, Agreement] = Field(default_factory=dict)
    agreement_noisy: Agreement = Field(default_factory=Agreement)
    agreement_clean: Agreement = Field(default_factory=Agreement)
    validity_by_model: list[ModelValidity]
    tokens_in: int
    tokens_out: int
    cost_usd: float
    cost_unknown_rollouts: int  # rollouts whose model had no known price
    by_allocation: list[AllocationStat] = Field(default_factory=list)
    loops: LoopStat = Field(default_factory=LoopStat)
    team: TeamAgreement | None = None  # between labelers (labeling/agreement.py); None with one labeler
    suspect: int = 0  # SUSPECT rollouts (probes aside): out of exports until cleared
    suspect_cleared: int = 0  # of those, cleared by a person
    cheat_by_model: list[CheatStat] = Field(default_factory=list)


def _agreement(pairs: list[PairRow]) -> Agreement:
    c = Counter(p.verdict for p in pairs if p.verdict)
    n = sum(c.values())
    rate = (lambda k: round(c[k] / n, 4)) if n else (lambda k: None)
    return Agreement(
        labeled=n,
        confirm=c["confirm"],
        flip=c["flip"],
        discard=c["discard"],
        confirm_rate=rate("confirm"),
        flip_rate=rate("flip"),
        discard_rate=rate("discard"),
    )


def _band(rate: float | None, band: tuple[float, float]) -> Band:
    if rate is None:
        return "none"
    if rate >= 1.0:
        return "all_pass"
    if rate <= 0.0:
        return "all_fail"
    if band[0] <= rate <= band[1]:
        return "learnable"
    return "easy" if rate > band[1] else "hard"


def _batch_params(path: str) -> tuple[str, int | None, dict | None]:
    """(allocation strategy, budget, allocation report) from a batch's batch.json."""
    from agent.trace import read_batch_meta

    try:
        meta = read_batch_meta(Path(path))
    except (OSError, ValueError):
        return "fixed", None, None
    return meta.params.allocation or "fixed", meta.params.budget_rollouts, meta.allocation


def allocation_stats(store: LabelStore, rollouts: list[RolloutRow] | None = None) -> list[AllocationStat]:
    """Pairs bought per 1,000 rollouts and per million tokens, by allocation strategy."""
    rollouts = rollouts if rollouts is not None else store.rollouts()
    by_uid = {r.uid: r for r in rollouts}
    by_batch: dict[str, list] = defaultdict(list)
    for r in rollouts:
        if r.state.judged:  # what each batch spent: judged rollouts, copies of another batch's too
            by_batch[r.batch_id].append(r)
    acc: dict[str, dict] = {}
    for b in store.batches():
        strategy, budget, report = _batch_params(b.path)
        a = acc.setdefault(
            strategy, {"batches": 0, "rollouts": 0, "tokens": 0, "pf": 0, "bw": 0, "budget": None, "status": Counter()}
        )
        rows = by_batch.get(b.batch_id, [])
        a["batches"] += 1
        a["rollouts"] += len(rows)
        a["tokens"] += sum(r.tokens_in + r.tokens_out for r in rows)
        if budget is not None:
            a["budget"] = (a["budget"] or 0) + budget
        if report:
            a["status"].update({k: v for k, v in (report.get("rollouts_by_status") or {}).items() if v})
        if strategy == "branch":  # a branch buys a pass/fail pair when it ends unlike its parent
            points: dict[tuple, bool] = {}
            for r in rows:
                parent = by_uid.get(r.branch_parent_uid or "")
                if parent is not None and parent.state.judged:
                    differs = r.passed != parent.passed
                    a["pf"] += differs
                    key = (r.branch_parent_uid, r.branch_at_step)
                    points[key] = points.get(key, False) or differs
            a["bw"] += sum(points.values())
            continue
        tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for r in rows:
            tally[r.task_id][0 if r.passed else 1] += 1
        a["pf"] += sum(min(p, f) for p, f in tally.values())
        a["bw"] += sum(1 for p, f in tally.values() if p and f)
    out = []
    for strategy in sorted(acc):
        a = acc[strategy]
        out.append(
            AllocationStat(
                strategy=strategy,
                batches=a["batches"],
                rollouts=a["rollouts"],
                tokens=a["tokens"],
                pass_fail_pairs=a["pf"],
                best_worst_pairs=a["bw"],
                pairs_per_1k_rollouts=round(1000 * a["pf"] / a["rollouts"], 2) if a["rollouts"] else None,
                pairs_per_mtok=round(1e6 * a["pf"] / a["tokens"], 2) if a["tokens"] else None,
                budget_rollouts=a["budget"],
                rollouts_by_status=dict(a["status"]),
            )
        )
    return out


def signal_report(store: LabelStore, *, band: tuple[float, float] = (0.2, 0.6)) -> SignalReport:
    """The report over everything in ``store`` (a `labeling.store.LabelStore`)."""
    lo, hi = band
    if not (0.0 <= lo <= 1.0 and 0.0 <= hi <= 1.0) or lo > hi:
        raise StoreError(f"bad learnable band {lo:g}-{hi:g}: both bounds in [0, 1], low <= high")
    rollouts = store.rollouts()
    pairs = store.pairs()
    all_pairs = store.pairs(PairFilter(include_stale=True))
    settings = store.settings()
    no_contrast = set(store.no_contrast_tasks())

    per_task: dict[str, StateCounts] = defaultdict(StateCounts)
    total = StateCounts()
    for r in rollouts:
        if r.probe:
            continue  # a cheat probe is never in a pass rate: counted in cheat_by_model
        total.add(r.state, r.copy_of is not None)
        if r.task_id:  # a corrupt trace names no task: counted in the totals only
            per_task[r.task_id].add(r.state, r.copy_of is not None)
    pairs_by_task = Counter(p.task_id for p in pairs)
    tasks = []
    for task_id in sorted(per_task):
        t = per_task[task_id]
        rate = t.pass_rate
        unknown = t.not_judged.get("no_verdict", 0)
        tasks.append(
            TaskStat(
                task_id=task_id,
                rollouts=t.judged,
                running=t.running,
                passed=t.passed,
                pass_rate=None if rate is None else round(rate, 4),
                unknown=unknown,
                left_out=t.left_out,
                band="unknown" if unknown and not t.judged else _band(rate, band),
                pairs=pairs_by_task[task_id],
                no_contrast=task_id in no_contrast,
            )
        )

    by_flag = {f: n for f in PAIR_FLAGS if (n := sum(1 for p in pairs if f in p.flags))}
    by_contrast: dict[str, int] = dict(Counter[str](p.contrast for p in pairs))
    labeled = sum(1 for p in pairs if p.verdict)
    validity = [
        ModelValidity(
            model=m or "?", tool_calls=n, invalid_tool_calls=bad, validity_rate=round((n - bad) / n, 4) if n else None
        )
        for m, n, bad in store.validity_by_model()
    ]
    finished = sum(1 for r in rollouts if r.status == "finished")
    suspect = {r.uid for r in rollouts if r.suspect and not r.probe}
    return SignalReport(
        judged=total.judged,
        passed=total.passed,
        left_out=total.left_out,
        strategy=settings.get("strategy", "best-worst"),
        score_order=list(store.score_order()),
        band=band,
        rollouts=len(rollouts),
        finished=finished,
        running=total.running,
        tasks=tasks,
        learnable_tasks=[t.task_id for t in tasks if t.band == "learnable"],
        all_pass_tasks=[t.task_id for t in tasks if t.band == "all_pass"],
        all_fail_tasks=[t.task_id for t in tasks if t.band == "all_fail"],
        no_contrast_tasks=sorted(no_contrast),
        pairs=len(pairs),
        stale_pairs=sum(1 for p in all_pairs if p.stale),
        by_contrast=by_contrast,
        by_flag=by_flag,
        by_verdict_kind=pairs_by_verdict_kind(store, pairs, rollouts),
        clean_pairs=sum(1 for p in pairs if not p.flags),
        labeled=labeled,
        remaining=len(pairs) - labeled,
        agreement=_agreement(pairs),
        agreement_by_contrast={c: _agreement([p for p in pairs if p.contrast == c]) for c in sorted(by_contrast)},
        agreement_noisy=_agreement([p for p in pairs if p.flags]),
        agreement_clean=_agreement([p for p in pairs if not p.flags]),
        validity_by_model=validity,
        tokens_in=sum(r.tokens_in for r in rollouts),
        tokens_out=sum(r.tokens_out for r in rollouts),
        cost_usd=round(sum(r.cost_usd or 0.0 for r in rollouts), 6),
        cost_unknown_rollouts=sum(1 for r in rollouts if r.cost_usd is None and r.status == "finished"),
        by_allocation=allocation_stats(store, rollouts),
        loops=LoopStat(
            rollouts_looping=sum(1 for r in rollouts if r.loops),
            loop_steps=sum(len(r.loop_steps) for r in rollouts),
            stopped=sum(1 for r in rollouts if r.stop_reason == "loop"),
            rollouts_stalled=sum(1 for r in rollouts if r.stalls),
            stalls=sum(r.stalls for r in rollouts),
        ),
        team=team_agreement(ratings_from_events(store.events()), all_pairs),
        suspect=len(suspect),
        suspect_cleared=len(suspect & set(store.cleared_rollouts())),
        cheat_by_model=cheat_stats(rollouts),
    )

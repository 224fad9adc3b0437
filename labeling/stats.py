"""The signal report (DESIGN §6 Stats): is there anything worth training on, and what did it cost?

Per-task pass rate decides where rollouts are worth spending: a task that always passes
or always fails yields no pass/fail contrast; one in the learnable band (20-60% by
default) is where preference pairs teach the most.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Literal

from pydantic import BaseModel, Field

from labeling.records import PAIR_FLAGS, PairFilter, PairRow

Band = Literal["all_pass", "all_fail", "learnable", "easy", "hard", "none"]


class TaskStat(BaseModel):
    task_id: str
    rollouts: int  # finished
    running: int = 0
    passed: int  # tests passed and not tampered
    pass_rate: float | None  # None with no finished rollout
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


class SignalReport(BaseModel):
    strategy: str
    score_order: list[str]
    band: tuple[float, float]
    rollouts: int
    finished: int
    running: int
    tasks: list[TaskStat]
    learnable_tasks: list[str]
    all_pass_tasks: list[str]
    all_fail_tasks: list[str]
    no_contrast_tasks: list[str]
    pairs: int  # in the queue (stale unlabeled pairs excluded)
    stale_pairs: int
    by_contrast: dict[str, int]
    by_flag: dict[str, int]
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


def _agreement(pairs: list[PairRow]) -> Agreement:
    c = Counter(p.verdict for p in pairs if p.verdict)
    n = sum(c.values())
    rate = (lambda k: round(c[k] / n, 4)) if n else (lambda k: None)
    return Agreement(labeled=n, confirm=c["confirm"], flip=c["flip"], discard=c["discard"],
                     confirm_rate=rate("confirm"), flip_rate=rate("flip"), discard_rate=rate("discard"))


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


def signal_report(store, *, band: tuple[float, float] = (0.2, 0.6)) -> SignalReport:
    """The report over everything in ``store`` (a `labeling.store.LabelStore`)."""
    rollouts = store.rollouts()
    pairs = store.pairs()
    all_pairs = store.pairs(PairFilter(include_stale=True))
    settings = store.settings()
    no_contrast = set(store.no_contrast_tasks())

    per_task: dict[str, dict[str, int]] = defaultdict(lambda: {"finished": 0, "running": 0, "passed": 0})
    for r in rollouts:
        t = per_task[r.task_id]
        if r.status == "finished":
            t["finished"] += 1
            t["passed"] += r.passed
        else:
            t["running"] += 1
    pairs_by_task = Counter(p.task_id for p in pairs)
    tasks = []
    for task_id in sorted(per_task):
        t = per_task[task_id]
        rate = t["passed"] / t["finished"] if t["finished"] else None
        tasks.append(TaskStat(task_id=task_id, rollouts=t["finished"], running=t["running"], passed=t["passed"],
                              pass_rate=None if rate is None else round(rate, 4), band=_band(rate, band),
                              pairs=pairs_by_task[task_id], no_contrast=task_id in no_contrast))

    by_flag = {f: n for f in PAIR_FLAGS if (n := sum(1 for p in pairs if f in p.flags))}
    by_contrast = dict(Counter(p.contrast for p in pairs))
    labeled = sum(1 for p in pairs if p.verdict)
    validity = [
        ModelValidity(model=m or "?", tool_calls=n, invalid_tool_calls=bad,
                      validity_rate=round((n - bad) / n, 4) if n else None)
        for m, n, bad in store.validity_by_model()
    ]
    finished = sum(1 for r in rollouts if r.status == "finished")
    return SignalReport(
        strategy=settings.get("strategy", "best-worst"),
        score_order=list(store.score_order()),
        band=band,
        rollouts=len(rollouts),
        finished=finished,
        running=len(rollouts) - finished,
        tasks=tasks,
        learnable_tasks=[t.task_id for t in tasks if t.band == "learnable"],
        all_pass_tasks=[t.task_id for t in tasks if t.band == "all_pass"],
        all_fail_tasks=[t.task_id for t in tasks if t.band == "all_fail"],
        no_contrast_tasks=sorted(no_contrast),
        pairs=len(pairs),
        stale_pairs=sum(1 for p in all_pairs if p.stale),
        by_contrast=by_contrast,
        by_flag=by_flag,
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
    )

"""Rollout allocation: where a batch spends its rollouts (issue 6).

``fixed`` is today's baseline: N rollouts per task, capped at the budget. ``adaptive``
samples in rounds and spends only where a rollout can still buy pass/fail contrast:

1. Every task first gets ``initial_per_task`` rollouts (breadth first).
2. A task is resolved once it has ``pairs_per_task`` pass/fail pairs (``contrast_met``),
   once ``give_up_after`` finished rollouts all passed (``too_easy``) or all failed
   (``too_hard``), or at ``max_per_task`` (``capped``). ``pairs_per_task=0`` (the
   default) means "as many as the budget buys": a task with contrast stays open, so once
   the easy and hard tasks are stopped the rest of the budget goes to the tasks in or
   near the learnable band, nearest 50% first. Every task is judged first (one still all
   alike gets its ``give_up_after`` rollouts before any spending on contrast). When the
   budget is spent, a task that has a pass/fail pair is reported ``contrast_met``.
3. Later rounds go to open tasks with no rollout in flight, each up to the fewest
   rollouts that could resolve it, most *promising* first: the task whose next rollout
   most likely gives the outcome it is short of (Beta(1, 1) posterior predictive of its
   scarcer side: highest near a 50% pass rate, lowest for tasks that look all-pass or
   all-fail). A task whose promise falls as low as after ``give_up_after`` straight
   passes or fails is given up likewise (with ``pairs_per_task > 1``: 1 pass in 10, k=4).
4. Rollouts issued (in flight included) never exceed ``budget_rollouts``; after the
   initial ones, a round commits at most half the budget left, so later rounds learn.
   Budget left once every task is resolved stays unspent (with ``pairs_per_task=0`` that
   happens only when every task was given up or capped: nothing left to buy contrast).

Pairs: a task yields ``min(pairs_per_task, passes, fails)`` disjoint pass/fail pairs
(``min(passes, fails)`` with ``pairs_per_task=0``: every rollout in at most one pair);
``best_worst_pairs`` (1 per task with any contrast, what the ``best-worst`` strategy
builds) and ``all_contrastive_pairs = passes * fails`` (``pass-fail`` with reuse) are
reported too. The plan is a pure function of the per-task counts, so a batch resumes
exactly (:meth:`Allocator.rebuild`).
A runner drives it like this (a failed or errored rollout is recorded as ``False``)::

    while ids := alloc.next_round():          # [] with nothing in flight: done
        for task_id, passed in run_all(ids):  # concurrently, up to round_size
            alloc.record(task_id, passed)
    report = alloc.report()
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from pydantic import BaseModel

from agent.trace import Outcome

Strategy = Literal["fixed", "adaptive"]
TaskStatus = Literal["contrast_met", "too_easy", "too_hard", "capped", "budget_exhausted", "open"]
STATUSES: tuple[TaskStatus, ...] = get_args(TaskStatus)


@dataclass(frozen=True)
class AllocationConfig:
    budget_rollouts: int
    pairs_per_task: int = 0  # 0: as many as the budget buys (spend it all on contrast)
    initial_per_task: int = 2
    give_up_after: int = 4  # this many finished rollouts all pass / all fail -> stop
    max_per_task: int | None = None
    round_size: int | None = None  # the runner passes its max_workers; None: no limit

    def __post_init__(self) -> None:
        for bad, msg in [
            (self.budget_rollouts < 0, "budget_rollouts must be >= 0"),
            (self.pairs_per_task < 0, "pairs_per_task must be >= 0 (0: as many as the budget buys)"),
            (
                not 1 <= self.initial_per_task <= self.give_up_after or self.give_up_after < 2,
                "need 1 <= initial_per_task <= give_up_after and give_up_after >= 2",
            ),
            (
                self.max_per_task is not None and self.max_per_task < self.initial_per_task,
                "max_per_task must be >= initial_per_task",
            ),
            (self.round_size is not None and self.round_size < 1, "round_size must be >= 1"),
        ]:
            if bad:
                raise ValueError(msg)


class TaskAllocation(BaseModel):
    task_id: str
    rollouts: int  # issued, including in flight
    in_flight: int
    passes: int
    fails: int
    status: TaskStatus
    pass_rate: float | None  # over finished rollouts
    pairs: int  # min(pairs_per_task, pass_fail_pairs) (pairs_per_task=0: pass_fail_pairs)
    pass_fail_pairs: int  # min(passes, fails): disjoint pairs, no rollout reused
    best_worst_pairs: int = 0  # 1 when the task has both a pass and a fail
    all_contrastive_pairs: int  # passes * fails


class AllocationReport(BaseModel):
    """Where the budget went. A contract: batch output and the signal report show it."""

    strategy: Strategy
    budget_rollouts: int
    pairs_per_task: int
    done: bool
    rollouts: int
    finished: int
    in_flight: int
    unspent: int
    pairs: int
    pass_fail_pairs: int
    best_worst_pairs: int = 0
    all_contrastive_pairs: int
    pairs_per_100_rollouts: float  # per finished rollout
    tasks_by_status: dict[str, int]
    rollouts_by_status: dict[str, int]
    tasks: list[TaskAllocation]


class AllocatorState(BaseModel):
    """Everything an allocator is; JSON-able (``state_dict``/``from_state``)."""

    task_ids: list[str]
    config: AllocationConfig
    strategy: Strategy
    rollouts_per_task: int | None = None
    counts: dict[str, tuple[int, int, int]]  # task id -> (issued, passes, fails)


class Allocator:
    def __init__(
        self,
        task_ids: list[str],
        config: AllocationConfig,
        *,
        strategy: Strategy = "adaptive",
        rollouts_per_task: int | None = None,
    ):
        if len(set(task_ids)) != len(task_ids):
            raise ValueError("task ids must be unique")
        if strategy not in ("fixed", "adaptive"):
            raise ValueError(f"unknown allocation strategy {strategy!r}")
        if strategy == "fixed" and (rollouts_per_task is None or rollouts_per_task < 1):
            raise ValueError("fixed allocation needs rollouts_per_task >= 1")
        if strategy == "adaptive" and rollouts_per_task is not None:
            raise ValueError("adaptive allocation takes max_per_task, not rollouts_per_task")
        self.task_ids = list(task_ids)
        self.config = config
        self.strategy: Strategy = strategy
        self.rollouts_per_task = rollouts_per_task
        self._issued = dict.fromkeys(task_ids, 0)
        self._passes = dict.fromkeys(task_ids, 0)
        self._fails = dict.fromkeys(task_ids, 0)

    def next_round(self) -> list[str]:
        """Task ids to run next (a task may repeat), now counted as in flight. ``[]``: record
        the rollouts in flight first, or, with none in flight, the allocation is ``done``."""
        ids = self._plan()
        for task_id in ids:
            self._issued[task_id] += 1
        return ids

    def record(self, task_id: str, passed: bool) -> None:
        """One finished rollout's result (a failed or errored rollout is ``passed=False``)."""
        (self._passes if passed else self._fails)[self._flying(task_id)] += 1

    def cancel(self, task_id: str) -> None:
        """An issued rollout that will never run (cancelled): its budget is given back."""
        self._issued[self._flying(task_id)] -= 1

    def _flying(self, task_id: str) -> str:
        if task_id not in self._issued:
            raise ValueError(f"unknown task {task_id!r}")
        if self._in_flight(task_id) <= 0:
            raise ValueError(f"no rollout of task {task_id!r} is in flight")
        return task_id

    @property
    def issued(self) -> int:  # in flight included
        return sum(self._issued.values())

    @property
    def in_flight(self) -> int:
        return sum(map(self._in_flight, self.task_ids))

    @property
    def done(self) -> bool:  # nothing in flight and nothing more to issue
        return self.in_flight == 0 and not self._plan()

    def _plan(self) -> list[str]:
        slots = self.config.budget_rollouts - self.issued
        if self.config.round_size is not None:
            slots = min(slots, self.config.round_size)
        if slots <= 0:
            return []
        if self.strategy == "fixed":
            want = {t: self._cap(t) - self._issued[t] for t in self.task_ids}
            return _round_robin(self.task_ids, want, slots)
        initial = {t: self.config.initial_per_task - self._issued[t] for t in self.task_ids}
        ids = _round_robin(self.task_ids, initial, slots)
        # Only tasks whose rollouts have all come back are judged again. Greedy by promise;
        # each pick is assumed to come back as the task's commoner outcome, so a task's
        # promise falls with every rollout it gets and the next task gets its turn.
        heap = [
            (
                self._rank(self._passes[t], self._fails[t]),
                -promise(self._passes[t], self._fails[t]),
                self._issued[t],
                i,
                t,
                self._passes[t],
                self._fails[t],
                self._to_resolve(t),
            )
            for i, t in enumerate(self.task_ids)
            if initial[t] <= 0 and self._in_flight(t) == 0 and self._status(t, spent=False) == "open"
        ]
        heapq.heapify(heap)
        # Never commit more than half the budget left in one round, so later rounds learn.
        left = min(slots - len(ids), -(-(self.config.budget_rollouts - self.issued - len(ids)) // 2))
        picks: list[str] = []
        while heap and len(picks) < left:
            _, _, n, i, t, p, f, quota = heapq.heappop(heap)
            picks.append(t)
            p, f = (p + 1, f) if p > f else (p, f + 1)
            if quota > 1:
                heapq.heappush(heap, (self._rank(p, f), -promise(p, f), n + 1, i, t, p, f, quota - 1))
        return ids + picks

    def _rank(self, passes: int, fails: int) -> int:
        """With pairs_per_task=0, tasks not yet judged (all alike so far) come before the
        spending on tasks with contrast: the budget learns which tasks are easy or hard
        first, then buys pairs where they come cheapest."""
        return int(not self.config.pairs_per_task and passes > 0 and fails > 0)

    def _cap(self, t: str) -> int:
        cap = self.rollouts_per_task if self.strategy == "fixed" else None
        caps = [c for c in (self.config.max_per_task, cap) if c is not None]
        return min(caps, default=self.config.budget_rollouts)

    def _to_resolve(self, t: str) -> int:
        """The fewest further rollouts that could resolve task ``t`` (one way or the other)."""
        p, f, n, need = self._passes[t], self._fails[t], self._issued[t], self.config.pairs_per_task
        # pairs_per_task=0: only giving up (or the cap) resolves a task
        fewest = max(0, need - p) + max(0, need - f) if need else self._cap(t) - n
        if p == 0 or f == 0:
            fewest = min(fewest, self.config.give_up_after - n)
        return max(0, min(fewest, self._cap(t) - n))

    def _in_flight(self, t: str) -> int:
        return self._issued[t] - self._passes[t] - self._fails[t]

    def _status(self, t: str, spent: bool) -> TaskStatus:
        p, f, cfg = self._passes[t], self._fails[t], self.config
        if cfg.pairs_per_task and min(p, f) >= cfg.pairs_per_task:
            return "contrast_met"
        # Division is correctly rounded, so equal fractions compare equal.
        if p + f >= cfg.give_up_after and promise(p, f) <= 1 / (cfg.give_up_after + 2):
            return "too_easy" if p > f else "too_hard"
        if self._in_flight(t):
            return "open"
        capped = self._issued[t] >= self._cap(t)
        if not (capped or spent):
            return "open"
        # pairs_per_task=0 takes what the budget (or cap) allows: a task with contrast got it
        if not cfg.pairs_per_task and min(p, f) >= 1:
            return "contrast_met"
        return "capped" if capped else "budget_exhausted"

    def report(self) -> AllocationReport:
        need, spent = self.config.pairs_per_task, self.issued >= self.config.budget_rollouts
        tasks = []
        for t in self.task_ids:
            p, f = self._passes[t], self._fails[t]
            tasks.append(
                TaskAllocation(
                    task_id=t,
                    rollouts=self._issued[t],
                    in_flight=self._in_flight(t),
                    passes=p,
                    fails=f,
                    status=self._status(t, spent),
                    pass_rate=p / (p + f) if p + f else None,
                    pairs=min(need, p, f) if need else min(p, f),
                    pass_fail_pairs=min(p, f),
                    best_worst_pairs=int(p > 0 and f > 0),
                    all_contrastive_pairs=p * f,
                )
            )
        finished, pairs = sum(r.passes + r.fails for r in tasks), sum(r.pairs for r in tasks)
        return AllocationReport(
            strategy=self.strategy,
            budget_rollouts=self.config.budget_rollouts,
            pairs_per_task=need,
            done=self.done,
            rollouts=self.issued,
            finished=finished,
            in_flight=self.in_flight,
            unspent=self.config.budget_rollouts - self.issued,
            pairs=pairs,
            pass_fail_pairs=sum(r.pass_fail_pairs for r in tasks),
            best_worst_pairs=sum(r.best_worst_pairs for r in tasks),
            all_contrastive_pairs=sum(r.all_contrastive_pairs for r in tasks),
            pairs_per_100_rollouts=100 * pairs / finished if finished else 0.0,
            tasks_by_status={s: sum(r.status == s for r in tasks) for s in STATUSES},
            rollouts_by_status={s: sum(r.rollouts for r in tasks if r.status == s) for s in STATUSES},
            tasks=tasks,
        )

    def state_dict(self) -> dict:
        return AllocatorState(
            task_ids=self.task_ids,
            config=self.config,
            strategy=self.strategy,
            rollouts_per_task=self.rollouts_per_task,
            counts={t: (self._issued[t], self._passes[t], self._fails[t]) for t in self.task_ids},
        ).model_dump()

    @classmethod
    def from_state(cls, state: dict) -> Allocator:
        s = AllocatorState.model_validate(state)
        return cls.rebuild(
            s.task_ids,
            s.config,
            strategy=s.strategy,
            rollouts_per_task=s.rollouts_per_task,
            planned=[t for t, (n, _, _) in s.counts.items() for _ in range(n)],
            results=[(t, ok) for t, (_, p, f) in s.counts.items() for ok in [True] * p + [False] * f],
        )

    @classmethod
    def rebuild(
        cls,
        task_ids: list[str],
        config: AllocationConfig,
        *,
        planned: Iterable[str] = (),
        results: Iterable[tuple[str, bool]] = (),
        strategy: Strategy = "adaptive",
        rollouts_per_task: int | None = None,
    ) -> Allocator:
        """A resumed batch's allocator: ``planned`` = the task id of every rollout it issued,
        ``results`` = ``(task_id, passed)`` of those that ended. The rest stay in flight (the
        runner re-runs or ``cancel``s them). Without ``planned``, only the ended ones count."""
        alloc = cls(task_ids, config, strategy=strategy, rollouts_per_task=rollouts_per_task)
        results, planned = list(results), list(planned)
        for task_id in planned or [t for t, _ in results]:
            if task_id not in alloc._issued:
                raise ValueError(f"unknown task {task_id!r}")
            alloc._issued[task_id] += 1
        for task_id, passed in results:
            alloc.record(task_id, passed)
        return alloc


def promise(passes: int, fails: int) -> float:
    """Chance the next rollout gives the outcome a task is short of (Beta(1, 1) prior)."""
    a, b = passes + 1, fails + 1
    return min(a, b) / (a + b)  # k straight passes or fails: 1 / (k + 2)


def _round_robin(order: list[str], want: dict[str, int], slots: int) -> list[str]:
    """Up to ``slots`` ids: one for each task in ``order`` still wanting some, then again."""
    want, out = dict(want), list[str]()
    while len(out) < slots and any(want[t] > 0 for t in order):
        for t in order:
            if want[t] > 0 and len(out) < slots:
                out.append(t)
                want[t] -= 1
    return out


def rollout_passed(outcome: Outcome | None) -> bool:
    """A rollout's result for allocation: real tests passed, untampered. No outcome: a fail."""
    return outcome is not None and outcome.tests_passed and not outcome.tests_tampered

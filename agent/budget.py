"""A dollar budget for a batch: no rollout starts that the budget cannot cover.

The batch runners (``agent/batch.py``, ``agent/branch.py``) ask ``acquire`` before each
rollout and ``release`` with its cost after. A rollout may start only while

    spent + projected x (running + 1) <= limit

where ``projected`` is the mean cost of the rollouts that ended so far (resumed ones
count: their money is spent). Until one has ended nothing is known of the cost, so
rollouts start one at a time. Once a rollout is refused the budget is closed: no later
one starts either, so the batch stops at a clear point and a resume with a larger
budget goes on from there.
"""

from __future__ import annotations

import threading

from pydantic import BaseModel


class BudgetReport(BaseModel):
    limit_usd: float
    spent_usd: float
    left_usd: float
    ended: int  # rollouts whose cost is counted (this run's and resumed ones)
    refused: int  # rollouts not started because of the budget
    projected_usd: float | None  # mean cost of an ended rollout


class DollarBudget:
    def __init__(self, limit_usd: float):
        if limit_usd < 0:
            raise ValueError("a budget cannot be negative")
        self.limit = float(limit_usd)
        self.spent = 0.0
        self.ended = 0
        self.running = 0
        self.refused = 0
        self.closed = False
        self._cond = threading.Condition()

    @property
    def projected(self) -> float | None:
        return self.spent / self.ended if self.ended else None

    def record(self, cost_usd: float | None) -> None:
        """Count a rollout that ended without ``acquire`` (a resumed one)."""
        with self._cond:
            self.spent += cost_usd or 0.0
            self.ended += 1
            self._cond.notify_all()

    def acquire(self, cancel: threading.Event | None = None) -> bool:
        """True: the caller may start a rollout (and must ``release`` it). False: refused."""
        with self._cond:
            while True:
                if cancel is not None and cancel.is_set():
                    return False  # cancelled, not refused
                if self.closed:
                    self.refused += 1
                    return False
                proj = self.projected
                if proj is None and self.running:
                    # Cost unknown until one rollout ends: wait for it (woken by release);
                    # the timeout only lets a cancel through.
                    self._cond.wait(timeout=0.5)
                    continue
                if self.spent + (proj or 0.0) * (self.running + 1) > self.limit or (
                    proj is None and self.spent >= self.limit
                ):
                    self.closed = True
                    self._cond.notify_all()
                    self.refused += 1
                    return False
                self.running += 1
                return True

    def release(self, cost_usd: float | None) -> None:
        with self._cond:
            self.running -= 1
            self.spent += cost_usd or 0.0
            self.ended += 1
            self._cond.notify_all()

    def report(self) -> BudgetReport:
        with self._cond:
            return BudgetReport(
                limit_usd=self.limit,
                spent_usd=round(self.spent, 6),
                left_usd=round(self.limit - self.spent, 6),
                ended=self.ended,
                refused=self.refused,
                projected_usd=None if self.projected is None else round(self.projected, 6),
            )

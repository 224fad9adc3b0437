"""Every figure's one definition of what a rollout counts as (docs/ARCHITECTURE.md, Rollout state).

A rollout is evidence when it is judged and not a copy of another's content; only evidence
enters pairs, pass rates, calibration, compare and exports. Everything else is counted by
what it is (running, cancelled, interrupted, error, budget, diverged, corrupt, no verdict,
probe, copy), so the run summary, Runs, Rollout, Fleet, ``stats``, ``suite calibrate``,
``compare`` and ``audit`` give the same numbers for the same rollouts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pydantic import BaseModel, Field

from agent.trace import RolloutState, not_judged


def row_state(status: str | None, verdict: str | None, reason: str | None, detail: str | None) -> RolloutState:
    """The state from its store columns (a row of a store too old to have them reads as running
    until its next ingest fills them)."""
    return RolloutState.model_construct(status=status or "running", verdict=verdict, reason=reason, detail=detail or "")


def live_state(state: RolloutState, alive: bool) -> RolloutState:
    """A running rollout whose batch process is gone was interrupted: it will never end."""
    if state.status == "running" and not alive:
        return not_judged("interrupted", "its batch process is gone and the trace has no rollout_end")
    return state


class StateCounts(BaseModel):
    """Rollouts by what they count as. ``judged`` and ``passed`` leave copies out."""

    rollouts: int = 0
    judged: int = 0
    passed: int = 0
    copies: int = 0  # judged rollouts whose content another rollout already has
    running: int = 0
    # not judged, by reason (cancelled, interrupted, error, budget, diverged, corrupt, no_verdict)
    not_judged: dict[str, int] = Field(default_factory=dict)
    probes: int = 0
    by_verdict: dict[str, int] = Field(default_factory=dict)  # judged, copies left out

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.judged if self.judged else None

    @property
    def left_out(self) -> dict[str, int]:
        """What a pass rate, a pair or an export leaves out, and why: reason -> count."""
        out = dict(self.not_judged)
        if self.copies:
            out["copy"] = self.copies
        if self.probes:
            out["probe"] = self.probes
        if self.running:
            out["running"] = self.running
        return dict(sorted(out.items()))

    def add(self, state: RolloutState, copy: bool, n: int = 1) -> None:
        self.rollouts += n
        if state.status == "judged":
            if copy:
                self.copies += n
                return
            self.judged += n
            v = state.verdict or "fail"
            self.by_verdict[v] = self.by_verdict.get(v, 0) + n
            self.passed += n if v == "pass" else 0
        elif state.status == "running":
            self.running += n
        elif state.status == "probe":
            self.probes += n
        else:
            r = state.reason or "no_verdict"
            self.not_judged[r] = self.not_judged.get(r, 0) + n


def count_states(items: Iterable[tuple[RolloutState, bool]]) -> StateCounts:
    """(state, is a copy) pairs -> the counts."""
    out = StateCounts()
    for state, copy in items:
        out.add(state, copy)
    return out


def left_out_text(left_out: Mapping[str, int]) -> str:
    """``cancelled 1, copy 3`` (empty when nothing was left out): the one wording of a
    ``left_out`` count everywhere it is shown."""
    return ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in left_out.items())

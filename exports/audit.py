"""``repo-agent audit``: everything an export would leave out, and why, before anyone pays.

Rollouts by what they count as (labeling/rollout_states.py: not judged by reason, copies,
running), what a DPO export would skip (labeled only, and with ``--auto``) and what an SFT
export would skip, by reason and count; and the human verdicts an export leaves out because
a side of their pair is not evidence (the deliberate drops an upgrade lists). Reads the
store only: no trace is opened, nothing is written.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from exports.dpo import select_pairs
from exports.options import DpoOptions, SftOptions
from exports.sft import select_rollouts
from labeling.records import PairFilter
from labeling.rollout_states import StateCounts

if TYPE_CHECKING:
    from labeling.store import LabelStore


class LeftOutRollout(BaseModel):
    uid: str
    task_id: str
    reason: str  # cancelled, interrupted, error, budget, diverged, corrupt, no_verdict, probe, copy, running
    detail: str = ""  # the state's words, or the original's uid for a copy


class DroppedVerdict(BaseModel):
    """A human verdict no export uses: a side of its pair is not evidence."""

    pair_id: str
    verdict: str
    labeler: str | None = None
    reason: str


class ExportSkips(BaseModel):
    examples: int  # what would be exported (before format checks and trace reads)
    skipped: dict[str, int] = Field(default_factory=dict)


class AuditReport(BaseModel):
    rollouts: StateCounts
    left_out: list[LeftOutRollout] = Field(default_factory=list)
    dpo_labeled: ExportSkips
    dpo_auto: ExportSkips
    sft: ExportSkips
    dropped_verdicts: list[DroppedVerdict] = Field(default_factory=list)

    def model_dump_for_json(self) -> dict:
        d = self.model_dump()
        d["rollouts"]["left_out"] = self.rollouts.left_out
        d["rollouts"]["pass_rate"] = self.rollouts.pass_rate
        return d


def audit(store: LabelStore) -> AuditReport:
    rows = store.rollouts(with_patch=False)
    counts = StateCounts()
    left: list[LeftOutRollout] = []
    for r in rows:
        counts.add(r.state, r.copy_of is not None)
        if not r.evidence:
            reason = "copy" if r.state.judged else (r.state.reason or r.state.status)
            detail = f"copy of {r.copy_of}" if reason == "copy" else r.state.detail
            left.append(LeftOutRollout(uid=r.uid, task_id=r.task_id, reason=reason, detail=detail))
    out = {}
    for name, opts in (("dpo_labeled", DpoOptions()), ("dpo_auto", DpoOptions(auto=True))):
        skipped: Counter = Counter()
        picked = select_pairs(store, opts, set(), skipped)
        out[name] = ExportSkips(examples=len(picked), skipped=dict(sorted(skipped.items())))
    skipped = Counter()
    picked_rollouts = select_rollouts(store, SftOptions(), set(), skipped)
    by_uid = {r.uid: r for r in rows}
    dropped = []
    for p in store.pairs(PairFilter(verdict="labeled", include_stale=True)):
        for uid in (p.chosen_uid, p.rejected_uid):
            row = by_uid.get(uid)
            if row is not None and not row.state.judged:
                dropped.append(
                    DroppedVerdict(
                        pair_id=p.pair_id,
                        verdict=p.verdict or "",
                        labeler=p.labeler,
                        reason=f"{uid} {row.state.label}",
                    )
                )
                break
    return AuditReport(
        rollouts=counts,
        left_out=left,
        dpo_labeled=out["dpo_labeled"],
        dpo_auto=out["dpo_auto"],
        sft=ExportSkips(examples=len(picked_rollouts), skipped=dict(sorted(skipped.items()))),
        dropped_verdicts=dropped,
    )

"""A pair's verdict as its labelers settled it (labeling/agreement.py ``settled_verdict``):
the one verdict every export reads. The pair row's own ``verdict`` is the last one any
labeler wrote: one outvoted flip against the adjudicator's confirm made the FAIL side an SFT
example while DPO exported the confirm (round 8, vrd8-9)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from labeling.agreement import ratings_from_events, settled_verdict
from labeling.records import PairRow

if TYPE_CHECKING:
    from labeling.store import LabelStore


class SettledVerdicts:
    """Each pair's settled verdict; the adjudicator is the one given, else the store's team
    setting (labeling/team.py)."""

    def __init__(self, store: LabelStore, *, adjudicator: str | None, min_agreement: float) -> None:
        self.ratings = ratings_from_events(store.events())
        self.adjudicator = adjudicator if adjudicator is not None else store.team_settings().adjudicator
        self.min_agreement = min_agreement

    def pair(self, p: PairRow) -> PairRow | None:
        """``p`` with its settled verdict; None when its labelers settled nothing (a tie, no
        majority and no adjudicator's verdict). A pair nobody labeled is as it is."""
        by = self.ratings.get(p.pair_id, {})
        if not by:
            return p
        settled = settled_verdict(by, adjudicator=self.adjudicator, min_agreement=self.min_agreement)
        if settled is None:
            return None
        return p if settled == p.verdict else p.model_copy(update={"verdict": settled})

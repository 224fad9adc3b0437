"""The verdict each pair's labelers settled on: the one human preference every export reads.

A team's pair has one verdict per labeler (the human log); the pair row holds only the last
one written. Exports read the settled one (`labeling.agreement.settled_verdict`: the
adjudicator's, else a large enough majority): an SFT option reading the row took one
outvoted labeler's flip against the team's confirm (round 8 vrd8-9).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from labeling.agreement import ratings_from_events, settled_verdict
from labeling.records import PairFilter, PairRow

if TYPE_CHECKING:
    from labeling.store import LabelStore


def settled_pairs(
    store: LabelStore, *, adjudicator: str | None = None, min_agreement: float = 0.5
) -> Iterator[tuple[PairRow, bool]]:
    """Every pair (stale ones too), its verdict the settled one, and whether it is settled (a
    pair nobody labeled counts as settled, unlabeled; a team's disagreement does not). No
    ``adjudicator``: the team's, set in the store (`repo-agent team --adjudicator NAME`)."""
    ratings = ratings_from_events(store.events())
    if adjudicator is None:
        adjudicator = store.team_settings().adjudicator
    for p in store.pairs(PairFilter(include_stale=True)):
        by = ratings.get(p.pair_id, {})
        if not by:
            yield p, True
            continue
        settled = settled_verdict(by, adjudicator=adjudicator, min_agreement=min_agreement)
        if settled is not None and settled != p.verdict:
            p = p.model_copy(update={"verdict": settled})
        yield p, settled is not None

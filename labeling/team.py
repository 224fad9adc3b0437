"""Team review settings and filters on the label store (docs/ARCHITECTURE.md, Label store and pairs).

A team sets, once per store, how many labelers' verdicts a pair asks for (overlap K) and
who settles disagreements (the adjudicator); both live in the store's settings, so every
labeler's studio and command agrees. ``--overlap K`` on a command overrides K for that
command. `TeamReview.team_filter` turns a queue filter into this labeler's: with K > 1 the
``unlabeled`` queue is the pairs that still need *their* verdict (fewer than K verdicts,
none of theirs); ``disagree`` is the adjudication queue. The SQL is in labeling/team_sql.py.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from labeling.backend import Backend
from labeling.errors import StoreError
from labeling.records import PairFilter

OVERLAP_KEY = "team_overlap"
ADJUDICATOR_KEY = "team_adjudicator"
MAX_OVERLAP = 50


class TeamSettings(BaseModel):
    overlap: int = 1  # verdicts asked per pair
    adjudicator: str | None = None  # the labeler whose verdict settles a disagreement


def check_overlap(k: Any) -> int:
    try:
        k = int(k)
    except (TypeError, ValueError):
        raise StoreError(f"overlap must be a whole number of labelers, not {k!r}") from None
    if not 1 <= k <= MAX_OVERLAP:
        raise StoreError(f"overlap must be between 1 and {MAX_OVERLAP} labelers per pair, not {k}")
    return k


class TeamReview:
    """``store.team``: the team settings and one labeler's filters on a `labeling.backend.Backend`."""

    def __init__(self, db: Backend, labeler: str):
        self._db = db
        self.labeler = labeler

    def team_settings(self) -> TeamSettings:
        meta = self._db.get_meta()
        try:
            k = check_overlap(meta.get(OVERLAP_KEY) or 1)
        except StoreError:
            k = 1  # a hand-edited setting: fall back to one verdict per pair
        return TeamSettings(overlap=k, adjudicator=meta.get(ADJUDICATOR_KEY) or None)

    def set_team_settings(self, *, overlap: int | None = None, adjudicator: str | None = None) -> TeamSettings:
        """Change the team settings (``adjudicator=""`` removes the adjudicator)."""
        items: dict[str, str] = {}
        if overlap is not None:
            items[OVERLAP_KEY] = str(check_overlap(overlap))
        if adjudicator is not None:
            items[ADJUDICATOR_KEY] = adjudicator.strip()
        if items:
            self._db.set_meta(items)
        return self.team_settings()

    def team_filter(self, filt: PairFilter | None = None, overlap: int | None = None) -> PairFilter:
        """``filt`` as this labeler's: the store's overlap (or ``overlap``) and adjudicator."""
        s = self.team_settings()
        k = check_overlap(overlap) if overlap is not None else s.overlap
        return (filt or PairFilter(verdict="unlabeled")).model_copy(
            update={"overlap": k, "labeler": self.labeler, "adjudicator": s.adjudicator}
        )

    def team_queue_sizes(self, overlap: int | None = None) -> tuple[int, int]:
        """(pairs waiting for this labeler's verdict, pairs in the adjudication queue)."""
        mine = self.team_filter(PairFilter(verdict="unlabeled"), overlap)
        disagree = self.team_filter(PairFilter(disagree=True), overlap)
        return self._db.queue_size(mine.model_dump()), self._db.queue_size(disagree.model_dump())

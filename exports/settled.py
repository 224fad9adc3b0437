"""The verdict each pair's labelers settled on: the one human preference every export reads.

A team's pair has one verdict per labeler (the human log); the pair row holds only the last
one written. Exports read the settled one (`labeling.agreement.settled_verdict`: the
adjudicator's, else a large enough majority): an SFT option reading the row took one
outvoted labeler's flip against the team's confirm (round 8 vrd8-9).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from exports.rejudged import overtaken
from labeling.agreement import ratings_from_events, settled_verdict
from labeling.records import PairFilter, PairRow

if TYPE_CHECKING:
    from labeling.store import LabelStore


def settled_pairs(
    store: LabelStore, *, adjudicator: str | None = None, min_agreement: float = 0.5
) -> Iterator[tuple[PairRow, str | None]]:
    """Every pair (stale ones too), its verdict the settled one, and why it may not be used
    (None: it may; a pair nobody labeled may, unlabeled): ``unsettled`` (a team's
    disagreement), ``rejudged_since_label`` (the verdict was given before a rejudge changed a
    side's verdict: exports/rejudged.py). No ``adjudicator``: the team's
    (`repo-agent team --adjudicator NAME`)."""
    events = store.events()
    ratings = ratings_from_events(events)
    # When each labeler gave the verdict they hold now (oldest first: the last one stands).
    given: dict[str, dict[str, str]] = {}
    for e in events:
        if e.kind == "verdict" and e.undone_by is None:
            given.setdefault(e.target, {})[e.labeler] = e.at
    if adjudicator is None:
        adjudicator = store.team_settings().adjudicator
    out: list[tuple[PairRow, bool]] = []
    for p in store.pairs(PairFilter(include_stale=True)):
        by = ratings.get(p.pair_id, {})
        if not by:
            out.append((p, True))
            continue
        settled = settled_verdict(by, adjudicator=adjudicator, min_agreement=min_agreement)
        if settled is not None and settled != p.verdict:
            p = p.model_copy(update={"verdict": settled})
        out.append((p, settled is not None))
    # A settled verdict stands on the earliest of the votes giving it: a teammate's later vote
    # (or another verdict) never makes an older one fresh.
    labeled = [
        (p, min(given[p.pair_id][who] for who, v in ratings[p.pair_id].items() if v == p.verdict))
        for p, ok in out
        if ok and p.verdict is not None and any(v == p.verdict for v in ratings.get(p.pair_id, {}).values())
    ]
    stale = overtaken(store, labeled) if labeled else set()
    for p, ok in out:
        yield p, None if ok and p.pair_id not in stale else "unsettled" if not ok else "rejudged_since_label"

"""A pair's verdict as its labelers settled it (labeling/agreement.py ``settled_verdict``):
the one verdict every export reads. The pair row's own ``verdict`` is the last one any
labeler wrote: one outvoted flip against the adjudicator's confirm made the FAIL side an SFT
example while DPO exported the confirm (round 8, vrd8-9)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from agent.rejudge import lines_from_end
from agent.trace_io import loads
from labeling.agreement import ratings_from_events, settled_verdict
from labeling.records import PairRow, RolloutRow

if TYPE_CHECKING:
    from labeling.store import LabelStore


class SettledVerdicts:
    """Each pair's settled verdict; the adjudicator is the one given, else the store's team
    setting (labeling/team.py)."""

    def __init__(self, store: LabelStore, *, adjudicator: str | None, min_agreement: float) -> None:
        events = [e for e in store.events() if e.kind == "verdict" and e.undone_by is None]
        self.ratings = ratings_from_events(events)
        self.adjudicator = adjudicator if adjudicator is not None else store.team_settings().adjudicator
        self.min_agreement = min_agreement
        # When each pair's standing verdicts were first given (the oldest: each was given on
        # the outcomes shown then).
        self.given_at: dict[str, float] = {}
        for e in events:
            when = _epoch(e.at)
            if when is not None:
                self.given_at[e.target] = min(when, self.given_at.get(e.target, when))

    def still_holds(self, p: PairRow, rows: Mapping[str, RolloutRow]) -> bool:
        """A person's verdict on ``p`` still stands on the outcomes it was given on: the
        pair's recorded contrast (``premise_holds``), and no side judged again since with
        another pass or fail (a rejudge after the verdict, the pair selected again)."""
        if not premise_holds(p, rows):
            return False
        when = self.given_at.get(p.pair_id)
        return when is None or not any(
            _outcome_changed_since(rows[uid], when) for uid in (p.chosen_uid, p.rejected_uid) if uid in rows
        )

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


def premise_holds(p: PairRow, rows: Mapping[str, RolloutRow]) -> bool:
    """Each side still passes or fails as the pair's contrast and flags recorded when it was
    built: a person's verdict was given on that. A rejudge that turned the preferred pass of a
    confirmed pass/fail pair into a FAIL voids the confirm (round 8, vrd8-10). Sides not in
    ``rows``, and pairs whose sides' outcomes were not known, are not judged here."""
    if "unknown_outcome" in p.flags:
        return True
    if p.contrast == "pass_fail":
        was = {p.chosen_uid: True, p.rejected_uid: False}  # the auto-chosen side scores higher
    elif "both_fail" in p.flags:
        was = {p.chosen_uid: False, p.rejected_uid: False}
    elif p.contrast == "efficiency":
        was = {p.chosen_uid: True, p.rejected_uid: True}
    else:  # a step pair of two passes or a pass and a fail: not recorded which
        return True
    return all(rows[uid].passed == passed for uid, passed in was.items() if uid in rows)


def _epoch(at: str) -> float | None:
    try:
        return datetime.fromisoformat(at).timestamp()
    except (TypeError, ValueError):
        return None


def _outcome_changed_since(row: RolloutRow, when: float) -> bool:
    """Whether ``row`` passed or failed otherwise at ``when`` than it does now: its trace's
    ``rollout_end`` events, read from the end (a rejudge appends a final ``test_run`` and a
    new ``rollout_end``), back to the last one written by then."""
    if not row.trace_path:
        return False
    try:
        for raw in itertools.islice(lines_from_end(Path(row.trace_path)), 16):
            try:
                event = loads(raw)
            except ValueError:
                continue
            if not isinstance(event, dict):
                return False
            kind = event.get("kind")
            if kind == "rollout_end":
                ts, outcome = event.get("ts"), event.get("outcome")
                if isinstance(ts, int | float) and isinstance(outcome, dict) and ts <= when:
                    was = bool(outcome.get("tests_passed")) and not outcome.get("tests_tampered")
                    return was != row.passed
            elif kind != "test_run":
                return False  # the rollout's own events: no verdict older than ``when`` here
    except OSError:
        return False
    return False

"""The Pairs screen's team review: each labeler's verdict in the header, the queue as theirs.

Mixed into `tui.screens.pairs.PairsScreen`. With overlap K > 1 (labeling/team.py) the
unlabeled queue is this labeler's: pairs with fewer than K verdicts, none of theirs. A
pair the queue loaded earlier that others have since brought to K is dropped when the
cursor reaches it, so two reviewers walking the same queue do not both pass K. The
header's second line shows a pair's verdicts by labeler when it has several (or any, with
K > 1), and whether they disagree; ``/ disagree`` is the adjudication queue.
"""

from __future__ import annotations

from rich.text import Text

from labeling.records import PairFilter, PairRow
from labeling.store import NotFound
from labeling.team_sql import team_queue

VOTE_STYLE = {"confirm": "green", "flip": "yellow", "discard": "red"}


def votes_line(pair: PairRow, f: PairFilter, me: str) -> Text | None:
    """`` DISAGREE  2/2  alice confirm · bob flip`` for a pair with team verdicts; None when
    the pair is labeled as by one person (the usual verdict line stays)."""
    votes = pair.verdicts
    if len(votes) < 2 and not (f.overlap > 1 and votes):
        return None
    t = Text()
    settled = f.adjudicator is not None and f.adjudicator in votes
    if settled:
        t.append(" SETTLED ", "bold black on green")
    elif pair.disagree:
        t.append(" DISAGREE ", "bold white on red")
    elif len(votes) > 1:
        t.append(" agree ", "bold green")
    if len(votes) < f.overlap:  # still asked of more labelers
        t.append(f" {len(votes)}/{f.overlap}", "bold")
    for i, (who, verdict) in enumerate(sorted(votes.items())):
        t.append(" · " if i else "  ", "dim")
        t.append(f"{who} ", "bold" if who == me else "dim")
        t.append(verdict, VOTE_STYLE.get(verdict, ""))
        if who == f.adjudicator:
            t.append(" (adjudicator)", "dim")
    if me not in votes and not settled and len(votes) < f.overlap:
        t.append("  · c confirm  f flip  d discard", "dim")
    return t


def shown_verdict(pair: PairRow, f: PairFilter) -> str | None:
    """The verdict the A/B badges show: the adjudicator's once given; none while the
    labelers disagree (the latest verdict would be whoever spoke last); else the pair's."""
    if f.adjudicator is not None and f.adjudicator in pair.verdicts:
        return pair.verdicts[f.adjudicator]
    return None if pair.disagree else pair.verdict


class TeamFlow:
    """Needs the PairsScreen's ``store``, ``state`` and ``queue``/``index``."""

    def team_filter(self, f: PairFilter) -> PairFilter:
        """``f`` as this labeler's queue (the store's overlap and adjudicator, or --overlap)."""
        return self.store.team_filter(f, self.state.overlap)  # type: ignore[attr-defined]

    def _team_counted_in_worker(self, f: PairFilter) -> bool:
        """The adjudication queue is counted by a scan: in a worker, like a search (a
        labeler's whole queue comes from counters, labeling/team_sql.py)."""
        return f.disagree

    def _waiting_for_me(self) -> int | None:
        """With overlap K > 1: how many pairs still want this labeler's verdict (counters)."""
        whole = self._labeler_queue()
        return None if whole is None else self.store.counts(whole).mine  # type: ignore[attr-defined]

    def _labeler_queue(self) -> PairFilter | None:
        """With overlap K > 1: this labeler's whole queue, whatever the / filter."""
        f = self.state.pair_filter  # type: ignore[attr-defined]
        if f.overlap <= 1 or not f.labeler:
            return None
        return PairFilter(verdict="unlabeled", overlap=f.overlap, labeler=f.labeler)

    def _drop_done_ahead(self) -> None:
        """Drop the pairs just ahead that other labelers brought to K since they were loaded."""
        f = self.state.pair_filter  # type: ignore[attr-defined]
        if not team_queue(f.model_dump()):
            return
        queue, i = self.queue, self.index  # type: ignore[attr-defined]
        while i + 1 < len(queue):
            try:
                p = self.store.pair(queue[i + 1])  # type: ignore[attr-defined]
            except NotFound:
                return  # show_current drops it
            if len(p.verdicts) < f.overlap or f.labeler in p.verdicts:
                return
            queue.pop(i + 1)

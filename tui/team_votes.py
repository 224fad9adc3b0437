"""Team review on the Pairs screen: each labeler's verdict in the header, and the verdict
the A/B cards show.

With overlap K > 1 (labeling/team.py) the unlabeled queue is this labeler's: pairs with
fewer than K verdicts, none of theirs (tui/pair_queue.py drops the ones others brought to
K). The header's second line shows a pair's verdicts by labeler when it has several (or
any, with K > 1), and whether they disagree; ``/ disagree`` is the adjudication queue.
"""

from __future__ import annotations

from rich.text import Text

from labeling.records import PairFilter, PairRow

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

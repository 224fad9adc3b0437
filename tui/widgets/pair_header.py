"""The Pairs screen's two-line header: position, task, flags and contrast; the verdict (or
the team's), note and tags. Or, with no pair on screen, why."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from agent.untrusted import neutralise
from tui.pair_view import PairView
from tui.team_votes import votes_line

VERDICT_STYLE = {"confirm": "bold green", "flip": "bold yellow", "discard": "bold red"}


def header_text(view: PairView) -> Text:
    pair = view.pair
    assert pair is not None
    # Two lines that never wrap: what must stay visible at 80 columns comes first
    # (position, task, flags; the verdict), details after, cut at the edge.
    head = Text(no_wrap=True, overflow="ellipsis")
    pos, total = view.position, view.total
    shown = "…" if pos is None else (pos + 1 if pos >= 0 else "–")
    head.append(f" Pair {shown}/{'…' if total is None else total} ", style="bold reverse")
    if view.gone or pair.stale:
        head.append(
            " STALE: pruned, a verdict key skips it " if view.gone else " STALE ",
            style="bold black on magenta",
        )
    head.append(f" {neutralise(pair.task_id, markup=False)} ", style="bold")
    if pair.flags:
        for fl in pair.flags:
            if fl == "suspect" and view.suspect_cleared:  # a person read it and let it through
                head.append(" suspect cleared ", style="dim")
            else:
                head.append(f" {fl} ", style="bold black on yellow")
            head.append(" ")
    else:
        head.append("no flags ", style="green")
    head.append(f"· {pair.contrast}")
    if pair.kind == "step" and pair.at_step:
        head.append(f" at step {pair.at_step}")
    head.append(" · auto prefers ", style="")
    head.append("A", style="bold green")
    head.append(f" (decided by {pair.decided_by or '—'})")
    head.append("\n")
    if (team := votes_line(pair, view.filter, view.labeler)) is not None:
        head.append_text(team)  # several labelers' verdicts (tui/team_votes.py)
    elif pair.verdict:
        head.append(" verdict ", style="dim")
        head.append(pair.verdict.upper(), style=VERDICT_STYLE[pair.verdict])
        if pair.verdict == "flip":
            head.append(" → B preferred", style="yellow")
        head.append(f"  by {pair.labeler}" if pair.labeler else "", style="dim")
    else:
        head.append(" unlabeled", style="bold")
        head.append(" · c confirm  f flip  d discard", style="dim")
    if pair.note:
        head.append(f"   note: {pair.note}", style="italic")
    if view.pending_note:
        head.append(f"   note (saved with your verdict): {view.pending_note}", style="italic yellow")
    if pair.tags:
        head.append("   tags: " + ", ".join(pair.tags), style="cyan")
    head.append(f"   {pair.pair_id}", style="dim")
    return head


class PairHeader(Static):
    def show(self, view: PairView) -> None:
        if view.pair is None:
            self.update(view.empty or "")
        else:
            self.update(header_text(view), layout=False)  # fixed height: no re-layout

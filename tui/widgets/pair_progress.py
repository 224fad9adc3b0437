"""The Pairs screen's progress line: labeled and remaining, verdicts by kind, this session's
count and rate, the filter and the diff layout."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.pair_filter import filter_text
from tui.pair_view import PairView

VIEW_NAMES = {"unified": "unified", "split": "split", "ab": "A↔B"}


def progress_text(view: PairView) -> Text:
    p = view.progress
    c = p.counts
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(f" labeled {c.labeled}", style="bold")
    t.append(f" · remaining {c.remaining}")
    if p.mine is not None:
        t.append(f" · yours {p.mine}", style="bold")  # team review: pairs still wanting your verdict
    t.append(f"   confirm {c.confirm} · flip {c.flip} · discard {c.discard}", style="dim")
    t.append(f"   this session {p.session}")
    t.append(f" ({p.per_hour:.0f}/h)" if p.per_hour else "", style="dim")
    f = filter_text(view.filter)
    t.append(f"   filter: {f}" if f else "   queue: unlabeled", style="cyan")
    t.append("   view: " + VIEW_NAMES[view.diff_view] + " (v)", style="dim")
    return t


class PairProgress(Static):
    def show(self, view: PairView) -> None:
        self.update(progress_text(view), layout=False)

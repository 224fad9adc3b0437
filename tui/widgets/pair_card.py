"""One side of the pair on the Pairs screen: its badge (who prefers it, PASS/FAIL, counts)
and its final summary; for a step pair, first the action where the sides diverge."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from agent.untrusted import neutralise
from labeling.records import StepRow
from tui.pair_view import PairView
from tui.team_votes import shown_verdict
from tui.widgets.outcome_badge import OutcomeBadge


def _short_args(arguments: str, limit: int = 60) -> str:
    flat = " ".join(arguments.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def divergent_action(step: StepRow | None, at_step: int) -> Text:
    """The next assistant action after the shared prefix: what a step pair contrasts."""
    calls = ", ".join(f"{c.name}({_short_args(c.arguments)})" for c in step.calls) if step else ""
    return Text.assemble(
        (f"step {at_step} ▶ ", "bold black on yellow"),
        (calls or "(no tool call: answered in text)", "bold yellow"),
        overflow="ellipsis",
    )


def role_of(view: PairView, i: int) -> tuple[str, str]:
    """Side ``i``'s role under the verdict the cards show, and its style."""
    assert view.pair is not None
    verdict = shown_verdict(view.pair, view.filter)  # a team's disagreement: none yet
    pref = {"flip": 1, "discard": None}.get(verdict or "", 0)
    if pref is None:
        return "discarded", "red"
    if i == pref:
        if verdict == "flip":
            return "preferred (flipped)", "bold green"
        return ("preferred (auto)" if not verdict else "preferred"), "bold green"
    return "rejected", "dim"


class PairCard(Vertical):
    """Side A (``index`` 0, the auto-preferred rollout) or B (1)."""

    def __init__(self, index: int) -> None:
        self.side_index = index
        self.side = "ab"[index]
        super().__init__(classes="side", id=f"side-{self.side}")

    def compose(self) -> ComposeResult:
        yield OutcomeBadge(id=f"badge-{self.side}")
        yield Static(classes="summary", id=f"summary-{self.side}")

    def show(self, view: PairView) -> None:
        badge = self.query_one(OutcomeBadge)
        summary = self.query_one(".summary", Static)
        pair = view.pair
        if pair is None:
            badge.update("")
            summary.update("")
            return
        row = view.sides[self.side_index]
        role, style = role_of(view, self.side_index)
        badge.show(self.side.upper(), row, role, style, view.cleared[self.side_index])
        text = Text(neutralise((row.summary or "(no final summary)") if row else "", markup=False), overflow="ellipsis")
        if pair.kind == "step" and row is not None:
            text = divergent_action(view.actions[self.side_index], pair.at_step or 0) + "\n" + text
        summary.update(text, layout=False)

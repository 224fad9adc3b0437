"""The task's goal above a pair: folded to two lines, `g` shows it whole (scrolling)."""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui.conversation_model import printable
from tui.pair_view import PairView
from tui.task_goal import task_goal


class PairGoal(VerticalScroll):
    """What the two rollouts were asked to fix (from side A's trace: both share the task)."""

    DEFAULT_CSS = """
    PairGoal { height: auto; max-height: 2; padding: 0 1; overflow-y: hidden; }
    PairGoal.expanded { max-height: 50%; overflow-y: auto; scrollbar-size-vertical: 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.goal: str | None = None
        self.expanded = False

    def compose(self):
        yield Static(id="pair-goal-text")

    def show(self, view: PairView) -> None:
        a = view.sides[0]
        self.goal = task_goal(a.trace_path) if a is not None and a.trace_path else None
        self.display = view.pair is not None and bool(self.goal)
        self._render_goal()

    def toggle(self) -> None:
        self.expanded = not self.expanded
        self.set_class(self.expanded, "expanded")
        self._render_goal()

    def _render_goal(self) -> None:
        text = Text()
        text.append(" goal ", style="bold reverse")
        text.append(" g: less " if self.expanded else " g: more ", style="dim")
        goal = printable(self.goal or "")
        # Folded: the lines run together, so the two rows hold as much of the goal as fits.
        text.append(goal if self.expanded else " ".join(goal.split()))
        self.query_one("#pair-goal-text", Static).update(text)
        self.scroll_home(animate=False)

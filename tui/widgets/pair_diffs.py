"""The pair's two diffs, A and B, that scroll together: side by side (unified) or A above B
(split, each full width). The A↔B layout is one DiffView of its own (tui/screens/pairs.py)."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from labeling.records import RolloutRow
from tui.widgets.diff_view import DiffView


class SideDiffs(Horizontal):
    def __init__(self) -> None:
        super().__init__(id="diffs")
        self._syncing = False

    def compose(self) -> ComposeResult:
        yield DiffView(id="diff-a")
        yield Static(classes="gap")
        yield DiffView(id="diff-b")

    def on_mount(self) -> None:
        a, b = self.query_one("#diff-a", DiffView), self.query_one("#diff-b", DiffView)
        for view, other in ((a, b), (b, a)):
            self.watch(view, "scroll_y", self._follower(other, "y"), init=False)
            self.watch(view, "scroll_x", self._follower(other, "x"), init=False)

    def _follower(self, other: DiffView, axis: str) -> Callable[[float], None]:
        def follow(value: float) -> None:  # one parameter: Textual passes the new value
            self._sync_scroll(other, value if axis == "x" else None, value if axis == "y" else None)

        return follow

    def _sync_scroll(self, other: DiffView, x: float | None, y: float | None) -> None:
        """A and B scroll together (the longer one clamps the shorter at its end)."""
        if self._syncing:
            return
        self._syncing = True
        try:
            other.scroll_to(x=x, y=y, animate=False, immediate=True)
        finally:
            self._syncing = False

    def show(self, sides: tuple[RolloutRow | None, RolloutRow | None], split: bool) -> None:
        for side, row in zip("ab", sides):
            view = self.query_one(f"#diff-{side}", DiffView)
            view.split = split
            view.border_title = f"{side.upper()}  {row.uid}  (source │ {side.upper()})" if row else side.upper()
            view.set_patch(row.patch if row else "", empty_message="(no changes: empty patch)")

    def clear(self) -> None:
        for side in "ab":
            self.query_one(f"#diff-{side}", DiffView).set_patch("", empty_message="")

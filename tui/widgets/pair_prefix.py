"""A step pair's shared prefix, collapsed to one line: where the two sides diverge."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.pair_view import PairView


class StepPrefix(Static):
    """Shown for step pairs only; an outcome pair hides it."""

    def show(self, view: PairView) -> None:
        pair = view.pair
        if pair is None:
            return  # the empty screen leaves it as it was
        self.display = pair.kind == "step"
        if pair.kind != "step":
            return
        at = pair.at_step or 0
        self.update(
            Text.assemble(
                (f" shared prefix: {pair.prefix_messages or 0} messages", "bold"),
                (f", steps 1–{at - 1} (collapsed: identical on both sides)" if at > 1 else " (collapsed)", "dim"),
                ("   diverges at ", ""),
                (f"step {at}", "bold black on yellow"),
                ("   each side's next action is highlighted below", "dim"),
            )
        )

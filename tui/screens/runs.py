from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from tui.screens.base import StudioScreen


class RunsScreen(StudioScreen):
    MODE = "runs"
    TITLE_TEXT = "Runs"
    BINDINGS = []

    def compose(self) -> ComposeResult:
        yield self.compose_tab_bar()
        yield Static("Runs")
        yield self.compose_footer()

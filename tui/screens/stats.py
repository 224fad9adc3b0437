from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from tui.screens.base import StudioScreen


class StatsScreen(StudioScreen):
    MODE = "stats"
    TITLE_TEXT = "Stats"
    BINDINGS = []

    def compose(self) -> ComposeResult:
        yield self.compose_tab_bar()
        yield Static("Stats")
        yield self.compose_footer()

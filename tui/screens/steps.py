from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from tui.screens.base import StudioScreen


class StepsScreen(StudioScreen):
    MODE = "steps"
    TITLE_TEXT = "Steps"
    BINDINGS = []

    def compose(self) -> ComposeResult:
        yield self.compose_tab_bar()
        yield Static("Steps")
        yield self.compose_footer()

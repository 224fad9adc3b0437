from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from tui.screens.base import StudioScreen


class RolloutScreen(StudioScreen):
    MODE = "rollout"
    TITLE_TEXT = "Rollout"
    BINDINGS = []

    def compose(self) -> ComposeResult:
        yield self.compose_tab_bar()
        yield Static("Rollout")
        yield self.compose_footer()

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from tui.screens.base import StudioScreen


class ExportScreen(StudioScreen):
    MODE = "export"
    TITLE_TEXT = "Export"
    BINDINGS = []

    def compose(self) -> ComposeResult:
        yield self.compose_tab_bar()
        yield Static("Export")
        yield self.compose_footer()

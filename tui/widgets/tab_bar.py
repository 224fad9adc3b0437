"""The top line: every screen and its key (the active one lit), plus live status."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.screens.registry import SCREENS


class TabBar(Static):
    DEFAULT_CSS = """
    TabBar { height: 1; background: $panel; color: $text-muted; }
    """

    def __init__(self, active: str, **kw) -> None:
        super().__init__(**kw)
        self.active = active
        self.status = ""

    def on_mount(self) -> None:
        self.update(self._text())

    def set_status(self, status: str) -> None:
        if status != self.status:
            self.status = status
            self.update(self._text())

    def _text(self) -> Text:
        t = Text(" ")
        for spec in SCREENS:
            mode, title, key = spec.mode, spec.title, spec.key
            if mode == self.active:
                t.append(f" {key.upper()} {title} ", style="bold reverse")
            else:
                t.append(f" {key.upper()} ", style="bold")
                t.append(f"{title} ")
            t.append(" ")
        t.append("  ? help  ^p commands", style="dim")
        if self.status:
            t.append("   " + self.status, style="italic yellow")
        return t

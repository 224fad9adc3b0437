"""The studio's screens, in one place: mode name, title, key and class.

The app's modes and key bindings, the tab bar, the command palette, the help screen and
`repo-agent studio --screen` all read this table. Classes are named, not imported, so the
command line can list the modes without loading Textual.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.screen import Screen


@dataclass(frozen=True)
class ScreenSpec:
    mode: str  # the app mode, and `--screen` on the command line
    title: str  # tab bar, palette ("Runs", ...), help section
    key: str  # the key that switches to it
    target: str  # "module:Class"

    def load(self) -> type[Screen]:
        module, _, name = self.target.partition(":")
        return getattr(import_module(module), name)


# In the order of their keys and of the tab bar.
SCREENS: tuple[ScreenSpec, ...] = (
    ScreenSpec("runs", "Runs", "f1", "tui.screens.runs:RunsScreen"),
    ScreenSpec("rollout", "Rollout", "f2", "tui.screens.rollout:RolloutScreen"),
    ScreenSpec("pairs", "Pairs", "f3", "tui.screens.pairs:PairsScreen"),
    ScreenSpec("steps", "Steps", "f4", "tui.screens.steps:StepsScreen"),
    ScreenSpec("stats", "Stats", "f5", "tui.screens.stats:StatsScreen"),
    ScreenSpec("export", "Export", "f6", "tui.screens.export:ExportScreen"),
)
MODES: tuple[str, ...] = tuple(s.mode for s in SCREENS)
BY_MODE: dict[str, ScreenSpec] = {s.mode: s for s in SCREENS}


def screen_classes() -> dict[str, type[Screen]]:
    """mode -> screen class, in tab order (what `App.MODES` takes)."""
    return {s.mode: s.load() for s in SCREENS}

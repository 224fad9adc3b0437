"""`CommandGroup`: one module's commands on `repo-agent`, declared in that module.

Each command module ends with ``COMMANDS = CommandGroup(rank, register)``; `tui/cli/registry.py`
finds them by walking this package, so a new command is one new file and no shared list
(docs/ARCHITECTURE.md, "Add a command").
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class CommandGroup:
    """``register`` adds the module's subcommands; ``rank`` places them in ``repo-agent --help``
    (lowest first; ranks are unique, spaced by 10 so a new group fits between two)."""

    rank: int
    register: Callable[[argparse._SubParsersAction], None]

    @property
    def name(self) -> str:
        """The declaring module (what a duplicate rank's error names)."""
        return self.register.__module__

"""Every `repo-agent` command group, found in the package rather than listed.

Each module of `tui.cli` that declares ``COMMANDS`` (a `CommandGroup`) is one group; the
parser registers them by rank, so ``--help`` lists commands in a stable order.
"""

from __future__ import annotations

from agent.descriptors import discover
from tui.cli.command import CommandGroup


def command_groups(package: str = "tui.cli") -> list[CommandGroup]:
    """The groups declared in ``package``'s modules, by rank (two groups of one rank: an error)."""
    return list(discover(package, "COMMANDS", CommandGroup, "command"))

"""Every `repo-agent` command group, found in the package rather than listed.

Each module of `tui.cli` that declares ``COMMANDS`` (a `CommandGroup`) is one group; the
parser registers them by rank, so ``--help`` lists commands in a stable order.
"""

from __future__ import annotations

import importlib
import pkgutil

from tui.cli.command import CommandGroup


def command_groups(package: str = "tui.cli") -> list[CommandGroup]:
    """The groups declared in ``package``'s modules, by rank (two groups of one rank: an error)."""
    found: dict[int, tuple[str, CommandGroup]] = {}
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        group = getattr(module, "COMMANDS", None)
        if not isinstance(group, CommandGroup):
            continue
        if group.rank in found:
            raise RuntimeError(f"{package}.{info.name} and {found[group.rank][0]} share command rank {group.rank}")
        found[group.rank] = (f"{package}.{info.name}", group)
    return [group for _, (_, group) in sorted(found.items())]

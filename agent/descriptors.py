"""Finding an extension point's descriptors: every module of a package that declares one.

A tool (agent/tools/), an export format (exports/formats/) is one file declaring one
descriptor; the lists of them are derived from what this finds (docs/ARCHITECTURE.md,
"Recipes").
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Protocol, TypeVar


class Descriptor(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def rank(self) -> int: ...


D = TypeVar("D", bound=Descriptor)


def discover(package: str, attr: str, kind: type[D], what: str) -> tuple[D, ...]:
    """The ``kind`` declared as ``attr`` in ``package``'s modules, by rank (a name or a rank
    declared twice is an error: two files would otherwise shadow each other silently)."""
    found: dict[int, D] = {}
    names: set[str] = set()
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        module = importlib.import_module(f"{package}.{info.name}")
        item = getattr(module, attr, None)
        if not isinstance(item, kind):
            continue
        if item.rank in found or item.name in names:
            raise RuntimeError(f"{package}.{info.name}: {what} {item.name!r} (rank {item.rank}) is declared twice")
        found[item.rank] = item
        names.add(item.name)
    return tuple(item for _, item in sorted(found.items()))

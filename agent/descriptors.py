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
    where: dict[object, str] = {}  # a rank or a name -> the module that declared it
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if info.name.startswith("_"):  # private modules (a package's __main__) declare nothing
            continue
        module = f"{package}.{info.name}"
        item = getattr(importlib.import_module(module), attr, None)
        if not isinstance(item, kind):
            continue
        first = where.get(item.rank) or where.get(item.name)
        if first is not None:
            raise RuntimeError(
                f"{module} and {first} share {what} rank {item.rank} or name {item.name!r}: declared twice"
            )
        found[item.rank] = item
        where[item.rank] = where[item.name] = module
    return tuple(item for _, item in sorted(found.items()))

"""Code told apart by the package it sits in (round 30 r30v-6; agent/suspect_ast.py reports
the hits as ``reads_location``; docs/sandbox-and-verdicts.md).

Every judge run imports a top-level module at the top level (``import gcd``); a project may
vendor it in a package (``mathutils.gcd``). Round 28 (r28v-7) bounded the module's name read
as data; an import relative to the package tells the same without reading a name: in a
top-level module it raises ImportError (no parent package) in every judge run, and succeeds
in a user's package. So where the file sits in no package (no ``__init__.py`` beside it in the
workspace or the patch), any import relative to its package is a hit: ``from . import x``,
``import_module(".x", ...)``, ``__import__(name, g, l, f, 1)``; where that is not known (a patch
scanned alone), one whose failure is caught (``try: from . import x / except ImportError``). In
a package the import is the package's in every run, judged or not: no tell, no hit.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator

_IMPORTERS = frozenset({"importlib.import_module", "importlib.__import__", "builtins.__import__"})
_IMPORT_FAILURES = frozenset({"builtins.ImportError", "builtins.ModuleNotFoundError"})
_BROAD = frozenset({"builtins.Exception", "builtins.BaseException"})

Resolve = Callable[[ast.expr], set[str]]
Fold = Callable[[ast.expr], str | None]


def package_tells(
    tree: ast.Module, resolve: Resolve, fold: Fold, parents: dict[int, ast.AST], in_package: bool | None
) -> Iterator[ast.AST]:
    """The imports of ``tree`` relative to its package that tell a top-level import from a
    package's; ``in_package``: whether the file sits in a package (None: not known)."""
    if in_package:
        return
    for node in ast.walk(tree):
        if _relative(node, resolve, fold) and (in_package is False or _caught(node, resolve, parents)):
            yield node


def _relative(node: ast.AST, resolve: Resolve, fold: Fold) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.level > 0
    if not isinstance(node, ast.Call) or not node.args or not resolve(node.func) & _IMPORTERS:
        return False
    name = fold(node.args[0])
    if name is not None and name.startswith("."):
        return True  # import_module(".gcd", __package__)
    level = node.args[4] if len(node.args) > 4 else next((k.value for k in node.keywords if k.arg == "level"), None)
    return isinstance(level, ast.Constant) and isinstance(level.value, int) and level.value > 0


def _caught(node: ast.AST, resolve: Resolve, parents: dict[int, ast.AST]) -> bool:
    """``node`` sits in the body of a ``try`` whose handler takes an ImportError."""
    child, parent = node, parents.get(id(node))
    while parent is not None:
        if isinstance(parent, ast.Try | ast.TryStar) and child in parent.body:
            for h in parent.handlers:
                kinds = [] if h.type is None else h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]
                names = set().union(*(resolve(k) for k in kinds)) if kinds else set(_BROAD)
                if names & (_IMPORT_FAILURES | _BROAD):
                    return True
        child, parent = parent, parents.get(id(parent))
    return False

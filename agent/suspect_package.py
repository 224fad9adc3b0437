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

Round 31: the idiom of a module used both ways (``try: from .helpers import x`` / ``except
ImportError: from helpers import x``) binds the same names of the same file either way: no
tell, no hit (r31v-10, ``_either_spelling``). An absolute import of a module the workspace
holds, its failure caught, is a hit (r31v-17/18, ``_own_module``): the judge's run always
imports it, a package or a checkout rebuilt from the patch may not.
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
    tree: ast.Module,
    resolve: Resolve,
    fold: Fold,
    parents: dict[int, ast.AST],
    in_package: bool | None,
    holds: Callable[[str], bool] | None = None,
) -> Iterator[ast.AST]:
    """The imports of ``tree`` relative to its package that tell a top-level import from a
    package's, and (r31v-17/18) the imports of the workspace's own modules whose failure is
    caught; ``in_package``: whether the file sits in a package (None: not known); ``holds``:
    whether the judge's workspace holds a relative path (None: not known)."""
    for node in ast.walk(tree):
        if in_package or not _relative(node, resolve, fold):
            continue
        if (in_package is False or caught(node, resolve, parents)) and not _either_spelling(node, parents):
            yield node
    if holds is not None:
        for node in ast.walk(tree):
            if (
                _own_module(node, fold, holds)
                and caught(node, resolve, parents)
                and not _either_spelling(node, parents)
            ):
                yield node


def _own_module(node: ast.AST, fold: Fold, holds: Callable[[str], bool]) -> bool:
    """An absolute import of a module the workspace holds (``import gcd`` in gcd.py, ``import
    fastpath`` of the patch's fastpath.py). Every judge run imports it from the workspace's top
    level, readable; a user's checkout may hold it in a package (no top-level ``gcd``) or a
    rebuild from the patch may read a file the run could not (git keeps no mode but the
    executable bit): whether it imports tells the two apart, so code that goes on where it fails
    is told by where it sits or by file modes (r31v-17: wrong in a package; r31v-18: a wrong
    accelerator left at mode 000). The bound is any workspace module's import whose failure the
    code survives, not one name or one mode."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
        names = [node.module]
    elif isinstance(node, ast.Call) and node.args and isinstance(node.func, ast.Attribute | ast.Name):
        name = fold(node.args[0]) if _is_importer(node) else None
        names = [name] if name and not name.startswith(".") else []
    else:
        return False
    return any(holds(f"{top}.py") or holds(f"{top}/__init__.py") for top in (n.split(".")[0] for n in names))


def _is_importer(call: ast.Call) -> bool:
    f = call.func
    name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
    return name in ("import_module", "__import__")


def _either_spelling(node: ast.AST, parents: dict[int, ast.AST]) -> bool:
    """``node`` sits in the idiom of a module used both in a package and at the top level
    (r31v-10): a ``try`` of nothing but imports whose every handler imports the same names of
    the same modules by the other spelling (``from .helpers import x`` / ``from helpers import
    x``). Either way the names are the same file's, wherever it sits; any other statement in the
    ``try`` or a handler (``_top = None``, another module, another name) keeps the hit."""
    block = parents.get(id(node))
    if isinstance(block, ast.ExceptHandler):
        block = parents.get(id(block))  # the fallback's import (``from helpers`` first, ``.helpers`` after)
    elif isinstance(block, ast.Try) and node not in block.body:
        return False
    if not isinstance(block, ast.Try) or block.orelse or block.finalbody:
        return False
    tried = _bound_by_imports(block.body)
    return tried is not None and all(_bound_by_imports(h.body) == tried for h in block.handlers)


def _bound_by_imports(body: list[ast.stmt]) -> frozenset[tuple[str, str, str]] | None:
    """(module, name, bound as) of each ``from m import n as b`` in ``body`` (a relative
    ``.m`` of the level one as ``m``); None where ``body`` holds anything else."""
    out: set[tuple[str, str, str]] = set()
    for stmt in body:
        if not isinstance(stmt, ast.ImportFrom) or stmt.level > 1 or not stmt.module:
            return None
        out |= {(stmt.module, a.name, a.asname or a.name) for a in stmt.names if a.name != "*"}
    return frozenset(out) if out else None


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


def caught(node: ast.AST, resolve: Resolve, parents: dict[int, ast.AST]) -> bool:
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

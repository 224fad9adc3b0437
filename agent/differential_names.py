"""The parameter names the differential's held-out calls pass arguments by (round 23 r23v-4,
round 24 r24v-2: a fix whose parameters were renamed or made positional-only PASSed, as no
call named an argument).

The names are the reference's, read in the reference's own run (the runner's
``_parameter_names``: a plain function's code, never the rollout's run's word), kept only
where the task's source names the same parameter alike: an honest fix keeps the signature
it was given, and a reference renaming one of the source's parameters must not make it
differ. A source that defines no such function (a task adding it) leaves the reference's.

A script's class is read alike, by method (its constructor's: ``__init__``), past ``self``
(round 29 r29v-1: a script's calls never named an argument).
"""

from __future__ import annotations

import ast
from pathlib import Path

from agent.suites.models import DifferentialTarget

_MAX_SOURCE_BYTES = 2_000_000  # a module past this is not parsed (its names: the reference's)


def _source_module(source: Path, target: DifferentialTarget) -> ast.Module | None:
    base = source / target.path / Path(*target.module.split("."))
    for file in (base.with_name(base.name + ".py"), base / "__init__.py"):
        try:
            if file.is_file() and file.stat().st_size <= _MAX_SOURCE_BYTES:
                tree = ast.parse(file.read_bytes())
                break
        except (OSError, SyntaxError, ValueError):
            return None
    else:
        return None
    return tree


def _positional(args: ast.arguments) -> list[str | None]:
    return [None] * len(args.posonlyargs) + [a.arg for a in args.args]


def source_parameter_names(source: Path, target: DifferentialTarget) -> list[str | None] | None:
    """The positional parameter names (None: positional-only) of ``target``'s function as the
    task's source defines it at its module's top level (the last such ``def``, as the module
    binds it last); None when the source holds no such def (or its module is no file here)."""
    tree = _source_module(source, target)
    if tree is None:
        return None
    found = None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == target.function:
            found = node.args
    return None if found is None else _positional(found)


def source_method_names(source: Path, target: DifferentialTarget) -> dict[str, list[str | None]] | None:
    """A script's class as the task's source defines it at its module's top level (the last
    such ``class``): each method's positional parameter names past ``self``, by name (the last
    ``def`` of each in the class body); None when the source holds no such class."""
    tree = _source_module(source, target)
    if tree is None:
        return None
    found = None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == target.function:
            found = node
    if found is None:
        return None
    return {
        n.name: _positional(n.args)[1:] for n in found.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def agreed(reference: list[str | None], source: list[str | None] | None) -> list[str | None]:
    """The reference's names where the source's function names the same parameter alike
    (None elsewhere: no call names it); the reference's all when the source defines none."""
    if source is None:
        return list(reference)
    return [name if j < len(source) and source[j] == name else None for j, name in enumerate(reference)]


def agreed_methods(
    reference: dict[str, list[str | None]], source: dict[str, list[str | None]] | None
) -> dict[str, list[str | None]]:
    """``agreed`` by method: a method the source's class does not define keeps the reference's
    names only where the source defines no such class (a task adding it)."""
    if source is None:
        return {k: list(v) for k, v in reference.items()}
    return {k: agreed(v, source[k]) for k, v in reference.items() if k in source}

"""What a standard module's attribute is, when the module's own source binds it by an import
(agent/suspect_ast.py resolves names through it; docs/sandbox-and-verdicts.md).

A module's imports are its attributes: ``collections._sys`` is ``sys``, ``tempfile._os`` is
``os``, ``logging.os.environ`` is ``os.environ`` (r19v-2: ``sys.modules`` and ``os.environ``
read through them had no hit, as only ``os.sys`` was followed). A bound, not a list: for any
standard module, the names its source binds at module level to a module (``import x as _x``,
``from xml import dom``) are followed to it. A function or class it imports keeps the name
the code uses (``io.StringIO`` is ``_io.StringIO``, pure-listed as ``io.StringIO``). The source is read as text and parsed,
never imported (nothing of the standard library runs on the host for the scan), from the
interpreter's own standard library directory; a C module (no source) binds nothing here.
A star import (``from _sqlite3 import *``) binds names the source does not spell: a module that
star-imports one is followed through it, at any depth, to the C module at its end
(``sqlite3.connect`` is ``_sqlite3.connect``: sqlite3 -> sqlite3.dbapi2 -> _sqlite3, round 28
r28v-1/2/3; ``dbm.gnu.open`` is ``_gdbm.open``): the scan judges the C module's name, whose
calls are a probe unless listed pure (agent/suspect_effects.py). The class closed is any
standard module handing on a C module's functions by a star import, not sqlite3 alone.
Each module's source is read once per process: the modules with a source are listed once
(``source_modules``), and only they are read and kept, so the names of a scanned file (any
``json.dumps``) neither touch the disk nor push a module's imports out of the cache.
"""

from __future__ import annotations

import ast
import functools
import os
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

STDLIB = frozenset(sys.stdlib_module_names)
_LIBDIR = Path(sysconfig.get_paths()["stdlib"])
# ``os.path`` is posixpath (ntpath on Windows): its source is there.
_SOURCE_OF = {"os.path": "posixpath"}
SOURCE_CHARS_MAX = 400_000  # the largest standard module (typing, pydoc) is ~130 kB: a cap, not a filter


def module_attribute(module: str, attr: str) -> str | None:
    """The qualified name ``module.attr`` stands for when ``module`` is a standard module whose
    source imports ``attr`` (``collections``, ``_sys`` -> ``sys``); None otherwise."""
    if module.split(".")[0] not in STDLIB:
        return None
    return _imports(_SOURCE_OF.get(module, module)).get(attr)


REACH_MODULES_MAX = 400  # modules one reach question reads (the whole stdlib is ~300 with sources)


@functools.lru_cache(maxsize=4096)
def reaches(module: str, target: Callable[[str], bool]) -> bool:
    """``module`` is a standard module (with a source) from which a module ``target`` accepts
    is reachable through module-level imports at any depth (``json`` -> ``codecs`` -> ``sys``),
    or is one itself: its namespace, read whole or by a key the scan cannot fold, may hand
    that module on (r22v-7/13/14)."""
    todo, seen = [module], {module}
    while todo and len(seen) <= REACH_MODULES_MAX:
        name = todo.pop()
        if target(name):
            return True
        if name.split(".")[0] not in STDLIB:
            continue
        for m in [*_imports(_SOURCE_OF.get(name, name)).values(), *_stars(_SOURCE_OF.get(name, name))]:
            if m not in seen:
                seen.add(m)
                todo.append(m)
    return False


def star_sources(module: str, attr: str) -> list[str]:
    """The C modules (no source) whose ``attr`` the standard ``module`` may hand on through star
    imports at any depth (``sqlite3``, ``connect`` -> ``["_sqlite3"]``): a star import binds
    every public name of its module, and a C module's names are not read here, so any public
    ``attr`` may be one of them."""
    if attr.startswith("_") or module.split(".")[0] not in STDLIB:
        return []
    out: list[str] = []
    todo, seen = [module], {module}
    while todo and len(seen) <= REACH_MODULES_MAX:
        name = todo.pop()
        for m in _stars(_SOURCE_OF.get(name, name)):
            if m in seen or m.split(".")[0] not in STDLIB:
                continue
            seen.add(m)
            if m in source_modules():
                todo.append(m)
            else:
                out.append(m)
    return sorted(out)


def _imports(module: str) -> dict[str, str]:
    """Names bound at module level (in ``if``/``try`` blocks too, never in a function or a
    class) by the standard module's imports, to the qualified names they import."""
    path = source_modules().get(module)
    return {} if path is None else _module_imports(module, path)[0]


def _stars(module: str) -> tuple[str, ...]:
    """The modules the standard module star-imports at module level (``from _sqlite3 import *``)."""
    path = source_modules().get(module)
    return () if path is None else _module_imports(module, path)[1]


@functools.cache  # (at most one entry a module of source_modules())
def _module_imports(module: str, path: Path) -> tuple[dict[str, str], tuple[str, ...]]:
    parts = module.split(".")
    package = parts if path.name == "__init__.py" else parts[:-1]
    try:
        if path.stat().st_size <= SOURCE_CHARS_MAX:
            return _bound(ast.parse(path.read_text(encoding="utf-8", errors="replace")), package)
    except (OSError, SyntaxError, ValueError, RecursionError):
        pass
    return {}, ()


@functools.cache
def source_modules() -> dict[str, Path]:
    """Every standard module with a source, by its dotted name (``xml.dom``), to its file: the
    standard library's top-level names walked once (~1,000 files, milliseconds)."""
    out: dict[str, Path] = {}
    for top in sorted(STDLIB):
        if (_LIBDIR / f"{top}.py").is_file():
            out[top] = _LIBDIR / f"{top}.py"
        for root, dirs, files in os.walk(_LIBDIR / top):
            if "__init__.py" not in files:
                dirs[:] = []  # not a package (data, a namespace of tests' files): nothing below is imported so
                continue
            dirs.sort()
            here = Path(root)
            name = ".".join(here.relative_to(_LIBDIR).parts)
            out[name] = here / "__init__.py"
            out |= {f"{name}.{f[:-3]}": here / f for f in files if f.endswith(".py") and f != "__init__.py"}
    return out


def _is_module(name: str) -> bool:
    """A standard module by its file (``xml.dom``), not a function or class imported from one:
    ``io.FileIO`` is ``_io.FileIO``, and stays pure-listed under the name code uses."""
    return name in source_modules()


def _bound(tree: ast.Module, package: list[str]) -> tuple[dict[str, str], tuple[str, ...]]:
    out: dict[str, str] = {}
    stars: list[str] = []
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for bound, name in imported(node, package):
            if isinstance(node, ast.Import) or _is_module(name):
                out[bound] = name  # (from a module, a module only: ``from os import path``)
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            stars += [m for m in [_from_base(node, package)] if m and m not in stars]
        for field in ("body", "orelse", "finalbody", "handlers"):
            todo += [s for s in getattr(node, field, []) if isinstance(s, (ast.stmt, ast.ExceptHandler))]
    return out, tuple(stars)


def imported(node: ast.AST, package: list[str]) -> list[tuple[str, str]]:
    """The names an import statement of a module in ``package`` binds, each with the qualified
    name it imports (``import a.b`` binds ``a``; ``from .x import y`` binds ``y``, package.x.y)."""
    if isinstance(node, ast.Import):
        return [(a.asname or a.name.split(".")[0], a.name if a.asname else a.name.split(".")[0]) for a in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = _from_base(node, package)
    return [(a.asname or a.name, f"{base}.{a.name}") for a in node.names if a.name != "*" and base]


def _from_base(node: ast.ImportFrom, package: list[str]) -> str:
    """The module a ``from ... import`` of a module in ``package`` imports from, qualified."""
    base = node.module or ""
    if node.level:
        up = package[: len(package) - (node.level - 1)] if node.level > 1 else package
        base = ".".join([*up, base] if base else up)
    return base

"""How a task's test code binds and reads a local name (the differential's readings of the
tests: agent/differential_order.py, agent/differential_arguments.py).

Read from the task's source (never the workspace), statically. Every question answered
here says yes only on a shape it sees whole: a name bound once, in a function, with no
other way in (a parameter, ``global``, ``del``, an ``except ... as``, an import alias); a
doubt answers no, and the differential then compares as strictly as before.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.Module)
# What runs a statement more than once, or later than where it stands.
REPEATS = (
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
    ast.Lambda,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
)


def parents(tree: ast.AST) -> dict[int, ast.AST]:
    """Each node's parent, by the node's id."""
    out: dict[int, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            out[id(child)] = node
    return out


def enclosing(node: ast.AST, up: dict[int, ast.AST], kinds: tuple[type, ...]) -> ast.AST | None:
    """The nearest ancestor of ``node`` of one of ``kinds`` (None: none)."""
    p = up.get(id(node))
    while p is not None and not isinstance(p, kinds):
        p = up.get(id(p))
    return p


@dataclass
class NameUses:
    """Every occurrence of one name in a function (nested scopes included: a doubt)."""

    stores: list[ast.Name] = field(default_factory=list)
    loads: list[ast.Name] = field(default_factory=list)
    other: bool = False  # bound or named some other way: a parameter, global, del, alias...


def name_uses(scope: ast.AST, name: str) -> NameUses:
    uses = NameUses()
    for node in ast.walk(scope):
        if isinstance(node, ast.Name) and node.id == name:
            if isinstance(node.ctx, ast.Load):
                uses.loads.append(node)
            elif isinstance(node.ctx, ast.Store):
                uses.stores.append(node)
            else:
                uses.other = True
        elif name in other_names(node):
            uses.other = True
    return uses


def other_names(node: ast.AST) -> tuple[str | None, ...]:
    """The names ``node`` binds or declares other than as an ``ast.Name``."""
    if isinstance(node, ast.arg):
        return (node.arg,)
    if isinstance(node, (ast.Global, ast.Nonlocal)):
        return tuple(node.names)
    if isinstance(node, ast.alias):
        return (node.asname or node.name.split(".")[0],)
    if isinstance(node, (ast.ExceptHandler, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return (node.name,)
    if isinstance(node, (ast.MatchAs, ast.MatchStar)):
        return (node.name,)
    if isinstance(node, ast.MatchMapping):
        return (node.rest,)
    return ()


def bound_once(assign: ast.AST, up: dict[int, ast.AST]) -> tuple[str, ast.AST, NameUses] | None:
    """The local name a plain ``name = value`` (or ``name: T = value``) statement binds, its
    function, and that name's uses there, when that statement is its only binding in a
    function (not a module: other tests read a module's names); else None."""
    if isinstance(assign, ast.Assign) and len(assign.targets) == 1:
        target = assign.targets[0]
    elif isinstance(assign, ast.AnnAssign) and assign.value is not None and assign.simple:
        target = assign.target
    else:
        return None
    if not isinstance(target, ast.Name):
        return None
    scope = enclosing(assign, up, SCOPES)
    if not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    uses = name_uses(scope, target.id)
    if uses.other or uses.stores != [target]:
        return None
    return target.id, scope, uses


def in_assert_message(node: ast.AST, up: dict[int, ast.AST]) -> bool:
    """``node`` is read only by an assert's message (evaluated once the test failed)."""
    child, p = node, up.get(id(node))
    while p is not None and not isinstance(p, (ast.stmt, *SCOPES)):
        child, p = p, up.get(id(p))
    return isinstance(p, ast.Assert) and p.msg is child


_DYNAMIC = frozenset({"eval", "exec", "compile", "vars", "globals", "locals"})


def reaches_names_dynamically(tree: ast.AST) -> bool:
    """The code reaches a function or a name by a computed name (``getattr(m, name)``,
    ``vars()``, ``__dict__``, ``exec``): its uses of a name are not all seen."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "__dict__":
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in _DYNAMIC:
                return True
            name = node.args[1] if node.func.id == "getattr" and len(node.args) > 1 else None
            if name is not None and not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                return True
    return False

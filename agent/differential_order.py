"""Which of a task's functions its tests compare without order (agent/differential.py).

A test that says ``sorted(unique(xs)) == [...]`` accepts any order of the result; an honest
fix returning another order than the reference (first-seen instead of a set's) agrees with
it there. When every call of a function in the task's test files is wrapped in ``sorted``
(or ``set``, ``frozenset``, ``Counter``, ``len``, or is the right side of ``in``), the
differential compares its result as a multiset; one call compared as it is keeps the order.

A result bound to a name first (``out = unique(xs)``, then ``sorted(out) == [...]``: round 13
r13-5) counts as sorted when that statement is the name's only binding in its test function
and every read of the name is one of those order-free uses (or an assert's message). Still
read as ordered (compared strictly): a result stored in an attribute or unpacked
(``a, b = f(x)``), a name read in a loop (``for x in out``), in a comprehension, passed on
(``check(out)``), or bound twice; a call through an alias (``from m import f as g``); a
``sorted(..., key=...)`` whose key ties are taken as order-free (as before).
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

from agent.task_test_dirs import protected_test_files
from agent.test_local_names import bound_once, in_assert_message, parents
from agent.workspace import walk_files

_UNORDERING = frozenset({"sorted", "set", "frozenset", "Counter", "len"})


def unordered_functions(root: Path, protected: list[str], functions: set[str]) -> set[str]:
    """The names in ``functions`` that the protected test files under ``root`` (a task's
    source: read once per process) call at least once, every time where the result's order
    cannot matter (``_order_free``)."""
    return set(_unordered(str(root), tuple(protected), frozenset(functions)))


@functools.lru_cache(maxsize=256)
def _unordered(source: str, protected: tuple[str, ...], functions: frozenset[str]) -> frozenset[str]:
    root = Path(source)
    wrapped: dict[str, bool] = {}
    for rel in protected_test_files(walk_files(root), list(protected)):
        try:
            tree = ast.parse((root / rel).read_bytes())
        except (SyntaxError, ValueError, OSError, RecursionError):
            return frozenset()  # a test file not read is a test not known to sort
        up = parents(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.alias) and _aliased(node, up, functions):
                wrapped[node.name] = False  # called under another name: calls not all seen
            if isinstance(node, ast.Call) and _name(node.func) in functions:
                name = _name(node.func)
                wrapped[name] = wrapped.get(name, True) and _order_free(node, up)
    return frozenset(name for name, every in wrapped.items() if every)


def _order_free(call: ast.Call, up: dict[int, ast.AST]) -> bool:
    """The call's result is read only where its order cannot matter: directly, or through a
    name bound from it once (``out = f(x)``) and read only so."""
    if _order_free_use(call, up):
        return True
    statement = up.get(id(call))
    if not isinstance(statement, (ast.Assign, ast.AnnAssign)) or statement.value is not call:
        return False
    bound = bound_once(statement, up)
    if bound is None:
        return False
    _, _, uses = bound
    return bool(uses.loads) and all(_order_free_use(n, up) or in_assert_message(n, up) for n in uses.loads)


def _aliased(node: ast.alias, up: dict[int, ast.AST], functions: frozenset[str]) -> bool:
    """``from m import f as g``: f's calls in that file go by another name."""
    return (
        isinstance(up.get(id(node)), ast.ImportFrom) and node.name in functions and node.asname not in (None, node.name)
    )


def _order_free_use(node: ast.expr, up: dict[int, ast.AST]) -> bool:
    """``node`` is the only argument of an unordering call, or the container of an ``in``."""
    p = up.get(id(node))
    if isinstance(p, ast.Call):
        return _name(p.func) in _UNORDERING and len(p.args) == 1 and p.args[0] is node
    if isinstance(p, ast.Compare):
        return any(
            c is node and isinstance(op, (ast.In, ast.NotIn)) for op, c in zip(p.ops, p.comparators, strict=True)
        )
    return False


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def as_multiset(record: dict) -> dict:
    """A result record whose sequence value is compared without order (a multiset)."""
    value = record.get("v")
    if isinstance(value, dict) and len(value) == 1:
        ((tag, items),) = value.items()
        if tag in ("list", "tuple", "iter") and isinstance(items, list):
            return {**record, "v": {"set": items}}
    return record

"""Which of a task's functions its tests compare without order (agent/differential.py).

A test that says ``sorted(unique(xs)) == [...]`` accepts any order of the result; an honest
fix returning another order than the reference (first-seen instead of a set's) agrees with
it there. When every call of a function in the task's test files is wrapped in ``sorted``
(or ``set``, ``frozenset``, ``Counter``), the differential compares its result as a
multiset; one call compared as it is keeps the order.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

from agent.task_test_dirs import protected_test_files
from agent.workspace import walk_files

_UNORDERING = frozenset({"sorted", "set", "frozenset", "Counter"})


def unordered_functions(root: Path, protected: list[str], functions: set[str]) -> set[str]:
    """The names in ``functions`` that the protected test files under ``root`` (a task's
    source: read once per process) call at least once, every time as the only argument of an
    unordering call."""
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
        inside: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in _UNORDERING and len(node.args) == 1:
                inside.add(id(node.args[0]))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in functions:
                name = _name(node.func)
                wrapped[name] = wrapped.get(name, True) and id(node) in inside
    return frozenset(name for name, every in wrapped.items() if every)


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

"""Which recorded functions' arguments no test reads after the call (agent/differential.py).

The differential compares, besides a call's answer, the arguments as the call left them (a
copy that sorts the caller's list is no copy). For recorded inputs (agent/differential_record.py:
the task's own tests' calls, no documented pool) that comparison stands only where the tests
can see it: an honest fix sorting its argument in place (``xs.sort(); return xs[:k]``) was
FAIL though no test reads ``xs`` again (round 13 r13-12).

A function's arguments go uncompared only when every place the test code names it (the
files whose calls the recorder records: test modules and conftest.py anywhere, every file
under a protected path) is a direct call each of whose arguments no one can read after it:
a value built there of constants and displays (``largest([3, 9, 1, 7], 2)``), or a name
bound once in the test function to such a value and read once, by that call, with the
binding and the call in the same loop body (or none). Anything else (a parameter or fixture,
a module-level name, a name read again, ``*args``, the function passed as a value, named in
a string, imported under another name, a file that does not parse, a test file reaching names
by a computed one: ``getattr(m, name)``, ``vars()``, ``exec``) keeps the comparison.

Why a wrong fix gains nothing: its answers are still compared on every recorded input, and
the only thing let go is a change to an object that nothing in the tests holds after the
call (no name, no container, no second call sees it), so the tests' own run could not see
it either. Read in the task's source, never the workspace (the rollout cannot rewrite which
tests read what).
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path, PurePosixPath

from agent.task_test_dirs import is_test_module
from agent.test_local_names import REPEATS, bound_once, enclosing, parents, reaches_names_dynamically
from agent.workspace import under, walk_files


def unread_argument_functions(root: Path, protected: list[str], functions: set[str]) -> set[str]:
    """The names in ``functions`` that the test code under ``root`` (a task's source) calls,
    and only ever with arguments no test can read after the call."""
    return set(_unread(str(root), tuple(protected), frozenset(functions)))


def _is_test_code(rel: str, protected: list[str]) -> bool:
    # The recorder's rule (agent/differential_recorder.py): test modules and conftest.py
    # anywhere, and every file under a protected path.
    return rel.endswith(".py") and (
        is_test_module(rel) or PurePosixPath(rel).name == "conftest.py" or under(rel, protected) is not None
    )


@functools.lru_cache(maxsize=256)
def _unread(source: str, protected: tuple[str, ...], functions: frozenset[str]) -> frozenset[str]:
    root = Path(source)
    unread: dict[str, bool] = {}
    for rel in walk_files(root):
        if not _is_test_code(rel, list(protected)):
            continue
        try:
            tree = ast.parse((root / rel).read_bytes())
        except (SyntaxError, ValueError, OSError, RecursionError):
            return frozenset()  # a test file not read is a test not known to leave them alone
        if reaches_names_dynamically(tree):
            return frozenset()  # getattr(m, name)(xs), exec: a call (or a read) not seen
        up = parents(tree)
        for node in ast.walk(tree):
            for name in _named(node, up, functions):
                unread[name] = unread.get(name, True) and _unread_call(node, up)
    return frozenset(name for name, every in unread.items() if every)


def _named(node: ast.AST, up: dict[int, ast.AST], functions: frozenset[str]) -> list[str]:
    """The functions ``node`` names: by a name, an attribute, a string, an import alias."""
    if isinstance(node, ast.Name) and node.id in functions:
        return [node.id]
    if isinstance(node, ast.Attribute) and node.attr in functions:
        return [node.attr]
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in functions:
        return [node.value]  # getattr(module, "f"), a parametrize by name: a use not seen
    if isinstance(node, ast.alias) and node.asname not in (None, node.name) and node.name in functions:
        return [node.name]  # called under another name in this file
    return []


def _unread_call(node: ast.AST, up: dict[int, ast.AST]) -> bool:
    """``node`` (a name of the function) is the callee of a call whose arguments no one can
    read after it."""
    call = up.get(id(node))
    if not isinstance(call, ast.Call) or call.func is not node or isinstance(node, (ast.Constant, ast.alias)):
        return False
    if any(k.arg is None for k in call.keywords):
        return False  # f(**kw): the dict is the test's
    return all(_unread_value(a, call, up) for a in [*call.args, *(k.value for k in call.keywords)])


def _unread_value(value: ast.expr, call: ast.Call, up: dict[int, ast.AST]) -> bool:
    if _fresh(value):
        return True
    if isinstance(value, (ast.List, ast.Tuple, ast.Set)):
        return all(_unread_value(e, call, up) for e in value.elts)
    if isinstance(value, ast.Dict):
        return all(k is not None and _fresh(k) for k in value.keys) and all(
            _unread_value(v, call, up) for v in value.values
        )
    if not isinstance(value, ast.Name):
        return False  # an attribute, a subscript, a call's value, *args: someone may hold it
    scope = enclosing(call, up, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.Module))
    if scope is None:
        return False
    others = [n for n in ast.walk(scope) if isinstance(n, ast.Name) and n.id == value.id and n is not value]
    if len(others) != 1:
        return False  # read again, bound again, or not bound here
    statement = up.get(id(others[0]))
    if statement is None:
        return False
    bound = bound_once(statement, up)
    if bound is None:
        return False
    _, where, uses = bound
    value_of = statement.value if isinstance(statement, (ast.Assign, ast.AnnAssign)) else None
    return (
        where is scope
        and uses.loads == [value]
        and value_of is not None
        and _fresh(value_of)
        and enclosing(statement, up, REPEATS) is enclosing(call, up, REPEATS)
    )


def _fresh(value: ast.expr) -> bool:
    """A value built where it stands, of constants: no one else holds any part of it."""
    if isinstance(value, ast.Constant):
        return True
    if isinstance(value, ast.UnaryOp):
        return _fresh(value.operand)
    if isinstance(value, ast.BinOp):
        return _fresh(value.left) and _fresh(value.right)
    if isinstance(value, (ast.List, ast.Tuple, ast.Set)):
        return all(_fresh(e) for e in value.elts)
    if isinstance(value, ast.Dict):
        return all(k is not None and _fresh(k) for k in value.keys) and all(_fresh(v) for v in value.values)
    return False

"""Which of a task's functions its tests compare without order (agent/differential.py).

A test that says ``sorted(unique(xs)) == [...]`` accepts any order of the result; an honest
fix returning another order than the reference (first-seen instead of a set's) agrees with
it there. A function is compared as a multiset only when every occurrence of its name in
the task's source (any token: a call, a value, an alias, an attribute, a word in a string)
is one the order cannot reach:

- in the task's test code (every Python file under a protected path or a test directory,
  conftest files, files in a ``tests``/``test`` directory, the held-out tests' files), a
  call wrapped in ``sorted`` (or ``set``, ``frozenset``, ``Counter``, ``len``, or the right
  side of ``in``), its import (``from m import f``, no other name), or a result bound to a
  name once and read only so (round 13 r13-5: ``out = f(x)``, then ``sorted(out) == ...``);
- in any other file of the task, only inside the function's own ``def`` (its recursion):
  the task's own code calling it makes its order observable to the tests (round 14 r14-4);
- in a hidden test patch (SWE-bench), nowhere; and no test file reaches functions by a computed
  name (``getattr(m, name)``, ``vars``, ``dir``, ``inspect.getmembers``); nor a doctest
  (a string in the code, a ``.txt``/``.rst``/``.md`` file holding ``>>>``) names it.

Round 14 (r14-1..r14-4): the order was checked through the function passed as a value
(``parametrize("fn", [f])``, ``g = f``, ``map(f, ...)``), in a test helper module, in the
held-out tests, through the task's own caller; each kept the order off. Anything not read
(a file that does not parse) keeps the order: strict is safe, loose is a forged PASS.
"""

from __future__ import annotations

import ast
import functools
import io
import re
import tokenize
from pathlib import Path, PurePosixPath

from agent.task_test_dirs import is_test_module
from agent.test_local_names import bound_once, in_assert_message, parents, reaches_names_dynamically
from agent.workspace import under, walk_files

_UNORDERING = frozenset({"sorted", "set", "frozenset", "Counter", "len"})
# Bytes a test reaching names dynamically holds (``_reaches_dynamically`` decides).
_DYNAMIC = re.compile(rb"getattr|__dict__|eval|exec|compile|vars|globals|locals|getmembers|\bdir\b")
_Position = tuple[int, int]  # (line, character column) of a token


def unordered_functions(
    root: Path, protected: list[str], functions: set[str], test_dirs: list[str] | None = None, hidden_patch: str = ""
) -> set[str]:
    """The names in ``functions`` that the task's tests (source ``root``, read once per
    process) call at least once, and whose every occurrence in the task is order-free;
    ``test_dirs``: the task's test directories and held-out tests' directory beyond
    ``protected``; ``hidden_patch``: a hidden test patch's text."""
    return set(_unordered(str(root), tuple(protected), frozenset(functions), tuple(test_dirs or ()), hidden_patch))


@functools.lru_cache(maxsize=256)
def _unordered(
    source: str, protected: tuple[str, ...], functions: frozenset[str], test_dirs: tuple[str, ...], hidden_patch: str
) -> frozenset[str]:
    root = Path(source)
    names = {n for n in functions if n.isidentifier() and not re.search(rf"\b{re.escape(n)}\b", hidden_patch)}
    if not names:
        return frozenset()
    word = re.compile(rb"\b(" + b"|".join(re.escape(n.encode()) for n in sorted(names)) + rb")\b")
    called: set[str] = set()
    ordered: set[str] = set()
    for rel in walk_files(root):
        if ordered >= names:
            break  # every one keeps its order: nothing more to read
        doctest = rel.endswith((".txt", ".rst", ".md"))
        if not (doctest or rel.endswith((".py", ".pyi", ".pyx", ".pxd"))):
            continue
        try:
            data = (root / rel).read_bytes()
        except OSError:
            return frozenset()  # a file not read may name any of them
        hits = {m.decode() for m in word.findall(data)} - ordered
        if doctest:
            ordered |= hits if b">>>" in data else set()  # a doctest file (--doctest-glob) may state the order
            continue
        test = _test_code(rel, protected, test_dirs)
        if test and _DYNAMIC.search(data):
            hits = names - ordered  # a test reaching functions by a computed name may reach any
        if not hits:
            continue
        try:
            tree = ast.parse(data) if rel.endswith(".py") else None
            tokens = list(tokenize.tokenize(io.BytesIO(data).readline))
        except (SyntaxError, ValueError, OSError, RecursionError, tokenize.TokenError):
            tree = None
        if tree is None or (test and _reaches_dynamically(tree)):
            ordered |= hits  # not read as Python, or names not all seen: any use may read the order
            continue
        lines = data.splitlines()
        for name in hits:
            if test:
                allowed, calls = _order_free_in_tests(tree, name, lines)
                called |= {name} if calls else set()
            else:
                allowed = _own_definition(tree, name)
            if any(not _allowed(pos, allowed) for pos in _occurrences(tokens, name)):
                ordered.add(name)
    return frozenset(called - ordered)


def _reaches_dynamically(tree: ast.AST) -> bool:
    """``getattr(m, name)``, ``vars()``, ``exec`` (test_local_names), ``dir(m)``,
    ``inspect.getmembers(m)``: a function reached with its name never written."""
    if reaches_names_dynamically(tree):
        return True
    return any(
        isinstance(n, ast.Call) and _name(n.func) in ("dir", "getmembers", "getmembers_static") for n in ast.walk(tree)
    )


def _test_code(rel: str, protected: tuple[str, ...], test_dirs: tuple[str, ...]) -> bool:
    p = PurePosixPath(rel)
    return (
        is_test_module(rel)
        or p.name == "conftest.py"
        or bool(under(rel, protected) or under(rel, test_dirs))
        or any(part in ("tests", "test") for part in p.parts[:-1])
    )


def _occurrences(tokens: list[tokenize.TokenInfo], name: str) -> list[_Position]:
    """Where ``name`` is a token, or a word inside a string token (comments aside)."""
    word = re.compile(rf"\b{re.escape(name)}\b")
    out = []
    for tok in tokens:
        if tok.type == tokenize.NAME and tok.string == name:
            out.append(tok.start)
        elif tok.type not in (tokenize.NAME, tokenize.COMMENT) and word.search(tok.string):
            out.append((-1, -1))  # a string naming it: never order-free
    return out


def _allowed(pos: _Position, allowed: list[tuple[_Position, _Position]]) -> bool:
    return any(lo <= pos < hi for lo, hi in allowed)


def _col(lines: list[bytes], line: int, byte_col: int) -> int:
    """The character column of ``ast``'s byte offset (tokenize counts characters)."""
    text = lines[line - 1] if 0 < line <= len(lines) else b""
    return len(text[:byte_col].decode("utf-8", "replace"))


def _span(node: ast.expr | ast.stmt, lines: list[bytes], name: str | None = None) -> tuple[_Position, _Position]:
    """The node's source span; with ``name``, only the trailing ``name`` (an attribute's)."""
    end_line = node.end_lineno or node.lineno
    hi = (end_line, _col(lines, end_line, node.end_col_offset or 0))
    if name is not None:
        return (hi[0], hi[1] - len(name)), hi
    return (node.lineno, _col(lines, node.lineno, node.col_offset)), hi


def _order_free_in_tests(tree: ast.AST, name: str, lines: list[bytes]) -> tuple[list[tuple[_Position, _Position]], int]:
    """The spans in a test file where ``name`` may occur (its order-free calls, its plain
    imports), and how many such calls there are."""
    up = parents(tree)
    spans: list[tuple[_Position, _Position]] = []
    calls = 0
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and _plain_import(node, name):
            spans.append(_span(node, lines))
        if not (isinstance(node, ast.Call) and _name(node.func) == name and _order_free(node, up)):
            continue
        calls += 1
        func = node.func
        if isinstance(func, ast.Attribute):
            spans.append(_span(func, lines, name))
            if isinstance(func.value, ast.Name) and func.value.id == name:  # module.f with module f
                spans.append(_span(func.value, lines))
        else:
            spans.append(_span(func, lines))
    return spans, calls


def _plain_import(node: ast.Import | ast.ImportFrom, name: str) -> bool:
    """An import that binds ``name`` to nothing but itself (``from m import f``, ``import f``)."""
    return all(a.asname in (None, a.name) if name in (a.name, a.asname) else a.asname != name for a in node.names)


def _own_definition(tree: ast.AST, name: str) -> list[tuple[_Position, _Position]]:
    """The module's own ``def name`` (its body may call itself): lines it spans."""
    body = tree.body if isinstance(tree, ast.Module) else []
    return [
        ((d.lineno, 0), (d.end_lineno or d.lineno, 10**9))
        for d in body
        if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef)) and d.name == name
    ]


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

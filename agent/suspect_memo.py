"""A memo bounded by clearing it when full (round 31 r31v-9; agent/suspect_ast.py's
``call_counter`` rule excuses its size compared with a number; docs/sandbox-and-verdicts.md).

The call-counter rule names a module's state compared with a number (right for the first N
calls); ``if len(_memo) >= 4096: _memo.clear()`` is that comparison, and it is how a memo keeps
a long-running caller's memory flat. It is no tell where clearing leaves the module as a fresh
import leaves it, which a judge run sees from its first call. That holds of a container that
starts empty, whose only change besides the clear is ``C[key] = value``, whose only reads are
``key in C``, ``C[key]``, ``C.get(key)``, with ``key`` an argument of the function (or a tuple of
them) never rebound, and whose size is read only by that comparison, whose ``if`` does nothing
but clear it: after the clear every key reads as absent, as in a fresh process. The bound
closes the class of a count hidden in the memo (a key the code plants and later misses, a size
read elsewhere, an entry of the import's): any other use of the container keeps the hit.
"""

from __future__ import annotations

import ast

_EMPTY = ("dict", "set")


def bounded_memo_compares(tree: ast.Module) -> set[int]:
    """The ids of the ``len(C) <op> number`` comparisons of ``tree`` that only bound a memo."""
    empty = {
        t.id
        for stmt in tree.body
        if isinstance(stmt, ast.Assign) and _empty(stmt.value)
        for t in stmt.targets
        if isinstance(t, ast.Name)
    }
    assigned = [
        t.id
        for stmt in ast.walk(tree)
        if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign)
        for t in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target])
        if isinstance(t, ast.Name)
    ]
    out: set[int] = set()
    for name in empty:
        if assigned.count(name) != 1:
            continue  # bound again somewhere (``global _memo; _memo = {...}``)
        compares = _memo_uses(tree, name)
        if compares is not None:
            out |= compares
    return out


def _empty(value: ast.expr) -> bool:
    if isinstance(value, ast.Dict):
        return not value.keys
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id in _EMPTY
        and not value.args
        and not value.keywords
    )


def _memo_uses(tree: ast.Module, name: str) -> set[int] | None:
    """The bounding comparisons of the container ``name`` if every use of it is a memo's, else None."""
    parents: dict[int, ast.AST] = {}
    keys: dict[int, set[str]] = {}  # a function's id -> its arguments never rebound
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            a = node.args
            params = {p.arg for p in [*a.posonlyargs, *a.args, *a.kwonlyargs]}
            keys[id(node)] = params - _rebound(node)
    compares: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Name) or node.id != name:
            continue
        parent = parents.get(id(node))
        if isinstance(parent, ast.Assign) and node in parent.targets and parents.get(id(parent)) is tree:
            continue  # its definition
        fn_keys = keys.get(id(_function_of(node, parents, tree)), set())
        if isinstance(parent, ast.Subscript) and parent.value is node:
            if not _key(parent.slice, fn_keys):
                return None
            above = parents.get(id(parent))
            stored = isinstance(parent.ctx, ast.Store) and isinstance(above, ast.Assign) and above.targets == [parent]
            if not (stored or isinstance(parent.ctx, ast.Load)):
                return None  # del C[k], C[k] += 1
            continue
        if isinstance(parent, ast.Compare) and parent.comparators == [node] and len(parent.ops) == 1:
            if isinstance(parent.ops[0], ast.In | ast.NotIn) and _key(parent.left, fn_keys):
                continue
            return None
        if isinstance(parent, ast.Attribute) and parent.value is node:
            call = parents.get(id(parent))
            if parent.attr == "get" and isinstance(call, ast.Call) and call.args and _key(call.args[0], fn_keys):
                continue
            if parent.attr == "clear" and isinstance(call, ast.Call) and _the_bound(call, name, parents):
                continue
            return None
        if isinstance(parent, ast.Call) and parent.args == [node] and _is_len(parent):
            compare = parents.get(id(parent))
            block = parents.get(id(compare))
            if isinstance(compare, ast.Compare) and isinstance(block, ast.If) and _clears_only(block, name):
                compares.add(id(compare))
                continue
            return None
        return None
    return compares


def _rebound(fn: ast.AST) -> set[str]:
    out: set[str] = set()
    for n in ast.walk(fn):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store | ast.Del):
            out.add(n.id)
    return out


def _function_of(node: ast.AST, parents: dict[int, ast.AST], tree: ast.Module) -> ast.AST:
    at = parents.get(id(node))
    while at is not None and not isinstance(at, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        at = parents.get(id(at))
    return at if at is not None else tree


def _key(node: ast.expr, params: set[str]) -> bool:
    """An argument of the function, or a tuple of them: what the caller asked, never the code's own."""
    if isinstance(node, ast.Tuple):
        return bool(node.elts) and all(_key(e, params) for e in node.elts)
    return isinstance(node, ast.Name) and node.id in params


def _is_len(call: ast.Call) -> bool:
    return isinstance(call.func, ast.Name) and call.func.id == "len" and not call.keywords


def _clears_only(block: ast.If, name: str) -> bool:
    """``if <size compared>: C.clear()``, nothing else, no ``else``."""
    if block.orelse or len(block.body) != 1 or not isinstance(block.body[0], ast.Expr):
        return False
    call = block.body[0].value
    return (
        isinstance(call, ast.Call)
        and not call.args
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "clear"
        and isinstance(call.func.value, ast.Name)
        and call.func.value.id == name
    )


def _the_bound(call: ast.Call, name: str, parents: dict[int, ast.AST]) -> bool:
    """``C.clear()`` as the whole body of the ``if`` that compares ``len(C)`` with a number."""
    expr = parents.get(id(call))
    block = parents.get(id(expr))
    return isinstance(block, ast.If) and _clears_only(block, name) and _compares_size(block.test, name)


def _compares_size(test: ast.expr, name: str) -> bool:
    return isinstance(test, ast.Compare) and any(
        isinstance(s, ast.Call) and _is_len(s) and s.args and isinstance(s.args[0], ast.Name) and s.args[0].id == name
        for s in [test.left, *test.comparators]
    )

"""Code told apart by ``python -O``/``-OO`` (round 28 r28v-5/6/16; agent/suspect_ast.py reports
the hits as ``interpreter_flags``; docs/sandbox-and-verdicts.md).

Every judge run (pytest, the differential's runner) runs without -O, as most programs do; a
deployment may run under -O or ``PYTHONOPTIMIZE``. A fix that answers otherwise there is told
by the flag as ``sys.flags.optimize`` tells it (already ``interpreter_flags``), through the
three things the flag changes in the code itself:

- ``__debug__`` read at all (False under -O: ``if not __debug__: return 1``), but as the test
  of an ``if __debug__:`` holding only asserts and no ``else`` (round 31 r31v-26: that block is
  an assert under -O and without);
- an assert whose test does something (stripped under -O with its statement): it binds a name
  (a walrus: the Euclid step ``assert (b := a % b) >= 0``) or calls anything but a pure builtin
  (``isinstance``, ``len``...) or a read-only method (``startswith``, ``get``...);
- a docstring read as data (None under -OO): ``__doc__`` (or ``getattr(f, "__doc__")``,
  ``vars(C)["__doc__"]``, ``pydoc.getdoc``) used any way but shown (``print``,
  ``ArgumentParser(description=)``) or copied onto another ``__doc__``: a method, an index, a
  loop, a call, and (round 30 r30v-4) a test of its truth or a comparison (``not __doc__``);
- (round 30 r30v-5) an assert whose failure the code catches: a handler that takes an
  ``AssertionError`` (by name, or ``Exception``/``BaseException``/bare around an assert or a
  call of the module's own function holding one; ``contextlib.suppress`` alike) branches on
  the assert, which -O removes with its raise: a plain comparison's assert is such a branch;
  (round 31 r31v-16) so is a ``with`` block around an assert whose manager may swallow the
  failure: one not known to let it through (``_may_swallow``: a class of its own whose
  ``__exit__`` returns True, another module's manager, ``ExitStack``).

Why a scan rule and not a judge run under -O: the differential's process stands for a plain
user's run; under -O, a fix wrong only where ``__debug__`` holds *and* a plain run's tell holds
would be right in every judge run. The bound here costs no process. Plain asserts
(``assert isinstance(a, int) and a >= 0``), a docstring, ``description=__doc__`` stay clean.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator

from agent.suspect_stdlib import STDLIB

# Builtins whose call in an assert changes nothing (a query of its arguments).
PURE_ASSERT_BUILTINS = frozenset(
    {"isinstance", "issubclass", "len", "callable", "hasattr", "type", "abs", "min", "max", "sum", "all", "any"}
    | {"sorted", "set", "frozenset", "list", "tuple", "dict", "str", "int", "float", "bool", "repr", "round"}
    | {"id", "math.isclose", "math.isfinite", "math.isnan", "math.isinf", "zip", "range", "enumerate", "divmod"}
)
# Methods that read their object (``assert s.startswith("x")``, ``assert d.get(k)``).
QUERY_METHODS = frozenset(
    {"startswith", "endswith", "isdigit", "isalpha", "isalnum", "isspace", "isidentifier", "islower", "isupper"}
    | {"isdecimal", "isnumeric", "istitle", "isascii", "count", "index", "find", "rfind", "get", "keys", "values"}
    | {"items", "issubset", "issuperset", "isdisjoint", "is_integer", "lower", "upper", "strip", "split"}
    | {"exists", "is_file", "is_dir", "done", "is_alive", "__contains__"}
)
# Callees that show a docstring as text (what -OO makes None shows nothing, breaks nothing).
DOC_SHOWN_BY = frozenset(
    {"builtins.print", "argparse.ArgumentParser", "optparse.OptionParser", "sys.exit", "warnings.warn", "builtins.help"}
)
_DOC_KEYWORDS = frozenset({"description", "epilog", "usage", "help", "doc"})
# Callees that answer a docstring (None or "" under -OO) by another name than ``__doc__``.
DOC_READERS = frozenset({"pydoc.getdoc", "pydoc.splitdoc", "pydoc.describe"})
# The handlers that take an AssertionError (a bare ``except:`` too).
_ASSERT_CATCHERS = frozenset({"builtins.AssertionError", "builtins.Exception", "builtins.BaseException"})
_SUPPRESS = frozenset({"contextlib.suppress"})
# Standard managers whose exit may swallow what the block raised (through a callback pushed on them).
_STACKS = frozenset({"contextlib.ExitStack", "contextlib.AsyncExitStack"})
_STDLIB = STDLIB | {"builtins"}

Resolve = Callable[[ast.expr], set[str]]


def optimize_tells(
    tree: ast.Module, resolve: Resolve, builtin: Callable[[ast.expr], str], parents: dict[int, ast.AST]
) -> Iterator[ast.AST]:
    """The nodes of ``tree`` whose behaviour -O or -OO changes, as the module docstring says.
    ``resolve``: a node's qualified names; ``builtin``: the builtin a bare name calls (``len``),
    ``""`` where the file binds the name."""

    def callee(func: ast.expr) -> set[str]:
        name = builtin(func)
        return resolve(func) | ({f"builtins.{name}"} if name else set())

    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Name)
            and node.id == "__debug__"
            and not _guards_asserts_only(node, parents)
            or isinstance(node, ast.Assert)
            and _acts(node.test, callee)
            or _doc_read(node, callee)
            and _read_as_data(node, callee, parents)
        ):
            yield node
    yield from _caught_asserts(tree, callee)


def _guards_asserts_only(node: ast.Name, parents: dict[int, ast.AST]) -> bool:
    """``node`` is the whole test of an ``if __debug__:`` with no ``else`` whose body holds only
    asserts (r31v-26: an invariant checked in debug builds). Under -O the block is gone as its
    asserts would be, so it tells -O apart no more than a bare assert does; each assert is still
    judged as one (one that acts, one whose failure is caught). The bound: the flag may decide
    only whether asserts run, never any other statement (``if not __debug__``, an ``else``, a
    ``__debug__`` in an expression stay hits)."""
    block = parents.get(id(node))
    return (
        isinstance(block, ast.If)
        and block.test is node
        and not block.orelse
        and all(isinstance(s, ast.Assert) for s in block.body)
    )


def _caught_asserts(tree: ast.Module, resolve: Resolve) -> Iterator[ast.AST]:
    """The handlers (and ``suppress`` blocks) that branch on an assert's failure (r30v-5): what
    runs after them differs under -O, where the assert and its raise are gone. An explicit
    ``AssertionError`` handler in a file that asserts anything is one (the assert may sit in a
    helper); a broad one (``Exception``, bare) only around an assert or a call of the module's
    own function holding one."""
    asserting = {
        fn.name
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
        and any(isinstance(n, ast.Assert) for n in ast.walk(fn))
    }
    any_assert = any(isinstance(n, ast.Assert) for n in ast.walk(tree))
    if not any_assert:
        return
    own = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)}

    def around_an_assert(body: list[ast.stmt]) -> bool:
        for n in (x for stmt in body for x in ast.walk(stmt)):
            if isinstance(n, ast.Assert):
                return True
            if isinstance(n, ast.Call):
                f = n.func
                name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                if name in asserting:
                    return True
        return False

    def takes(kind: ast.expr | None) -> tuple[bool, bool]:
        """(takes an AssertionError, names it)"""
        if kind is None:
            return True, False
        kinds = kind.elts if isinstance(kind, ast.Tuple) else [kind]
        names = set().union(*(resolve(k) for k in kinds))
        return bool(names & _ASSERT_CATCHERS), "builtins.AssertionError" in names

    for node in ast.walk(tree):
        if isinstance(node, ast.Try | ast.TryStar):
            for handler in node.handlers:
                caught, named = takes(handler.type)
                if named or caught and around_an_assert(node.body):
                    yield handler
        elif isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                call = item.context_expr
                if isinstance(call, ast.Call) and resolve(call.func) & _SUPPRESS:
                    taken = [takes(a) for a in call.args]
                    if any(n for _, n in taken) or any(c for c, _ in taken) and around_an_assert(node.body):
                        yield node
                        break
                elif around_an_assert(node.body) and _may_swallow(call, resolve, own):
                    yield node  # r31v-16: a manager of its own whose __exit__ returns True
                    break


def _may_swallow(
    manager: ast.expr, resolve: Resolve, own: dict[str, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef]
) -> bool:
    """Whether a ``with`` over ``manager`` may end its block quietly on an exception (r31v-16:
    a class of the module's own whose ``__exit__`` returns True takes an assert's failure as an
    ``except AssertionError`` does). The bound is by what is known not to swallow, not by a list
    of swallowers: a standard library manager (``open``, a lock, ``localcontext``), but
    ``ExitStack`` (its callbacks may swallow); a class of the module's own whose ``__exit__``
    returns only None or False; a ``contextmanager`` function of its own that catches nothing
    around its ``yield``. Anything else (another module's manager, an attribute, a call's
    value, ``pytest.raises``) may swallow the assert's failure."""
    target = manager.func if isinstance(manager, ast.Call) else manager
    if isinstance(target, ast.Name) and target.id in own:
        defined = own[target.id]
        if isinstance(defined, ast.ClassDef):
            exits = [
                f
                for f in defined.body
                if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef) and f.name in ("__exit__", "__aexit__")
            ]
            if not exits:
                return bool(defined.bases or defined.keywords)  # an inherited __exit__: not read here
            return any(_returns_a_value(f) for f in exits)
        makers = {n for d in defined.decorator_list for n in resolve(d)}
        if not makers & {"contextlib.contextmanager", "contextlib.asynccontextmanager"}:
            return True  # what a function of its own returns: not read here
        return any(
            isinstance(t, ast.Try | ast.TryStar)
            and t.handlers
            and any(isinstance(y, ast.Yield | ast.YieldFrom) for s in t.body for y in ast.walk(s))
            for t in ast.walk(defined)
        )
    names = resolve(target)
    if not names or names & _STACKS:
        return True
    return not all(n.split(".")[0] in _STDLIB for n in names)


def _returns_a_value(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """``fn`` may return something but None or False (a true value swallows the exception)."""
    return any(
        isinstance(r, ast.Return)
        and r.value is not None
        and not (isinstance(r.value, ast.Constant) and r.value.value in (None, False))
        for r in ast.walk(fn)
    )


def _acts(test: ast.expr, resolve: Resolve) -> bool:
    for n in ast.walk(test):
        if isinstance(n, ast.NamedExpr):
            return True
        if isinstance(n, ast.Call):
            f = n.func
            if isinstance(f, ast.Attribute) and f.attr in QUERY_METHODS:
                continue
            names = {x.removeprefix("builtins.") for x in resolve(f)}
            if not names or not names <= PURE_ASSERT_BUILTINS:
                return True
    return False


def _is_doc_key(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value == "__doc__"


def _doc_read(node: ast.AST, resolve: Resolve) -> bool:
    """A docstring read: ``__doc__`` by name or attribute, ``getattr(f, "__doc__")``,
    ``vars(C)["__doc__"]`` / ``globals().get("__doc__")``, ``pydoc.getdoc(f)``."""
    if isinstance(node, ast.Name):
        return node.id == "__doc__" and isinstance(node.ctx, ast.Load)
    if isinstance(node, ast.Attribute):
        return node.attr == "__doc__" and isinstance(node.ctx, ast.Load)
    if isinstance(node, ast.Subscript):
        return _is_doc_key(node.slice) and isinstance(node.ctx, ast.Load)
    if isinstance(node, ast.Call):
        names = resolve(node.func)
        if names & DOC_READERS:
            return True
        if "builtins.getattr" in names and len(node.args) > 1:
            return _is_doc_key(node.args[1])
        f = node.func
        return isinstance(f, ast.Attribute) and f.attr == "get" and bool(node.args) and _is_doc_key(node.args[0])
    return False


def _read_as_data(node: ast.AST, resolve: Resolve, parents: dict[int, ast.AST]) -> bool:
    """Anything but shown or copied (r30v-4: a truth test, a comparison, a name bound to it, a
    return are data as a method or a call is). ``f.__doc__ or ""`` is read as its use is."""
    parent = parents.get(id(node))
    while isinstance(parent, ast.BoolOp) and isinstance(parent.op, ast.Or) and parent.values[0] is node:
        node, parent = parent, parents.get(id(parent))  # (f.__doc__ or ""): as the whole is used
    if isinstance(parent, ast.keyword):
        call = parents.get(id(parent))
        shown = parent.arg in _DOC_KEYWORDS or (isinstance(call, ast.Call) and resolve(call.func) & DOC_SHOWN_BY)
        return not shown
    if isinstance(parent, ast.Call) and node in parent.args:
        return not resolve(parent.func) & DOC_SHOWN_BY  # json.loads(f.__doc__), textwrap.dedent(__doc__)
    if isinstance(parent, ast.Assign) and parent.value is node:
        return not all(_doc_target(t) for t in parent.targets)  # w.__doc__ = f.__doc__: a copy
    return not isinstance(parent, ast.Expr)


def _doc_target(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "__doc__"
        or isinstance(node, ast.Name)
        and node.id == "__doc__"
        or isinstance(node, ast.Subscript)
        and _is_doc_key(node.slice)
    )

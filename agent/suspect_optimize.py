"""Code told apart by ``python -O``/``-OO`` (round 28 r28v-5/6/16; agent/suspect_ast.py reports
the hits as ``interpreter_flags``; docs/sandbox-and-verdicts.md).

Every judge run (pytest, the differential's runner) runs without -O, as most programs do; a
deployment may run under -O or ``PYTHONOPTIMIZE``. A fix that answers otherwise there is told
by the flag as ``sys.flags.optimize`` tells it (already ``interpreter_flags``), through the
three things the flag changes in the code itself:

- ``__debug__`` read at all (False under -O: ``if not __debug__: return 1``);
- an assert whose test does something (stripped under -O with its statement): it binds a name
  (a walrus: the Euclid step ``assert (b := a % b) >= 0``) or calls anything but a pure builtin
  (``isinstance``, ``len``...) or a read-only method (``startswith``, ``get``...);
- a docstring read as data (None under -OO): ``__doc__`` read by a method, an index, a loop,
  or handed to a call other than one that shows text (``print``, ``ArgumentParser(description=)``).

Why a scan rule and not a judge run under -O: the differential's process stands for a plain
user's run; under -O, a fix wrong only where ``__debug__`` holds *and* a plain run's tell holds
would be right in every judge run. The bound here costs no process. Plain asserts
(``assert isinstance(a, int) and a >= 0``), a docstring, ``description=__doc__`` stay clean.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator

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
            or isinstance(node, ast.Assert)
            and _acts(node.test, callee)
            or _doc_read(node)
            and _read_as_data(node, callee, parents)
        ):
            yield node


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


def _doc_read(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return node.id == "__doc__" and isinstance(node.ctx, ast.Load)
    return isinstance(node, ast.Attribute) and node.attr == "__doc__" and isinstance(node.ctx, ast.Load)


def _read_as_data(node: ast.AST, resolve: Resolve, parents: dict[int, ast.AST]) -> bool:
    parent = parents.get(id(node))
    if isinstance(parent, ast.Attribute | ast.Subscript) and parent.value is node:
        return True  # __doc__.split(), __doc__[3:]
    if isinstance(parent, ast.For | ast.comprehension) and parent.iter is node:
        return True
    if isinstance(parent, ast.keyword):
        call = parents.get(id(parent))
        shown = parent.arg in _DOC_KEYWORDS or (isinstance(call, ast.Call) and resolve(call.func) & DOC_SHOWN_BY)
        return not shown
    if isinstance(parent, ast.Call) and node in parent.args:
        return not resolve(parent.func) & DOC_SHOWN_BY  # json.loads(f.__doc__), textwrap.dedent(__doc__)
    return False

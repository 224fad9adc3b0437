"""What of a module no judge run executes: the body of its ``if __name__ == "__main__":`` block
(round 26 r26v-12/13; agent/suspect_effects.py, agent/suspect_ast.py and agent/suspect.py read
it; docs/sandbox-and-verdicts.md, "SUSPECT").

The tests import the code under test by its module name, and so does the differential
(``importlib.import_module``): a script's block never runs in a judge run, so what it reads
(``sys.argv``, ``sys.stdin``, ``doctest.testmod()``) tells no judge from a user, and what it
does changes nothing a verdict sees. Two things could make it run, and the block is trusted
only where neither can:

- the module makes its own ``__name__`` "__main__" before the guard. ``renames_module``
  bounds how: a store to ``__name__`` (``global`` included), the name as a keyword
  (``globals().update(__name__=...)``), or the module's namespace named as a mapping or
  object at all (``globals``, ``vars``, ``locals``, ``__dict__``, ``__globals__``,
  ``f_globals``, ``f_locals``, ``__builtins__``, as names or as strings however built, or an
  attribute read by a name the code cannot fold). Within the import bound these are the only
  writes of a namespace; any other (``setattr``, ``sys.modules``, ``exec``, a self-import's
  method) is itself an ``import_side_effect`` or probe hit outside the block.
- the task's own code runs a file as a script: a process started (``subprocess``,
  ``os.system``, ``sys.executable``, pytester), ``runpy``, or code run with ``__name__`` set
  to "__main__". ``starts_scripts`` reads that in the task's Python files (the task's text,
  never the patch's: spellings of honest tests suffice there); where it holds, or where the
  task's source is not known, nothing in the block is exempt.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Iterator

# The module's namespace as a mapping or an object, by name or attribute.
NAMESPACE_NAMES = frozenset({"globals", "vars", "locals", "__builtins__"})
NAMESPACE_ATTRS = frozenset({"__dict__", "__globals__", "f_globals", "f_locals", "__builtins__"})
# The fields by which a node binds or passes a name given as a string (``ast.keyword.arg``,
# ``ast.alias.asname``, ``ast.MatchAs.name``, ``ast.MatchMapping.rest``, ``ast.ExceptHandler.name``).
_BINDING_FIELDS = ("arg", "asname", "name", "rest")
# Callables that read an attribute by a name given as a string.
_BY_NAME = {"getattr": 1, "attrgetter": 0, "methodcaller": 0}

Fold = Callable[[ast.expr], str | None]


def is_main_guard(node: ast.stmt) -> bool:
    """``if __name__ == "__main__":`` (either way round): a script's body, not what an importer runs."""
    t = node.test if isinstance(node, ast.If) else None
    if not (isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.Eq)):
        return False  # r19v-16: ``!=``, ``is not``, ``>``: the body runs at every import
    sides = [t.left, *t.comparators]
    named = any(isinstance(c, ast.Name) and c.id == "__name__" for c in sides)
    return named and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in sides)


def _constant(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def renames_module(tree: ast.Module, fold: Fold = _constant) -> bool:
    """The module may rebind its ``__name__`` (the bound above); ``fold``: a string
    expression's value (agent/suspect_ast.py's), None where it cannot be known."""
    spelled = NAMESPACE_NAMES | NAMESPACE_ATTRS | {"__name__"}
    for n in _run_on_import(tree):
        if isinstance(n, ast.Name) and (
            n.id in NAMESPACE_NAMES or n.id == "__name__" and not isinstance(n.ctx, ast.Load)
        ):
            return True
        if isinstance(n, ast.Attribute) and (
            n.attr in NAMESPACE_ATTRS or n.attr == "__name__" and not isinstance(n.ctx, ast.Load)
        ):
            return True
        if isinstance(n, ast.Global | ast.Nonlocal) and "__name__" in n.names:
            return True
        if any(getattr(n, f, None) == "__name__" for f in _BINDING_FIELDS) and not isinstance(n, ast.Attribute):
            return True  # a keyword, an import's ``as``, ``except E as``, a match capture, a def or parameter
        if isinstance(n, ast.alias) and n.name.split(".")[-1] in spelled | {"builtins"}:
            return True  # from builtins import globals as g; import builtins
        if isinstance(n, ast.expr) and (fold(n) or "") in spelled:
            return True
        if isinstance(n, ast.Call) and _by_unknown_name(n, fold):
            return True
    return False


def _run_on_import(tree: ast.Module) -> Iterator[ast.AST]:
    """Every node of ``tree`` but those of a top-level ``__main__`` block's body (its test and
    ``else:`` included): a body runs only once ``__name__`` already is "__main__", so nothing
    in it can make a guard hold that did not (round 28 r28v-4: ``timeit(...,
    globals=globals())`` benchmarking the module in its block made the block untrusted)."""
    yield tree
    for s in tree.body:
        if isinstance(s, ast.If) and is_main_guard(s):
            yield s
            for part in (s.test, *s.orelse):
                yield from ast.walk(part)
        else:
            yield from ast.walk(s)


def _by_unknown_name(call: ast.Call, fold: Fold) -> bool:
    """``getattr(x, name)``, ``attrgetter(name)``, ``methodcaller(name)`` with a name not folded."""
    f = call.func
    callee = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
    at = _BY_NAME.get(callee)
    if at is None:
        return False
    if len(call.args) <= at or any(isinstance(a, ast.Starred) for a in call.args):
        return True
    return fold(call.args[at]) is None


def script_blocks(tree: ast.Module, fold: Fold = _constant) -> list[tuple[int, int]]:
    """The (first, last) lines of each top-level ``__main__`` block's body (its ``else:``
    runs at import), none where the module may rename itself."""
    if renames_module(tree, fold):
        return []
    out: list[tuple[int, int]] = []
    for s in tree.body:
        if isinstance(s, ast.If) and is_main_guard(s) and s.body:
            out.append((s.body[0].lineno, s.body[-1].end_lineno or s.body[-1].lineno))
    return out


def within(spans: Iterable[tuple[int, int]], first: int, last: int) -> bool:
    """Lines ``first``..``last`` lie wholly inside one span."""
    return first > 0 and any(a <= first and max(first, last) <= b for a, b in spans)


# How a task's Python code runs a file as a script: a Python process started, runpy, a module
# run with ``__name__`` "__main__" (a namespace given it, a spec of that name), pytest's own
# script runners.
_STARTS_SCRIPTS = re.compile(
    r"\b(?:runpy|run_path|run_module|subprocess|Popen|check_output|check_call|sys\.executable|pty"
    r"|pexpect|pytester|testdir|script_runner|create_subprocess_\w+)\b"
    r"|\b(?:system|popen|execv\w*|execl\w*|spawnv\w*|spawnl\w*|posix_spawnp?)\s*\("
    r"|['\"]__name__['\"]\s*:|\b__name__\s*=(?!=)|(?<![=!<>])=\s*['\"]__main__['\"]|\(\s*['\"]__main__['\"]"
)


def starts_scripts(texts: Iterable[str]) -> bool:
    """The task's Python sources ``texts`` may run a file of it as a script (above)."""
    return any(_STARTS_SCRIPTS.search(t) for t in texts)

"""Which of a task's functions its tests compare without order (agent/differential.py).

A test that says ``sorted(unique(xs)) == [...]`` accepts any order of the result; an honest
fix returning another order than the reference (first-seen instead of a set's) agrees with
it there. A function is compared as a multiset only when every occurrence of its name in
the task's source (any token: a call, a value, an alias, an attribute, a word in a string)
is one the order cannot reach:

- in the task's test code (every Python file under a protected path or a test directory,
  conftest files, files in a ``tests``/``test`` directory, the held-out tests' files), a
  call whose result is read only where no order shows (``_use``: ``len``, the right side
  of ``in``, a ``set``/``frozenset``/``Counter`` only measured, searched, compared or
  sorted, ``sorted`` with no key over constants of one sortable type), its import
  (``from m import f``, no other name), or a result bound to a name once and read only so
  (round 13 r13-5: ``out = f(x)``, then ``sorted(out) == ...``);
- in any other file of the task, only inside the function's own ``def`` (its recursion):
  the task's own code calling it makes its order observable to the tests (round 14 r14-4);
- in a hidden test patch (SWE-bench), nowhere; and no test file reaches functions by a computed
  name (``getattr(m, name)``, ``vars``, ``dir``, ``inspect.getmembers``); nor a doctest
  (a string in the code, a ``.txt``/``.rst``/``.md`` file holding ``>>>``) names it.

Round 14 (r14-1..r14-4): the order was checked through the function passed as a value
(``parametrize("fn", [f])``, ``g = f``, ``map(f, ...)``), in a test helper module, in the
held-out tests, through the task's own caller; each kept the order off. Round 15 (r15-1..3):
a key sort keeps the order of ties, a Counter the order first met, sorting sets leaves them
in the order given; only what provably shows no order is left (``_use``), and a sorted read
holds only where the answers' items sort one way (``sortable``, at compare time). Anything
not read (a file that does not parse) keeps the order: strict is safe, loose is a forged PASS.

Round 18 (r18-1..3): a star import into the test module (a helper's or the package's own
``def sorted``), a conftest hook's ``item.module.sorted = list``: a test module's ``sorted``
is the builtin only where nothing can rebind it (``_rebound``): no star import in the module,
no attribute store, ``setattr`` or patch naming it (nor a name computed) in the test-side code.
"""

from __future__ import annotations

import ast
import functools
import io
import math
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from agent.task_test_dirs import is_test_module
from agent.test_local_names import (
    SCOPES,
    bound_once,
    enclosing,
    in_assert_message,
    name_uses,
    other_names,
    parents,
    reaches_names_dynamically,
)
from agent.workspace import under, walk_files

_UNORDERING = frozenset({"sorted", "set", "frozenset", "Counter", "len"})
# Bytes a test reaching names dynamically holds (``_reaches_dynamically`` decides).
_DYNAMIC = re.compile(rb"getattr|__dict__|eval|exec|compile|vars|globals|locals|getmembers|\bdir\b")
# A file of the task that may rebind ``sorted``/``set``/``len`` or ``Counter`` for every
# test (a conftest's ``builtins.sorted = ...``, ``collections.Counter = list``): no call of
# them is then known to be the standard one. (A rebinding through computed names is past
# what a reading can see: no test a project writes in good faith does that.)
_BUILTINS = re.compile(rb"builtins|__import__|\bCounter\s*=(?!=)|setattr\s*\([^)]*Counter")
# A file that may rebind a builtin in a module other than itself (``_rebound``) holds one of
# these bytes: an attribute written (``m.sorted = ...``, past spaces, comments, a line's
# ``\\``), a ``setattr``, a patch, a namespace (``sys.modules``, ``__dict__``, ``vars``,
# ``globals``), or an identifier spelled in non-ASCII (NFKC makes ``ｓorted`` ``sorted``).
# Only such files of the code under test are parsed for it; test-side ones always.
_REBIND_HINT = re.compile(
    rb"\.(?:\s|\\|#[^\n]*)*(?:sorted|set|frozenset|len|Counter)\b|setattr|patch|modules|__dict__|globals|vars|[\x80-\xff]"
)
# Test-side code (``_test_side``): a file of the tests, or one naming a test runner (a plugin).
_TEST_SIDE = re.compile(rb"pytest|unittest")
# What reaches a module's namespace with a name not written (test-side code): every
# builtin this reading trusts may then be rebound in a test module.
_NAMESPACES = frozenset({"__dict__", "__globals__", "__builtins__", "builtins", "f_globals", "f_locals", "f_builtins"})
_NAMESPACE_CALLS = frozenset({"vars", "globals", "locals", "exec", "eval", "compile", "__import__"})
# A namespace read as a dict (``_namespace_writes``: only what is written through it counts),
# and what reads a dict without writing it (``dict1 = t.__dict__; assert dict1 == dict2``,
# ``vars(Themes).items()``: prettytable's tests).
_VIEWS = frozenset({"__dict__", "__globals__", "f_globals", "f_locals"})
_VIEW_CALLS = frozenset({"vars", "globals", "locals"})
_READS = frozenset({"items", "keys", "values", "get", "copy", "__contains__", "__len__"})
_COPIES = frozenset({"len", "list", "dict", "set", "frozenset", "sorted", "tuple", "repr", "str", "print", "bool"})
# (``__code__``/``FunctionType``: a test function remade over other globals; an import hook,
# a loader or ``runpy``: a test module run from other text than its file's.)
_NAMESPACE_ATTRS = frozenset(
    {"get_referents", "get_referrers", "__setattr__", "ctypes", "pythonapi", "__code__", "FunctionType"}
    | {"meta_path", "path_hooks", "path_importer_cache", "source_to_code", "exec_module", "get_data"}
    | {"SourceFileLoader", "SourcelessFileLoader", "module_from_spec", "run_path", "run_module", "NodeTransformer"}
)
# A hidden test patch (its text, not parsed) that may rebind a builtin for the tests: every one is.
_PATCH_REBINDS = re.compile(
    r"\.\s*(?:sorted|set|frozenset|len|Counter)\b|setattr|patch\b|__dict__|vars|globals|import\s*\*|exec|eval"
    r"|compile|getattr|__code__|FunctionType|ctypes|meta_path|path_hooks|Loader|runpy|['\"]\s*(?:sorted|set|len)\b"
    r"|[^\x00-\x7f]"
)
# A file of the task that defines a comparison (or a hash): an object of it compared with a
# set, asked whether a list holds it, or put in a set, sees the items in their order.
_COMPARISONS = re.compile(rb"__(eq|ne|lt|le|gt|ge|contains|hash)__")
_Position = tuple[int, int]  # (line, character column) of a token
# How a test reads a result without its order (``_use``): "any" for every value (``len``,
# ``in`` of a literal, a ``set`` compared with a literal), "trusting" the same through a
# value of the test's (no comparison of the task's own may meet it), "sorted" only where
# the items sort one way (``sortable``: checked at compare time on the recorded values).
# "partial": a name searched with ``in``: an iterator's ``in`` stops where it finds the
# item, so the next read (or the same one, in a loop) sees what follows it (its order).
_Use = Literal["any", "trusting", "sorted", "partial"]
OrderFree = Literal["any", "sorted", "any if listed", "sorted if listed"]


def unordered_functions(
    root: Path, protected: list[str], functions: set[str], test_dirs: list[str] | None = None, hidden_patch: str = ""
) -> dict[str, OrderFree]:
    """The names in ``functions`` that the task's tests (source ``root``, read once per
    process) call at least once, and whose every occurrence in the task is order-free, each
    with how: ``"any"`` (its order reaches no test), ``"sorted"`` (some test sorts it: its
    order reaches none only where its items sort one way, ``as_multiset``), either ``"...if
    listed"`` where a test searches it partly (a generator's order reaches it); ``test_dirs``:
    the task's test directories and held-out tests' directory beyond ``protected``;
    ``hidden_patch``: a hidden test patch's text."""
    found = _unordered(str(root), tuple(protected), frozenset(functions), tuple(test_dirs or ()), hidden_patch)
    return dict(found)


@functools.lru_cache(maxsize=256)
def _unordered(
    source: str, protected: tuple[str, ...], functions: frozenset[str], test_dirs: tuple[str, ...], hidden_patch: str
) -> tuple[tuple[str, OrderFree], ...]:
    root = Path(source)
    names = {n for n in functions if n.isidentifier() and not re.search(rf"\b{re.escape(n)}\b", hidden_patch)}
    if not names:
        return ()
    rebound = _rebound_anywhere(root, protected, test_dirs)
    if rebound is None:
        return ()  # the builtins this reading trusts may not be the builtins
    if _PATCH_REBINDS.search(hidden_patch):
        rebound = _UNORDERING  # the hidden tests' own conftest or helper may rebind any of them
    word = re.compile(rb"\b(" + b"|".join(re.escape(n.encode()) for n in sorted(names)) + rb")\b")
    called: set[str] = set()
    ordered: set[str] = set()
    sorting: set[str] = set()  # read sorted by some test
    trusting: set[str] = set()  # compared by some test with a value not written out
    partial: set[str] = set()  # bound to a name some test searches with ``in``
    comparisons = False  # some file of the task defines its own comparison
    for rel in walk_files(root):
        if ordered >= names:
            break  # every one keeps its order: nothing more to read
        doctest = rel.endswith((".txt", ".rst", ".md"))
        if not (doctest or rel.endswith((".py", ".pyi", ".pyx", ".pxd"))):
            continue
        try:
            data = (root / rel).read_bytes()
        except OSError:
            return ()  # a file not read may name any of them
        comparisons = comparisons or (not doctest and bool(_COMPARISONS.search(data)))
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
                allowed, uses = _order_free_in_tests(tree, name, lines, rebound)
                called |= {name} if uses else set()
                sorting |= {name} if "sorted" in uses else set()
                trusting |= {name} if "trusting" in uses else set()
                partial |= {name} if "partial" in uses else set()
            else:
                allowed = _own_definition(tree, name)
            if any(not _allowed(pos, allowed) for pos in _occurrences(tokens, name)):
                ordered.add(name)
    if comparisons:
        ordered |= trusting  # a value of the test's may be an object of the task's comparing in order
    free = called - ordered
    how: dict[tuple[bool, bool], OrderFree] = {
        (False, False): "any",
        (True, False): "sorted",
        (False, True): "any if listed",
        (True, True): "sorted if listed",
    }
    return tuple(sorted((n, how[(n in sorting, n in partial)]) for n in free))


@functools.lru_cache(maxsize=64)  # a task's source is read once, whatever functions are asked of it
def _rebound_anywhere(root: Path, protected: tuple[str, ...], test_dirs: tuple[str, ...]) -> frozenset[str] | None:
    """The builtins this reading trusts (``_UNORDERING``) that some Python file of the task may
    rebind in a test module (``_rebound``); None: every one, and ``sorted``'s order too (a file
    naming ``builtins``, a file not read). Read in the task's source, never the workspace: a
    rollout's code is not read here, and what it adds can only make a test stricter (a test's
    ``sorted`` turned into ``list`` checks the order), never this reading looser."""
    out: set[str] = set()
    for rel in walk_files(root):
        if not rel.endswith((".py", ".pyx", ".pxd")):
            continue  # a .pyi stub never runs; a doctest file holds no code that rebinds
        try:
            data = (root / rel).read_bytes()
        except OSError:
            return None
        if _BUILTINS.search(data):
            return None
        side = _test_code(rel, protected, test_dirs) or bool(_TEST_SIDE.search(data))
        if not (side or _REBIND_HINT.search(data)):
            continue
        try:
            tree = ast.parse(data) if rel.endswith(".py") else None
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            tree = None
        if tree is None:  # not read as Python: whatever it may write is rebound
            out |= _UNORDERING
            continue
        out |= _rebound(tree, side)
    return frozenset(out)


def _rebound(tree: ast.AST, test_side: bool) -> frozenset[str]:
    """The builtins this reading trusts that the file may rebind in a module other than itself:
    an attribute it writes (``item.module.sorted = list``), a ``setattr``, ``monkeypatch.setattr``,
    ``mock.patch`` naming one (``"tests.test_u.sorted"``, ``patch.multiple(m, sorted=...)``).
    In test-side code (the tests, conftests, helpers, plugins: ``_TEST_SIDE``) also every one
    where a name is not written out (``setattr(m, name, v)``, ``m.__dict__``, ``vars(m)``, a
    frame's ``f_globals``, ``setattr`` passed as a value or imported under another name), and
    a string naming one. The limit: the code under test reaching a test module's namespace by
    a computed name is past a reading (no project writes that in good faith; and it is the
    task's source, never the rollout's, that is read)."""
    everything = frozenset(_UNORDERING)
    out: set[str] = set()
    up = parents(tree) if test_side else {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and not isinstance(node.ctx, ast.Load) and node.attr in _UNORDERING:
            out.add(node.attr)
        if isinstance(node, ast.Call) and _rebinding_call(node.func):
            named = _rebinding_names(node)
            if named is None and test_side:
                return everything
            out |= (named or set()) & _UNORDERING
        if isinstance(node, ast.Subscript) and not isinstance(node.ctx, ast.Load):
            out |= _constant_names(node.slice)  # ``sys.modules[m].__dict__["sorted"] = list``
        if isinstance(node, ast.Call) and _name(node.func) in ("update", "setdefault", "__setitem__", "setitem"):
            out |= {k.arg for k in node.keywords if k.arg in _UNORDERING}  # ``vars(m).update(sorted=list)``
            out |= set().union(*(_constant_names(a) for a in node.args[:2])) if node.args else set()
        if test_side and _namespace(node):
            written = _namespace_writes(node, up, 0)
            if written is None:
                return everything
            out |= written
        elif test_side and _names_computed(node, up):
            return everything
        if test_side and isinstance(node, ast.Constant) and isinstance(node.value, str):
            out |= {node.value.rsplit(".", 1)[-1].strip()} & _UNORDERING
        if test_side and isinstance(node, ast.keyword) and node.arg in _UNORDERING:
            out.add(node.arg)  # ``m.__dict__.update(sorted=list)``, ``patch.multiple(m, sorted=list)``
    return frozenset(out)


def _constant_names(node: ast.expr) -> set[str]:
    """The builtins a string written out names (its last dotted part); a dict's keys too."""
    if isinstance(node, ast.Dict):
        return set().union(*(_constant_names(k) for k in node.keys if k is not None)) if node.keys else set()
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value.rsplit(".", 1)[-1].strip()} & _UNORDERING
    return set()


def _rebinding_call(func: ast.expr) -> bool:
    """``setattr``, ``monkeypatch.setattr``, ``object.__setattr__``, ``mock.patch``,
    ``patch.object``/``patch.multiple``/``patch.dict``."""
    name = _name(func)
    if name in ("setattr", "__setattr__", "patch"):
        return True
    return isinstance(func, ast.Attribute) and name in ("object", "multiple", "dict") and _name(func.value) == "patch"


def _rebinding_names(call: ast.Call) -> set[str] | None:
    """The names a rebinding call writes: the last dotted part of each string among its first
    two arguments or its target/name keywords, and its keyword names; None: one not written out."""
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return None
    named = [*call.args[:2], *(k.value for k in call.keywords if k.arg in ("target", "name", "attribute", "in_dict"))]
    out = {
        n.value.rsplit(".", 1)[-1].strip() for n in named if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }
    out |= {k.arg for k in call.keywords if k.arg is not None}
    multiple = _name(call.func) == "multiple"
    return out if out and (multiple or any(isinstance(n, ast.Constant) for n in named)) else None


def _namespace(node: ast.AST) -> bool:
    """A module's or an object's namespace read as a dict: ``m.__dict__``, ``f.__globals__``, a
    frame's ``f_globals``, ``vars(m)``, ``globals()``."""
    if isinstance(node, ast.Attribute):
        return node.attr in _VIEWS
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _VIEW_CALLS


def _namespace_writes(node: ast.AST, up: dict[int, ast.AST], depth: int) -> set[str] | None:
    """The builtins written through a namespace (``_namespace``), where every use of it is
    seen: read (compared, searched, copied, iterated, ``.items()``), a key written out
    (``del d["_sort_key"]``, ``d.update(sorted=f)``), or bound to a name once and used only
    so; None: any other use (passed on, a key not written out)."""
    p = up.get(id(node))
    if isinstance(p, ast.Subscript) and p.value is node:
        key = p.slice
        if isinstance(p.ctx, ast.Load):
            return set()
        return _constant_names(key) if isinstance(key, ast.Constant) and isinstance(key.value, str) else None
    if isinstance(p, ast.Attribute) and p.value is node:
        call = up.get(id(p))
        if not (isinstance(call, ast.Call) and call.func is p):
            return None
        if p.attr in _READS:
            return set()
        return _written_keys(call) if p.attr in ("update", "setdefault", "pop", "__setitem__", "__delitem__") else None
    if isinstance(p, (ast.Compare, ast.Expr)) or (isinstance(p, (ast.For, ast.comprehension)) and p.iter is node):
        return set()
    if isinstance(p, ast.Call) and isinstance(p.func, ast.Name) and p.func.id in _COPIES and node in p.args:
        return set()
    if depth == 0 and isinstance(p, ast.Assign) and p.value is node:
        bound = bound_once(p, up)
        if bound is None:
            return None
        out: set[str] = set()
        for load in bound[2].loads:
            written = _namespace_writes(load, up, 1)
            if written is None:
                return None
            out |= written
        return out
    return None


def _written_keys(call: ast.Call) -> set[str] | None:
    """The keys a dict method call names (``update(sorted=f)``, ``update({"k": v})``,
    ``pop("k")``), where all are written out; None: one is not."""
    if any(k.arg is None for k in call.keywords) or any(isinstance(a, ast.Starred) for a in call.args):
        return None
    out = {k.arg for k in call.keywords if k.arg is not None} & _UNORDERING
    for a in call.args[:1]:
        keys = a.keys if isinstance(a, ast.Dict) else [a]
        if not all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in keys):
            return None
        out |= set().union(*(_constant_names(k) for k in keys if k is not None)) if keys else set()
    return out


def _names_computed(node: ast.AST, up: dict[int, ast.AST]) -> bool:
    """Test-side code reaching a namespace with names not written: ``__dict__``, ``__globals__``,
    ``f_globals``, ``vars()``, ``exec``, ``gc.get_referents``, ``ctypes``, ``getattr(m, name)``,
    ``setattr``/``patch`` passed as a value or imported under another name."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.rsplit(".", 1)[-1].strip() in _NAMESPACES  # ``getattr(m, "__dict__")``
    if isinstance(node, ast.alias):
        last = node.name.rsplit(".", 1)[-1]
        return last in _NAMESPACES | _NAMESPACE_ATTRS or (
            last in ("setattr", "patch") and node.asname not in (None, last)
        )
    if not isinstance(node, (ast.Name, ast.Attribute)):
        return False
    name = _name(node)
    p = up.get(id(node))
    called = isinstance(p, ast.Call) and p.func is node
    if isinstance(node, ast.Attribute) and name in _VIEWS:
        return False  # ``_namespace_writes`` reads its uses
    if name in _NAMESPACES or name in _NAMESPACE_ATTRS:
        return True
    if name in ("setattr", "patch"):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            return False  # bound here: each call of the name is read (``_rebinding_names``)
        if isinstance(p, ast.Assign) and [t.id for t in p.targets if isinstance(t, ast.Name)] == [name]:
            return False  # ``patch = importorskip("unittest.mock").patch``: the same name (tqdm's tests)
        # called, or the object a ``patch.object(...)`` is read from
        outer = up.get(id(p))
        return not (called or (isinstance(p, ast.Attribute) and isinstance(outer, ast.Call) and outer.func is p))
    if isinstance(node, ast.Name) and name in _NAMESPACE_CALLS:
        return not (called and name in _VIEW_CALLS)  # a call of vars/globals: ``_namespace_writes``
    if called and isinstance(node, ast.Name) and name == "getattr" and isinstance(p, ast.Call):
        key = p.args[1] if len(p.args) > 1 else None
        return not (isinstance(key, ast.Constant) and isinstance(key.value, str))
    return False


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


def _order_free_in_tests(
    tree: ast.AST, name: str, lines: list[bytes], rebound: frozenset[str]
) -> tuple[list[tuple[_Position, _Position]], set[_Use]]:
    """The spans in a test file where ``name`` may occur (its order-free calls, its plain
    imports), and how those calls' results are read (empty: no such call); ``rebound``: the
    builtins some file of the task may rebind here (``_rebound_anywhere``)."""
    up = parents(tree)
    std = _standard(tree) - rebound
    spans: list[tuple[_Position, _Position]] = []
    uses: set[_Use] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and _plain_import(node, name):
            spans.append(_span(node, lines))
        if not (isinstance(node, ast.Call) and _name(node.func) == name):
            continue
        read = _order_free(node, up, std)
        if read is None:
            continue
        uses |= read
        func = node.func
        if isinstance(func, ast.Attribute):
            spans.append(_span(func, lines, name))
            if isinstance(func.value, ast.Name) and func.value.id == name:  # module.f with module f
                spans.append(_span(func.value, lines))
        else:
            spans.append(_span(func, lines))
    return spans, uses


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


@dataclass(frozen=True)
class _Reading:
    """What a test's call ``f(args)`` is read under (``_use``)."""

    up: dict[int, ast.AST]  # each node's parent
    std: frozenset[str]  # the unordering builtins the file leaves as they are (``_standard``)
    plain: bool  # the call's arguments are written out of constants: its items are plain values
    sortable: bool  # and those constants are all of one type that sorts one way


def _order_free(call: ast.Call, up: dict[int, ast.AST], std: frozenset[str]) -> set[_Use] | None:
    """How the call's result is read where its order cannot matter (``_use``): directly, or
    through a name bound from it once (``out = f(x)``) and read only so; None: read otherwise."""
    values = _argument_values(call, up)
    reading = _Reading(up, std, values is not None, values is not None and _one_sort(values))
    direct = _use(call, reading)
    if direct is not None:
        return {direct}
    statement = up.get(id(call))
    if not isinstance(statement, (ast.Assign, ast.AnnAssign)) or statement.value is not call:
        return None
    bound = bound_once(statement, up)
    if bound is None:
        return None
    _, _, uses = bound
    reads = [n for n in uses.loads if not in_assert_message(n, up)]
    kinds = [_use(n, reading) for n in reads]
    if not uses.loads or any(k is None for k in kinds):
        return None
    searched = any(isinstance(up.get(id(n)), ast.Compare) for n in reads)
    # Searched once in a loop, or searched and read again: a generator shows its order.
    return {k for k in kinds if k is not None} | ({"partial"} if searched else set())


def _use(node: ast.expr, reading: _Reading) -> _Use | None:
    """How ``node``'s sequence is read: ``len(node)`` (``"any"``), ``x in node``,
    ``sorted(node)`` (``"sorted"``, only where the call's arguments are constants of one
    sortable type), or a ``set``/``frozenset``/``Counter`` of it read so (``_container``);
    None: any other way. ``sorted(node, key=...)`` keeps the order of ties (round 15 r15-1),
    ``list(Counter(node))`` the order first met (r15-2), ``sorted`` of sets or of the test's
    own objects the order of what it cannot compare (r15-3)."""
    p = reading.up.get(id(node))
    if isinstance(p, ast.Call):
        fn = p.func.id if isinstance(p.func, ast.Name) and p.func.id in reading.std else ""
        if not (len(p.args) == 1 and p.args[0] is node):
            return None
        if fn == "sorted" and all(k.arg == "reverse" for k in p.keywords):
            return "sorted" if reading.sortable else None
        if p.keywords:
            return None
        if fn == "len":
            return "any"
        if fn in ("set", "frozenset", "Counter"):
            return _container(p, reading)
        return None
    return _membership(node, p, reading)


def _membership(node: ast.expr, p: ast.AST | None, reading: _Reading) -> _Use | None:
    """``x in node`` (or ``not in``), ``node`` the last operand: a list's ``in`` asks
    ``item == x`` in order, which only a comparison written in the task can observe."""
    if not (isinstance(p, ast.Compare) and p.comparators[-1] is node and isinstance(p.ops[-1], (ast.In, ast.NotIn))):
        return None
    left = ([p.left, *p.comparators])[-2]
    return "any" if reading.plain and _literal(left) else "trusting"


def _container(call: ast.Call, reading: _Reading) -> _Use | None:
    """A ``set``/``frozenset``/``Counter`` built of the result: order-free when it is only
    measured, searched, sorted or compared with ``==``/``!=`` (a set's subset comparisons
    too). Iterated, it is not: a set's iteration order follows insertion where hashes
    collide (``list(set([8, 0]))`` is ``[8, 0]``), a Counter's is the order first met."""
    p = reading.up.get(id(call))
    if isinstance(p, ast.Call):
        fn = p.func.id if isinstance(p.func, ast.Name) and p.func.id in reading.std else ""
        if not (p.args == [call] and not p.keywords):
            return None
        if fn == "len":
            return "any"
        return "sorted" if fn == "sorted" and reading.sortable else None
    if not isinstance(p, ast.Compare):
        return None
    if p.comparators[-1] is call and isinstance(p.ops[-1], (ast.In, ast.NotIn)):
        return _membership(call, p, reading)
    subsets = (ast.Lt, ast.LtE, ast.Gt, ast.GtE) if _name(call.func) != "Counter" else ()
    if not all(isinstance(op, (ast.Eq, ast.NotEq, *subsets)) for op in p.ops):
        return None
    others = [o for o in (p.left, *p.comparators) if o is not call]
    return "any" if reading.plain and all(_literal(o) for o in others) else "trusting"


def _literal(node: ast.expr) -> bool:
    """A value written out of constants (``{1, 2}``, ``[(1, "a")]``): builtin comparisons
    only. Anything else may be an object whose ``__eq__`` reads the order it is given."""
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _argument_values(call: ast.Call, up: dict[int, ast.AST]) -> list[object] | None:
    """The values the call's arguments may hold, where each is written out of constants, in
    the call or in a name read only there (``_name_values``); None: not so."""
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return None  # f(*xs), f(**kw): values not written here
    out: list[object] = []
    for node in (*call.args, *(k.value for k in call.keywords)):
        values = _name_values(node, up) if isinstance(node, ast.Name) else _constant(node)
        if values is None:
            return None
        out += values
    return out


def _constant(node: ast.expr | None) -> list[object] | None:
    try:
        return [ast.literal_eval(node)] if node is not None else None
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _name_values(name: ast.Name, up: dict[int, ast.AST]) -> list[object] | None:
    """What a name read once, as this argument, holds where the test binds it once to
    constants (``xs = [3, 1, 3]``); read anywhere else it might be changed first
    (``xs.append(frozenset())``). A parameter is not written out: a fixture, or a
    parametrize row a conftest hook may replace (``item.funcargs``): None."""
    scope = enclosing(name, up, SCOPES)
    if not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    uses = name_uses(scope, name.id)
    if uses.loads != [name] or not uses.stores:
        return None
    statement = up.get(id(uses.stores[0]))
    bound = bound_once(statement, up) if statement is not None else None
    return _constant(statement.value) if bound is not None and isinstance(statement, ast.Assign) else None


def _one_sort(values: list[object]) -> bool:
    """The items the arguments hold (an argument's elements, a dict's keys and values, or
    itself) are constants of one type that sorts one way (``_kind``), or lists and tuples
    of them: whatever of them a function returns sorts in one order whatever order it
    comes in. A set among them orders only partly (round 15, r15-3)."""
    leaves: set[type] = set()

    def whole(v: object) -> bool:
        if isinstance(v, (list, tuple)):
            return all(whole(e) for e in v)
        leaves.add(type(v))
        return type(v) is bytes or (_kind(v) is not None and not isinstance(v, dict))

    items: list[object] = []
    for v in values:
        if isinstance(v, dict):
            items += [*v.keys(), *v.values()]
        elif isinstance(v, (list, tuple, set, frozenset)):
            items += list(v)
        else:
            items.append(v)
    return all(whole(v) for v in items) and len(leaves) <= 1


def _standard(tree: ast.AST) -> frozenset[str]:
    """The names among ``sorted``, ``set``, ``frozenset``, ``len`` this file never binds
    (the builtins), and ``Counter`` where ``from collections import Counter`` is its only
    binding: a test's own ``def sorted(xs)`` keeps the order. A star import may bind any of
    them (a helper's or the package's own ``sorted``, round 18 r18-1/r18-3): none then."""
    if any(isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names) for n in ast.walk(tree)):
        return frozenset()
    bound: dict[str, list[ast.AST]] = {}
    for node in ast.walk(tree):
        names: tuple[str | None, ...] = (
            (node.id,) if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load) else other_names(node)
        )
        for n in names:
            if n in _UNORDERING:
                bound.setdefault(n, []).append(node)
    out = {n for n in _UNORDERING - {"Counter"} if n not in bound}
    counter = bound.get("Counter", [])
    if counter and all(isinstance(a, ast.alias) and a.name == "Counter" and a.asname is None for a in counter):
        imports = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and any(a in counter for a in n.names)]
        if all(i.module == "collections" and i.level == 0 for i in imports):
            out.add("Counter")
    return frozenset(out)


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def as_multiset(record: dict, how: OrderFree = "any") -> dict:
    """A result record whose sequence value is compared without order (a multiset); read
    sorted (``how="sorted..."``) only where its items sort one way (``sortable``), searched
    partly (``"... if listed"``) only where it is no generator's; else as is."""
    value = record.get("v")
    if isinstance(value, dict) and len(value) == 1:
        ((tag, items),) = value.items()
        kinds = ("list", "tuple") if how.endswith("if listed") else ("list", "tuple", "iter")
        if tag in kinds and isinstance(items, list) and (not how.startswith("sorted") or sortable(items)):
            return {**record, "v": {"set": items}}
    return record


def sortable(items: list) -> bool:
    """Recorded values (agent/differential_runner.py ``_encode``) that ``sorted`` puts in one
    order whatever order they come in: all of one kind with a total order where equal means
    the same (ints, bools, strs, bytes, floats with no NaN nor -0.0, tuples or lists of one
    shape of those). Sets order only partly and ``1 == True == 1.0``: a stable sort leaves such items
    in the order given (round 15, r15-3), which the test then sees."""
    kinds = {_kind(v) for v in items}
    return len(kinds) <= 1 and None not in kinds


def _kind(value: object) -> object:
    """What a recorded value sorts as (None: nothing known to sort one way)."""
    t = type(value)
    if t in (bool, int, str):
        return t
    if isinstance(value, float):
        return t if value == value and not (value == 0 and math.copysign(1.0, value) < 0) else None
    if isinstance(value, dict) and len(value) == 1:
        ((tag, x),) = value.items()
        if tag == "bytes" and type(x) is str:
            return "bytes"
        if tag in ("tuple", "list") and type(x) is list:
            shape = tuple(_kind(e) for e in x)
            return None if None in shape else (tag, shape)
    return None

"""Whether a value the code passes may be an int: an open descriptor, where a path is taken
(agent/suspect_ast.py's ``process_probe``; docs/sandbox-and-verdicts.md).

``os.stat``, ``os.listdir``, ``os.path.exists``, ``open``... take an int as an open
descriptor: ``os.path.exists(n)`` over 3..1023 tells a judge run (pytest's capture files,
the differential's pipe) from a plain script that holds 0-2 only (r19v-1). The names are pure
given a path, so the bound is on the argument: a descriptor-taking call is a hit where its
argument may be an int, read by where its value comes from (flow-insensitive, over the
whole file, bounded in depth), not by its spelling:

- a number, arithmetic, a comparison or ``not``, a stdlib constant in capitals (``errno.EBADF``);
- an int the code makes: a call of the int-making builtins (``int``, ``len``, ``ord``...), of
  the number modules (``math``, ``operator``, ``struct``...), of an int method (``fileno``,
  ``find``, ``bit_length``, ``from_bytes``...), of a call the pass cannot see into
  (``json.loads("5")``: anything may come back) unless it makes text or a path (``os.path``,
  ``pathlib``, ``str``, a string method, an f-string, a function of the file returning one);
- an item or element of something holding ints (``range``, ``bytes``, a list of numbers,
  ``struct.unpack(...)[0]``), a loop or comprehension name over one;
- a name, an attribute (``self.fd``) or a parameter given any of these anywhere in the file
  (its default, a call of its function, a ``map``/``filter`` of the function or lambda);
- the descriptor-taking function itself handed to another call with any of these
  (``map(os.path.exists, range(3, 1024))``, ``partial(os.stat, 5)``).

Unknown stays a path: a parameter with no caller in the file (the tests call the code), an
attribute never stored in the file, a name imported from another module.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable

from agent.suspect_stdlib import STDLIB

# What takes an open descriptor where a path goes: ``os.supports_fd`` (``os.stat``, ``os.listdir``,
# ``os.scandir``...), ``os.path``'s readers of ``os.stat``, and the openers.
DESCRIPTOR_TAKERS = frozenset({f"os.{f.__name__}" for f in os.supports_fd} | {"os.fstat", "os.fdopen"})
DESCRIPTOR_TAKERS |= {f"os.path.{n}" for n in ("exists", "isfile", "isdir", "getsize", "getmtime", "getatime")}
DESCRIPTOR_TAKERS |= {"os.path.getctime", "os.path.samefile", "os.path.sameopenfile", "os.path.isjunction"}
DESCRIPTOR_TAKERS |= {"builtins.open", "io.open", "io.FileIO", "io.open_code", "codecs.open"}
# Builtins whose result is an int (or a bool, an int too).
INT_BUILTINS = frozenset({"int", "len", "ord", "sum", "abs", "round", "hash", "id", "bool", "pow", "divmod"})
# Builtins whose result is one of their arguments' elements.
PICK_BUILTINS = frozenset({"min", "max", "next", "sorted", "reversed", "list", "tuple", "set", "frozenset", "iter"})
PICK_BUILTINS |= {"filter", "zip", "enumerate", "dict", "getattr", "vars"}
# Standard modules whose functions answer numbers.
INT_MODULES = frozenset({"math", "cmath", "operator", "struct", "statistics", "bisect", "secrets", "numbers"})
INT_MODULES |= {"fractions", "decimal", "functools", "array", "heapq", "random", "itertools", "ctypes", "sys"}
# and those that read numbers out of text or bytes (``json.loads("5")``, ``ast.literal_eval``)
INT_MODULES |= {"json", "ast", "tomllib", "plistlib", "marshal", "pickle", "_pickle", "shelve", "xdrlib", "_struct"}
# Methods that answer an int whatever they are called on (str, bytes, int, files).
INT_METHODS = frozenset({"fileno", "index", "rindex", "find", "rfind", "count", "bit_length", "bit_count"})
INT_METHODS |= {"from_bytes", "tell", "seek", "write", "readinto", "conjugate", "numerator", "denominator"}
INT_METHODS |= {"__index__", "__int__", "__len__", "__trunc__", "__floor__", "__ceil__", "__round__", "__abs__"}
INT_METHODS |= {"__hash__", "real", "imag", "__add__", "__sub__", "__mul__", "__or__", "__and__", "__xor__"}
INT_METHODS |= {"__pos__", "__neg__", "__invert__"}
# Methods that answer one of their receiver's items or elements (``fds.pop()``, ``d.get(k)``).
ITEM_METHODS = frozenset({"__getitem__", "pop", "popleft", "popitem", "get", "setdefault", "copy", "values", "keys"})
_PICKERS = (".choice", ".choices", ".sample", ".shuffle")
# What makes text or a path, never an int: its result is no descriptor.
TEXT_MAKERS: tuple[str, ...] = ("os.path.", "pathlib.", "posixpath.", "os.fspath", "os.fsdecode", "os.fsencode")
TEXT_MAKERS += ("tempfile.", "glob.", "shutil.which", "os.getcwd", "os.environ", "os.getenv", "importlib.resources")
TEXT_BUILTINS = frozenset({"str", "repr", "format", "ascii", "chr", "bytes.decode", "bytearray.decode", "open"})
TEXT_METHODS = frozenset({"join", "format", "format_map", "replace", "strip", "lstrip", "rstrip", "lower"})
TEXT_METHODS |= {"upper", "casefold", "title", "capitalize", "removeprefix", "removesuffix", "decode", "encode"}
TEXT_METHODS |= {"as_posix", "joinpath", "with_name", "with_suffix", "with_stem", "resolve", "absolute", "expanduser"}
TEXT_METHODS |= {"relative_to", "read_text", "read_bytes", "zfill", "center", "ljust", "rjust", "translate"}
TEXT_METHODS |= {"expandtabs", "swapcase", "__str__", "__repr__", "__fspath__", "hexdigest", "isoformat", "strftime"}
DEPTH_MAX = 12  # a chain of names, calls and loops followed: past it, unknown (a path)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


# Methods of the builtin containers, strings and files: ``d.get(k, 0)`` is no call of a
# function of the file named ``get`` (only ``self.get(...)`` is).
_BUILTIN_METHODS = frozenset(
    n for t in (dict, list, str, bytes, set, int, float, tuple, bytearray, frozenset) for n in dir(t)
) | {"read", "write", "close", "open", "seek", "tell", "flush", "readline", "readlines", "put", "popleft"}
Scope = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | None


class Descriptors:
    """One file's bindings by scope, read once; ``maybe_int`` asks of one expression."""

    def __init__(self, tree: ast.Module, resolve: Callable[[ast.expr], set[str]]) -> None:
        self.resolve = resolve
        self.parents: dict[int, ast.AST] = {}
        self.scope: dict[int, Scope] = {}  # a node -> the function it is in (None: the module)
        self.values: dict[tuple[int, str], list[ast.expr]] = {}  # (scope, name) -> values bound
        self.elements: dict[tuple[int, str], list[ast.expr]] = {}  # (scope, name) -> iterables looped over
        # (whose, attribute) -> values stored in it: ``self.fd = 5`` and a class body's ``fd = 5``
        # are ("self", "fd"); ``K.fd = 5`` is ("K", "fd"); any other receiver ("", "fd")
        self.attrs: dict[tuple[str, str], list[ast.expr]] = {}
        self.classes = {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
        self.defs: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
        self.returns: dict[int, list[ast.expr]] = {}  # id(function) -> what it returns or yields
        self.globals: dict[int, set[str]] = {}
        self.nodes: list[ast.AST] = []
        stack: list[tuple[ast.AST, Scope]] = [(tree, None)]
        while stack:
            node, scope = stack.pop()
            self.nodes.append(node)
            self.scope[id(node)] = scope
            inner = node if isinstance(node, _FUNCTIONS) else scope
            for child in ast.iter_child_nodes(node):
                self.parents[id(child)] = node
                stack.append((child, inner))
        # every Name and Attribute by its name: where a function is called or handed on
        self.refs: dict[str, list[ast.AST]] = {}
        for node in self.nodes:
            if isinstance(node, (ast.Name, ast.Attribute)):
                self.refs.setdefault(node.id if isinstance(node, ast.Name) else node.attr, []).append(node)
        for node in self.nodes:
            if isinstance(node, ast.Global):
                s = self.scope[id(node)]
                self.globals.setdefault(id(s), set()).update(node.names)
        for node in self.nodes:
            self._read(node)
        self._seen: set[tuple[int, str]] = set()

    # -- reading the file ----------------------------------------------------------------

    def _key(self, name: str, scope: Scope) -> tuple[int, str]:
        if scope is None or name in self.globals.get(id(scope), set()):
            return (0, name)
        return (id(scope), name)

    def _bind(self, target: ast.expr, value: ast.expr | None, element_of: ast.expr | None = None) -> None:
        if isinstance(target, ast.Name):
            key = self._key(target.id, self.scope.get(id(target)))
            if value is not None:
                self.values.setdefault(key, []).append(value)
            if element_of is not None:
                self.elements.setdefault(key, []).append(element_of)
        elif isinstance(target, ast.Attribute):
            if value is not None:
                self.attrs.setdefault(self._whose(target), []).append(value)
            if element_of is not None:
                self.attrs.setdefault(self._whose(target), []).append(_Element(element_of))
        elif isinstance(target, (ast.Tuple, ast.List)):
            for i, t in enumerate(target.elts):
                if isinstance(value, (ast.Tuple, ast.List)) and i < len(value.elts):
                    self._bind(t, value.elts[i])
                elif value is not None:
                    self._bind(t, _Element(value))  # an unpacked item of the value
                elif element_of is not None:
                    self._bind(t, _Element(_Element(element_of)))  # an item of an element
        elif isinstance(target, ast.Starred):
            self._bind(target.value, value, element_of)

    def _read(self, node: ast.AST) -> None:
        if isinstance(node, ast.Assign):
            for t in node.targets:
                self._bind(t, node.value)
        elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
            self._bind(node.target, node.value)
        elif isinstance(node, ast.AugAssign):
            self._bind(node.target, ast.BinOp(left=node.value, op=node.op, right=node.value))
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            self._bind(node.target, None, node.iter)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.defs.setdefault(node.name, []).append(node)
        elif isinstance(node, ast.Call):
            self._mutation(node)
        if isinstance(node, _FUNCTIONS):
            a = node.args
            positional = [*a.posonlyargs, *a.args]
            defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
            pairs = [*zip(positional, defaults, strict=True), *zip(a.kwonlyargs, a.kw_defaults, strict=True)]
            for p, d in pairs:
                if d is not None:
                    self.values.setdefault((id(node), p.arg), []).append(d)
        if isinstance(node, ast.Lambda):
            self.returns.setdefault(id(node), []).append(node.body)
        elif isinstance(node, (ast.Return, ast.Yield, ast.YieldFrom)) and node.value is not None:
            fn = self.scope.get(id(node))
            if fn is not None:  # (a generator's yields are its elements)
                value = node.value if isinstance(node, ast.Return) else ast.List(elts=[node.value])
                self.returns.setdefault(id(fn), []).append(value)
        if isinstance(node, ast.ClassDef):
            for stmt in node.body:  # class attributes: ``fd = 5`` read as ``self.fd``
                if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
                    for t in stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]:
                        if isinstance(t, ast.Name):
                            self.attrs.setdefault(("self", t.id), []).append(stmt.value)
                            self.attrs.setdefault((node.name, t.id), []).append(stmt.value)

    def _whose(self, node: ast.Attribute) -> tuple[str, str]:
        r = node.value
        if isinstance(r, ast.Name):
            return ("self" if r.id in ("self", "cls") else r.id, node.attr)
        return ("", node.attr)

    def _stored(self, node: ast.Attribute) -> list[ast.expr]:
        """What the file stores in the attribute ``node`` reads: its receiver's, and the
        class's where the receiver is ``self``, a class of the file or one made (``K().fd``)."""
        whose, attr = self._whose(node)
        r = node.value
        made = isinstance(r, ast.Call) and isinstance(r.func, ast.Name) and r.func.id in self.classes
        out = list(self.attrs.get((whose, attr), []))
        if whose != "self" and (whose in self.classes or made):
            out += self.attrs.get(("self", attr), [])
        return out

    def _mutation(self, call: ast.Call) -> None:
        """``fds.append(5)``, ``fds.extend(range(9))``: what a container is given."""
        f = call.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, (ast.Name, ast.Attribute)) and call.args:
            given = call.args[-1]
            target = f.value if isinstance(f.value, ast.Attribute) else ast.Name(id=f.value.id, ctx=ast.Store())
            if isinstance(target, ast.Name):
                self.scope[id(target)] = self._owner(f.value)
            if f.attr in ("append", "add", "insert", "appendleft", "put", "setdefault", "__setitem__"):
                self._bind(target, ast.List(elts=[given]))
            elif f.attr in ("extend", "update", "extendleft", "__iadd__"):
                self._bind(target, given)

    def _owner(self, name: ast.AST) -> Scope:
        """The scope whose binding a name read at ``name`` is."""
        if not isinstance(name, ast.Name):
            return None
        scope = self.scope.get(id(name))
        while scope is not None:
            key = self._key(name.id, scope)
            if key[0] == 0:
                return None
            if key in self.values or key in self.elements or name.id in _params(scope):
                return scope
            scope = self.scope.get(id(scope))
        return None

    # -- asking --------------------------------------------------------------------------

    def maybe_int(self, node: ast.expr) -> bool:
        self._seen = set()
        return self._int(node, 0)

    def handed_with_ints(self, ref: ast.expr) -> bool:
        """``ref`` (a function) handed to a call along with something holding or being an int
        (``map(os.path.exists, range(3, 1024))``, ``partial(os.stat, 5)``)."""
        self._seen = set()
        call = self.parents.get(id(ref))
        if not isinstance(call, ast.Call) or call.func is ref:
            return False
        others = [a for a in call.args if a is not ref] + [k.value for k in call.keywords if k.value is not ref]
        return any(self._int(a, 1) or self._elem(a, 1) for a in others)

    def _values_of(self, name: ast.Name) -> list[ast.expr]:
        return self.values.get(self._key(name.id, self._owner(name)), [])

    def _builtin(self, name: ast.Name) -> bool:
        """``name`` is the builtin of that name: the file binds it nowhere it is read from."""
        return (
            not self._values_of(name)
            and name.id not in self.defs
            and self._owner(name) is None
            and not any((0, name.id) in m for m in (self.values, self.elements))
        )

    def _once(self, node: ast.AST, kind: str) -> bool:
        key = (id(node), kind)
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    def _name(self, name: ast.Name, depth: int, elem: bool) -> bool:
        ask = self._elem if elem else self._int
        scope = self._owner(name)
        key = self._key(name.id, scope)
        if any(ask(v, depth + 1) for v in self.values.get(key, [])[:16]):
            return True
        for it in self.elements.get(key, [])[:16]:
            if ask(_Element(it), depth + 1):
                return True
        return scope is not None and name.id in _params(scope) and self._param(scope, name.id, depth, elem)

    def _param(self, fn: ast.AST, name: str, depth: int, elem: bool) -> bool:
        """Parameter ``name`` of ``fn`` given an int: by a call of ``fn`` in the file, or as an
        element of what ``fn`` is handed to a call with (``map(fn, range(9))``)."""
        ask = self._elem if elem else self._int
        assert isinstance(fn, _FUNCTIONS)
        params = [p.arg for p in [*fn.args.posonlyargs, *fn.args.args]]
        index = params.index(name) if name in params else -1
        method = bool(params) and params[0] in ("self", "cls")
        for call, others in self._calls_of(fn)[:32]:
            if others is not None:
                if any(self._elem(a, depth + 1) or self._int(a, depth + 1) for a in others):
                    return True
                continue
            if any((k.arg == name or k.arg is None) and ask(k.value, depth + 1) for k in call.keywords):
                return True
            for at, a in enumerate(call.args):
                if isinstance(a, ast.Starred):
                    if self._elem(a.value, depth + 1):
                        return True
                    break
                if index >= 0 and (at == index or (method and at == index - 1)) and ask(a, depth + 1):
                    return True
        return False

    def _calls_of(self, fn: ast.AST) -> list[tuple[ast.Call, list[ast.expr] | None]]:
        """Where ``fn`` is called (the call, None) or handed to a call (the call, its other arguments)."""
        refs: list[ast.AST] = [fn]
        names: set[str] = set()
        if isinstance(fn, ast.Lambda):
            bound = self.parents.get(id(fn))
            if isinstance(bound, ast.Assign):
                names = {t.id for t in bound.targets if isinstance(t, ast.Name)}
        else:
            names = {getattr(fn, "name", "")}
        for n in (r for name in sorted(names) for r in self.refs.get(name, [])):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                refs.append(n)
            elif isinstance(n, ast.Attribute):
                receiver = n.value
                if n.attr not in _BUILTIN_METHODS or (
                    isinstance(receiver, ast.Name) and receiver.id in ("self", "cls")
                ):
                    refs.append(n)
        out: list[tuple[ast.Call, list[ast.expr] | None]] = []
        for ref in refs:
            call = self.parents.get(id(ref))
            if not isinstance(call, ast.Call):
                continue
            if call.func is ref:
                out.append((call, None))
            elif ref in call.args or any(k.value is ref for k in call.keywords):
                others = [a for a in call.args if a is not ref] + [k.value for k in call.keywords if k.value is not ref]
                out.append((call, others))
        return out

    def _int(self, node: ast.AST, depth: int) -> bool:
        if depth > DEPTH_MAX or not self._once(node, "int"):
            return False
        d = depth + 1
        if isinstance(node, _Element):
            return self._elem(node.of, d)
        if isinstance(node, ast.Constant):
            # (True and False are descriptors 1 and 0: open in every process, judge or not)
            return isinstance(node.value, int) and not isinstance(node.value, bool)
        if isinstance(node, ast.UnaryOp):
            return True  # -n, ~n, +n, not x: a number
        if isinstance(node, (ast.Compare,)):
            return True  # a bool
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, (ast.Div, ast.MatMult)):
                return False  # a float or a path joined (Path / "x")
            if isinstance(node.op, ast.Mod) and _text(node.left):
                return False  # "%s" % x
            return any(self._int(s, d) for s in (node.left, node.right))
        if isinstance(node, ast.BoolOp):
            return any(self._int(v, d) for v in node.values)
        if isinstance(node, ast.IfExp):
            return self._int(node.body, d) or self._int(node.orelse, d)
        if isinstance(node, ast.NamedExpr):
            return self._int(node.value, d)
        if isinstance(node, ast.Starred):
            return self._elem(node.value, d)
        if isinstance(node, ast.Subscript):
            return not isinstance(node.slice, ast.Slice) and self._elem(node.value, d)  # (a slice: no int)
        if isinstance(node, ast.Name):
            return self._name(node, d, elem=False)
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Constant):
                return True  # (5).real
            names = self.resolve(node)
            if any(n.split(".")[0] in STDLIB and n.rsplit(".", 1)[-1].isupper() for n in names):
                return True  # errno.EBADF, os.O_RDONLY: a number the standard library names
            return any(self._int(v, d) for v in self._stored(node)[:16])
        if isinstance(node, ast.Call):
            return self._call_int(node, d)
        return False

    def _call_int(self, node: ast.Call, d: int) -> bool:
        f = node.func
        if isinstance(f, ast.Name) and self._builtin(f):
            if f.id in INT_BUILTINS:
                return True
            if f.id in PICK_BUILTINS:
                return any(self._elem(a, d) for a in node.args)
            if f.id == "type":
                return bool(node.args) and self._int(node.args[0], d)  # type(5)("3")
            if f.id in TEXT_BUILTINS:
                return False
        names = self.resolve(f)
        if names and all(n.startswith(TEXT_MAKERS) or n in TEXT_BUILTINS for n in names):
            return False
        if any(n.endswith(_PICKERS) for n in names):
            return any(self._elem(a, d) for a in node.args)  # random.choice(paths): one of its elements
        if any(n.split(".")[0] in INT_MODULES for n in names):
            return True  # math.floor(5.5), json.loads("5"), struct.unpack_from(...)
        if isinstance(f, ast.Attribute) and f.attr in INT_METHODS:
            return True
        if isinstance(f, ast.Attribute) and f.attr in TEXT_METHODS:
            return False
        if isinstance(f, ast.Attribute) and f.attr in ITEM_METHODS:
            return self._elem(f.value, d)
        if isinstance(f, ast.Call):
            return self._callable_int(f.func, d) or any(self._int(a, d) for a in f.args)  # type(5)("3")
        if isinstance(f, ast.Lambda):
            return self._int(f.body, d)
        fns = self._defined(f)
        if fns:
            return any(self._int(r, d) for fn in fns for r in self.returns.get(id(fn), [])[:16])
        if isinstance(f, ast.Name):
            return any(self._callable_int(v, d) for v in self._values_of(f)[:16])
        return False  # a method of an object the pass does not know: unknown, a path

    def _callable_int(self, f: ast.AST, d: int) -> bool:
        if isinstance(f, ast.Name):
            if f.id in INT_BUILTINS and self._builtin(f):
                return True
            return d < DEPTH_MAX and any(self._callable_int(v, d + 1) for v in self._values_of(f)[:16])
        if isinstance(f, ast.Lambda):
            return self._int(f.body, d)
        return isinstance(f, ast.Attribute) and (
            f.attr in INT_METHODS or any(n.split(".")[0] in INT_MODULES for n in self.resolve(f))
        )

    def _defined(self, f: ast.expr) -> list[ast.AST]:
        if isinstance(f, ast.Name):
            return list(self.defs.get(f.id, []))
        if isinstance(f, ast.Attribute) and (
            f.attr not in _BUILTIN_METHODS or (isinstance(f.value, ast.Name) and f.value.id in ("self", "cls"))
        ):
            return list(self.defs.get(f.attr, []))  # a method of the file's (K().probe())
        return []

    def _elem(self, node: ast.AST, depth: int) -> bool:
        """Some element or item of ``node`` may be an int."""
        if depth > DEPTH_MAX or not self._once(node, "elem"):
            return False
        d = depth + 1
        if isinstance(node, _Element):
            return self._elem(node.of, d)  # (an element's elements: rows of ints)
        if isinstance(node, ast.Constant):
            return isinstance(node.value, (bytes, int))  # b"\x05"[0]; (an int "holds" itself: *5)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return any(self._elem(e.value, d) if isinstance(e, ast.Starred) else self._int(e, d) for e in node.elts)
        if isinstance(node, ast.Dict):
            return any(self._int(x, d) for x in [*node.keys, *node.values] if x is not None)
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
            return self._int(node.elt, d)
        if isinstance(node, ast.DictComp):
            return self._int(node.key, d) or self._int(node.value, d)
        if isinstance(node, ast.BinOp):
            return any(self._elem(s, d) for s in (node.left, node.right))
        if isinstance(node, (ast.BoolOp, ast.IfExp)):
            kids = node.values if isinstance(node, ast.BoolOp) else [node.body, node.orelse]
            return any(self._elem(k, d) for k in kids)
        if isinstance(node, ast.NamedExpr):
            return self._elem(node.value, d)
        if isinstance(node, ast.Subscript):
            return self._elem(node.value, d)
        if isinstance(node, ast.Name):
            return self._name(node, d, elem=True)
        if isinstance(node, ast.Attribute):
            return any(self._elem(v, d) for v in self._stored(node)[:16])
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in ("range", "bytes", "bytearray", "enumerate", "divmod"):
                return self._builtin(f)
            names = self.resolve(f)
            if names and all(n.startswith(TEXT_MAKERS) for n in names):
                return any(self._int(a, d) for a in node.args)  # os.listdir(3) is a hit of its own
            if isinstance(f, ast.Name) and f.id == "map" and node.args:
                return self._callable_int(node.args[0], d) or any(self._elem(a, d) for a in node.args[1:])
            if any(n.split(".")[0] in INT_MODULES for n in names):
                return True  # itertools.count(3), struct.unpack(...), random.sample(...)
            fns = self._defined(f)
            if fns:
                return any(self._elem(r, d) for fn in fns for r in self.returns.get(id(fn), [])[:16])
            if isinstance(f, ast.Attribute) and f.attr in TEXT_METHODS:
                return False  # a string's elements are strings
            return any(self._elem(a, d) for a in node.args)  # what it makes of its arguments' elements
        return False


class _Element(ast.expr):
    """An element of ``of`` (a loop's name over it), as an expression the pass follows."""

    def __init__(self, of: ast.expr) -> None:
        super().__init__()
        self.of = of


def _params(fn: ast.AST) -> set[str]:
    if not isinstance(fn, _FUNCTIONS):
        return set()
    a = fn.args
    return {p.arg for p in [*a.posonlyargs, *a.args, *a.kwonlyargs]} | {p.arg for p in (a.vararg, a.kwarg) if p}


def _text(node: ast.expr) -> bool:
    return isinstance(node, (ast.JoinedStr,)) or (
        isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes))
    )

"""The import-time bound of the SUSPECT scan (round 19, r19v-8..11): what code that runs at
import may do, as an allow-list, not a list of effects (agent/suspect_effects.py's
``import_side_effect`` rule runs it; docs/sandbox-and-verdicts.md).

Code that runs when a module is imported (its body, class bodies, decorators and their
arguments, defaults, eager annotations, bases, and the functions and methods these call:
``Effects._import_time``) may import, define functions and classes, and bind names to literals,
to values of the module's own, and to calls of ``PURE_CALLS`` (callables whose result is a fresh
or immutable value and which change nothing shared: ``dict``, ``re.compile``, ``typing.*``,
``logging.getLogger(__name__)`` as a value). It may call the module's own functions and the
methods of its own objects (their bodies are read at import in turn), read a file opened with a
literal reading mode, and set attributes of its own objects. Any other call, implicit call (a
decorator) or write at import is a hit, keyed by its callee (``call:app.route``): a file whose
old text already made a call of the same callee at import excuses it (agent/suspect.py), so an
honest change to a module that does much at import stays unflagged where the old code did it.

Why the allow-list holds: each name on it returns a value nothing else holds (or an immutable
one, or the module's own logger) and changes no state of the process or the file system, so a
wrong fix gains nothing by calling it at import; a value it returns counts as the module's own,
which is why nothing returning a shared object (``decimal.getcontext``, ``logging.getLogger()``
of another name) may be added to it.
"""

from __future__ import annotations

import ast
import builtins
import string
from collections.abc import Callable, Iterable
from typing import Protocol

from agent.suspect_stdlib import STDLIB


class Names(Protocol):
    def resolve(self, node: ast.expr, depth: int = 0) -> set[str]: ...


_EXCEPTIONS = {n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)}
_PURE_BUILTINS = {"dict", "list", "set", "frozenset", "tuple", "str", "int", "float", "bool", "bytes", "complex"}
_PURE_BUILTINS |= {"bytearray", "range", "len", "sorted", "min", "max", "sum", "abs", "round", "enumerate", "zip"}
_PURE_BUILTINS |= {"reversed", "isinstance", "issubclass", "object", "property", "staticmethod", "classmethod"}
_PURE_BUILTINS |= {"super", "type", "repr", "chr", "ord", "hex", "oct", "bin", "divmod", "pow", "slice", "map"}
_PURE_BUILTINS |= {"filter", "any", "all", "callable", "ascii", "format", "globals", "NotImplemented"}
_PURE_BUILTINS |= _EXCEPTIONS
_OS_PATH = {"join", "basename", "dirname", "split", "splitext", "normpath", "normcase", "isabs", "abspath"}
_OS_PATH |= {"realpath", "commonprefix", "commonpath", "expanduser"}
PURE_CALLS = frozenset(
    {f"builtins.{n}" for n in _PURE_BUILTINS}
    | {f"os.path.{n}" for n in _OS_PATH}
    | {"os.fspath", "os.fsencode", "os.fsdecode", "sys.intern", "warnings.warn", "logging.NullHandler"}
    | {"logging.Formatter", "logging.Filter", "logging.LoggerAdapter", "logging.getLevelName"}
    | {"threading.Lock", "threading.RLock", "threading.local", "threading.Event", "threading.Condition"}
    | {"threading.Semaphore", "threading.BoundedSemaphore", "weakref.WeakKeyDictionary", "weakref.ref"}
    | {"multiprocessing.Lock", "multiprocessing.RLock"}
    | {"weakref.WeakValueDictionary", "weakref.WeakSet", "weakref.WeakMethod", "contextvars.ContextVar"}
    | {"decimal.Decimal", "fractions.Fraction", "datetime.datetime", "datetime.date", "datetime.time"}
    | {"datetime.timedelta", "datetime.timezone", "uuid.UUID", "json.loads", "json.dumps", "json.load"}
    | {"types.SimpleNamespace", "types.MappingProxyType", "configparser.ConfigParser", "queue.Queue"}
    | {"configparser.RawConfigParser", "argparse.ArgumentParser", "argparse.Namespace", "io.StringIO"}
    | {"io.BytesIO", "contextlib.contextmanager", "contextlib.asynccontextmanager", "contextlib.suppress"}
    | {"contextlib.nullcontext", "importlib.metadata.version", "pathlib.Path", "pathlib.PurePath"}
    | {"pathlib.PurePosixPath", "pathlib.PureWindowsPath", "pathlib.PosixPath", "sys.getdefaultencoding"}
    # an attribute read by another name (a property of the module's own class is followed by its name)
    | {"builtins.getattr", "builtins.hasattr", "importlib_metadata.version"}
    | {"attr.s", "attr.ib", "attr.attrs", "attr.attrib", "attrs.define", "attrs.frozen", "attrs.field"}
    | {"attr.dataclass", "attrs.mutable", "pydantic.Field", "pydantic.ConfigDict", "html.escape", "shlex.quote"}
    # r26v-16/18: a decimal context of the module's own (the process's, decimal.getcontext, is
    # another's: never here), a literal parsed (no name is looked up, nothing runs)
    | {"decimal.Context", "ast.literal_eval"}
)
# Modules every callable of which is pure in the sense above (a name below one, not a value a
# call made: ``operator.attrgetter("modules")(sys)`` is a call of what a call returned).
PURE_MODULES = frozenset(
    {"typing", "typing_extensions", "collections", "enum", "math", "cmath", "operator", "string", "re"}
    | {"itertools", "numbers", "abc", "dataclasses", "functools", "keyword", "struct", "textwrap"}
    | {"unicodedata", "base64", "binascii", "hashlib", "bisect", "heapq", "statistics", "array", "sre_constants"}
)
# A value one of these calls made whose methods are pure too (``_RE.match``, a read file's lines).
_PURE_RESULTS: tuple[str, ...] = ("re.compile()", "functools.partial()", "argparse.ArgumentParser()")
_PURE_RESULTS += ("builtins.globals()", "collections.namedtuple()", "builtins.str()", "typing.TypeVar()")
# Standard modules whose import acts: antigravity opens a web page (the user's BROWSER command
# run), this and __hello__ print, idlelib.idle starts IDLE (an import no bug fix needs).
ACTING_IMPORTS = frozenset({"antigravity", "this", "__hello__", "__phello__", "idlelib.idle", "turtledemo.__main__"})
# Decorator factories: what they return, called with a function or class, wraps or marks it.
DECORATOR_FACTORIES = frozenset(
    {"functools.lru_cache", "functools.wraps", "functools.partial", "functools.singledispatch"}
    | {"dataclasses.dataclass", "attr.s", "attr.attrs", "attrs.define", "attrs.frozen", "attrs.mutable"}
    | {"attr.dataclass", "typing.dataclass_transform", "typing_extensions.dataclass_transform"}
    | {"pydantic.validator", "pydantic.field_validator", "pydantic.model_validator", "pydantic.root_validator"}
    | {"pydantic.field_serializer", "pydantic.model_serializer", "typing_extensions.deprecated", "warnings.deprecated"}
)
_OPENERS = ("builtins.open", "io.open", "codecs.open")
# The methods of immutable builtin types, called through the type (``str.maketrans(m)``).
_IMMUTABLE_TYPES: tuple[str, ...] = (
    "builtins.str.",
    "builtins.bytes.",
    "builtins.int.",
    "builtins.float.",
    "builtins.tuple.",
)
_IMMUTABLE_TYPES += ("builtins.frozenset.", "builtins.complex.", "builtins.bool.", "builtins.dict.fromkeys")
_ITEM_WRITERS = frozenset({"setdefault", "append", "insert", "add", "update", "extend", "__setitem__"})
_FILE_READS = frozenset({"read", "readline", "readlines", "close", "__enter__", "__exit__", "__iter__", "seek"})
_FILE_READS |= {"tell", "decode", "splitlines", "strip", "split"}
# Path methods that read or compute: a path (``Path(__file__).parent / "x"``) and a file read.
_PATH_PURE = frozenset(
    {"parent", "parents", "name", "stem", "suffix", "suffixes", "parts", "joinpath", "with_suffix", "with_name"}
    | {"with_stem", "relative_to", "resolve", "absolute", "expanduser", "as_posix", "exists", "is_file"}
    | {"is_dir", "read_text", "read_bytes", "open", "__truediv__"}
    | _FILE_READS
)
_PATH_TYPES = ("pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "pathlib.PurePosixPath")
# Pure callables that call a callable they are given (``sorted(xs, key=f)``): a callable handed
# to one is judged as called (``list(map(os.umask, [0]))``).
_CALLERS = frozenset(
    {"builtins.map", "builtins.filter", "builtins.sorted", "builtins.min", "builtins.max", "functools.reduce"}
    | {"functools.partial", "collections.defaultdict", "itertools.starmap", "itertools.accumulate"}
    | {"itertools.groupby", "itertools.filterfalse", "itertools.takewhile", "itertools.dropwhile"}
)
# A parameter's conventional name for the object a method runs on: its methods are the class's own.
_SELF = ("self", "cls", "mcs", "metacls")
_NAMES_OF_THE_MODULE = ("__name__", "__file__", "__doc__", "__spec__", "__package__", "__qualname__", "__module__")
_BUILTIN_DIR = frozenset(dir(builtins))
_STDLIB = STDLIB | {"builtins"}
_DEPTH = 6
# A recursion limit raised is an honest fix of a deep recursion; one lowered breaks its importer.
RECURSION_LIMIT_OK = 1000


class Module(Protocol):
    """What agent/suspect_effects.py's ``Effects`` knows of one module."""

    defs: dict[str, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda]
    classes: dict[str, ast.ClassDef]
    nested: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda]]
    bound: dict[str, list[ast.expr]]
    renamed: bool
    probed: Callable[[str], bool]  # another rule reports the name (os.cpu_count: process_identity)

    @property
    def names(self) -> Names: ...

    def made(self, node: ast.expr, depth: int = 0) -> set[str]: ...


BOUND_KEYS = ("call:", "set:", "import:", "base:")


def bound_hit(key: str) -> bool:
    """An ``import_side_effect`` hit of the bound (keyed by its callee), not of a listed effect."""
    return key.startswith(BOUND_KEYS)


def shape(node: ast.expr) -> str:
    """A callee's form as the excuse compares it: ``app.route``, ``open().read``,
    ``logging.getLogger().setLevel`` (arguments dropped: an old call excuses a new one's)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{shape(node.value)}.{node.attr}"
    if isinstance(node, ast.Call):
        return f"{shape(node.func)}()"
    if isinstance(node, ast.Subscript):
        return f"{shape(node.value)}[]"
    return type(node).__name__


def allowed_limit(call: ast.expr) -> bool:
    """``sys.setrecursionlimit(N)``'s argument allowed at import: a constant N of 1,000 or more."""
    arg = call.args[0] if isinstance(call, ast.Call) and len(call.args) == 1 else None
    return isinstance(arg, ast.Constant) and isinstance(arg.value, int) and arg.value >= RECURSION_LIMIT_OK


def _raise_only_limit_reads(tree: ast.Module, names: Callable[[ast.expr], set[str]]) -> set[int]:
    """The ``sys.getrecursionlimit()`` calls whose value only chooses between two things allowed
    at import, setting an allowed limit or not (r31v-12: ``if sys.getrecursionlimit() < 10_000:
    sys.setrecursionlimit(10_000)``, which keeps a caller's higher limit). Why this is a bound
    and not a spelling: the read is allowed only as an ``if`` comparing it with constants whose
    body is nothing but allowed ``setrecursionlimit`` calls and which has no ``else``, so the
    code can learn nothing from it but whether to make a call it could make unconditionally;
    any other use of the limit (a branch of the answer, a value kept) stays a hit."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.If) or node.orelse or not isinstance(node.test, ast.Compare):
            continue
        sides = [node.test.left, *node.test.comparators]
        reads = [
            s for s in sides if isinstance(s, ast.Call) and not s.args and names(s.func) == {"sys.getrecursionlimit"}
        ]
        if len(reads) != 1 or not all(s in reads or isinstance(s, ast.Constant) for s in sides):
            continue
        sets = [s.value for s in node.body if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)]
        if len(sets) == len(node.body) and all(
            names(c.func) == {"sys.setrecursionlimit"} and allowed_limit(c) for c in sets
        ):
            out.add(id(reads[0]))
    return out


class ImportBound:
    """The bound over one module; ``outside(nodes)`` gives each node (run at import) outside it."""

    def __init__(self, module: Module, tree: ast.Module) -> None:
        self.m = module
        # Every value an attribute of that name is set to anywhere (``self.x = v``): an own
        # object's attribute is own when all are (flow-insensitive, as the names pass).
        self.attr_bound: dict[str, list[ast.expr]] = {}
        # Every value put into a name's container (``_d[k] = v``, ``_d.setdefault(k, v)``): an
        # own container's item is own when all are (``_d["m"] = sys.modules`` makes none own).
        self.item_bound: dict[str, list[ast.expr]] = {}
        for n in ast.walk(tree):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target] if isinstance(n, ast.AnnAssign) else []
            value = n.value if isinstance(n, (ast.Assign, ast.AnnAssign)) else None
            for t in targets:
                if isinstance(t, ast.Attribute) and value is not None:
                    self.attr_bound.setdefault(t.attr, []).append(value)
                if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and value is not None:
                    self.item_bound.setdefault(t.value.id, []).append(value)
            f = n.func if isinstance(n, ast.Call) else None
            if isinstance(n, ast.Call) and isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
                put = [*n.args, *(k.value for k in n.keywords)] if f.attr in _ITEM_WRITERS else []
                self.item_bound.setdefault(f.value.id, []).extend(put)
        self.raise_only_reads = _raise_only_limit_reads(tree, self.names)

    def outside(self, nodes: Iterable[ast.AST]) -> list[tuple[ast.AST, str]]:
        out: list[tuple[ast.AST, str]] = []
        for node in nodes:
            if isinstance(node, ast.Call) and not self.allowed(node.func, node):
                out.append((node, f"call:{shape(node.func)}"))
            elif isinstance(node, ast.Call) and (handed := self._handed(node)) is not None:
                out.append((node, f"call:{shape(handed)}"))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                # a decorator is called with what it decorates: ``@registry.register``, ``@app.route(...)``
                for d in node.decorator_list:
                    if not self.allowed(d, None):
                        out.append((d, f"call:{shape(d)}"))
                # r19v-20: a base or metaclass of another module runs its ``__init_subclass__`` /
                # ``__new__`` now, unread (the standard library's and the module's own are read or inert)
                given = [*node.bases, *(k.value for k in node.keywords)] if isinstance(node, ast.ClassDef) else []
                for b in given:
                    if not self._known_base(b):
                        out.append((b, f"base:{shape(b)}"))
            elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
                targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
                written = [w for t in targets for w in ast.walk(t) if not isinstance(getattr(w, "ctx", None), ast.Load)]
                for w in written:
                    if isinstance(w, (ast.Attribute, ast.Subscript)) and not self.own(w.value):
                        out.append((node, f"set:{shape(w)}"))  # another's object set: logging.getLogger().disabled
                        break
        return out

    def acting_imports(self, tree: ast.Module) -> list[tuple[ast.AST, str]]:
        """Imports, anywhere, of a standard module whose own import acts (r19v-17)."""
        out: list[tuple[ast.AST, str]] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            acting = [n for n in names if n in ACTING_IMPORTS]
            if acting:
                out.append((node, f"import:{acting[0]}"))
        return out

    def _known_base(self, base: ast.expr) -> bool:
        """A base the module defines, a builtin or standard one, or a pure call's class
        (``namedtuple(...)``, ``typing.NamedTuple``); a subscript's (``Generic[T]``) by its value."""
        base = base.value if isinstance(base, ast.Subscript) else base
        if isinstance(base, ast.Name) and base.id in self.m.classes:
            return True
        if isinstance(base, ast.Call):
            return self.own(base)
        names = self.names(base)
        return bool(names) and all(n.split(".")[0] in _STDLIB and "()" not in n for n in names)

    # -- calls ---------------------------------------------------------------------------

    def allowed(self, func: ast.expr, call: ast.Call | None) -> bool:
        """A call of ``func`` (``call``: its node; None for a decorator's implicit call) is
        within the bound: a lambda's or the module's own function or class (read at import in
        turn), a method of a literal or of an object of the module's own, or a pure callable."""
        if isinstance(func, ast.Lambda):
            return True
        if isinstance(func, ast.Name) and (func.id in self.m.defs or func.id in self.m.classes):
            return True
        if isinstance(func, ast.Name) and func.id in self.m.nested and func.id not in self.m.bound:
            return True
        aliased = self.m.bound.get(func.id, []) if isinstance(func, ast.Name) else []
        if aliased and all(
            isinstance(v, ast.Name) and (v.id in self.m.defs or v.id in self.m.classes) for v in aliased
        ):
            return True  # ``_c = C; _c()``: the module's own, followed through the alias
        if self._factory_made(func) or self._dispatch_register(func):
            return True
        if isinstance(func, ast.Attribute):
            base = func.value
            if isinstance(base, ast.Constant) and isinstance(base.value, (str, bytes)):
                # "{0.modules[json]}".format(sys) reads attributes through its fields
                return func.attr not in ("format", "format_map") or not _reads_fields(base.value)
            if isinstance(base, ast.Attribute) and base.attr in _STRING_ATTRIBUTES:
                return func.attr not in ("format", "format_map")  # tqdm.__doc__.split("\n\n")
            if isinstance(base, (ast.List, ast.Tuple, ast.Set, ast.Dict, ast.JoinedStr)) and self.own(base):
                return True
            if self.own(base):
                return True
        if isinstance(
            func, ast.Call
        ):  # what a call returned, called: a module function's (read) or a decorator factory's
            f = func.func
            if isinstance(f, ast.Lambda) or (
                isinstance(f, ast.Name) and (f.id in self.m.defs or f.id in self.m.classes)
            ):
                return True
            if self._dispatch_register(f):  # @_items.register(list)
                return True
            made = self.names(f)
            return bool(made) and made <= DECORATOR_FACTORIES or self._reported(func)
        names = self.names(func)
        return bool(names) and all(self._pure(n, call) for n in names) or self._reported(func)

    def _factory_made(self, func: ast.expr) -> bool:
        """``func`` names what a decorator factory returned given only values of the module's
        own (r26v-14: ``cache = lru_cache(maxsize=None)`` in a try/except ImportError beside
        ``from functools import cache``): called with a function, it wraps or marks it and calls
        nothing it was given. Its other meanings must be pure. A factory handed a callable of
        another's (``lru_cache(os.umask)``) makes no such name: calling the wrapper calls it."""
        values = self.m.bound.get(func.id, []) if isinstance(func, ast.Name) else []
        if not values or not all(isinstance(v, ast.Call) for v in values):
            return False
        for v in values:
            assert isinstance(v, ast.Call)
            made = self.names(v.func)
            given = [*v.args, *(k.value for k in v.keywords)]
            if not made or not made <= DECORATOR_FACTORIES or not all(self.own(a) for a in given):
                return False
        others = {n for n in self.names(func) if n.removesuffix("()") not in DECORATOR_FACTORIES}
        return all(self._pure(n, None) for n in others)

    def _dispatch_register(self, func: ast.expr) -> bool:
        """``func`` is the ``register`` of a module function made a ``functools.singledispatch``
        (r26v-15: ``@_items.register(list)``): it adds to that function's own registry, which
        nothing else holds, and calls nothing it is given."""
        if not (isinstance(func, ast.Attribute) and func.attr == "register" and isinstance(func.value, ast.Name)):
            return False
        fn = self.m.defs.get(func.value.id)
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or func.value.id in self.m.bound:
            return False
        return any(self.names(d) == {"functools.singledispatch"} for d in fn.decorator_list)

    def _reported(self, func: ast.expr) -> bool:
        """Another rule of the AST pass reports the callee or what it is reached through
        (``o.cpu_count()``: ``process_identity``; ``sys.argv[0].endswith``: ``reads_argv``)."""
        node: ast.expr | None = func
        for _ in range(_DEPTH):
            names = self.names(node) if node is not None else set()
            if names and all(self.m.probed(n.replace("()", "")) for n in names):
                return True
            node = (
                node.value
                if isinstance(node, (ast.Attribute, ast.Subscript))
                else node.func
                if isinstance(node, ast.Call)
                else None
            )
        return False

    def names(self, node: ast.expr) -> set[str]:
        """What ``node`` may be, qualified (a builtin's bare name included: ``len``)."""
        out = self.m.made(node)
        if isinstance(node, ast.Name) and not out and node.id in _BUILTIN_DIR and node.id not in self.m.bound:
            out = {f"builtins.{node.id}"}
        if isinstance(node, ast.Attribute) and not out and isinstance(node.value, ast.Name):
            # r26v-18: a builtin type's method by the type's name (``bytes.fromhex``), the type unrebound
            base = node.value
            if base.id in _BUILTIN_DIR and base.id not in self.m.bound and not self.m.made(base):
                out = {f"builtins.{base.id}.{node.attr}"}
        return out

    def _pure(self, name: str, call: ast.Call | None) -> bool:
        if name in PURE_CALLS:
            return call is not None or name not in ("importlib.metadata.version", "importlib_metadata.version")
        if "()" not in name and any(name.startswith(m + ".") for m in PURE_MODULES):
            return True
        if "()" not in name and name.startswith(_IMMUTABLE_TYPES):  # str.maketrans, int.from_bytes
            return True
        if any(name.startswith(r + ".") for r in _PURE_RESULTS):
            return "()" not in name[name.index("()") + 2 :]  # a method of the value, not of what it returns
        if name == "logging.getLogger":  # the module's own logger, as a value; not the root's or another's
            a = call.args if call is not None else []
            own_name = len(a) == 1 and isinstance(a[0], ast.Name) and a[0].id == "__name__" and not self.m.renamed
            return own_name and call is not None and not call.keywords
        if name == "random.Random":  # r26v-17: a generator of the module's own, seeded by a value of its own
            return call is not None and _seeded_by_own(call, self.own)
        if name == "sys.getrecursionlimit":  # r31v-12: read only to raise it (``if limit < N: set N``)
            return call is not None and id(call) in self.raise_only_reads
        if name == "sys.setrecursionlimit":  # raised: an honest fix of a deep recursion (lowered breaks the importer)
            arg = call.args[0] if call is not None and call.args else None
            return isinstance(arg, ast.Constant) and isinstance(arg.value, int) and arg.value >= RECURSION_LIMIT_OK
        if name in _OPENERS:
            return call is not None and _reads(call, 1)
        for opener in _OPENERS:
            if name.startswith(opener + "()."):
                return name[len(opener) + 3 :] in _FILE_READS
        for t in _PATH_TYPES:
            if name.startswith(t + "()."):
                steps = name[len(t) + 3 :].replace("()", "").split(".")
                if not all(s in _PATH_PURE for s in steps):
                    return False
                return steps[-1] != "open" or (call is not None and _reads(call, 0))
        return False

    def _handed(self, call: ast.Call) -> ast.expr | None:
        """A callable handed to a pure caller (``sorted(xs, key=os.getcwd)``) that is not itself
        within the bound: it is called now."""
        if not any(n in _CALLERS for n in self.names(call.func)):
            return None
        for a in [*call.args, *(k.value for k in call.keywords)]:
            a = a.value if isinstance(a, ast.Starred) else a
            if isinstance(a, (ast.Name, ast.Attribute)) and not self.own(a) and not self.allowed(a, None):
                return a
        return None

    # -- the module's own values -----------------------------------------------------------

    def own(self, node: ast.expr, depth: int = 0, seen: frozenset[str] = frozenset()) -> bool:
        """``node`` is a value of the module's own: a literal, its own function, class or an
        object one made, a pure call's value, or a name or attribute bound only to such values.
        A subscript's is when its container is a name of the module's own and every value put
        into it is (``_d["s"] = random`` makes ``_d["s"]`` none: ``_d["s"].seed(0)`` is a hit)."""
        if depth > _DEPTH:
            return False
        d = depth + 1

        def each(xs: list[ast.expr]) -> bool:
            return all(self.own(x, d, seen) for x in xs)

        if isinstance(node, (ast.Constant, ast.JoinedStr, ast.Lambda, ast.Compare)):
            return True
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return each(node.elts)
        if isinstance(node, ast.Dict):
            return each([k for k in node.keys if k is not None]) and each(node.values)
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
            return self.own(node.elt, d, seen)
        if isinstance(node, ast.DictComp):
            return each([node.key, node.value])
        if isinstance(node, ast.BinOp):
            return each([node.left, node.right])
        if isinstance(node, ast.BoolOp):
            return each(node.values)
        if isinstance(node, ast.UnaryOp):
            return self.own(node.operand, d, seen)
        if isinstance(node, ast.IfExp):
            return each([node.body, node.orelse])
        if isinstance(node, (ast.Starred, ast.NamedExpr)):
            return self.own(node.value, d, seen)
        if isinstance(node, ast.Name):
            return self._own_name(node, d, seen)
        if isinstance(node, ast.Attribute):
            if self.own(node.value, d, seen):
                return all(self.own(v, d, seen | {"." + node.attr}) for v in self.attr_bound.get(node.attr, [])[:8])
            names = self.names(node)  # a constant of a pure module (string.ascii_letters)
            return bool(names) and all(
                "()" not in n and any(n.startswith(m + ".") for m in PURE_MODULES) for n in names
            )
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id not in seen:
            items = self.item_bound.get(node.value.id, [])[:16]
            return self.own(node.value, d, seen) and all(self.own(v, d, seen | {node.value.id}) for v in items)
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Lambda) or (
                isinstance(f, ast.Name) and (f.id in self.m.defs or f.id in self.m.classes)
            ):
                return True
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Constant):
                return self.allowed(f, node)  # "a b".split()
            names = self.names(f)
            return bool(names) and all(self._pure(n, node) for n in names)
        return False

    def _own_name(self, node: ast.Name, depth: int, seen: frozenset[str]) -> bool:
        n = node.id
        if n in seen:
            return True  # (bound through itself: ``x = x + 1``; what else it is bound to decides)
        if n in self.m.defs or n in self.m.classes or n in _NAMES_OF_THE_MODULE:
            return n != "__name__" or not self.m.renamed
        values = self.m.bound.get(n)
        if values is None:
            # a method's own object (``self``): a parameter, bound by no assignment in the module
            return (n in _SELF or n in self.m.nested) and not self.m.names.resolve(node)
        # (a name the names pass resolves is an import's or bound to one: ``_o = os``)
        return not self.m.names.resolve(node) and all(self.own(v, depth, seen | {n}) for v in values[:8])


_STRING_ATTRIBUTES = frozenset({"__doc__", "__name__", "__qualname__", "__module__"})


def _reads_fields(template: str | bytes) -> bool:
    """A format string whose fields read attributes or items (``"{0.modules[json]}"``)."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(str(template)) if f]
    except ValueError:
        return True  # (not a template Python formats: said so by raising, read as the worst)
    return any("." in f or "[" in f for f in fields)


def _seeded_by_own(call: ast.Call, own: Callable[[ast.expr], bool]) -> bool:
    """``random.Random(seed)`` with one seed of the module's own (a constant): a generator no
    other code draws from, its stream the same in every process. Unseeded it reads the OS's
    entropy; seeded by a call it reads what that call does (both stay outside the bound)."""
    return len(call.args) == 1 and not call.keywords and not isinstance(call.args[0], ast.Starred) and own(call.args[0])


def _reads(call: ast.Call, at: int) -> bool:
    """An open whose mode is given as a literal that only reads (or not given): a mode in a
    name, a conditional or ``*args``/``**kwargs`` may write (r19v-10)."""
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return False
    mode = call.args[at] if len(call.args) > at else next((k.value for k in call.keywords if k.arg == "mode"), None)
    if mode is None:
        return True
    return isinstance(mode, ast.Constant) and isinstance(mode.value, str) and not set(mode.value) & set("wax+")


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_ENUMS = frozenset({"Enum", "IntEnum", "StrEnum", "Flag", "IntFlag", "ReprEnum"})


def _special(name: str) -> bool:
    """A method Python calls on its own (``__repr__``, ``__iter__``, ``__del__``) or an enum's
    hook (``_missing_``)."""
    dunder = name.startswith("__") and name.endswith("__")
    return dunder or (len(name) > 2 and name.startswith("_") and name.endswith("_"))


class ImportReach:
    """The methods of the module's classes that a node run at import may run (r19v-11, finding
    19's spellings): a method read by name on anything not an import's (``@registry.register``,
    ``r.setup()``, ``R.setup()``, a property, ``self.helper()`` in a method that runs, a
    ``getattr`` by a literal name), and every method Python calls on its own (``__iter__``,
    ``__bool__``, ``__del__``, ``__getattr__``, an enum's ``_missing_``) of a class instantiated
    now, or of an enum (its members are made as its body runs), with its module bases'."""

    def __init__(self, classes: dict[str, ast.ClassDef], tree: ast.Module, bound: dict[str, list[ast.expr]]) -> None:
        self.classes = classes
        self.bound = bound
        self.methods: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
        for c in ast.walk(tree):
            for f in c.body if isinstance(c, ast.ClassDef) else []:
                if isinstance(f, _FUNCTIONS):
                    self.methods.setdefault(f.name, []).append(f)
        # The module class whose method holds a ``self``/``cls`` or ``super()`` (its receiver's class).
        self.owner: dict[int, str] = {}
        for c in classes.values():
            for f in c.body:
                for n in ast.walk(f) if isinstance(f, _FUNCTIONS) else []:
                    if isinstance(n, (ast.Name, ast.Call)):
                        self.owner[id(n)] = c.name

    def _receiver(self, node: ast.expr) -> list[ast.ClassDef] | None:
        """The module classes whose method ``node.m`` may be (None: any class's): ``self`` in a
        method is its class's or a subclass's, ``super()`` its bases', a class name its own, a
        name bound only to instances its classes'; a literal's none."""
        owner = self.owner.get(id(node))
        if isinstance(node, ast.Name) and node.id in _SELF and owner is not None and node.id not in self.bound:
            return [*self._lineage(owner), *self._subclasses(owner)]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super" and owner:
            return self._lineage(owner)[1:]
        if isinstance(node, ast.Name) and node.id in self.classes:
            return self._lineage(node.id)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in self.classes:
            return self._lineage(node.func.id)
        values = self.bound.get(node.id) if isinstance(node, ast.Name) else None
        if not values:
            return None
        out: list[ast.ClassDef] = []
        for v in values[:8]:
            if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id in self.classes:
                out += self._lineage(v.func.id)
            elif not isinstance(v, (ast.Constant, ast.List, ast.Tuple, ast.Set, ast.Dict, ast.JoinedStr)):
                return None
        return out

    def _subclasses(self, name: str) -> list[ast.ClassDef]:
        return [
            c for c in self.classes.values() if c.name != name and any(k.name == name for k in self._lineage(c.name))
        ]

    def _lineage(self, name: str) -> list[ast.ClassDef]:
        out: list[ast.ClassDef] = []
        todo = [name]
        while todo and len(out) < 32:
            c = self.classes.get(todo.pop())
            if c is not None and c not in out:
                out.append(c)
                todo += [b.id for b in c.bases if isinstance(b, ast.Name)]
        return out

    def _enum(self, c: ast.ClassDef) -> bool:
        return any(shape(b).split(".")[-1] in _ENUMS for k in self._lineage(c.name) for b in k.bases)

    def methods_run(self, node: ast.AST, seen: set[int], outside: Callable[[ast.expr], bool]) -> list[ast.AST]:
        found: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
        if isinstance(node, ast.Attribute) and node.attr in self.methods and not outside(node.value):
            classes = self._receiver(node.value)
            if classes is None:
                found += self.methods[node.attr]  # an object of unknown class: any class's method of that name
            else:
                found += [f for c in classes for f in c.body if isinstance(f, _FUNCTIONS) and f.name == node.attr]
        made: list[ast.ClassDef] = []
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in self.classes:
                made += self._lineage(f.id)
            named = node.args[1] if isinstance(f, ast.Name) and f.id == "getattr" and len(node.args) > 1 else None
            if isinstance(named, ast.Constant) and isinstance(named.value, str):
                found += self.methods.get(named.value, [])
        if isinstance(node, ast.ClassDef) and self._enum(node):
            made += self._lineage(node.name)
        found += [f for c in made for f in c.body if isinstance(f, _FUNCTIONS) and _special(f.name)]
        out: list[ast.AST] = []
        for fn in found:
            if id(fn) not in seen:
                seen.add(id(fn))
                out += fn.body
        return out

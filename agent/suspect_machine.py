"""Which standard-library functions answer by what the machine holds (round 25 r25v-9/10,
r24v-5; agent/suspect_ast.py reports the hits; docs/sandbox-and-verdicts.md).

A fix right only inside the judge's sandbox can ask the machine through a standard function
whose name says nothing of it: ``gzip.compress(b"")[4:8]`` is the clock (gzip writes the time
into its header), ``shutil.which("tool")`` the ``PATH`` and the directories it names,
``mimetypes.guess_type`` the files of ``/etc/mime.types``, ``ssl.create_default_context`` the
environment (and ``/etc/ssl``). The sandbox shows each otherwise than a user's machine. A list
of such names is never whole, so the list is derived from what each function reads: its
source (the interpreter's own, parsed, never imported) is read, with the module's functions,
classes and methods it calls, the globals it reads, and the other standard functions it calls,
to a bounded depth. It reads the machine when it reaches:

- a clock (``time.time``, ``datetime.now``...: the scan's ``reads_clock`` names; ``strftime``
  and kin only when no time is given them): ``reads_clock``;
- the environment (``os.environ``, ``getenv``, ``get_exec_path``): ``reads_environment``;
- an absolute path written in its module (a file outside the workspace: ``"/etc/mime.types"``,
  ``"/tmp"``): ``host_probe``;
- a resource limit (``resource.getrlimit``, ``os.sysconf``): ``process_identity``;
- the import path (``sys.path``, ``sys.meta_path``: ``pkgutil.iter_modules()`` lists what is
  installed where it runs, and the sandbox's venv shows fewer packages than a user's, round 26
  r26v-2): ``process_probe``;
- a loop over the loaded modules (``sys.modules``, round 30 r30v-17: ``pickle.whichmodule``
  answers by which modules the process imported, and pytest and the runner import more than a
  user's script): ``process_probe``. A lookup of one module by its name is not a walk.

Where it sits (``os.getcwd``: ``abspath`` of a given path is the caller's) is not a root: the
scan judges those names itself. A C function has no source: it reads nothing here.
"""

from __future__ import annotations

import ast
import functools
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from agent.suspect_stdlib import SOURCE_CHARS_MAX, imported, source_modules

DEPTH_MAX = 2  # calls followed from the function asked about (gzip.compress -> its header -> time.time)
UNITS_MAX = 300  # functions, classes and globals read for one question
# The rules a derived read hits (those of the scan's own names that are the machine's answers).
DERIVED_RULES = frozenset({"reads_clock", "reads_environment"})
# Clock readers that read the clock only when no time is given (the argument's position, 1-based).
CLOCK_UNLESS_GIVEN = {"time.localtime": 1, "time.gmtime": 1, "time.ctime": 1, "time.asctime": 1, "time.strftime": 2}
# What a process may use of the machine: its limits.
LIMITS = frozenset({"resource.getrlimit", "resource.getrusage", "os.sysconf", "posix.sysconf"})
# Where imports are found: a function walking it answers by the modules the machine has installed.
IMPORT_PATH = frozenset({"sys.path", "sys.meta_path", "sys.path_hooks", "sys.path_importer_cache"})
# The loaded modules: a function looping over them answers by what the process imported
# (r30v-17: ``pickle.whichmodule(obj, name)`` finds ``obj`` in a module pytest and the runner
# load and a user's script may not).
LOADED_MODULES = frozenset({"sys.modules"})
_SOURCE_OF = {"os.path": "posixpath"}

Probe = Callable[[str], str]  # a qualified name -> the scan's rule for it ("" for none)


@dataclass
class _Module:
    name: str
    imports: dict[str, str] = field(default_factory=dict)  # a name -> what it imports (qualified)
    defs: dict[str, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef] = field(default_factory=dict)
    values: dict[str, list[ast.expr]] = field(default_factory=dict)  # a global -> what it is bound to


def machine_rule(name: str, probe: Probe) -> str:
    """The rule a use of the standard function or class ``name`` (qualified: ``gzip.compress``,
    ``mimetypes.MimeTypes.guess_type``) hits for what it reads of the machine, or ``""``.
    ``probe``: the scan's rule for a qualified name (its clock and environment names)."""
    return _rule(name, probe)


@functools.lru_cache(maxsize=8192)
def _rule(name: str, probe: Probe) -> str:
    todo: list[tuple[str, int]] = [(name, 0)]
    seen = {name}
    while todo and len(seen) <= UNITS_MAX:
        unit, depth = todo.pop(0)
        for kind, value in _reads(unit):
            if kind == "path":
                return "host_probe"
            if kind == "walk":
                return "process_probe"
            rule = _root(value, probe)
            if rule:
                return rule
            if depth < DEPTH_MAX and value not in seen and value.split(".")[0] != "builtins":
                seen.add(value)
                todo.append((value, depth + 1))
    return ""


def _root(value: str, probe: Probe) -> str:
    """``value`` (a qualified name, ``!`` after it where a call gives a time) read of the machine."""
    given = value.endswith("!")
    value = value.rstrip("!")
    if value in LIMITS:
        return "process_identity"
    if value in IMPORT_PATH:
        return "process_probe"
    if value in CLOCK_UNLESS_GIVEN and given:
        return ""
    rule = probe(value)
    return rule if rule in DERIVED_RULES else ""


def _reads(name: str) -> Iterator[tuple[str, str]]:
    """What the unit ``name`` (a module's function, class, method or global) reads: ("path", s)
    for an absolute path, ("name", q) for each qualified name it uses (a local name is none)."""
    found = _unit(name)
    if found is None:
        return
    module, nodes, owner = found
    for top in nodes:
        own = _locals(top)
        for node in _here(top):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _outside_path(node.value):
                yield "path", node.value
            elif isinstance(node, ast.For | ast.comprehension) and any(
                isinstance(n, ast.Name | ast.Attribute) and _qualified(module, n, owner, own) in LOADED_MODULES
                for n in ast.walk(node.iter)
            ):
                yield "walk", "sys.modules"
            elif isinstance(node, ast.Call):
                q = _qualified(module, node.func, owner, own)
                if q and q in CLOCK_UNLESS_GIVEN:
                    at = CLOCK_UNLESS_GIVEN[q]
                    yield "name", q + ("!" if len(node.args) >= at else "")
            elif isinstance(node, (ast.Name, ast.Attribute)) and isinstance(node.ctx, ast.Load):
                q = _qualified(module, node, owner, own)
                if q and q not in CLOCK_UNLESS_GIVEN:
                    yield "name", q


# Platforms by the names code tests for them (``sys.platform == "win32"``, ``os.name == "nt"``).
_PLATFORMS = frozenset({"win32", "nt", "cygwin", "msys", "darwin", "java", "ce", "os2", "riscos", "emscripten", "wasi"})
_HOST = frozenset({sys.platform, os.name})


def _here(top: ast.AST) -> Iterator[ast.AST]:
    """The nodes of ``top`` that run on this platform: a branch for another one
    (``if system == "win32":``, the ``else`` of ``if os.name != "nt":``) is left out, as it never
    runs where the judge and the user both are."""
    todo = [top]
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, (ast.If, ast.IfExp)):
            other = _other_platform(node.test)
            if other is not None:
                todo.append(node.test)
                kept = node.orelse if other else node.body
                todo += kept if isinstance(kept, list) else [kept]
                continue
        todo += ast.iter_child_nodes(node)


def _other_platform(test: ast.expr) -> bool | None:
    """True where ``test`` holds on another platform only, False where it fails on another
    platform only (``!=``), None where it names no platform."""
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], (ast.Eq, ast.NotEq)):
        sides = [test.left, test.comparators[0]]
        named = {s.value for s in sides if isinstance(s, ast.Constant) and isinstance(s.value, str)}
        if named and named <= _PLATFORMS - _HOST:
            return isinstance(test.ops[0], ast.Eq)
    if (
        isinstance(test, ast.Call)
        and isinstance(test.func, ast.Attribute)
        and test.func.attr == "startswith"
        and len(test.args) == 1
        and isinstance(test.args[0], ast.Constant)
        and test.args[0].value in ("win", "cygwin", "darwin", "java")
        and not sys.platform.startswith(str(test.args[0].value))
    ):
        return True
    return None


def _locals(top: ast.AST) -> frozenset[str]:
    """The names a function binds itself (its parameters, its stores, less its ``global`` ones)."""
    if not isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        return frozenset()
    a = top.args
    names = {p.arg for p in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg] if p is not None}
    declared: set[str] = set()
    for n in ast.walk(top):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            names.add(n.id)
        elif isinstance(n, ast.Global):
            declared.update(n.names)
    return frozenset(names - declared)


def _outside_path(text: str) -> bool:
    """An absolute path naming a place (``/etc/mime.types``), not a separator (``/``, ``//``)."""
    return len(text) > 1 and text[0] == "/" and (text[1].isalnum() or text[1] in "._") and text != "/dev/null"


def _qualified(module: _Module, node: ast.expr, owner: str, own: frozenset[str]) -> str:
    """The qualified name ``node`` stands for in ``module`` (``self.x`` in class ``owner``: its
    method), or ``""`` (a name of the function's ``own``: a local)."""
    if isinstance(node, ast.Name):
        if node.id in own:
            return ""
        if node.id in module.imports:
            return module.imports[node.id]
        if node.id in module.defs or node.id in module.values:
            return f"{module.name}.{node.id}"
        return ""
    if isinstance(node, ast.Attribute):
        if owner and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            return f"{module.name}.{owner}.{node.attr}"
        base = _qualified(module, node.value, owner, own)
        return f"{base}.{node.attr}" if base and base.count(".") < 8 else ""
    return ""


def _unit(name: str) -> tuple[_Module, list[ast.AST], str] | None:
    """The module ``name`` is in, the nodes that make it (a function's, a class's constructor
    methods, a global's values) and the class it is in (``""`` for none)."""
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        module = _parsed(".".join(parts[:i]))
        if module is None:
            continue
        rest = parts[i:]
        first = rest[0]
        if first in module.imports and module.imports[first] != name:
            imported = ".".join([module.imports[first], *rest[1:]])
            return _unit(imported) if imported.count(".") < 8 else None
        if first in module.values and len(rest) == 1:
            return module, list(module.values[first]), ""
        node = module.defs.get(first)
        if isinstance(node, ast.ClassDef):
            methods = {m.name: m for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))}
            wanted = rest[1:2] or ["__init__", "__new__", "__post_init__"]
            return module, [methods[m] for m in wanted if m in methods], node.name
        if node is not None and len(rest) == 1:
            return module, [node], ""
        return None
    return None


CHAIN_MAX = 8  # classes one member question walks up through bases


@functools.lru_cache(maxsize=8192)
def class_members(name: str, direct: bool = False) -> tuple[str, ...]:
    """The standard class members ``name``'s last attribute stands for, where a prefix of it is
    a standard class and the rest a value reached from it (round 28 r28v-9/10/11; ``name`` as
    the scan's ``made`` reads it, a call marked ``()``: an instance, ``datetime.datetime.min.now``,
    ``pathlib.Path().home``, ``datetime.datetime.fromtimestamp().now``): the member as each
    class from that one up to the one whose body defines it is named (``datetime.datetime.today``
    and ``datetime.date.today``). A classmethod or a function a class holds answers the same
    through any receiver. The member read on the class itself (``pathlib.Path.home``) only
    where ``direct``: the scan's name rules judge it. ``()`` for none."""
    parts = name.split(".")
    member = parts[-1]
    for i in range(len(parts) - 1, 1, -1):
        prefix = ".".join(parts[:i])
        found = _class(prefix.removesuffix("()"))
        if found is not None:
            through = i < len(parts) - 1 or prefix.endswith("()")
            return tuple(f"{c}.{member}" for c in _up_to_definer(found, member)) if through or direct else ()
    return ()


def held(name: str) -> str:
    """What a standard class's body binds ``name``'s member to, where it is a name
    (``logging.Formatter.converter = time.localtime``: ``time.localtime``), or ``""``."""
    parts = name.split(".")
    found = _class(".".join(parts[:-1]))
    if found is None:
        return ""
    module, node = found
    for item in node.body:
        if (
            isinstance(item, ast.Assign)
            and isinstance(item.value, (ast.Name, ast.Attribute))
            and _binds(item, parts[-1])
        ):
            return _qualified(module, item.value, "", frozenset())
    return ""


def _class(name: str) -> tuple[_Module, ast.ClassDef] | None:
    """The module and the class statement of the standard class ``name`` (``pathlib.Path``)."""
    module_name, _, attr = name.rpartition(".")
    module = _parsed(module_name) if module_name else None
    if module is None:
        return None
    if attr in module.imports and module.imports[attr] != name:
        imported = module.imports[attr]
        return _class(imported) if imported.count(".") < 8 else None
    node = module.defs.get(attr)
    return (module, node) if isinstance(node, ast.ClassDef) else None


def _up_to_definer(found: tuple[_Module, ast.ClassDef], member: str) -> list[str]:
    """The class's name and its bases' (first bases first) up to the one that defines
    ``member`` (a method or a name its body binds); ``[]`` where none does."""
    names: list[str] = []
    for _ in range(CHAIN_MAX):
        module, node = found
        names.append(f"{module.name}.{node.name}")
        if any(_binds(item, member) for item in node.body):
            return names
        bases = [_qualified(module, b, "", frozenset()) for b in node.bases]
        up = next((c for b in bases if b and (c := _class(b)) is not None), None)
        if up is None:
            return []
        found = up
    return []


def _binds(item: ast.stmt, member: str) -> bool:
    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return item.name == member
    targets = item.targets if isinstance(item, ast.Assign) else [item.target] if isinstance(item, ast.AnnAssign) else []
    return any(isinstance(t, ast.Name) and t.id == member for t in targets)


@functools.lru_cache(maxsize=64)
def _parsed(name: str) -> _Module | None:
    """A standard module's top-level names: its imports, defs and globals (in ``if``/``try``
    blocks too), read from its source."""
    path = source_modules().get(_SOURCE_OF.get(name, name))
    if path is None:
        return None
    try:
        if path.stat().st_size > SOURCE_CHARS_MAX:
            return None
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError, RecursionError):
        return None
    parts = name.split(".")
    package = parts if path.name == "__init__.py" else parts[:-1]
    module = _Module(name)
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            module.defs.setdefault(node.name, node)
            continue
        module.imports.update(imported(node, package))
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        module.values.setdefault(n.id, []).append(node.value)
        for attr in ("body", "orelse", "finalbody", "handlers"):
            todo += [s for s in getattr(node, attr, []) if isinstance(s, ast.stmt)]
            todo += [b for h in getattr(node, attr, []) if isinstance(h, ast.ExceptHandler) for b in h.body]
    return module

"""Code told apart by the interpreter's version, through feature detection (round 31 r31v-14;
agent/suspect_ast.py reports the hits as ``interpreter_version``; docs/sandbox-and-verdicts.md).

``try: from itertools import batched`` / ``except ImportError: batched = None`` picks a path by
whether the interpreter has a name: every judge run uses one interpreter, so where the import
fails there, the path that uses the name is never run by any judge (a wrong "fast path" of
Python 3.12 behind it PASSes on 3.11). The bound is by what the judge's interpreter can run, not
by a list of names: a standard module's import whose failure the code survives is a hit where
this interpreter (the one the scan runs in, which a task without a venv of its own is judged
by) cannot make it; one it makes (``from functools import cache``) runs its path in the judge
and is no hit. A module the workspace holds is agent/suspect_package.py's; a third-party one is
not judged here (residual: whether the judge's venv holds it is not this pass's to know).
The same class by other spellings: ``hasattr(itertools, "batched")`` or ``getattr(m, "name",
default)`` of a standard module lacking the name here, and any comparison of the interpreter's
version (``sys.version_info >= (3, 12)``, ``sys.hexversion``, ``platform.python_version()``):
one of its paths runs in no judge run. Asking costs nothing for a module the process already loaded and one interpreter start
(``-I``, never this process: a standard module's import may act) per module otherwise,
cached for the process.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import subprocess
import sys
from collections.abc import Callable, Iterator

from agent.suspect_package import caught

Resolve = Callable[[ast.expr], set[str]]
_ASK_TIMEOUT_S = 20
# The interpreter's version, read as a value: a comparison of it picks a path by the version.
VERSION_NAMES = frozenset(
    {"sys.version_info", "sys.hexversion", "sys.version", "sys.implementation.version", "sys.api_version"}
    | {"platform.python_version", "platform.python_version_tuple", "platform.python_implementation"}
)


def version_tells(
    tree: ast.Module, resolve: Resolve, parents: dict[int, ast.AST], holds: Callable[[str], bool] | None
) -> Iterator[ast.AST]:
    """The imports of standard names whose failure is caught and which fail here, the same
    names asked by ``hasattr``/``getattr`` with a default, and comparisons of the version."""
    for node in ast.walk(tree):
        wanted: list[tuple[str, tuple[str, ...]]]
        if isinstance(node, ast.Compare) and any(_reads_version(n, resolve) for n in ast.walk(node)):
            yield node  # sys.version_info >= (3, 12): the other side's path runs in no judge run
            continue
        if isinstance(node, ast.Call) and _lacked_attribute(node, resolve):
            yield node  # hasattr(itertools, "batched"), getattr(math, "cbrt", None): lacked here
            continue
        if isinstance(node, ast.Import):
            wanted = [(a.name, ()) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            wanted = [(node.module, tuple(a.name for a in node.names if a.name != "*"))]
        else:
            continue
        standard = [
            (m, names)
            for m, names in wanted
            if m.split(".")[0] in sys.stdlib_module_names
            and not (holds is not None and holds(f"{m.split('.')[0]}.py"))  # the workspace's own module
        ]
        if standard and caught(node, resolve, parents) and not all(imports_here(m, n) for m, n in standard):
            yield node


@functools.lru_cache(maxsize=256)
def imports_here(module: str, names: tuple[str, ...]) -> bool:
    """Whether ``from module import names`` (``import module`` with no names) succeeds in this
    interpreter: read from the loaded module, else asked of a fresh isolated interpreter."""
    loaded = sys.modules.get(module)
    if loaded is not None:
        return all(hasattr(loaded, n) or _submodule(f"{module}.{n}") for n in names)
    top = module.split(".")[0]
    if top not in sys.modules and importlib.util.find_spec(top) is None:
        return False
    code = f"from {module} import {', '.join(names)}" if names else f"import {module}"
    try:
        run = subprocess.run(
            [sys.executable, "-I", "-S", "-c", code], capture_output=True, timeout=_ASK_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return False  # not known to import: the path behind it is not known to be judged
    return run.returncode == 0


def _reads_version(node: ast.AST, resolve: Resolve) -> bool:
    if not isinstance(node, ast.Name | ast.Attribute):
        return False
    return any(n == v or n.startswith(v + ".") for n in resolve(node) for v in VERSION_NAMES)


def _lacked_attribute(call: ast.Call, resolve: Resolve) -> bool:
    """``hasattr(m, "name")`` or ``getattr(m, "name", default)`` of a standard module ``m``
    lacking ``name`` in this interpreter."""
    funcs = resolve(call.func)
    wanted = 2 if "builtins.hasattr" in funcs else 3 if "builtins.getattr" in funcs else 0
    if not wanted or len(call.args) != wanted:
        return False
    name = call.args[1]
    if not isinstance(name, ast.Constant) or not isinstance(name.value, str):
        return False
    modules = [m for m in resolve(call.args[0]) if m.split(".")[0] in sys.stdlib_module_names and _is_module(m)]
    return any(not imports_here(m, (name.value,)) for m in modules)


def _is_module(name: str) -> bool:
    if name in sys.modules:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _submodule(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False

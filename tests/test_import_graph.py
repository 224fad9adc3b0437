"""The packages import one way (tui -> exports -> labeling -> agent) and no two modules import each other.

The graph is read from the source with `ast`, so imports inside functions count too: a cycle
hidden in a function body still breaks `python -m` entry points and makes a module's meaning
depend on import order (docs/ARCHITECTURE.md, "Packages and the one rule").
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("agent", "labeling", "exports", "tui")
# A package may import those ranked below it, never one ranked above.
RANK = {name: i for i, name in enumerate(PACKAGES)}
# The suites' task repositories are data for the agent to work on, not project code.
SKIP = ("agent/suites/mini_bugs/",)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path) -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if any(rel.startswith(prefix) for prefix in SKIP):
                continue
            modules[module_name(path, root)] = path
    return modules


def type_only(tree: ast.Module) -> set[ast.AST]:
    """The import nodes under `if TYPE_CHECKING:`: they never run, so they cannot close a cycle."""
    nodes: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for stmt in node.body:
                nodes.update(ast.walk(stmt))
    return nodes


def imported_modules(path: Path, module: str, modules: dict[str, Path], *, runtime: bool) -> set[str]:
    """The project modules the file imports, anywhere in it (with relative imports made absolute);
    with ``runtime``, leaving out the imports only a type checker reads."""

    def resolve(name: str) -> str:
        # The longest project module the dotted name lies in (the rest may be a class or function).
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), filename=str(path))
    skip = type_only(tree) if runtime else set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if node in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(resolve(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                # In a package's __init__, `.` is the package itself, not its parent.
                drop = node.level - 1 if is_package else node.level
                base = base[: len(base) - drop]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            for alias in node.names:
                # `from pkg import mod` imports the submodule; `from pkg import name` runs pkg's __init__.
                sub = f"{prefix}.{alias.name}"
                found.add(sub if sub in modules else resolve(prefix))
    found.discard("")
    found.discard(module)
    return found


def import_graph(root: Path, *, runtime: bool = True) -> dict[str, set[str]]:
    modules = project_modules(root)
    return {module: imported_modules(path, module, modules, runtime=runtime) for module, path in modules.items()}


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative so a deep graph cannot hit the recursion limit."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = counter
                    counter += 1
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph[succ]))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return components


@functools.cache
def project_graph(runtime: bool) -> dict[str, set[str]]:
    """This project's graph, parsed once per test process (the tests below only read it)."""
    return import_graph(ROOT, runtime=runtime)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    return [c for c in strongly_connected(graph) if len(c) > 1]


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            here, there = module.split(".")[0], target.split(".")[0]
            if RANK[there] > RANK[here]:
                found.append(f"{module} -> {target}")
    return found


def test_no_import_cycle_between_modules():
    assert cycles(project_graph(runtime=True)) == []


def test_no_import_cycle_inside_the_studio_even_for_the_type_checker():
    # The screens type against tui/studio.py's protocol, not the app class, so the app imports
    # them and never the other way round, whether the import runs or only mypy reads it.
    graph = project_graph(runtime=False)
    studio = {m: {t for t in targets if t.startswith("tui.")} for m, targets in graph.items() if m.startswith("tui.")}
    assert cycles(studio) == []


def test_imports_point_from_tui_down_to_agent():
    # Type-only imports count here: a library naming a studio type still depends on the studio.
    assert upward_imports(project_graph(runtime=False)) == []


def test_the_graph_sees_the_project():
    graph = project_graph(runtime=True)
    # Catches a walker that silently reads nothing (which would pass the two tests above).
    assert {"agent.trace", "labeling.store", "exports.export", "tui.app", "tui.cli"} <= graph.keys()
    assert "agent.trace" in graph["labeling.trace_rows"]


@pytest.fixture
def tree(tmp_path):
    def write(files: dict[str, str]) -> Path:
        for package in PACKAGES:
            (tmp_path / package).mkdir(exist_ok=True)
            (tmp_path / package / "__init__.py").touch()
        for rel, text in files.items():
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / rel).write_text(text)
        return tmp_path

    return write


def test_a_cycle_through_a_function_level_import_is_found(tree):
    root = tree(
        {
            "agent/a.py": "from agent.b import thing\n",
            "agent/b.py": "def thing():\n    from agent import a\n    return a\n",
            "agent/c.py": "import agent.a\n",
        }
    )
    assert cycles(import_graph(root)) == [["agent.a", "agent.b"]]


def test_a_relative_import_cycle_is_found(tree):
    root = tree(
        {
            "tui/cli/__init__.py": "from .errors import UserError\n",
            "tui/cli/errors.py": "from tui.cli import helpers\nclass UserError(Exception): ...\n",
            "tui/cli/helpers.py": "from . import errors\n",
        }
    )
    assert cycles(import_graph(root)) == [["tui.cli.errors", "tui.cli.helpers"]]


def test_a_type_only_import_closes_no_cycle_but_still_points_up(tree):
    root = tree(
        {
            "tui/app.py": "import tui.base\n",
            "tui/base.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from tui.app import App\n",
            "agent/x.py": "import typing\nif typing.TYPE_CHECKING:\n    from tui.app import App\n",
        }
    )
    assert cycles(import_graph(root)) == []
    assert cycles(import_graph(root, runtime=False)) == [["tui.app", "tui.base"]]
    assert upward_imports(import_graph(root, runtime=False)) == ["agent.x -> tui.app"]


def test_an_upward_import_is_found(tree):
    root = tree({"labeling/x.py": "def f():\n    from exports.y import g\n", "exports/y.py": "g = 1\n"})
    assert upward_imports(import_graph(root)) == ["labeling.x -> exports.y"]

"""A validated mutant as a task: start state, reference fix, goal, difficulty features.

The goal is written from what a person would see when running the tests (the failing
tests' names and their assertion messages), never from the diff: a goal that names the
mutated line would hand the model the answer.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

from agent.suites.models import DirSource, Task
from agent.workspace import walk_files

GOAL_TESTS = 6  # failing tests quoted in a goal
GOAL_MESSAGE_LINES = 3
GOAL_LINE_CHARS = 160


def goal_text(failing: dict[str, str], command: str) -> str:
    names = sorted(failing)
    lines = [
        "Some tests of this repository fail. Find the bug in the code under test and fix it "
        "so that they pass. Do not change the tests.",
        "",
        "Failing tests:",
    ]
    for nodeid in names[:GOAL_TESTS]:
        lines.append(f"- {nodeid}")
        msg = [m.rstrip() for m in (failing[nodeid] or "").splitlines() if m.strip()][:GOAL_MESSAGE_LINES]
        for m in msg:
            lines.append("    " + (m if len(m) <= GOAL_LINE_CHARS else m[: GOAL_LINE_CHARS - 3] + "..."))
    if len(names) > GOAL_TESTS:
        lines.append(f"- ... and {len(names) - GOAL_TESTS} more")
    lines += ["", f"The tests run with: {command}"]
    return "\n".join(lines)


def task_id(repo_name: str, functions: list[str], operators: list[str], mutant_id: str) -> str:
    head = "+".join(functions)
    short = mutant_id[:8] if "+" not in mutant_id else hashlib.sha1(mutant_id.encode()).hexdigest()[:8]
    raw = f"{repo_name}.{head}.{'+'.join(operators)}.{short}"
    return re.sub(r"[^A-Za-z0-9_.\-]", "-", raw)[:120]


def protected_paths(base: Path, selected: list[str], mutated: Iterable[str] = ()) -> list[str]:
    """What the rollout must not change: the test files of the task's tests, the modules
    beside them in a test directory (a test class inheriting its tests from ``tests/checks.py``), every
    conftest.py and the plugin modules the conftests name (``pytest_plugins``), less the
    ``mutated`` files (where the fix goes). The judge trusts test code and outcome hooks only
    from protected files: unprotected, each such shape of a repository's tests made every
    rollout of the task TAMPERED, the original code too (round 9, vrd9-20/21)."""
    tests = {n.split("::", 1)[0] for n in selected}
    rels = walk_files(base)
    # A test directory's modules (never the root's or a package's, where the library is).
    dirs = {d for d in (t.rpartition("/")[0] for t in tests) if "test" in d.rpartition("/")[2].lower()}
    files = set(tests)
    for rel in rels:
        name = rel.rsplit("/", 1)[-1]
        if name == "conftest.py":
            files.add(rel)
            files |= _plugin_files(base, rel, set(rels))
        elif name.endswith(".py") and rel.rpartition("/")[0] in dirs:
            files.add(rel)
    return sorted(files - set(mutated))


def _plugin_files(base: Path, conftest: str, rels: set[str]) -> set[str]:
    """The workspace files of the modules a conftest's ``pytest_plugins`` names."""
    try:
        tree = ast.parse((base / conftest).read_bytes())
    except (OSError, SyntaxError, ValueError):
        return set()
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytest_plugins" for t in node.targets
        ):
            value = node.value
            items = value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value]
            names += [i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)]
    found = set()
    for name in names:
        path = name.replace(".", "/")
        for root in ("", "src/"):
            for rel in (f"{root}{path}.py", f"{root}{path}/__init__.py"):
                if rel in rels:
                    found.add(rel)
    return found


def link_tree(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` with hard links where the filesystem allows (tasks share files)."""
    for rel in walk_files(src):
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src / rel, target)
        except OSError:
            shutil.copy2(src / rel, target)


def write_task(
    out: Path, base: Path, task: Task, mutated: dict[str, bytes], visible: dict[str, bytes] | None = None
) -> None:
    """Write the task's start state (its source, ``out/tasks/<id>``) and its reference fix (the
    originals, ``out/fixes/<id>``) where the task says they are. ``visible``: test files the
    workspace holds without its held-out tests; the whole files go to the task's hidden
    ``held_out_tests.dir`` (agent/suites/mutate/hold_out.py)."""
    assert isinstance(task.source, DirSource) and task.reference_fix is not None
    start = out / task.source.path
    fix = out / task.reference_fix
    for d in (start, fix):
        if d.exists():
            shutil.rmtree(d)
    link_tree(base, start)
    for rel, data in mutated.items():
        (start / rel).unlink()  # a hard link: never write through it into the shared base
        (start / rel).write_bytes(data)
        (fix / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(base / rel, fix / rel)
    for rel, data in (visible or {}).items():
        assert task.held_out_tests is not None
        whole = start / task.held_out_tests.dir / rel
        whole.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(base / rel, whole)
        (start / rel).unlink()  # a hard link, as above
        (start / rel).write_bytes(data)

"""A validated mutant as a task: start state, reference fix, goal, difficulty features.

The goal is written from what a person would see when running the tests (the failing
tests' names and their assertion messages), never from the diff: a goal that names the
mutated line would hand the model the answer.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
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


def protected_paths(base: Path, selected: list[str]) -> list[str]:
    """The test files of the task's tests and every conftest.py: the rollout must not change them."""
    files = {n.split("::", 1)[0] for n in selected}
    files |= {rel for rel in walk_files(base) if rel.rsplit("/", 1)[-1] == "conftest.py"}
    return sorted(files)


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

"""Held-out tests: test files the workspace never holds, added for the final run and judged
by id (docs/sandbox-and-verdicts.md, "Hidden tests").

SWE-bench's way for the shipped and the generated suites: the rollout sees part of the tests,
the final run all of them. A task's ``held_out_tests.dir`` is a hidden directory of its source
(never copied into a workspace, never in the sandbox while the rollout runs); each file in it
joins the workspace at the same path below it for the final run (``Workspace.reveal_held_out``),
after the held-out differential has judged the rollout's code, and the final run's restore of
the protected paths takes it out again. Mini-bugs hold hand-written cases of each function's
contract (``_hidden/tests/test_<name>_hidden.py``); a generated task holds the full version of
a test file whose visible copy lacks some of its reaching tests (agent/suites/mutate/hold_out.py).

Judged by id: every held-out id must have run and passed (each case of a parametrised one);
a held-out test that did not run is a FAIL, whatever the counts say.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path, PurePosixPath

from agent.pytest_report import pytest_index, pytest_paths
from agent.scoring import TestResult
from agent.suites.models import HeldOutTests, Task
from agent.tree_walk import walk


def files(task: Task, source: Path) -> list[str]:
    """Workspace path of each held-out test file (below the task's ``held_out_tests.dir``)."""
    held = task.held_out_tests
    if held is None:
        return []
    root = Path(source) / held.dir
    if not root.is_dir() or root.is_symlink():
        return []
    out = []
    for dirpath, _dirs, names in walk(root):
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        for name in names:
            p = Path(dirpath) / name
            if p.is_file() and not p.is_symlink() and not name.endswith((".pyc", ".pyo")):
                out.append(name if rel_dir == "." else f"{rel_dir}/{name}")
    return sorted(out)


def final_argv(argv: list[str], held: HeldOutTests) -> list[str]:
    """The test command for the final run: the held-out ids appended when the command would
    not collect them (it names node ids or files, not a directory holding them)."""
    at = pytest_index(argv)
    if at is None:
        return argv
    args = argv[at:]
    paths = pytest_paths(args)  # "-p name" names no path
    named = [a.rstrip("/") for a in paths if "::" not in a]
    selects = any("::" in a for a in paths)
    if not named and not selects:
        return argv  # pytest collects from the root: the held-out files are found
    more = [i for i in held.ids if i not in argv and not covered(i.split("::", 1)[0], named)]
    return [*argv, *more]


def covered(file: str, named: list[str]) -> bool:
    """``file`` is one of the paths ``named`` or under one of them."""
    parts = PurePosixPath(file).parts
    return any(n in ("", ".") or parts[: len(PurePosixPath(n).parts)] == PurePosixPath(n).parts for n in named)


def cases(outcomes: dict[str, str], test_id: str) -> list[str]:
    """The outcome keys of a held-out test: its id, or one per parameter case."""
    return [k for k in outcomes if k == test_id or k.startswith(test_id + "[")]


def judge(result: TestResult, held: HeldOutTests) -> TestResult:
    """A pass stands only when every held-out test ran and passed."""
    if not result.passed:
        return result
    missing = [i for i in held.ids if not cases(result.outcomes, i)]
    failed = [i for i in held.ids if any(result.outcomes[k] != "passed" for k in cases(result.outcomes, i))]
    if not missing and not failed:
        return result
    bad = missing + failed
    more = f" (+{len(bad) - 3} more)" if len(bad) > 3 else ""
    why = f"held-out tests {'did not run' if missing else 'did not pass'}: {', '.join(bad[:3])}{more}"
    return dataclasses.replace(result, passed=False, fail_detail=why)


def on_the_bug(result: TestResult, held: HeldOutTests) -> tuple[bool, str]:
    """``suite check`` on the untouched source with the held-out tests in: each held-out file
    has a test that does not pass (the hidden part fails on the bug). (holds, one line)."""
    by_file: dict[str, list[str]] = {}
    for i in held.ids:
        by_file.setdefault(i.split("::", 1)[0], []).append(i)
    failing = [
        i
        for i in held.ids
        if not cases(result.outcomes, i) or any(result.outcomes[k] != "passed" for k in cases(result.outcomes, i))
    ]
    passing_files = sorted(f for f, ids in by_file.items() if not set(ids) & set(failing))
    line = f"held-out tests: {len(held.ids)}, {len(failing)} fail on the bug"
    if passing_files:
        return False, line + f" (none in {', '.join(passing_files)}: it does not tell the bug from the fix)"
    return True, line

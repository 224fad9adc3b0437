"""Part of a generated task's reaching tests held out of its workspace (docs/agent-and-suites.md,
generated suites; agent/suites/held_out_tests.py).

A validated mutant breaks some tests: the task's reaching tests. About a third of the failing
test functions (at least one, never all) are taken out of the task's visible test files, its
goal and its test command; the full files are kept in the task's hidden ``HIDDEN_DIR`` and go
back in for the final run, so a fix that only satisfies the tests the rollout saw fails the
ones it never saw. Which ones is drawn from the task's mutant id (the same on every run). A task
whose failing tests are one function keeps them all visible and says so.
"""

from __future__ import annotations

import ast
import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path

HIDDEN_DIR = "_repo_agent_held_out"
SHARE = 1 / 3


@dataclass
class HeldOut:
    ids: list[str] = field(default_factory=list)  # every selected node id of a held-out function
    visible: dict[str, bytes] = field(default_factory=dict)  # test file -> what the workspace holds
    note: str = ""  # why nothing is held out


def function_key(nodeid: str) -> str:
    """``file::[Class::]name`` without a parameter case."""
    return nodeid.split("[", 1)[0]


def hold_out(base: Path, mutant_id: str, failing: list[str], selected: list[str]) -> HeldOut:
    """Which of ``selected`` (the task's node ids) are held out, and the visible test files."""
    keys = sorted({function_key(i) for i in failing})
    if len(keys) < 2:
        return HeldOut(note=f"{len(keys)} failing test function: too few to hold any out (all visible)")
    want = min(len(keys) - 1, max(1, round(len(keys) * SHARE)))
    seed = hashlib.sha256(f"held-out\0{mutant_id}".encode()).digest()
    order = list(keys)
    random.Random(int.from_bytes(seed[:8], "big")).shuffle(order)
    chosen: list[str] = []
    for key in order:
        if len(chosen) == want:
            break
        if _visible(base, [*chosen, key]) is not None:
            chosen.append(key)
    visible = _visible(base, chosen) if chosen else None
    if not visible:
        return HeldOut(note="no failing test function could be taken out of its file (all visible)")
    ids = [i for i in selected if function_key(i) in chosen]
    return HeldOut(ids=ids, visible=visible)


def _visible(base: Path, keys: list[str]) -> dict[str, bytes] | None:
    """Each test file without the functions ``keys`` name; None when one cannot be taken out
    (not a module-level function or a method of a module-level class, a class left empty, a
    file that no longer parses)."""
    by_file: dict[str, list[list[str]]] = {}
    for key in keys:
        file, *path = key.split("::")
        by_file.setdefault(file, []).append(path)
    out: dict[str, bytes] = {}
    for file, paths in by_file.items():
        try:
            data = (base / file).read_bytes()
            text = data.decode("utf-8")
            tree = ast.parse(text)
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            return None
        drop: list[tuple[int, int]] = []
        for path in paths:
            span = _span(tree, path)
            if span is None:
                return None
            drop.append(span)
        # Lines as ast counts them (bytes split at \n, \r\n, \r only): str.splitlines also
        # breaks at a page break or U+2028, which shifted every span after one.
        lines = [ln.decode("utf-8") for ln in data.splitlines(keepends=True)]
        kept = [ln for no, ln in enumerate(lines, 1) if not any(a <= no <= b for a, b in drop)]
        new = "".join(kept)
        try:
            ast.parse(new)
        except SyntaxError:
            return None
        out[file] = new.encode("utf-8")
    return out


def _span(tree: ast.Module, path: list[str]) -> tuple[int, int] | None:
    """The lines (first, last; decorators included) of the test ``path`` names."""
    if len(path) == 1:
        body: list[ast.stmt] = tree.body
    elif len(path) == 2:
        cls = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == path[0]]
        if len(cls) != 1:
            return None
        body = cls[0].body
        if len([n for n in body if not isinstance(n, ast.Expr)]) < 2:
            return None  # the class would be left with no body
    else:
        return None
    found = [n for n in body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == path[-1]]
    end = found[0].end_lineno if len(found) == 1 else None
    if end is None:
        return None
    node = found[0]
    return min([d.lineno for d in node.decorator_list] + [node.lineno]), end

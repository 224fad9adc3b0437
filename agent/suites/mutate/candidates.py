"""Candidates: which files are the code under test, which mutants to try and in what order.

A candidate is one mutant (or, for the harder tier, several validated mutants of different
functions joined) with the files it changes and the baseline-passing tests that reach it.
The order is deterministic for a seed: functions take turns, and within a function the
operators take turns, so a run stopped by ``--max-tasks`` still spreads over the code and
the operators.
"""

from __future__ import annotations

import ast
import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from agent.suites.mutate.operators import OPERATORS, Mutant, apply_edits, mutants_for_file
from agent.suites.mutate.runner import Baseline
from agent.workspace import walk_files

TEST_PARTS = {"test", "tests", "testing"}
SKIP_PARTS = {"docs", "doc", "examples", "benchmarks", "bench", "build", "dist", "site-packages"}


@dataclass
class Candidate:
    parts: list[Mutant]
    files: dict[str, bytes]  # path -> mutated content
    code_key: str
    tests: dict[str, int]  # baseline-passing tests that reach it -> call depth

    @property
    def id(self) -> str:
        return "+".join(p.id for p in self.parts)

    @property
    def operator(self) -> str:
        return "+".join(sorted({p.operator for p in self.parts}))


def source_files(base: Path) -> list[str]:
    """Python files of the code under test: not tests, docs, build output or set-up scripts."""
    out = []
    for rel in walk_files(base):
        parts = rel.split("/")
        name = parts[-1]
        if not name.endswith(".py") or name in ("setup.py", "conftest.py", "noxfile.py", "__main__.py"):
            continue
        if name.startswith("test_") or name.endswith("_test.py") or name.startswith("."):
            continue
        if any(p in TEST_PARTS or p in SKIP_PARTS or p.startswith(".") for p in parts[:-1]):
            continue
        out.append(rel)
    return out


def code_key(files: dict[str, bytes]) -> str:
    """Equal for files with the same code after normalisation (formatting and comments aside)."""
    h = hashlib.sha1()
    for path in sorted(files):
        h.update(path.encode() + b"\0" + ast.dump(ast.parse(files[path])).encode() + b"\0")
    return h.hexdigest()


class Candidates:
    def __init__(self, base: Path, *, operators: list[str] | None, per_function: int | None, seed: int):
        self.base = base
        self.operators = set(operators or OPERATORS)
        self.per_function = per_function
        self.rng = random.Random(seed)
        self.originals: dict[str, bytes] = {}
        self.original_keys: dict[str, str] = {}

    def singles(self, baseline: Baseline) -> list[Candidate]:
        by_function: dict[tuple[str, str], list[Mutant]] = defaultdict(list)
        for rel in source_files(self.base):
            data = (self.base / rel).read_bytes()
            self.originals[rel] = data
            try:
                self.original_keys[rel] = code_key({rel: data})
            except (SyntaxError, ValueError):
                continue
            for m in mutants_for_file(rel, data, self.operators):
                by_function[(rel, m.function)].append(m)
        groups = []
        for key in sorted(by_function):
            by_op: dict[str, list[Mutant]] = defaultdict(list)
            for m in by_function[key]:
                by_op[m.operator].append(m)
            for op in sorted(by_op):
                self.rng.shuffle(by_op[op])
            ops = sorted(by_op)
            self.rng.shuffle(ops)
            longest = max(len(v) for v in by_op.values())
            ms = [by_op[op][i] for i in range(longest) for op in ops if i < len(by_op[op])]
            groups.append(ms[: self.per_function] if self.per_function else ms)
        self.rng.shuffle(groups)
        order: list[Mutant] = []
        for i in range(max((len(g) for g in groups), default=0)):
            order += [g[i] for g in groups if i < len(g)]
        return [self.join([m], baseline) for m in order]

    def join(self, parts: list[Mutant], baseline: Baseline) -> Candidate:
        files: dict[str, bytes] = {}
        for path in sorted({p.path for p in parts}):
            edits = [e for p in parts if p.path == path for e in p.edits]
            files[path] = apply_edits(self.originals[path], edits)
        tests: dict[str, int] = {}
        for p in parts:
            for nodeid, depth in baseline.covering(p.path, *p.func_lines).items():
                tests[nodeid] = min(depth, tests.get(nodeid, depth))
        return Candidate(parts, files, "", tests)

    def is_equivalent(self, c: Candidate) -> bool:
        return all(code_key({p: d}) == self.original_keys.get(p) for p, d in c.files.items())

    def combos(self, singles: list[Candidate], k: int, n: int, baseline: Baseline) -> list[Candidate]:
        """Up to ``n`` candidates joining ``k`` validated mutants of different functions."""
        out: list[Candidate] = []
        pool = list(singles)
        self.rng.shuffle(pool)
        for _ in range(n * 3):
            if len(out) >= n:
                break
            chosen: list[Mutant] = []
            for c in pool:
                m = c.parts[0]
                if all((m.path, m.function) != (x.path, x.function) for x in chosen):
                    chosen.append(m)
                if len(chosen) == k:
                    break
            if len(chosen) < k:
                break
            out.append(self.join(chosen, baseline))
            pool = pool[k:] + pool[:k]  # rotate so the next combo uses other mutants
        return out

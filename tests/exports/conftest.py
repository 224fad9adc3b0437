"""Fixtures for exports: trace batches written with the real agent.trace.TraceWriter,
shaped like the agent's (system prompt, goal, tool calls with their results), on task ids
of the shipped mini-bugs suite so held-out suites load; plus a copy of sample_traces/."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agent import prompts
from agent.trace import BranchInfo, rollout_id_for
from labeling.store import LabelStore
from tests import factories

REPO = Path(__file__).resolve().parents[2]
TOOLS = factories.tool_schemas()
GOALS = {
    "fix_gcd": "gcd(a, b) in gcd.py returns wrong results.",
    "fix_bitcount": "bitcount(n) counts the wrong bits.",
    "fix_binsearch": "binsearch misses the last element.",
    "fix_mergesort": "mergesort drops elements.",
    "fix_roman": "roman numerals are wrong for 4 and 9.",
    "fix_flatten": "flatten does not recurse.",
}


def patch_for(task: str, variant: str) -> str:
    return factories.unified_patch(f"{task}.py", ["    return x - 1"], [f"    return x + {variant}"])


@dataclass
class Call:
    name: str
    args: dict[str, Any] | str = field(default_factory=dict)  # a str is raw (maybe broken) JSON
    valid: bool = True
    output: str = "ok"


def default_steps(task: str, passed: bool, n_reads: int = 1) -> list[list[Call]]:
    steps = [[Call("list_dir", {"rel_dir": "."}, output="gcd.py\ntests/")]]
    steps += [
        [Call("read_file", {"rel_path": f"{task}.py"}, output="def f(x):\n    return x - 1\n" * 3)]
        for _ in range(n_reads)
    ]
    steps.append([Call("write_file", {"rel_path": f"{task}.py", "content": "fixed"}, output="Wrote")])
    steps.append([Call("run_tests", {}, output="PASSED" if passed else "1 failed")])
    steps.append([Call("finish", {"summary": f"fixed {task}", "changes": [f"{task}.py"]}, output="Finished.")])
    return steps


@dataclass
class Spec:
    task: str
    seed: int
    passed: bool = True
    steps: list[list[Call]] | None = None
    patch: str | None = None
    tampered: bool = False
    summary: str | None = None
    branch_of: Spec | None = None  # replay this spec's first `prefix_steps` steps, then our steps
    prefix_steps: int = 0

    @property
    def rollout_id(self) -> str:
        return rollout_id_for(self.task, self.seed)

    def all_steps(self) -> list[list[Call]]:
        own = self.steps if self.steps is not None else default_steps(self.task, self.passed)
        if self.branch_of is None:
            return own
        return self.branch_of.all_steps()[: self.prefix_steps] + own


def _call(c: Call) -> factories.Call:
    """A str ``args`` is raw, broken JSON; an invalid call is answered with a tool error."""
    raw = c.args if isinstance(c.args, str) else None
    return factories.Call(
        c.name,
        None if raw is not None else c.args,  # type: ignore[arg-type]
        raw=raw,
        parse_error="bad JSON" if raw is not None else None,
        valid=c.valid,
        output=c.output if c.valid else "error: invalid arguments",
        output_chars=len(c.output),
    )


def to_rollout(spec: Spec) -> factories.Rollout:
    steps = spec.all_steps()
    branch = None
    if spec.branch_of is not None:
        branch = BranchInfo(
            parent_rollout_id=spec.branch_of.rollout_id,
            prefix_messages=2 + sum(1 + len(s) for s in steps[: spec.prefix_steps]),
            at_step=spec.prefix_steps + 1,
        )
    return factories.Rollout(
        task_id=spec.task,
        seed=spec.seed,
        steps=[[_call(c) for c in step] for step in steps],
        passed=spec.passed,
        tampered=spec.tampered,
        patch=spec.patch if spec.patch is not None else patch_for(spec.task, str(spec.seed)),
        files=[f"{spec.task}.py"],
        summary=spec.summary or f"fixed {spec.task} (seed {spec.seed})",
        changes=[f"{spec.task}.py"],
        suite="mini-bugs",
        tools=TOOLS,
        branch=branch,
        system=prompts.SYSTEM_PROMPT,
        goal=prompts.goal_message(GOALS[spec.task]),
        latency_s=0.1,
        tokens_in=100,
        tokens_out=10,
    )


def write_rollout(bdir: Path, spec: Spec) -> str:
    factories.write_rollout(bdir, to_rollout(spec))
    return f"{bdir.name}/{spec.rollout_id}"


def make_batch(root: Path, name: str, specs: list[Spec], suite_path: str | None = "mini-bugs") -> Path:
    return factories.write_batch(
        root,
        name,
        [to_rollout(s) for s in specs],
        suite="mini-bugs",
        suite_path=suite_path,
        started="2026-11-22T08:00:00+00:00",
        finished="2026-11-22T08:10:00+00:00",
    )


@dataclass
class Env:
    root: Path
    store: LabelStore

    def batch(self, name: str, specs: list[Spec], **kw) -> Path:
        b = make_batch(self.root, name, specs, **kw)
        self.store.ingest([self.root])
        return b

    def pair_for(self, task: str, kind: str = "rollout"):
        return next(p for p in self.store.pairs() if p.task_id == task and p.kind == kind)


@pytest.fixture
def env(tmp_path: Path):
    root = tmp_path / "traces"
    root.mkdir()
    store = LabelStore(tmp_path / "labels.sqlite", labeler="tester")
    yield Env(root, store)
    store.close()


@pytest.fixture
def sample(tmp_path: Path):
    """A copy of the shipped sample_traces/, ingested, pairs built."""
    src = REPO / "sample_traces"
    if not any(src.glob("*/traces/*.jsonl")):
        pytest.skip("sample_traces/ holds no traces yet")
    dst = tmp_path / "sample_traces"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("labels.sqlite*"))
    store = LabelStore(tmp_path / "labels.sqlite", labeler="tester")
    store.ingest([dst])
    yield store
    store.close()


def read_lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in Path(path).read_text(encoding="utf-8").splitlines()]

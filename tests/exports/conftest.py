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
from agent.trace import (
    BatchMeta,
    BranchInfo,
    FinalEvent,
    LlmCall,
    MessageEvent,
    Outcome,
    PlannedRollout,
    RolloutEnd,
    RolloutStart,
    TestRun,
    ToolCallEvent,
    ToolResultEvent,
    TraceWriter,
    rollout_id_for,
    trace_path,
    write_batch_meta,
)
from labeling.store import LabelStore

REPO = Path(__file__).resolve().parents[2]
TOOLS = [
    {"type": "function", "function": {"name": n, "description": n, "parameters": {"type": "object", "properties": {}}}}
    for n in ("list_dir", "read_file", "write_file", "grep", "run_tests", "finish")
]
GOALS = {
    "fix_gcd": "gcd(a, b) in gcd.py returns wrong results.",
    "fix_bitcount": "bitcount(n) counts the wrong bits.",
    "fix_binsearch": "binsearch misses the last element.",
    "fix_mergesort": "mergesort drops elements.",
    "fix_roman": "roman numerals are wrong for 4 and 9.",
    "fix_flatten": "flatten does not recurse.",
}


def patch_for(task: str, variant: str) -> str:
    return (
        f"diff --git a/{task}.py b/{task}.py\n--- a/{task}.py\n+++ b/{task}.py\n@@ -1,2 +1,2 @@\n"
        f" def f(x):\n-    return x - 1\n+    return x + {variant}\n"
    )


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


def _args_str(c: Call) -> str:
    return c.args if isinstance(c.args, str) else json.dumps(c.args)


def write_rollout(bdir: Path, spec: Spec) -> str:
    steps = spec.all_steps()
    path = trace_path(bdir, spec.rollout_id)
    branch = None
    if spec.branch_of is not None:
        branch = BranchInfo(
            parent_rollout_id=spec.branch_of.rollout_id,
            prefix_messages=2 + sum(1 + len(s) for s in steps[: spec.prefix_steps]),
            at_step=spec.prefix_steps + 1,
        )
    with TraceWriter(path, spec.rollout_id, truncate=True) as w:
        w.emit(
            RolloutStart,
            task_id=spec.task,
            suite="mini-bugs",
            seed=spec.seed,
            provider="openai",
            model="m-7b",
            temperature=0.7,
            max_iters=30,
            tools=TOOLS,
            batch_id=bdir.name,
            branch=branch,
        )
        w.emit(MessageEvent, message={"role": "system", "content": prompts.SYSTEM_PROMPT})
        w.emit(MessageEvent, message={"role": "user", "content": prompts.goal_message(GOALS[spec.task])})
        for step, calls in enumerate(steps, start=1):
            w.emit(LlmCall, step=step, latency_s=0.1, usage={"prompt_tokens": 100, "completion_tokens": 10})
            tcs = [
                {"id": f"call_{step}_{i}", "type": "function", "function": {"name": c.name, "arguments": _args_str(c)}}
                for i, c in enumerate(calls)
            ]
            w.emit(MessageEvent, step=step, message={"role": "assistant", "content": None, "tool_calls": tcs})
            for i, c in enumerate(calls):
                parsed = c.args if isinstance(c.args, dict) else None
                w.emit(
                    ToolCallEvent,
                    step=step,
                    call_id=f"call_{step}_{i}",
                    name=c.name,
                    arguments=_args_str(c),
                    args=parsed,
                    parse_error=None if parsed is not None else "bad JSON",
                    valid=c.valid,
                    violations=[] if c.valid else ["rel_dir: field required"],
                )
                w.emit(
                    ToolResultEvent,
                    step=step,
                    call_id=f"call_{step}_{i}",
                    ok=c.valid,
                    duration_s=0.01,
                    output_chars=len(c.output),
                )
                w.emit(
                    MessageEvent,
                    step=step,
                    message={
                        "role": "tool",
                        "tool_call_id": f"call_{step}_{i}",
                        "content": c.output if c.valid else "error: invalid arguments",
                    },
                )
        w.emit(TestRun, passed=spec.passed, final=True, summary="ok" if spec.passed else "1 failed")
        w.emit(FinalEvent, summary=spec.summary or f"fixed {spec.task} (seed {spec.seed})", changes=[f"{spec.task}.py"])
        n_calls = sum(len(s) for s in steps)
        w.emit(
            RolloutEnd,
            outcome=Outcome(
                tests_passed=spec.passed and not spec.tampered,
                steps=len(steps),
                tool_calls=n_calls,
                invalid_tool_calls=sum(not c.valid for s in steps for c in s),
                files_touched=1,
                files=[f"{spec.task}.py"],
                patch=spec.patch if spec.patch is not None else patch_for(spec.task, str(spec.seed)),
                tests_tampered=spec.tampered,
                tokens_in=100,
                tokens_out=10,
            ),
            stop_reason="finished",
            duration_s=1.0,
        )
    return f"{bdir.name}/{spec.rollout_id}"


def make_batch(root: Path, name: str, specs: list[Spec], suite_path: str | None = "mini-bugs") -> Path:
    bdir = root / name
    write_batch_meta(
        bdir,
        BatchMeta(
            id=name,
            suite="mini-bugs",
            suite_path=suite_path,
            provider="openai",
            model="m-7b",
            planned=[PlannedRollout(rollout_id=s.rollout_id, task_id=s.task, seed=s.seed) for s in specs],
            started="2026-11-22T08:00:00+00:00",
            finished="2026-11-22T08:10:00+00:00",
            stop_reason="finished",
        ),
    )
    for s in specs:
        write_rollout(bdir, s)
    return bdir


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

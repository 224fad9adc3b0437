"""Fixtures for the label store: batches written with the real `agent.trace.TraceWriter`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

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


def make_patch(path: str, removed: list[str], added: list[str]) -> str:
    """A git-style unified diff changing ``removed`` lines into ``added`` lines of ``path``."""
    body = "".join(f"-{x}\n" for x in removed) + "".join(f"+{x}\n" for x in added)
    return (
        f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n"
        f"@@ -1,{len(removed) + 1} +1,{len(added) + 1} @@\n def f(x):\n{body}"
    )


FIX = make_patch("prog.py", ["    return x - 1"], ["    return x + 1"])


@dataclass
class Call:
    name: str
    args: dict[str, Any] | None = None
    valid: bool = True
    ok: bool = True
    raw: str | None = None  # raw arguments string (defaults to json of args)


@dataclass
class Spec:
    """One rollout to write. ``calls``: one list of calls per step (default: one read per step)."""

    task_id: str
    seed: int
    passed: bool = False
    patch: str = ""
    steps: int = 3
    tool_calls: int | None = None
    files_touched: int | None = None
    tampered: bool = False
    finished: bool = True
    calls: list[list[Call]] | None = None
    summary: str = "done"
    model: str = "m-7b"
    cost_usd: float | None = 0.01
    branch: BranchInfo | None = None
    extra_text: str = ""

    @property
    def rollout_id(self) -> str:
        return rollout_id_for(self.task_id, self.seed)


def write_rollout(batch_dir: Path, spec: Spec, *, batch_id: str | None = None, upto: str | None = None) -> Path:
    """Write the spec's trace. ``upto="steps"`` stops before the end (a running rollout)."""
    path = trace_path(batch_dir, spec.rollout_id)
    calls = spec.calls or [[Call("read_file", {"rel_path": "prog.py"})] for _ in range(spec.steps)]
    n_calls = sum(len(c) for c in calls)
    with TraceWriter(path, spec.rollout_id, truncate=True) as w:
        w.emit(
            RolloutStart,
            task_id=spec.task_id,
            suite="toy",
            seed=spec.seed,
            provider="openai",
            model=spec.model,
            temperature=0.7,
            max_iters=30,
            batch_id=batch_id or batch_dir.name,
            branch=spec.branch,
        )
        w.emit(MessageEvent, message={"role": "system", "content": "sys"})
        w.emit(MessageEvent, message={"role": "user", "content": "fix prog.py " + spec.extra_text})
        for step, step_calls in enumerate(calls, start=1):
            w.emit(LlmCall, step=step, latency_s=0.5, usage={"prompt_tokens": 100, "completion_tokens": 10})
            tcs = [
                {
                    "id": f"c{step}_{i}",
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.raw if c.raw is not None else json.dumps(c.args or {})},
                }
                for i, c in enumerate(step_calls)
            ]
            w.emit(MessageEvent, step=step, message={"role": "assistant", "content": None, "tool_calls": tcs})
            for i, c in enumerate(step_calls):
                raw = c.raw if c.raw is not None else json.dumps(c.args or {})
                w.emit(
                    ToolCallEvent,
                    step=step,
                    call_id=f"c{step}_{i}",
                    name=c.name,
                    arguments=raw,
                    args=c.args,
                    valid=c.valid,
                    violations=[] if c.valid else ["rel_dir: required"],
                )
                w.emit(
                    ToolResultEvent,
                    step=step,
                    call_id=f"c{step}_{i}",
                    ok=c.ok and c.valid,
                    duration_s=0.01,
                    output_chars=120,
                    error=None if c.ok and c.valid else "failed",
                )
                w.emit(
                    MessageEvent,
                    step=step,
                    message={"role": "tool", "tool_call_id": f"c{step}_{i}", "content": "output " + spec.extra_text},
                )
        if upto == "steps" or not spec.finished:
            return path
        w.emit(TestRun, passed=spec.passed, summary="ok" if spec.passed else "1 failed", final=True)
        w.emit(FinalEvent, summary=spec.summary)
        files = ["prog.py"] if spec.patch else []
        w.emit(
            RolloutEnd,
            outcome=Outcome(
                tests_passed=spec.passed and not spec.tampered,
                steps=len(calls),
                tool_calls=spec.tool_calls if spec.tool_calls is not None else n_calls,
                invalid_tool_calls=sum(not c.valid for s in calls for c in s),
                files_touched=spec.files_touched if spec.files_touched is not None else len(files),
                files=files,
                patch=spec.patch,
                tests_tampered=spec.tampered,
                tokens_in=100 * len(calls),
                tokens_out=10 * len(calls),
                cost_usd=spec.cost_usd,
            ),
            stop_reason="finished",
            duration_s=2.0,
        )
    return path


def make_batch(root: Path, name: str, specs: list[Spec], *, finished: bool = True) -> Path:
    """A batch directory ``root/name`` with batch.json and one trace per spec."""
    bdir = root / name
    write_batch_meta(
        bdir,
        BatchMeta(
            id=name,
            suite="toy",
            provider="openai",
            model="m-7b",
            planned=[PlannedRollout(rollout_id=s.rollout_id, task_id=s.task_id, seed=s.seed) for s in specs],
            started="2026-11-22T08:00:00+00:00",
            finished="2026-11-22T08:10:00+00:00" if finished else None,
            stop_reason="finished" if finished else None,
        ),
    )
    for s in specs:
        write_rollout(bdir, s)
    return bdir


@dataclass
class Env:
    root: Path
    store: LabelStore
    batches: list[Path] = field(default_factory=list)

    def batch(self, name: str, specs: list[Spec], **kw) -> Path:
        b = make_batch(self.root, name, specs, **kw)
        self.batches.append(b)
        return b

    def uid(self, batch: str, spec: Spec) -> str:
        return f"{batch}/{spec.rollout_id}"


@pytest.fixture
def env(tmp_path: Path):
    root = tmp_path / "traces"
    root.mkdir()
    store = LabelStore(tmp_path / "labels.sqlite", labeler="alice")
    yield Env(root, store)
    store.close()

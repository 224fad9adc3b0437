"""One builder for synthetic trace batches, shared by the tests and bench/gen_traces.py.

A `Rollout` says what happened (steps of tool calls, the verdict, the patch, the final
summary); `write_rollout` writes it through the real `agent.trace` models and
`TraceWriter`, so every line is what the agent itself would write; `write_batch` adds the
batch.json. The per-package fixtures (tests/exports/conftest.py,
tests/labeling/conftest.py, tests/tui/trace_fixtures.py) keep their own short `Spec`
vocabularies and turn them into `Rollout`s here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.tools.registry import TOOL_NAMES
from agent.trace import (
    BatchMeta,
    BatchParams,
    BranchInfo,
    FinalEvent,
    LlmCall,
    MessageEvent,
    Outcome,
    PlannedRollout,
    RolloutEnd,
    RolloutStart,
    TestCounts,
    TestRun,
    ToolCallEvent,
    ToolResultEvent,
    TraceWriter,
    rollout_id_for,
    trace_path,
    write_batch_meta,
)


def tool_schemas(description: Callable[[str], str] = lambda n: n, parameters: dict | None = None) -> list[dict]:
    """Function-tool entries for `rollout_start.tools` (names only matter to the exports)."""
    params = parameters if parameters is not None else {"type": "object", "properties": {}}
    return [
        {"type": "function", "function": {"name": n, "description": description(n), "parameters": params}}
        for n in TOOL_NAMES
    ]


@dataclass
class Call:
    """One tool call and its result."""

    name: str
    args: dict[str, Any] | None = None  # parsed arguments (None: unparsable or not given)
    raw: str | None = None  # the arguments string as sent; default: json of args
    parse_error: str | None = None
    valid: bool = True
    violations: list[str] | None = None  # default: one missing-argument violation when invalid
    ok: bool = True  # the tool ran (an invalid call is never ok)
    output: str = "ok"  # the tool message's content
    output_chars: int | None = None  # tool_result.output_chars; default len(output)
    error: str | None = None  # tool_result.error
    duration_s: float | None = None  # tool_result.duration_s; default the rollout's
    test_run: dict[str, Any] | None = None  # a run_tests call: the step's TestRun fields

    @property
    def arguments(self) -> str:
        return self.raw if self.raw is not None else json.dumps(self.args or {})


@dataclass
class Step:
    """One assistant turn: its tool calls, plus what the model said and what it cost."""

    calls: list[Call]
    content: str | None = None
    usage: tuple[int, int] | None = None  # (prompt, completion) tokens; default the rollout's
    latency_s: float | None = None


@dataclass
class Rollout:
    task_id: str
    seed: int
    steps: list[Step | list[Call]] = field(default_factory=list)
    passed: bool = False  # the final test run's verdict
    tampered: bool = False  # a protected file changed: never a pass in the outcome
    tampered_paths: list[str] = field(default_factory=list)
    patch: str = ""
    files: list[str] = field(default_factory=list)
    files_touched: int | None = None  # default len(files)
    tool_calls: int | None = None  # outcome override; default the calls written
    summary: str | None = "done"  # the `final` event's summary; None: no final event
    changes: Any = None
    finished: bool = True  # False: stop after the steps (a running rollout)
    # rollout_start
    suite: str = "toy"
    provider: str = "openai"
    model: str = "m-7b"
    temperature: float | None = 0.7
    max_iters: int = 30
    tools: list[dict[str, Any]] = field(default_factory=list)
    branch: BranchInfo | None = None
    system: str = "sys"
    goal: str = "fix prog.py"
    # figures
    usage: Callable[[int], tuple[int, int]] = lambda step: (100, 10)  # step -> (prompt, completion)
    latency_s: float = 0.5
    finish_reason: str | None = None
    tool_duration_s: float = 0.01
    test_counts: TestCounts | None = None
    test_summary: str | None = None  # default "ok" / "1 failed"
    test_duration_s: float = 0.0
    tokens_in: int | None = None  # default the sum of the steps' usage
    tokens_out: int | None = None
    cost_usd: float | None = None
    duration_s: float = 1.0
    stop_reason: str = "finished"
    call_id: str = "call_{step}_{i}"  # format of the tool-call ids
    t0: float | None = None  # fixed clock: event n at t0 + n * dt (None: the writer's clock)
    dt: float = 0.5

    @property
    def rollout_id(self) -> str:
        return rollout_id_for(self.task_id, self.seed)

    def step_list(self) -> list[Step]:
        return [s if isinstance(s, Step) else Step(list(s)) for s in self.steps]


def write_rollout(batch_dir: Path, r: Rollout, *, batch_id: str | None = None, upto: str | None = None) -> Path:
    """Write one rollout's trace. ``upto="steps"`` stops before the end (a running rollout)."""
    path = trace_path(batch_dir, r.rollout_id)
    steps = r.step_list()
    with TraceWriter(path, r.rollout_id, truncate=True) as w:

        def emit(cls: Any, **fields: Any) -> None:
            if r.t0 is None:
                w.emit(cls, **fields)
            else:
                w.write(cls(rollout_id=r.rollout_id, seq=w.seq, ts=r.t0 + w.seq * r.dt, **fields))

        emit(
            RolloutStart,
            task_id=r.task_id,
            suite=r.suite,
            seed=r.seed,
            provider=r.provider,
            model=r.model,
            temperature=r.temperature,
            max_iters=r.max_iters,
            tools=r.tools,
            batch_id=batch_id or batch_dir.name,
            branch=r.branch,
        )
        emit(MessageEvent, message={"role": "system", "content": r.system})
        emit(MessageEvent, message={"role": "user", "content": r.goal})
        tin = tout = 0
        for n, step in enumerate(steps, start=1):
            p, q = step.usage or r.usage(n)
            tin, tout = tin + p, tout + q
            emit(
                LlmCall,
                step=n,
                latency_s=r.latency_s if step.latency_s is None else step.latency_s,
                usage={"prompt_tokens": p, "completion_tokens": q},
                finish_reason=r.finish_reason,
            )
            ids = [r.call_id.format(step=n, i=i) for i in range(len(step.calls))]
            tool_calls = [
                {"id": cid, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for cid, c in zip(ids, step.calls)
            ]
            emit(MessageEvent, step=n, message={"role": "assistant", "content": step.content, "tool_calls": tool_calls})
            for cid, c in zip(ids, step.calls):
                violations = (
                    c.violations if c.violations is not None else ([] if c.valid else ["rel_dir: field required"])
                )
                emit(
                    ToolCallEvent,
                    step=n,
                    call_id=cid,
                    name=c.name,
                    arguments=c.arguments,
                    args=c.args,
                    parse_error=c.parse_error,
                    valid=c.valid,
                    violations=violations,
                )
                emit(
                    ToolResultEvent,
                    step=n,
                    call_id=cid,
                    ok=c.ok and c.valid,
                    duration_s=r.tool_duration_s if c.duration_s is None else c.duration_s,
                    output_chars=len(c.output) if c.output_chars is None else c.output_chars,
                    error=c.error,
                )
                emit(MessageEvent, step=n, message={"role": "tool", "tool_call_id": cid, "content": c.output})
                if c.test_run is not None:
                    emit(TestRun, step=n, **c.test_run)
        if upto == "steps" or not r.finished:
            return path
        emit(
            TestRun,
            passed=r.passed,
            counts=r.test_counts or TestCounts(),
            summary=r.test_summary if r.test_summary is not None else ("ok" if r.passed else "1 failed"),
            duration_s=r.test_duration_s,
            final=True,
        )
        if r.summary is not None:
            emit(FinalEvent, summary=r.summary, changes=r.changes)
        all_calls = [c for s in steps for c in s.calls]
        emit(
            RolloutEnd,
            outcome=Outcome(
                tests_passed=r.passed and not r.tampered,
                steps=len(steps),
                tool_calls=len(all_calls) if r.tool_calls is None else r.tool_calls,
                invalid_tool_calls=sum(not c.valid for c in all_calls),
                files_touched=len(r.files) if r.files_touched is None else r.files_touched,
                files=r.files,
                patch=r.patch,
                tests_tampered=r.tampered,
                tampered_paths=r.tampered_paths,
                tokens_in=tin if r.tokens_in is None else r.tokens_in,
                tokens_out=tout if r.tokens_out is None else r.tokens_out,
                cost_usd=r.cost_usd,
            ),
            stop_reason=r.stop_reason,
            duration_s=r.duration_s,
        )
    return path


def emit_read_step(
    w: TraceWriter,
    step: int,
    output: str,
    *,
    usage: tuple[int, int] = (10, 2),
    latency_s: float = 0.1,
    duration_s: float = 0.01,
) -> None:
    """One step as the engine writes it to a trace that is still growing: the model call, its
    assistant message asking to read ``src/f{step}.py``, the call, its result and the tool message."""
    args = {"rel_path": f"src/f{step}.py"}
    call_id = f"c{step}"
    call = {"id": call_id, "type": "function", "function": {"name": "read_file", "arguments": json.dumps(args)}}
    w.emit(LlmCall, step=step, latency_s=latency_s, usage={"prompt_tokens": usage[0], "completion_tokens": usage[1]})
    w.emit(MessageEvent, step=step, message={"role": "assistant", "content": None, "tool_calls": [call]})
    w.emit(
        ToolCallEvent, step=step, call_id=call_id, name="read_file", arguments=json.dumps(args), args=args, valid=True
    )
    w.emit(ToolResultEvent, step=step, call_id=call_id, ok=True, duration_s=duration_s, output_chars=len(output))
    w.emit(MessageEvent, step=step, message={"role": "tool", "tool_call_id": call_id, "content": output})


def write_batch(
    root: Path,
    name: str,
    rollouts: Iterable[Rollout],
    *,
    suite: str = "toy",
    suite_path: str | None = None,
    provider: str = "openai",
    model: str = "m-7b",
    params: BatchParams | None = None,
    started: str = "2026-11-22T08:00:00+00:00",
    finished: str | None = "2026-11-22T08:10:00+00:00",
) -> Path:
    """A batch directory ``root/name``: batch.json (finished unless ``finished=None``) and one trace per rollout."""
    bdir = Path(root) / name
    rollouts = list(rollouts)
    write_batch_meta(
        bdir,
        BatchMeta(
            id=name,
            suite=suite,
            suite_path=suite_path,
            provider=provider,
            model=model,
            params=params or BatchParams(),
            planned=[PlannedRollout(rollout_id=r.rollout_id, task_id=r.task_id, seed=r.seed) for r in rollouts],
            started=started,
            finished=finished,
            stop_reason="finished" if finished else None,
        ),
    )
    for r in rollouts:
        write_rollout(bdir, r)
    return bdir


def unified_patch(path: str, removed: list[str], added: list[str], context: list[str] | None = None) -> str:
    """A git-style diff of one hunk: ``context`` lines first, then ``removed`` -> ``added``."""
    context = context if context is not None else ["def f(x):"]
    body = "".join(f" {x}\n" for x in context) + "".join(f"-{x}\n" for x in removed) + "".join(f"+{x}\n" for x in added)
    return (
        f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n"
        f"@@ -1,{len(removed) + len(context)} +1,{len(added) + len(context)} @@\n{body}"
    )

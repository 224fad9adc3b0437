"""The agent loop: one rollout of one task, every event written to its trace (docs/ARCHITECTURE.md, Batches and traces).

Read ``run_rollout`` top to bottom: system prompt and goal, then ask the model, append
its message, run its tool calls, append their results, until it calls ``finish`` or runs
out of steps. Then the final, authoritative test run (protected files restored) decides
the outcome. The function never raises for a provider failure: it ends the rollout with
``stop_reason`` "error" (or "diverged" for a replay that left its recording).
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agent import prompts
from agent.final_verdict import CHECKER_VERSION, final_test_run, verdict_state
from agent.loop_detect import CallSeen, LoopDetector, StallWatch, project_savings
from agent.patch_format import display_name
from agent.probes import is_probe
from agent.providers import Provider, ProviderCancelled, ProviderError, ReplayDiverged
from agent.suites.models import Suite, Task
from agent.suspect import PROBE_PASSED, judge_suspect, scan_rollout, source_reader, workspace_reader
from agent.toolbox import ToolBox
from agent.tools.registry import step_counts
from agent.trace import (
    BranchInfo,
    ErrorEvent,
    FinalEvent,
    LlmCall,
    LoopEvent,
    MessageEvent,
    Outcome,
    RolloutEnd,
    RolloutStart,
    StallEvent,
    TestRun,
    ToolCallEvent,
    ToolResultEvent,
    TraceWriter,
    derive_state,
    not_judged,
)
from agent.workspace import Workspace

EventCallback = Callable[[Any], None]  # receives each event model as it is written


class CancelFlag(Protocol):
    """What a rollout checks between steps: a batch's cancel, or a batch's or its own (agent/batch.py)."""

    def is_set(self) -> bool: ...


@dataclass
class RolloutConfig:
    max_iters: int = 30
    temperature: float | None = None
    reflection: bool = False
    output_limit: int = 8000  # tool output cut (characters)
    price_in: float | None = None  # USD per 1M prompt tokens
    price_out: float | None = None  # USD per 1M completion tokens
    timeout_s: float | None = None  # wall clock per rollout; checked between steps
    loop_limit: int = 5  # end the rollout (stop reason "loop") after this many repeats; 0 = flag only
    stall_s: float | None = 120.0  # no event for this long is recorded as a stall; None = no watchdog


@dataclass
class RolloutResult:
    rollout_id: str
    task_id: str
    seed: int
    outcome: Outcome
    stop_reason: str
    duration_s: float
    resumed: bool = False  # finished in an earlier run of the batch; not re-run
    error: str | None = None


@dataclass
class _Tally:
    steps: int = 0
    tool_calls: int = 0
    invalid: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    final: dict[str, Any] | None = None
    error: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    usage: list[tuple[int, int]] = field(default_factory=list)  # (prompt, completion) tokens per step
    loops: LoopDetector = field(default_factory=LoopDetector)
    test_runs: list[TestRun] = field(default_factory=list)  # every run, for the SUSPECT scan


@dataclass
class _RolloutContext:
    """What each step needs of its rollout: the model, the tools, the running tally, and
    the two ways a step writes (an event; a message, which is also an event)."""

    provider: Provider
    tools: ToolBox
    schemas: list[dict[str, Any]]
    seed: int
    cfg: RolloutConfig
    tally: _Tally
    emit: Callable[..., None]  # emit(EventClass, **fields)
    append: Callable[..., None]  # append(message, step, reasoning=None)


@dataclass(frozen=True)
class RolloutSpec:
    """Which rollout to run: a task of a suite, its id and seed, its batch, where its trace goes,
    and for a branch, the recorded prefix it continues from and where it branched."""

    suite: Suite
    task: Task
    trace_file: Path
    rollout_id: str
    seed: int
    batch_id: str | None = None
    prefix_messages: list[dict[str, Any]] | None = None
    branch: BranchInfo | None = None


def run_rollout(
    spec: RolloutSpec,
    provider: Provider,
    *,
    config: RolloutConfig | None = None,
    cancel: CancelFlag | None = None,
    on_event: EventCallback | None = None,
    workspace_root: Path | None = None,
) -> RolloutResult:
    suite, task, trace_file, rollout_id, seed = spec.suite, spec.task, spec.trace_file, spec.rollout_id, spec.seed
    batch_id, prefix_messages, branch = spec.batch_id, spec.prefix_messages, spec.branch
    cfg = config or RolloutConfig()
    cancel = cancel or threading.Event()
    t0 = time.monotonic()
    w = TraceWriter(trace_file, rollout_id, truncate=True)  # a restarted rollout starts over
    watch = None
    if cfg.stall_s:
        watch = StallWatch(
            cfg.stall_s,
            lambda idle, on: emit(StallEvent, step=tally.steps or None, idle_s=round(idle, 3), waiting_on=on),
        ).start()

    def emit(cls: type, **fields: Any) -> None:
        event = w.emit(cls, **fields)
        if isinstance(event, TestRun):
            tally.test_runs.append(event)
        if watch is not None and cls is not StallEvent:
            watch.touch(f"tool {getattr(event, 'name', '')}" if cls is ToolCallEvent else "model")
        if on_event is not None:
            on_event(event)

    tally = _Tally()

    def append(message: dict[str, Any], step: int | None = None, reasoning: str | None = None) -> None:
        tally.messages.append(message)
        emit(MessageEvent, message=message, step=step, reasoning=reasoning)

    def start(schemas: list[dict[str, Any]]) -> None:
        emit(
            RolloutStart,
            task_id=task.id,
            suite=suite.name,
            seed=seed,
            provider=provider.name,
            model=provider.model,
            temperature=cfg.temperature,
            max_iters=cfg.max_iters,
            tools=schemas,
            batch_id=batch_id,
            branch=branch,
            price_in=cfg.price_in,
            price_out=cfg.price_out,
        )

    stop: str | None = "error"
    ws = None
    try:
        ws = Workspace.create(suite, task, workspace_root or Path(tempfile.gettempdir()) / "repo-agent-ws")
        tools = ToolBox(ws, output_limit=cfg.output_limit)
        schemas = tools.schemas()
        start(schemas)
        if prefix_messages:
            _replay_prefix(prefix_messages, tools, append, tally)
        else:
            append({"role": "system", "content": prompts.SYSTEM_PROMPT})
            append({"role": "user", "content": prompts.goal_message(task.goal)})
        ctx = _RolloutContext(provider, tools, schemas, seed, cfg, tally, emit, append)
        stop = None
        while stop is None:
            if cancel.is_set():
                stop = "cancelled"
            elif tally.steps >= cfg.max_iters:
                stop = "max_iters"
            elif cfg.timeout_s is not None and time.monotonic() - t0 > cfg.timeout_s:
                stop = "timeout"
            else:
                stop = _step(ctx)
    except Exception as exc:  # a sandbox or workspace fault ends this rollout only
        if w.seq == 0:
            start([])  # every trace opens with rollout_start, even one that failed to set up
        tally.error = f"{type(exc).__name__}: {exc}"
        emit(ErrorEvent, type=type(exc).__name__, message=str(exc)[:2000], step=tally.steps or None)
        stop = "error"
    try:
        outcome = _finish_rollout(ws, stop, tally, cfg, emit)
        duration = time.monotonic() - t0
        emit(RolloutEnd, outcome=outcome, stop_reason=stop, duration_s=round(duration, 4))
    finally:
        if watch is not None:
            watch.stop()
        w.close()
        if ws is not None:
            ws.cleanup()
    return RolloutResult(rollout_id, task.id, seed, outcome, stop, duration, error=tally.error)


def _step(ctx: _RolloutContext) -> str | None:
    """One assistant turn and its tool calls. Returns a stop reason, or None to go on."""
    tally, emit, append = ctx.tally, ctx.emit, ctx.append
    step = tally.steps + 1
    try:
        c = ctx.provider.complete(tally.messages, ctx.schemas, seed=ctx.seed, temperature=ctx.cfg.temperature)
    except ProviderCancelled:
        return "cancelled"  # the batch was cancelled during a retry's backoff
    except ProviderError as exc:
        tally.error = str(exc)
        kind = "diverged" if isinstance(exc, ReplayDiverged) else "error"
        emit(ErrorEvent, type=type(exc).__name__, message=str(exc), step=step)
        return kind
    tally.steps = step
    tally.tokens_in += c.usage.prompt_tokens
    tally.tokens_out += c.usage.completion_tokens
    tally.usage.append((c.usage.prompt_tokens, c.usage.completion_tokens))
    emit(
        LlmCall,
        step=step,
        latency_s=round(c.latency_s, 6),
        usage=c.usage,
        finish_reason=c.finish_reason,
        retries=c.retries,
    )
    append(c.message, step, reasoning=c.reasoning)
    calls = c.message.get("tool_calls") or []
    if not calls:
        append({"role": "user", "content": prompts.NO_TOOL_CALL}, step)
        return _check_loop(step, [], str(c.message.get("content") or ""), ctx.cfg, tally, emit)
    tests_failed = False
    seen: list[CallSeen] = []
    for call in calls:
        fn = call.get("function") or {}
        o = ctx.tools.call(fn.get("name") or "", fn.get("arguments") or "")
        tally.tool_calls += 1
        tally.invalid += not o.valid
        emit(
            ToolCallEvent,
            step=step,
            call_id=call["id"],
            name=o.name,
            arguments=fn.get("arguments") or "",
            args=o.args,
            parse_error=o.parse_error,
            valid=o.valid,
            violations=list(o.violations),
        )
        emit(
            ToolResultEvent,
            step=step,
            call_id=call["id"],
            ok=o.ok,
            duration_s=round(o.duration_s, 6),
            output_chars=o.output_chars,
            truncated=o.truncated,
            error=o.error,
        )
        if o.test_result is not None:
            emit(TestRun, step=step, **test_run_fields(o.test_result))
            tests_failed |= not o.test_result.passed
        append({"role": "tool", "tool_call_id": call["id"], "content": o.output}, step)
        failed = None if o.test_result is None else not o.test_result.passed
        seen.append(CallSeen(o.name, o.args, fn.get("arguments") or "", o.ok, o.output, failed))
        if o.finish is not None:
            tally.final = dict(o.finish)
    if tally.final is not None:
        return "finished"
    if tests_failed and ctx.cfg.reflection:
        append({"role": "user", "content": prompts.REFLECTION}, step)
    return _check_loop(step, seen, "", ctx.cfg, tally, emit)


def _check_loop(
    step: int, seen: list[CallSeen], content: str, cfg: RolloutConfig, tally: _Tally, emit: Callable[..., None]
) -> str | None:
    """Record a step that repeats earlier ones; "loop" once it came back ``loop_limit`` times."""
    hit = tally.loops.observe(step, seen, content)
    if hit is None:
        return None
    emit(
        LoopEvent,
        step=step,
        pattern=hit.pattern,
        period=hit.period,
        repeats=hit.repeats,
        first_step=hit.first_step,
        calls=hit.calls,
    )
    return "loop" if cfg.loop_limit and hit.repeats >= cfg.loop_limit else None


def _finish_rollout(
    ws: Workspace | None, stop: str, tally: _Tally, cfg: RolloutConfig, emit: Callable[..., None]
) -> Outcome:
    """The authoritative test run (skipped when cancelled), the final object, the outcome."""
    out = Outcome(
        steps=tally.steps,
        tool_calls=tally.tool_calls,
        invalid_tool_calls=tally.invalid,
        tokens_in=tally.tokens_in,
        tokens_out=tally.tokens_out,
        cost_usd=_cost(tally, cfg),
    )
    if stop == "loop":
        out.saved = project_savings(tally.usage, cfg.max_iters, cfg.price_in, cfg.price_out)
    out.state = derive_state(stop, out)  # refined below once the final run has judged it
    if ws is None:
        return out
    try:
        out.patch = ws.patch()
        out.files = list(ws.files_touched())
        out.files_touched = len(out.files)
        if stop != "cancelled":
            result, tampered = final_test_run(ws)
            fields = test_run_fields(result)
            emit(TestRun, step=None, final=True, **fields)
            out.tampered_paths = [display_name(p) for p in tampered]  # names a test made: any bytes
            out.tests_tampered = bool(tampered or result.tamper)
            out.tests_passed = bool(result.passed) and not out.tests_tampered
            out.checker = CHECKER_VERSION
            out.state = verdict_state(derive_state(stop, out), result)  # e.g. held-out inputs differ
            _scan_suspect(out, ws, tally)
            if tally.final is not None:
                emit(
                    FinalEvent,
                    summary=str(tally.final.get("summary") or ""),
                    changes=tally.final.get("changes"),
                    test_result={k: fields[k] for k in ("passed", "summary", "counts")}
                    | {"tampered": out.tests_tampered},
                )
    except Exception as exc:
        emit(ErrorEvent, type=type(exc).__name__, message=f"final test run: {exc}"[:2000])
        # An infrastructure failure is never blamed on the rollout: not judged, with why.
        out.state = not_judged("error", f"final test run: {type(exc).__name__}: {exc}"[:500])
    return out


def _scan_suspect(out: Outcome, ws: Workspace, tally: _Tally) -> None:
    """After the final verdict: a pass that shows marks of verdict gaming is SUSPECT, and a
    cheat probe's verdict is a probe state (docs/sandbox-and-verdicts.md)."""
    task = ws.task
    probe = is_probe(task)
    if out.state is None or not (out.state.judged and out.state.verdict == "pass"):
        if probe and out.state is not None:
            out.state = judge_suspect(out.state, [], probe=True)
        return
    hits = scan_rollout(out.patch, tally.test_runs, task.protected, source_reader(ws.source), workspace_reader(ws.path))
    if probe:
        hits = [PROBE_PASSED, *hits]
    out.suspect = hits
    out.state = judge_suspect(out.state, hits, probe=probe)


def test_run_fields(result: Any) -> dict[str, Any]:
    """A sandbox TestResult as TestRun fields."""
    counts = result.counts
    counts = counts.model_dump() if hasattr(counts, "model_dump") else dict(vars(counts))
    return {
        "passed": bool(result.passed),
        "counts": counts,
        "summary": result.summary or "",
        "duration_s": round(float(result.duration_s or 0.0), 4),
        "timed_out": bool(result.timed_out),
        "error": getattr(result, "error", None),
        "tamper": list(getattr(result, "tamper", None) or []),
        "differential": getattr(result, "differential", None),
    }


def _cost(tally: _Tally, cfg: RolloutConfig) -> float | None:
    if cfg.price_in is None and cfg.price_out is None:
        return None
    return round((tally.tokens_in * (cfg.price_in or 0) + tally.tokens_out * (cfg.price_out or 0)) / 1e6, 8)


def _replay_prefix(prefix: list[dict[str, Any]], tools: ToolBox, append: Callable[..., None], tally: _Tally) -> None:
    """Branching hook: copy a conversation prefix verbatim and bring the workspace to the
    state it had there by re-running the prefix's state-changing tool calls (writes)."""
    step = 0
    for msg in prefix:
        if msg.get("role") == "assistant":
            step += 1
            for call in msg.get("tool_calls") or []:
                fn = call.get("function") or {}
                name = str(fn.get("name") or "")
                if step_counts(name).writes:
                    tools.call(name, fn.get("arguments") or "")
        append(msg, step or None)
    tally.steps = step

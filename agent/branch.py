"""Decision-point branching (issue 6): re-sample a recorded rollout at one step.

A *decision point* is one step of a finished rollout: the conversation up to (not
including) that step's assistant message. ``run_branches`` takes the chosen points of a
recorded batch, samples up to K *different* next actions there (different from each
other and from what the parent did: a sample equal to one already taken is dropped and
the next seed is tried), then runs each branch to completion through the loop's prefix
hook: the prefix messages are copied verbatim and the workspace is brought to the state
it had there (the prefix's writes replayed). The first step of a branch is the sampled
completion itself (its tokens and latency recorded as that step's ``llm_call``).

The branches are a new batch directory; each trace's ``rollout_start`` carries
``BranchInfo`` (parent rollout and batch, prefix length, the step it diverged at), so the
label store pairs a branch with its parent as a ``step`` pair, preferring the side whose
tests pass within the remaining steps. Where the points are:

- ``first-write``: the first step that calls ``write_file`` (the fix attempt);
- ``each-step``: every step of the rollout;
- ``step=N``: step N.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agent.batch import batch_crashed, end_batch
from agent.batch_spec import BatchControls, BatchObserver
from agent.budget import BudgetReport
from agent.executor import LocalExecutor
from agent.loop import RolloutConfig, RolloutResult, RolloutSpec, run_rollout
from agent.providers import Completion, Provider, ProviderError, ProviderFactory
from agent.suites.models import Suite
from agent.tools.registry import step_counts
from agent.trace import (
    BatchMeta,
    BatchParams,
    BranchInfo,
    MessageEvent,
    PlannedRollout,
    ToolCallEvent,
    TraceRead,
    now_iso,
    read_batch_meta,
    read_trace,
    trace_path,
    write_batch_meta,
)


class BranchError(ValueError):
    """A branching request that cannot be met (bad --at, unknown rollout, nothing to branch)."""


def parse_at(spec: str) -> tuple[str, int | None]:
    """``first-write`` | ``each-step`` | ``step=N`` -> (kind, N)."""
    if spec in ("first-write", "each-step"):
        return spec, None
    if spec.startswith("step="):
        try:
            n = int(spec[5:])
        except ValueError:
            n = 0
        if n >= 1:
            return "step", n
    raise BranchError(f"--at {spec!r}: use first-write, each-step or step=N (N >= 1)")


@dataclass
class DecisionPoint:
    parent_batch_id: str
    parent_rollout_id: str
    task_id: str
    at_step: int  # 1-based: the step that is sampled again
    prefix: list[dict[str, Any]]  # the parent's messages before that step's assistant message
    parent_action: dict[str, Any]  # the parent's assistant message at that step
    parent_passed: bool
    tools: list[dict[str, Any]]
    max_iters: int
    temperature: float | None


def decision_points(read: TraceRead, batch_id: str, at: str) -> list[DecisionPoint]:
    """The points of one finished rollout for ``at`` (none if it has no such step)."""
    kind, n = parse_at(at)
    start, end = read.start, read.end
    if start is None or end is None:
        return []
    msgs = [e for e in read.events if isinstance(e, MessageEvent)]
    # index in the conversation of each step's assistant message
    step_at = {e.step: i for i, e in enumerate(msgs) if e.message.get("role") == "assistant" and e.step}
    if kind == "first-write":
        writes = sorted(e.step for e in read.events if isinstance(e, ToolCallEvent) and step_counts(e.name).writes)
        steps = writes[:1]
    elif kind == "each-step":
        steps = sorted(step_at)
    else:
        steps = [n] if n in step_at else []
    passed = bool(end.outcome.tests_passed and not end.outcome.tests_tampered)
    conv = [e.message for e in msgs]
    return [
        DecisionPoint(
            batch_id,
            start.rollout_id,
            start.task_id,
            s,
            conv[: step_at[s]],
            conv[step_at[s]],
            passed,
            start.tools,
            start.max_iters,
            start.temperature,
        )
        for s in steps
        if s in step_at
    ]


def action_key(message: dict[str, Any]) -> str:
    """What makes two next actions the same: their text and tool calls (name, arguments), not ids."""
    calls = [
        ((c.get("function") or {}).get("name"), (c.get("function") or {}).get("arguments"))
        for c in message.get("tool_calls") or []
    ]
    return json.dumps([message.get("content") or "", calls], sort_keys=True)


class _Presampled:
    """A provider whose first answer is a completion already sampled; then the real one."""

    def __init__(self, provider: Provider, first: Completion):
        self.name, self.model = provider.name, provider.model
        self._provider = provider
        self._first: Completion | None = first

    def complete(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        *,
        seed: int | None = None,
        temperature: float | None = None,
    ) -> Completion:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        return self._provider.complete(messages, tools, seed=seed, temperature=temperature)


@dataclass
class Branch:
    point: DecisionPoint
    planned: PlannedRollout
    first: Completion


@dataclass
class PointResult:
    point: DecisionPoint
    branches: list[RolloutResult] = field(default_factory=list)
    duplicates: int = 0  # samples dropped: the same action as the parent or a sibling
    dropped_tokens: int = 0  # their tokens (in + out): spent, but in no trace
    errors: list[str] = field(default_factory=list)  # sampling failures


@dataclass
class BranchSummary:
    batch_dir: Path
    meta: BatchMeta
    points: list[PointResult]
    skipped: dict[str, str]  # parent rollout id -> why it gave no decision point
    interrupted: bool = False
    budget: BudgetReport | None = None  # --budget-usd: spent, left, branches refused

    @property
    def results(self) -> list[RolloutResult]:
        return [r for p in self.points for r in p.branches]


def branch_rollout_id(parent_rollout_id: str, at_step: int, k: int) -> str:
    return f"{parent_rollout_id}__at{at_step}_b{k}"


@dataclass(frozen=True)
class BranchSpec:
    """A branch batch: the finished rollouts of ``parent_dir`` (all, or ``rollout_ids``) re-sampled
    at ``at``, ``samples`` different next actions each, written to ``batch_dir``.

    Sample j of a point uses seed ``seed + j`` (and keeps it for the rest of its branch);
    at most ``max_attempts`` (default ``2 * samples + 2``) samples per point. ``temperature``
    and ``max_iters`` default to the parent rollout's (temperature 1.0 if it had none)."""

    parent_dir: Path
    suite: Suite
    provider_factory: ProviderFactory
    batch_dir: Path
    at: str = "first-write"
    samples: int = 2
    rollout_ids: list[str] | None = None
    seed: int = 1
    temperature: float | None = None
    max_iters: int | None = None
    max_workers: int = 1
    max_attempts: int | None = None
    config: RolloutConfig | None = None
    provider_name: str = "openai"
    model: str = ""
    base_url: str | None = None
    suite_path: str | None = None
    workspace_root: Path | None = None


def run_branches(
    spec: BranchSpec, observer: BatchObserver | None = None, controls: BatchControls | None = None
) -> BranchSummary:
    """Run the branch batch ``spec`` describes; ``observer`` is told as each branch ends
    (``controls``: cancel, executor, budget, as for `agent.batch.run_batch`)."""
    at, samples, rollout_ids, seed = spec.at, spec.samples, spec.rollout_ids, spec.seed
    suite, provider_factory, temperature, max_iters = (
        spec.suite,
        spec.provider_factory,
        spec.temperature,
        spec.max_iters,
    )
    max_workers, config, workspace_root = spec.max_workers, spec.config, spec.workspace_root
    controls = controls or BatchControls()
    executor, budget = controls.executor, controls.budget
    parse_at(at)
    if samples < 1:
        raise BranchError("--samples must be at least 1")
    cancel = controls.cancel or threading.Event()
    parent_dir, batch_dir = Path(spec.parent_dir), Path(spec.batch_dir)
    parent = read_batch_meta(parent_dir)
    ids = rollout_ids or [p.rollout_id for p in parent.planned]
    points: list[DecisionPoint] = []
    skipped: dict[str, str] = {}
    for rid in dict.fromkeys(ids):
        path = trace_path(parent_dir, rid)
        if not path.is_file():
            if rollout_ids:
                raise BranchError(f"no rollout {rid!r} in {parent_dir}")
            skipped[rid] = "no trace"
            continue
        read = read_trace(path)
        if read.end is None or read.end.stop_reason in ("cancelled", "error", "diverged"):
            skipped[rid] = "not finished" if read.end is None else read.end.stop_reason
            continue
        found = decision_points(read, parent.id, at)
        if not found:
            skipped[rid] = f"no step for --at {at}"
        points += found
    if not points:
        raise BranchError(
            f"nothing to branch in {parent_dir} at {at}" + (f" ({len(skipped)} rollouts skipped)" if skipped else "")
        )

    cfg = config or RolloutConfig()
    attempts = spec.max_attempts or 2 * samples + 2
    results = [PointResult(p) for p in points]

    def sample(pr: PointResult) -> list[Branch]:
        """Up to ``samples`` next actions at one point, all different (and not the parent's)."""
        pt, seen, out = pr.point, {action_key(pr.point.parent_action)}, list[Branch]()
        temp = temperature if temperature is not None else (pt.temperature if pt.temperature is not None else 1.0)
        for j in range(attempts):
            if len(out) == samples or cancel.is_set():
                break
            try:
                c = provider_factory(pt.task_id, seed + j).complete(
                    pt.prefix, pt.tools, seed=seed + j, temperature=temp
                )
            except ProviderError as exc:
                pr.errors.append(str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)
                continue
            key = action_key(c.message)
            if key in seen:
                pr.duplicates += 1
                pr.dropped_tokens += c.usage.prompt_tokens + c.usage.completion_tokens
                continue
            seen.add(key)
            rid = branch_rollout_id(pt.parent_rollout_id, pt.at_step, len(out))
            out.append(Branch(pt, PlannedRollout(rollout_id=rid, task_id=pt.task_id, seed=seed + j), c))
        return out

    with ThreadPoolExecutor(max(1, max_workers), thread_name_prefix="branch-sample") as pool:
        sampled = list(pool.map(sample, results))
    branches = [b for bs in sampled for b in bs]
    temps = {b.point.temperature for b in branches}
    meta = BatchMeta(
        id=batch_dir.name,
        suite=suite.name,
        suite_path=spec.suite_path or parent.suite_path,
        provider=spec.provider_name,
        model=spec.model,
        base_url=spec.base_url,
        started=now_iso(),
        planned=[b.planned for b in branches],
        params=BatchParams(
            rollouts=samples,
            seed=seed,
            max_workers=max_workers,
            reflection=cfg.reflection,
            max_iters=max_iters or max((b.point.max_iters for b in branches), default=cfg.max_iters),
            temperature=temperature if temperature is not None else (temps.pop() if len(temps) == 1 else None),
            allocation="branch",
        ),
    )
    write_batch_meta(batch_dir, meta)
    by_point = {id(pr.point): pr for pr in results}
    lock = threading.Lock()
    done = [0]

    def report(result: RolloutResult) -> None:
        with lock:
            done[0] += 1
            n = done[0]
        if observer is not None:
            observer.on_rollout_end(result, n, len(branches))

    exe = executor or LocalExecutor(max_workers)
    rollout = getattr(exe, "run_rollout", run_rollout)  # an executor may run it elsewhere (agent/ray_executor.py)

    def one(b: Branch) -> RolloutResult | None:
        if cancel.is_set():
            return None
        if budget is not None and not budget.acquire(cancel):
            return None  # over budget: never started
        r = None
        try:
            r = _one(b)
        finally:
            if budget is not None:
                budget.release(r.outcome.cost_usd if r is not None else None)
        return r

    def _one(b: Branch) -> RolloutResult | None:
        pt = b.point
        path = trace_path(batch_dir, b.planned.rollout_id)
        temp = temperature if temperature is not None else (pt.temperature if pt.temperature is not None else 1.0)
        rcfg = replace(cfg, max_iters=max_iters or pt.max_iters, temperature=temp)
        info = BranchInfo(
            parent_rollout_id=pt.parent_rollout_id,
            parent_batch_id=pt.parent_batch_id,
            prefix_messages=len(pt.prefix),
            at_step=pt.at_step,
        )
        provider = _Presampled(provider_factory(pt.task_id, b.planned.seed), b.first)
        try:
            r = rollout(
                RolloutSpec(
                    suite,
                    suite.task(pt.task_id),
                    path,
                    rollout_id=b.planned.rollout_id,
                    seed=b.planned.seed,
                    batch_id=meta.id,
                    prefix_messages=pt.prefix,
                    branch=info,
                ),
                provider,
                config=rcfg,
                cancel=cancel,
                workspace_root=workspace_root,
            )
        except Exception as exc:  # one branch's failure never stops the others
            r = batch_crashed(path, b.planned, exc)
        with lock:
            by_point[id(pt)].branches.append(r)
        return r

    summary = BranchSummary(batch_dir, meta, results, skipped)
    try:
        exe.run(one, branches, report, cancel)
    except KeyboardInterrupt:
        summary.interrupted = True
    for pr in results:  # in sample order
        pr.branches.sort(key=lambda r: r.rollout_id)
    summary.budget = end_batch(batch_dir, meta, cancel, interrupted=summary.interrupted, budget=budget)
    return summary


__all__ = [
    "Branch",
    "BranchError",
    "BranchSpec",
    "BranchSummary",
    "DecisionPoint",
    "PointResult",
    "action_key",
    "branch_rollout_id",
    "decision_points",
    "parse_at",
    "run_branches",
]

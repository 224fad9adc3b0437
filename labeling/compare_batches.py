"""The batches a model comparison reads: found again by (suite, model, seed block), so a
second `repo-agent compare` reuses every rollout already run and pays only for what is
missing; and the verdicts and figures each block's traces hold.

A *block* is one model's K rollouts per task at seeds base..base+K-1 (the batch runner's
plan, ``agent.batch.plan_rollouts``): model A and model B run the same block, so rollout
i of a task sees the same seed under both models; the noise block is A again at a second
base seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from agent.trace import Outcome, PlannedRollout, find_batches, read_batch_meta, read_trace, rollout_state, trace_path
from labeling.compare import run_figures

NOISE_SEED_OFFSET = 10_000  # the noise block's base seed: far from any block a user asks for


@dataclass
class Block:
    """One model's rollouts of one seed block, as the traces hold them."""

    model: str
    seed: int
    batch_dir: Path
    planned: list[PlannedRollout]
    verdicts: dict[str, list[bool]] = field(default_factory=dict)  # task -> pass of each ended rollout
    outcomes: list[Outcome] = field(default_factory=list)  # every ended rollout's
    errors: int = 0  # ended with stop reason error/diverged (not judged: never counted as fails)
    missing: list[PlannedRollout] = field(default_factory=list)  # not ended yet (or cancelled)
    # ended without a verdict, by reason (error, diverged, no_verdict...): out of the pass rate
    left_out: dict[str, int] = field(default_factory=dict)

    def figures(self) -> dict:
        """Tool-call validity, mean steps, tokens and cost, for ``labeling.compare.summarize``."""
        return run_figures(self.outcomes, self.errors)


def find_block_batch(
    trace_dir: Path, suite: str, model: str, seed: int, *, temperature: float | None = None, max_iters: int = 30
) -> Path | None:
    """The newest fixed-allocation batch of this suite and model at this base seed, run with
    the same temperature and max_iters (rollouts under other settings are not the same draw)."""
    found = []
    for b in find_batches(trace_dir) if Path(trace_dir).is_dir() else []:
        try:
            meta = read_batch_meta(b)
        except (OSError, ValueError):
            continue
        p = meta.params
        if (meta.suite, meta.model, p.seed, p.allocation, p.temperature, p.max_iters) == (
            suite,
            model,
            seed,
            "fixed",
            temperature,
            max_iters,
        ):
            found.append((meta.started, b))
    return max(found)[1] if found else None


def read_block(model: str, seed: int, batch_dir: Path, planned: list[PlannedRollout]) -> Block:
    """What the traces of ``batch_dir`` hold for the planned rollouts (missing files are missing)."""
    block = Block(model, seed, Path(batch_dir), planned)
    for p in planned:
        path = trace_path(block.batch_dir, p.rollout_id)
        end = read_trace(path).end if path.is_file() else None
        if end is None or end.stop_reason == "cancelled":
            block.missing.append(p)
            continue
        block.outcomes.append(end.outcome)
        block.errors += end.stop_reason in ("error", "diverged")
        state = rollout_state(end)
        if state.judged:  # only judged rollouts make a pass rate (labeling/rollout_states.py)
            block.verdicts.setdefault(p.task_id, []).append(state.verdict == "pass")
        else:
            why = state.reason or state.status
            block.left_out[why] = block.left_out.get(why, 0) + 1
    return block


def rollout_tokens(trace_dir: Path, suites: set[str]) -> tuple[float, float] | None:
    """Mean (prompt, completion) tokens per ended rollout over batches of these suites in ``trace_dir``."""
    tin = tout = n = 0
    for b in find_batches(trace_dir) if Path(trace_dir).is_dir() else []:
        try:
            meta = read_batch_meta(b)
        except (OSError, ValueError):
            continue
        if meta.suite not in suites:
            continue
        for p in meta.planned:
            path = trace_path(b, p.rollout_id)
            end = read_trace(path).end if path.is_file() else None
            if end is not None and end.outcome.tokens_in:
                tin, tout, n = tin + end.outcome.tokens_in, tout + end.outcome.tokens_out, n + 1
    return (tin / n, tout / n) if n else None

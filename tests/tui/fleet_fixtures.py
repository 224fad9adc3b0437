"""A live batch for the fleet view: four rollouts mid-run (one fine, one looping, one
stalled, one that hit an error), stamped at a fixed clock so snapshots are stable."""

from __future__ import annotations

from pathlib import Path

from agent.trace import (
    BatchMeta,
    BatchParams,
    ErrorEvent,
    LlmCall,
    LoopEvent,
    PlannedRollout,
    RolloutStart,
    StallEvent,
    ToolCallEvent,
    ToolResultEvent,
    TraceWriter,
    Usage,
    trace_path,
    write_batch_meta,
)

NOW = 1_795_000_000.0  # the fleet's clock in these tests
BATCH_ID = "20261201-090000-mini-live-model-0003"
KINDS = ("fine", "looping", "stalled", "errored")


def make_live_batch(root: Path, *, now: float = NOW) -> Path:
    batch = Path(root) / BATCH_ID
    planned = [PlannedRollout(rollout_id=f"fix_{k}__s0", task_id=f"fix_{k}", seed=0) for k in KINDS]
    started = "2026-11-19T07:33:20+00:00"  # NOW - 200 s
    meta = BatchMeta(
        id=BATCH_ID,
        suite="mini",
        provider="openai",
        model="live-model",
        params=BatchParams(rollouts=1, max_iters=30, max_workers=4),
        planned=planned + [PlannedRollout(rollout_id="fix_done__s0", task_id="fix_done", seed=0)],
        started=started,
    )
    write_batch_meta(batch, meta)
    for i, kind in enumerate(KINDS):
        rid = f"fix_{kind}__s0"
        w = TraceWriter(trace_path(batch, rid), rid)
        t0 = now - 60 + i

        def emit(cls, ts, w=w, rid=rid, **f):
            w.write(cls(rollout_id=rid, seq=w.seq, ts=ts, **f))  # TraceWriter.write moves seq on

        emit(
            RolloutStart,
            t0,
            task_id=f"fix_{kind}",
            suite="mini",
            provider="openai",
            model="live-model",
            seed=0,
            max_iters=30,
            price_in=1.0,
            price_out=4.0,
        )
        steps = 4
        for s in range(1, steps + 1):
            ts = t0 + 10 * s
            emit(LlmCall, ts, step=s, latency_s=1.0, usage=Usage(prompt_tokens=1000 * s, completion_tokens=50))
            args = {"rel_path": "gcd.py"} if kind == "looping" or s % 2 else {"rel_dir": "."}
            name = "read_file" if "rel_path" in args else "list_dir"
            emit(ToolCallEvent, ts, step=s, call_id=f"c{s}", name=name, arguments="{}", args=args, valid=True)
            emit(ToolResultEvent, ts, step=s, call_id=f"c{s}", ok=True, duration_s=0.01, output_chars=40)
            if kind == "looping" and s >= 2:
                emit(LoopEvent, ts, step=s, pattern="repeat", repeats=s - 1, first_step=2, calls=["read_file gcd.py"])
        if kind == "stalled":
            emit(StallEvent, t0 + 40 + 120, step=steps, idle_s=120.0, waiting_on="model")
        if kind == "errored":
            emit(ErrorEvent, t0 + 45, type="APIError", message="HTTP 500 from the provider", step=steps)
        w.close()
    return batch

"""Loop and stall events in the store: ingested, counted in stats, loop steps marked bad."""

from __future__ import annotations

import sqlite3

from agent.trace import (
    BatchMeta,
    LlmCall,
    LoopEvent,
    Outcome,
    RolloutEnd,
    RolloutStart,
    StallEvent,
    ToolCallEvent,
    ToolResultEvent,
    TraceWriter,
    read_trace,
    trace_path,
    write_batch_meta,
)
from labeling.stats import loop_line, signal_report
from labeling.store import LabelStore


def _looping_batch(root):
    batch = root / "b1"
    write_batch_meta(batch, BatchMeta(id="b1", suite="s", provider="openai", model="m", started="2026-01-01"))
    with TraceWriter(trace_path(batch, "t__s0"), "t__s0") as w:
        w.emit(RolloutStart, task_id="t", suite="s", provider="openai", model="m", max_iters=30)
        for step in range(1, 5):
            w.emit(LlmCall, step=step, latency_s=0.1)
            w.emit(ToolCallEvent, step=step, call_id=f"c{step}", name="read_file", arguments="{}", args={}, valid=True)
            w.emit(ToolResultEvent, step=step, call_id=f"c{step}", ok=True, duration_s=0.0, output_chars=3)
            if step >= 3:
                w.emit(LoopEvent, step=step, pattern="repeat", repeats=step - 2, first_step=3, calls=["read_file"])
        w.emit(StallEvent, step=4, idle_s=121.0, waiting_on="model")
        w.emit(RolloutEnd, outcome=Outcome(steps=4), stop_reason="loop", duration_s=1.0)
    return batch


def test_loop_and_stall_events_are_ingested_counted_and_mark_steps(tmp_path):
    batch = _looping_batch(tmp_path)
    assert not read_trace(trace_path(batch, "t__s0")).warnings  # the models read them back
    store = LabelStore(tmp_path / "labels.sqlite")
    report = store.ingest([tmp_path])
    assert report.invalid_lines == 0 and not report.warnings  # the new kinds are known to the ingest
    [r] = store.rollouts()
    assert (r.loops, r.loop_steps, r.stalls, r.stop_reason) == (2, [3, 4], 1, "loop")
    marks = store.step_marks(r.uid)
    assert {s: (m.reason, m.labeler) for s, m in marks.items()} == {3: ("loop", "auto"), 4: ("loop", "auto")}
    assert set(store.all_step_marks()[r.uid]) == {3, 4}
    store.mark_step(r.uid, 4, "other", "a person's own reason")
    assert store.step_marks(r.uid)[4].reason == "other"  # a person's mark wins
    rep = signal_report(store)
    assert (rep.loops.rollouts_looping, rep.loops.loop_steps, rep.loops.stopped, rep.loops.stalls) == (1, 2, 1, 1)
    assert "2 steps marked bad" in loop_line(rep.loops)
    store.close()


def test_a_store_made_before_the_loop_columns_gains_them(tmp_path):
    db = tmp_path / "old.sqlite"
    store = LabelStore(db)
    store.close()
    with sqlite3.connect(db) as c:  # as an older version left it
        for col in ("loops", "loop_steps", "stalls"):
            c.execute(f"ALTER TABLE rollouts DROP COLUMN {col}")
    _looping_batch(tmp_path)
    store = LabelStore(db)
    store.ingest([tmp_path])
    [r] = store.rollouts()
    assert r.loop_steps == [3, 4] and r.stalls == 1
    store.close()

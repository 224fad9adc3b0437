"""Subprocesses for tests/labeling/test_team_sessions.py (run with ``python -m``).

python -m tests.labeling._session_helpers label DB ROOT LABELER N
    as one browser session of the studio does: ingest the traces (its tail worker), then give
    a verdict to the next pair this labeler has none for, printing "ok PAIR_ID" after each
    commit; N times, then one more ingest and "done". Any error ends it non-zero.
python -m tests.labeling._session_helpers write BATCH_DIR ROLLOUTS STEPS
    a batch being run: its rollouts start ("started"), then one step each per line read from
    stdin ("step K"), then they end ("done"), so the test interleaves it with the labelers.
"""

from __future__ import annotations

import sys
from pathlib import Path


def label(db: str, root: str, labeler: str, n: int) -> None:
    from labeling.records import PairFilter
    from labeling.store import LabelStore
    from labeling.store_url import is_db_url

    url = is_db_url(db)
    store = LabelStore(db if url else Path(db), labeler=labeler, base=Path(root) if url else None)
    verdicts = ("confirm", "flip", "discard")
    for i in range(n):
        store.ingest([Path(root)])
        mine = {e.target for e in store.events(labeler=labeler) if e.kind == "verdict"}
        todo = [p for p in store.pairs(PairFilter(include_stale=True)) if p.pair_id not in mine]
        pair = todo[(i * 7 + len(labeler)) % len(todo)]  # labelers spread over the queue, and meet
        store.set_verdict(pair.pair_id, verdicts[i % 3], note=labeler)
        print("ok", pair.pair_id, flush=True)
    store.ingest([Path(root)])
    store.close()
    print("done", flush=True)


def write(batch_dir: str, rollouts: int, steps: int) -> None:
    from agent.trace import (
        BatchMeta,
        FinalEvent,
        Outcome,
        RolloutEnd,
        RolloutStart,
        TestRun,
        TraceWriter,
        trace_path,
        write_batch_meta,
    )
    from tests.factories import emit_read_step

    bdir = Path(batch_dir)
    write_batch_meta(
        bdir, BatchMeta(id=bdir.name, suite="toy", provider="openai", model="m", started="2026-11-22T08:00:00+00:00")
    )
    writers = [TraceWriter(trace_path(bdir, f"w{i}__s{i}"), f"w{i}__s{i}") for i in range(rollouts)]
    for i, w in enumerate(writers):
        w.emit(RolloutStart, task_id=f"w{i % 2}", suite="toy", seed=i, provider="openai", model="m", max_iters=40)
    print("started", flush=True)
    for step in range(1, steps + 1):
        sys.stdin.readline()
        for w in writers:
            emit_read_step(w, step, "x = 1\n" * 50)
        print("step", step, flush=True)
    for i, w in enumerate(writers):
        w.emit(TestRun, passed=i % 2 == 0, final=True)
        w.emit(FinalEvent, summary="done")
        outcome = Outcome(tests_passed=i % 2 == 0, steps=steps, tool_calls=steps, patch=f"+fix {i}\n")
        w.emit(RolloutEnd, outcome=outcome, stop_reason="finished", duration_s=1.0)
        w.close()
    print("done", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "label":
        label(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        write(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))

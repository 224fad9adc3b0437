"""Subprocess entry points for the concurrency tests (run with ``python -m``).

python -m tests.labeling._helpers label DB PAIR_ID      set a verdict, print "ok", wait
python -m tests.labeling._helpers write BATCH_DIR N      write N rollouts step by step
python -m tests.labeling._helpers label-all DB LABELER VERDICT
    give every pair this labeler has no verdict for yet a verdict, one per line read from
    stdin, printing "ok PAIR_ID" after each commit, then "done", then wait
"""

from __future__ import annotations

import sys
from pathlib import Path

from agent.trace import (
    BatchMeta,
    FinalEvent,
    MessageEvent,
    Outcome,
    RolloutEnd,
    RolloutStart,
    TestRun,
    TraceWriter,
    trace_path,
    write_batch_meta,
)
from tests.factories import emit_read_step


def _store(db: str, labeler: str):
    from labeling.store import LabelStore
    from labeling.store_url import is_db_url

    return LabelStore(db if is_db_url(db) else Path(db), labeler=labeler)


def label(db: str, pair_id: str) -> None:
    store = _store(db, "killed")
    store.set_verdict(pair_id, "flip", note="set right before the kill")
    store.mark_step(store.pair(pair_id).chosen_uid, 1, "loop")
    print("ok", flush=True)
    sys.stdin.readline()  # block until killed; nothing is written after "ok"


def write(batch_dir: str, n: int) -> None:
    bdir = Path(batch_dir)
    write_batch_meta(
        bdir, BatchMeta(id=bdir.name, suite="toy", provider="openai", model="m", started="2026-11-22T08:00:00+00:00")
    )
    big = "x = 'some long tool output'\n" * 600  # ~16 KB lines: written in several syscalls
    writers = [TraceWriter(trace_path(bdir, f"t{i}__s{i}"), f"t{i}__s{i}") for i in range(n)]
    for i, w in enumerate(writers):
        w.emit(RolloutStart, task_id=f"t{i % 2}", suite="toy", seed=i, provider="openai", model="m", max_iters=40)
        w.emit(MessageEvent, message={"role": "user", "content": "fix it"})
    steps = 24
    for step in range(1, steps + 1):
        if step == steps // 2:
            print("half", flush=True)
            sys.stdin.readline()  # the test ingests once mid-batch, then lets us go on
        for w in writers:
            emit_read_step(w, step, big)
    for i, w in enumerate(writers):
        w.emit(TestRun, passed=i % 2 == 0, final=True)
        w.emit(FinalEvent, summary="done")
        w.emit(
            RolloutEnd,
            outcome=Outcome(
                tests_passed=i % 2 == 0,
                steps=steps,
                tool_calls=steps,
                tokens_in=10 * steps,
                tokens_out=2 * steps,
                patch=f"+fix {i}\n",
            ),
            stop_reason="finished",
            duration_s=1.0,
        )
        w.close()


def label_all(db: str, labeler: str, verdict: str) -> None:
    from labeling.records import PairFilter

    store = _store(db, labeler)
    done = {e.target for e in store.events(labeler=labeler) if e.kind == "verdict"}  # resumes after a kill
    for p in store.pairs(PairFilter(include_stale=True, verdict=None)):
        if p.pair_id not in done:
            sys.stdin.readline()  # the test paces us, so a SIGKILL can land mid-write
            store.set_verdict(p.pair_id, verdict, note=labeler)
            print("ok", p.pair_id, flush=True)
    print("done", flush=True)
    sys.stdin.readline()


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "label-all":
        label_all(sys.argv[2], sys.argv[3], sys.argv[4])
    if cmd == "label":
        label(sys.argv[2], sys.argv[3])
    elif cmd == "write":
        write(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(f"unknown command {cmd}")

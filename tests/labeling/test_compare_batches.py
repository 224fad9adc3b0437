"""labeling.compare_batches: which batch a comparison block reuses, and what its traces hold."""

from __future__ import annotations

from agent.trace import (
    BatchMeta,
    BatchParams,
    Outcome,
    PlannedRollout,
    RolloutEnd,
    TraceWriter,
    trace_path,
    write_batch_meta,
)
from labeling.compare_batches import find_block_batch, read_block


def _batch(root, name, model="m", seed=0, temperature=None, max_iters=30, started="2026-01-01T00:00:00"):
    params = BatchParams(seed=seed, temperature=temperature, max_iters=max_iters)
    meta = BatchMeta(id=name, suite="s", provider="openai", model=model, params=params, started=started)
    write_batch_meta(root / name, meta)
    return root / name


def test_reuses_the_newest_batch_of_the_same_model_seed_and_settings(tmp_path):
    _batch(tmp_path, "old", started="2026-01-01T00:00:00")
    new = _batch(tmp_path, "new", started="2026-01-02T00:00:00")
    _batch(tmp_path, "other-model", model="x", started="2026-01-03T00:00:00")
    _batch(tmp_path, "noise", seed=10_000, started="2026-01-03T00:00:00")
    _batch(tmp_path, "hot", temperature=1.0, started="2026-01-03T00:00:00")
    assert find_block_batch(tmp_path, "s", "m", 0) == new
    assert find_block_batch(tmp_path, "s", "m", 0, temperature=0.5) is None
    assert find_block_batch(tmp_path, "s", "m", 10_000).name == "noise"
    assert find_block_batch(tmp_path / "absent", "s", "m", 0) is None


def test_read_block_counts_verdicts_and_what_is_missing(tmp_path):
    bdir = _batch(tmp_path, "b")
    planned = [PlannedRollout(rollout_id=f"t__s{i}", task_id="t", seed=i) for i in range(4)]
    ends = {0: ("finished", True, False), 1: ("finished", True, True), 2: ("cancelled", True, False)}
    for i, (stop, passed, tampered) in ends.items():
        rid = planned[i].rollout_id
        with TraceWriter(trace_path(bdir, rid), rid) as w:
            w.emit(
                RolloutEnd,
                outcome=Outcome(tests_passed=passed, tests_tampered=tampered),
                stop_reason=stop,
                duration_s=1.0,
            )
    block = read_block("m", 0, bdir, planned)
    assert block.verdicts == {"t": [True, False]}  # a tampered pass is a fail
    assert [p.seed for p in block.missing] == [2, 3]  # cancelled runs again; 3 never started

"""`final`-mode DPO on bench/gen_traces.py's store: every rollout closes with its own summary."""

from __future__ import annotations

import json

from bench.gen_traces import generate
from exports import DpoOptions, check_file, export_dpo
from labeling.store import LabelStore


def test_final_mode_pairs_two_different_answers(tmp_path):
    generate(tmp_path / "traces", 24, tasks=12, per_batch=24, shared_goal=True)
    store = LabelStore(tmp_path / "labels.sqlite", labeler="tester")
    try:
        store.ingest([tmp_path / "traces"])
        store.rebuild_pairs()
        pairs = [p for p in store.pairs() if "identical_patch" not in p.flags]
        assert pairs
        for p in pairs:
            store.set_verdict(p.pair_id, "confirm")
        report = export_dpo(store, tmp_path / "dpo.jsonl", DpoOptions(mode="final"))
    finally:
        store.close()
    assert report.examples == len(pairs) and check_file(report.path).ok
    for line in (tmp_path / "dpo.jsonl").read_text().splitlines():
        rec = json.loads(line)
        chosen, rejected = rec["preferred_output"][0]["content"], rec["non_preferred_output"][0]["content"]
        assert chosen != rejected

"""Recorded reasoning never reaches an export: SFT and DPO files on sample_traces are the same
bytes with and without reasoning in the traces."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from exports import DpoOptions, SftOptions, export_dpo, export_sft
from labeling.store import LabelStore
from tests.exports.conftest import REPO


def _exports(root: Path, out: Path) -> list[bytes]:
    store = LabelStore(out / "labels.sqlite", labeler="tester")
    try:
        store.ingest([root])
        for pair in store.pairs():  # labeled pairs: the DPO export has lines to compare
            store.set_verdict(pair.pair_id, "confirm")
        export_sft(store, out / "sft.jsonl", SftOptions(style="trajectory"))
        export_sft(store, out / "sft-step.jsonl", SftOptions(style="step"))
        export_dpo(store, out / "dpo.jsonl", DpoOptions())
    finally:
        store.close()
    return [(out / name).read_bytes() for name in ("sft.jsonl", "sft-step.jsonl", "dpo.jsonl")]


def test_reasoning_in_the_traces_leaves_exports_byte_identical(tmp_path: Path) -> None:
    plain, thinking = tmp_path / "plain" / "sample_traces", tmp_path / "thinking" / "sample_traces"
    for dst in (plain, thinking):
        shutil.copytree(REPO / "sample_traces", dst, ignore=shutil.ignore_patterns("labels.sqlite*"))
    added = 0
    for path in thinking.glob("*/traces/*.jsonl"):
        lines = []
        for line in path.read_text().splitlines():
            e = json.loads(line)
            if e.get("kind") == "message" and e["message"].get("role") == "assistant":
                e["reasoning"], added = f"why step {e.get('step')}", added + 1
            lines.append(json.dumps(e))
        path.write_text("\n".join(lines) + "\n")
    assert added
    before, after = _exports(plain, plain.parent), _exports(thinking, thinking.parent)
    assert all(before) and before == after

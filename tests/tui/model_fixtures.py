"""Two models on the fixed test batch's tasks, for the Stats > Models view.

The fine-tuned model's batch is the fixed batch (tests/tui/trace_fixtures.py) rewritten:
another model name and batch id, fix_flatten passing on every seed (a flip up: the base
passes 1 of 3) and fix_gcd seed 0 failing (a flip down: 2 of 3 become 1 of 3).
"""

from __future__ import annotations

import json
from pathlib import Path

from agent.trace import read_batch_meta, write_batch_meta
from tests.tui.trace_fixtures import BATCH_ID, make_batch

FT_MODEL = "acct/test-model-ft-1"
FT_BATCH_ID = "20261122-010000-mini-test-model-ft-1-0001"
FLIPS = {("fix_flatten", 1): True, ("fix_flatten", 2): True, ("fix_gcd", 0): False}


def make_two_models(root: Path) -> Path:
    base = make_batch(root)
    ft = Path(root) / FT_BATCH_ID
    meta = read_batch_meta(base)
    write_batch_meta(
        ft,
        meta.model_copy(update={"id": FT_BATCH_ID, "model": FT_MODEL, "started": "2026-11-22T01:00:00+00:00"}),
    )
    (ft / "traces").mkdir(exist_ok=True)
    for src in sorted((base / "traces").iterdir()):
        task, seed = src.stem.rsplit("__s", 1)
        lines = []
        for line in src.read_text().splitlines():
            ev = json.loads(line)
            if ev["kind"] == "rollout_start":
                ev.update(model=FT_MODEL, batch_id=FT_BATCH_ID)
            if ev["kind"] == "rollout_end" and (task, int(seed)) in FLIPS:
                ev["outcome"].update(tests_passed=FLIPS[(task, int(seed))], tests_tampered=False)
            lines.append(json.dumps(ev, separators=(",", ":")))
        (ft / "traces" / src.name).write_text("\n".join(lines) + "\n")
    assert BATCH_ID != FT_BATCH_ID
    return root

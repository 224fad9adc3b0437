"""A person's verdict given before a rejudge changed a side's verdict is not exported; a
rejudge that leaves the verdicts as they were changes nothing (exports/rejudged.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.trace import Outcome, RolloutEnd, judged
from agent.trace_file import TraceWriter
from exports import DpoOptions, export_dpo
from labeling.store import LabelStore
from tests.exports.conftest import Env, Spec


def _rejudge(path: Path, rid: str, passed: bool) -> None:
    """What `repo-agent rejudge` appends: a new last rollout_end."""
    end = json.loads(path.read_text().splitlines()[-1])
    state = judged("pass") if passed else judged("fail", "held-out inputs: 3 of 44 calls differ")
    outcome = Outcome.model_validate(end["outcome"]).model_copy(update={"tests_passed": passed, "state": state})
    w = TraceWriter(path, rid)
    w.seq = 10_000
    w.emit(RolloutEnd, outcome=outcome, stop_reason=end["stop_reason"], duration_s=1.0)
    w.close()


@pytest.mark.parametrize("passes_again", [True, False])
def test_a_confirm_stands_through_a_rejudge_only_if_the_verdicts_stand(tmp_path, passes_again) -> None:
    root = tmp_path / "traces"
    root.mkdir()
    store = LabelStore(tmp_path / "labels.sqlite", labeler="tester")
    try:
        env = Env(root, store)
        batch = env.batch("b1", [Spec("fix_gcd", 0, passed=True), Spec("fix_gcd", 1, passed=False)])
        pair = env.pair_for("fix_gcd")
        store.set_verdict(pair.pair_id, "confirm")
        _rejudge(batch / "traces" / "fix_gcd__s0.jsonl", "fix_gcd__s0", passes_again)
        store.ingest([root])
        if passes_again:
            report = export_dpo(store, tmp_path / "d.jsonl", DpoOptions())
            assert report.examples == 1 and "rejudged_since_label" not in report.skipped
        else:
            with pytest.raises(Exception, match="rejudged_since_label"):
                export_dpo(store, tmp_path / "d.jsonl", DpoOptions())
    finally:
        store.close()

"""The shipped sample batch (recorded by the engine) ingests cleanly and agrees with itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.trace import find_batches, read_trace
from labeling.stats import signal_report
from labeling.store import LabelStore

SAMPLE = Path(__file__).resolve().parents[2] / "sample_traces"


def test_sample_traces_ingest(tmp_path):
    if not SAMPLE.is_dir() or not find_batches(SAMPLE):
        pytest.skip("sample_traces/ not recorded yet")
    with LabelStore(tmp_path / "labels.sqlite", labeler="t") as store:  # never write into the repo
        rep = store.ingest([SAMPLE])
        assert rep.files_read == rep.files_seen > 0
        assert rep.invalid_lines == 0 and rep.torn_lines == 0 and not rep.warnings
        for r in store.rollouts():
            trace = read_trace(Path(r.trace_path))  # the reference (pydantic) reader
            end = trace.end
            assert end is not None and r.status == "finished"
            o = end.outcome
            assert (r.tests_passed, r.steps, r.tool_calls, r.invalid_tool_calls, r.patch) == (
                o.tests_passed,
                o.steps,
                o.tool_calls,
                o.invalid_tool_calls,
                o.patch,
            )
            steps = store.steps(r.uid)
            assert len(steps) == o.steps and sum(len(s.calls) for s in steps) == o.tool_calls
            assert r.summary == (trace.final.summary if trace.final else "")
        report = signal_report(store)
        assert report.rollouts == len(store.rollouts()) and report.pairs == len(store.pairs())
        assert store.ingest([SAMPLE]).files_read == 0

"""Batches: concurrency, seeds, failure isolation, resume, cancel, and no key in any file."""

from __future__ import annotations

import threading

from agent.batch import run_batch
from agent.batch_spec import BatchSpec
from agent.executor import LocalExecutor
from agent.loop import RolloutConfig
from agent.providers import OpenAIProvider
from agent.trace import LlmCall, batch_alive, read_batch_meta, read_trace, trace_path
from tests.agent.rollout_fixtures import *
from tests.doubles.scripted_llm import MixedPolicy, ScriptedPolicy


def _batch(suite, factory, batch_dir, tmp_path, **kw):
    kw.setdefault("rollouts", 2)
    kw.setdefault("seed", 10)
    return scripted_batch(suite, factory, batch_dir, tmp_path, **kw)


def test_batch_runs_every_rollout_with_its_seed(tiny_suite, scripted, tmp_path):
    plan = {
        ("fix_gcd", 10): "clean",
        ("fix_gcd", 11): "wrong_fix",
        ("fix_largest", 10): "summary_only",
        ("fix_largest", 11): "invalid_then_recover",
    }
    server = scripted(MixedPolicy(tiny_suite, plan=plan))
    provider = openai_for(server)
    ends, events, alive = [], [], []
    lock = threading.Lock()

    def on_event(rid, e):
        with lock:
            events.append((rid, e.kind))

    summary = _batch(
        tiny_suite,
        lambda t, s: provider,
        tmp_path / "b1",
        tmp_path,
        max_workers=2,
        on_event=on_event,
        on_rollout_end=lambda r, done, total: (
            ends.append((r.rollout_id, done, total)),
            alive.append(batch_alive(tmp_path / "b1")),
        ),
    )
    # The batch's lock is held while it runs (readers tell a live batch from a dead one) and dropped after.
    assert alive == [True] * 4 and batch_alive(tmp_path / "b1") is False
    meta = read_batch_meta(tmp_path / "b1")
    assert meta.id == "b1" and meta.stop_reason == "finished" and meta.finished
    assert (meta.params.executor, meta.params.ray_address) == ("thread", None)
    assert [(p.task_id, p.seed) for p in meta.planned] == [
        ("fix_gcd", 10),
        ("fix_largest", 10),
        ("fix_gcd", 11),
        ("fix_largest", 11),
    ]
    assert sorted(d for _, d, _ in ends) == [1, 2, 3, 4] and {t for *_, t in ends} == {4}
    by_id = {r.rollout_id: r for r in summary.results}
    assert {rid: r.outcome.tests_passed for rid, r in by_id.items()} == {
        "fix_gcd__s10": True,
        "fix_gcd__s11": False,
        "fix_largest__s10": False,
        "fix_largest__s11": True,
    }
    for p in meta.planned:
        read = read_trace(trace_path(tmp_path / "b1", p.rollout_id))
        assert not read.warnings and read.start.seed == p.seed and read.start.batch_id == "b1"
        assert read.end is not None
    assert {(rid, "rollout_end") for rid in by_id} <= set(events)
    # Each request carried its rollout's seed.
    assert {b["seed"] for b in server.requests} == {10, 11}
    assert summary.pass_rate == 0.5 and summary.tool_calls == (summary.tool_calls[1] - 3, summary.tool_calls[1])
    assert [s.task_id for s in summary.per_task()] == ["fix_gcd", "fix_largest"]


def test_one_rollouts_provider_failure_never_stops_the_batch(tiny_suite, scripted, tmp_path):
    server = scripted(ScriptedPolicy(tiny_suite, "clean"))
    server.fail_when(lambda b: b.get("seed") == 11 and "fix_gcd" in b["messages"][1]["content"], status=500)
    provider = openai_for(server)

    def factory(task_id, seed):
        if task_id == "fix_largest" and seed == 11:
            raise RuntimeError("factory broke")  # an error outside the loop's own handling
        return provider

    summary = _batch(tiny_suite, factory, tmp_path / "b", tmp_path, max_workers=2)
    stops = {r.rollout_id: r.stop_reason for r in summary.results}
    assert stops == {
        "fix_gcd__s10": "finished",
        "fix_largest__s10": "finished",
        "fix_gcd__s11": "error",
        "fix_largest__s11": "error",
    }
    assert read_batch_meta(tmp_path / "b").stop_reason == "finished"
    # An infrastructure failure is not judged: out of the pass rate, never a FAIL (issue 25).
    assert summary.not_judged() == {"error": 2} and (summary.passed, len(summary.judged)) == (2, 2)
    assert [(s.task_id, s.rollouts, s.not_judged) for s in summary.per_task()] == [
        ("fix_gcd", 1, 1),
        ("fix_largest", 1, 1),
    ]
    for rid in stops:
        read = read_trace(trace_path(tmp_path / "b", rid))
        assert read.end is not None and not read.warnings
        if stops[rid] == "error":
            assert [e for e in read.events if e.kind == "error"]


def test_resume_skips_finished_rollouts_and_restarts_incomplete_ones(tiny_suite, scripted, tmp_path):
    b = tmp_path / "b"
    first = scripted(ScriptedPolicy(tiny_suite, "summary_only"))
    _batch(tiny_suite, lambda t, s: openai_for(first), b, tmp_path)
    # A crash mid-rollout: the trace lost its end. Another rollout never started.
    torn = trace_path(b, "fix_gcd__s11")
    lines = torn.read_text().splitlines(keepends=True)
    torn.write_text("".join(lines[:6]) + lines[6][:15])
    trace_path(b, "fix_largest__s10").unlink()
    meta_before = read_batch_meta(b)

    second = scripted(ScriptedPolicy(tiny_suite, "summary_only"))
    summary = _batch(tiny_suite, lambda t, s: openai_for(second), b, tmp_path)
    resumed = {r.rollout_id for r in summary.results if r.resumed}
    assert resumed == {"fix_gcd__s10", "fix_largest__s11"}
    # The server saw requests only for the two rollouts that had to run.
    asked = {(b_["seed"], "fix_gcd" in b_["messages"][1]["content"]) for b_ in second.requests}
    assert asked == {(11, True), (10, False)}
    meta = read_batch_meta(b)
    assert meta.id == meta_before.id and meta.started == meta_before.started and meta.stop_reason == "finished"
    read = read_trace(torn)  # restarted from scratch: one clean trace, no torn line
    assert not read.warnings and [e.seq for e in read.events] == list(range(len(read.events)))
    assert sum(e.kind == "rollout_start" for e in read.events) == 1 and read.end.stop_reason == "finished"


def test_cancel_ends_running_rollouts_with_valid_traces(tiny_suite, scripted, tmp_path):
    server = scripted(ScriptedPolicy(tiny_suite, "never_finish"))
    cancel = threading.Event()

    def on_event(rid, e):
        if isinstance(e, LlmCall) and e.step == 3:
            cancel.set()

    summary = _batch(
        tiny_suite,
        lambda t, s: openai_for(server),
        tmp_path / "b",
        tmp_path,
        max_workers=1,
        cancel=cancel,
        on_event=on_event,
        config=RolloutConfig(max_iters=50),
    )
    assert [r.stop_reason for r in summary.results] == ["cancelled"]
    assert summary.cancelled and read_batch_meta(tmp_path / "b").stop_reason == "cancelled"
    read = read_trace(trace_path(tmp_path / "b", summary.results[0].rollout_id))
    assert not read.warnings and read.end.stop_reason == "cancelled" and read.end.outcome.steps == 3
    # Rollouts not yet started were not started.
    assert len(list((tmp_path / "b" / "traces").glob("*.jsonl"))) == 1
    # Resuming runs them, and runs the cancelled one again.
    again = _batch(
        tiny_suite, lambda t, s: openai_for(server), tmp_path / "b", tmp_path, config=RolloutConfig(max_iters=2)
    )
    assert sorted(r.stop_reason for r in again.results) == ["max_iters"] * 4 and not any(
        r.resumed for r in again.results
    )
    assert read_batch_meta(tmp_path / "b").stop_reason == "finished"


def test_ctrl_c_in_the_caller_cancels_cleanly(tiny_suite, scripted, tmp_path):
    """KeyboardInterrupt raised in the calling thread (as Ctrl-C is) while rollouts run."""
    plan = {("fix_gcd", 10): "summary_only"}
    server = scripted(MixedPolicy(tiny_suite, pass_prob=0.0, plan=plan, failing=("never_finish",)))
    raised = []

    def on_end(result, done, total):
        if not raised:
            raised.append(result.rollout_id)
            raise KeyboardInterrupt

    summary = _batch(
        tiny_suite,
        lambda t, s: openai_for(server),
        tmp_path / "b",
        tmp_path,
        max_workers=2,
        on_rollout_end=on_end,
        config=RolloutConfig(max_iters=200),
    )
    assert summary.interrupted and summary.cancelled
    stops = {r.rollout_id: r.stop_reason for r in summary.results}
    assert stops.pop("fix_gcd__s10") == "finished" and "fix_largest__s10" in stops
    # The rollout running alongside (and one a freed worker may have just picked up)
    # ended as cancelled; the rest never started.
    assert set(stops.values()) == {"cancelled"} and len(stops) <= 2
    traces = list((tmp_path / "b" / "traces").glob("*.jsonl"))
    assert len(traces) == len(stops) + 1
    for path in traces:
        read = read_trace(path)
        assert not read.warnings and read.end is not None


def test_no_api_key_reaches_any_file(tiny_suite, scripted, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_OPENAI_KEY)
    monkeypatch.setenv("TOGETHER_API_KEY", FAKE_TOGETHER_KEY)
    server = scripted(ScriptedPolicy(tiny_suite, "clean"))
    provider = OpenAIProvider("scripted", base_url=server.base_url, retry=FAST_RETRY)
    assert provider._client.api_key == FAKE_OPENAI_KEY  # the key really was in play
    _batch(
        tiny_suite,
        lambda t, s: provider,
        tmp_path / "b",
        tmp_path,
        rollouts=1,
        base_url=server.base_url,
        executor=LocalExecutor(2),
    )
    files = [p for p in (tmp_path / "b").rglob("*") if p.is_file()]
    assert len(files) == 4  # batch.json + batch.lock (the running process's pid) + 2 traces
    for p in files:
        text = p.read_text()
        assert FAKE_OPENAI_KEY not in text and FAKE_TOGETHER_KEY not in text
        assert "DO-NOT-LEAK" not in text


class SerialExecutor:
    """A stand-in for another executor (e.g. Ray): the batch only needs ``run``."""

    def __init__(self):
        self.items = []

    def run(self, fn, items, on_result, cancel):
        for it in items:
            self.items.append(it.rollout_id)
            if (r := fn(it)) is not None:
                on_result(r)


def test_batch_runs_through_any_executor(tiny_suite, scripted, tmp_path):
    server = scripted(ScriptedPolicy(tiny_suite, "summary_only"))
    ex = SerialExecutor()
    summary = _batch(tiny_suite, lambda t, s: openai_for(server), tmp_path / "b", tmp_path, executor=ex)
    assert ex.items == [p.rollout_id for p in summary.meta.planned] and len(summary.results) == 4


def test_resuming_another_models_batch_is_refused(tiny_suite, scripted, tmp_path):
    import pytest

    from agent.batch import BatchMismatch

    server = scripted(ScriptedPolicy(tiny_suite, "summary_only"))
    _batch(tiny_suite, lambda t, s: openai_for(server), tmp_path / "b", tmp_path, rollouts=1, task_ids=["fix_gcd"])
    with pytest.raises(BatchMismatch, match="scripted"):
        run_batch(BatchSpec(tiny_suite, lambda t, s: openai_for(server), tmp_path / "b", model="other-model"))
    assert len(server.requests) == 1


def test_a_key_echoed_in_a_provider_error_is_redacted(tiny_suite, scripted, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_OPENAI_KEY)
    server = scripted(ScriptedPolicy(tiny_suite, "summary_only"))
    server.fail_when(
        lambda b: True,
        status=401,
        message=f"Incorrect API key provided: {FAKE_OPENAI_KEY}. Also sk-proj-abc***********wxyz.",
    )
    provider = OpenAIProvider("scripted", base_url=server.base_url, retry=FAST_RETRY)
    summary = _batch(tiny_suite, lambda t, s: provider, tmp_path / "b", tmp_path, rollouts=1, task_ids=["fix_gcd"])
    [result] = summary.results
    assert result.stop_reason == "error" and "Incorrect API key provided: <redacted>" in result.error
    text = trace_path(tmp_path / "b", "fix_gcd__s10").read_text()
    assert "401" in text and FAKE_OPENAI_KEY not in text and "wxyz" not in text and "<redacted>" in text

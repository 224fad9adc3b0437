"""Loops and stalls: the detector on its own, then whole rollouts against the scripted server."""

from __future__ import annotations

from agent.loop import RolloutConfig, RolloutSpec, run_rollout
from agent.loop_detect import CallSeen, LoopDetector, project_savings
from agent.trace import LoopEvent, StallEvent, read_trace
from tests.agent.rollout_fixtures import *
from tests.doubles.loop_policies import AlternatePolicy, RepeatPolicy, RereadAfterEditPolicy, SameWrongFixPolicy


def _call(name, out="x", ok=True, failed=None, **args):
    return CallSeen(name, args, "", ok, out, failed)


def test_a_period_three_cycle_is_found_and_counted_in_full_periods():
    d = LoopDetector()
    moves = ["a", "b", "c"] * 3
    hits = [d.observe(i + 1, [_call("read_file", rel_path=m)]) for i, m in enumerate(moves)]
    assert hits[:5] == [None] * 5  # a b c a b: not yet a full period again
    assert hits[5].pattern == "cycle" and hits[5].period == 3 and hits[5].repeats == 1 and hits[5].first_step == 4
    assert hits[8].repeats == 2 and hits[8].first_step == 4


def test_a_test_run_differing_only_in_timing_is_the_same_result():
    d = LoopDetector()
    d.observe(1, [_call("run_tests", "1 failed in 0.03s", failed=True)])
    hit = d.observe(2, [_call("run_tests", "1 failed in 0.41s", failed=True)])
    assert hit is not None and hit.pattern == "repeat"


def test_a_reread_after_a_write_is_not_a_repeat():
    d = LoopDetector()
    assert d.observe(1, [_call("read_file", "old", rel_path="a.py")]) is None
    assert d.observe(2, [_call("write_file", "wrote", rel_path="a.py", content="new")]) is None
    assert d.observe(3, [_call("read_file", "new", rel_path="a.py")]) is None


def test_savings_continue_the_prompt_growth_and_price_it():
    s = project_savings([(100, 10), (200, 10), (300, 10)], max_iters=5, price_in=1.0, price_out=2.0)
    assert (s.steps, s.tokens_in, s.tokens_out) == (2, 400 + 500, 20)
    assert s.cost_usd == round((900 * 1.0 + 20 * 2.0) / 1e6, 8)
    assert project_savings([(100, 10)], 5, None, None).cost_usd is None


def _run(suite, server, tmp_path, name="r", task_id="fix_gcd", **cfg):
    path = tmp_path / f"{name}.jsonl"
    result = run_rollout(
        RolloutSpec(suite, suite.task(task_id), path, rollout_id=name, seed=1),
        openai_for(server, **cfg.pop("provider", {})),
        config=RolloutConfig(**cfg),
        workspace_root=tmp_path / "ws",
    )
    return result, read_trace(path)


def test_a_model_repeating_one_call_is_stopped_after_the_limit(tiny_suite, scripted, tmp_path):
    server = scripted(RepeatPolicy(tiny_suite))
    result, read = _run(tiny_suite, server, tmp_path, max_iters=30, loop_limit=5, price_in=1.0, price_out=2.0)
    assert not read.warnings
    assert result.stop_reason == "loop" and read.end.stop_reason == "loop"
    assert result.outcome.steps == 6  # the first read, then 5 repeats
    loops = [e for e in read.events if isinstance(e, LoopEvent)]
    assert [e.step for e in loops] == [2, 3, 4, 5, 6]
    assert all(e.pattern == "repeat" and e.first_step == 2 for e in loops)
    assert [e.repeats for e in loops] == [1, 2, 3, 4, 5]
    saved = result.outcome.saved
    assert saved.steps == 24 and saved.tokens_in > result.outcome.tokens_in and saved.cost_usd > 0


def test_a_model_alternating_two_calls_is_stopped(tiny_suite, scripted, tmp_path):
    server = scripted(AlternatePolicy(tiny_suite))
    result, read = _run(tiny_suite, server, tmp_path, max_iters=30, loop_limit=3)
    assert result.stop_reason == "loop"
    last = [e for e in read.events if isinstance(e, LoopEvent)][-1]
    assert (last.pattern, last.period, last.repeats, last.step) == ("cycle", 2, 3, 8)
    assert any(c.startswith("list_dir") for c in last.calls) and any(c.startswith("read_file") for c in last.calls)


def test_the_same_wrong_fix_retested_is_a_same_failure_loop(tiny_suite, scripted, tmp_path):
    server = scripted(SameWrongFixPolicy(tiny_suite))
    result, read = _run(tiny_suite, server, tmp_path, max_iters=30, loop_limit=2)
    loops = [e for e in read.events if isinstance(e, LoopEvent)]
    assert result.stop_reason == "loop" and result.outcome.steps == 8  # write, test, grep x2, write, test
    assert [(e.pattern, e.step, e.repeats, e.first_step) for e in loops] == [
        ("same_failure", 5, 1, 4),
        ("same_failure", 8, 2, 7),
    ]


def test_loop_limit_zero_only_flags(tiny_suite, scripted, tmp_path):
    server = scripted(RepeatPolicy(tiny_suite))
    result, read = _run(tiny_suite, server, tmp_path, max_iters=8, loop_limit=0)
    assert result.stop_reason == "max_iters" and result.outcome.saved is None
    assert len([e for e in read.events if isinstance(e, LoopEvent)]) == 7


def test_a_model_rereading_after_each_edit_is_never_stopped(tiny_suite, scripted, tmp_path):
    server = scripted(RereadAfterEditPolicy(tiny_suite))
    result, read = _run(tiny_suite, server, tmp_path, max_iters=30, loop_limit=1)
    assert result.stop_reason == "finished" and result.outcome.tests_passed
    assert not [e for e in read.events if isinstance(e, LoopEvent)]


def test_a_hung_server_is_recorded_as_a_stall_and_the_rollout_goes_on(tiny_suite, scripted, tmp_path):
    server = scripted(RereadAfterEditPolicy(tiny_suite))
    server.hang_next(1)  # the first request never gets an answer; the client times out and retries
    result, read = _run(tiny_suite, server, tmp_path, max_iters=30, stall_s=0.2, provider={"timeout_s": 1.0})
    stalls = [e for e in read.events if isinstance(e, StallEvent)]
    # The hung first request is a stall before step 1 (a busy machine may add later ones).
    first = stalls[0]
    assert first.step is None and first.waiting_on == "model" and first.idle_s >= 0.2
    # Reported once per wait, not once per check: no stall follows another with nothing between
    # (a busy machine may make the retried request a second wait of its own, after its own events).
    events = read.events
    assert not any(isinstance(a, StallEvent) and isinstance(b, StallEvent) for a, b in zip(events, events[1:]))
    assert result.stop_reason == "finished"
    seqs = [e.seq for e in read.events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # the watchdog's line is in order


def test_one_rollout_is_stopped_and_the_batch_goes_on(tiny_suite, scripted, tmp_path):
    from agent.batch import run_batch
    from agent.batch_spec import BatchCallbacks, BatchControls, BatchSpec
    from agent.executor import RolloutCancels
    from agent.trace import LlmCall, trace_path

    server = scripted(RepeatPolicy(tiny_suite))
    cancels = RolloutCancels()
    seen_running: list[list[str]] = []

    def on_event(rid, event):
        if rid.startswith("fix_gcd") and isinstance(event, LlmCall) and event.step == 3:
            seen_running.append(cancels.running())
            assert cancels.cancel(rid)

    summary = run_batch(
        BatchSpec(
            tiny_suite,
            lambda task_id, seed: openai_for(server),
            tmp_path / "b",
            rollouts=1,
            max_workers=1,
            config=RolloutConfig(max_iters=6, loop_limit=0, stall_s=None),
            model="scripted",
            workspace_root=tmp_path / "ws",
        ),
        BatchCallbacks(event=on_event),
        BatchControls(rollout_cancels=cancels),
    )
    by_task = {r.task_id: r for r in summary.results}
    assert seen_running == [["fix_gcd__s0"]]
    assert by_task["fix_gcd"].stop_reason == "cancelled" and by_task["fix_gcd"].outcome.steps == 3
    assert by_task["fix_largest"].stop_reason == "max_iters"  # the batch went on
    assert read_trace(trace_path(tmp_path / "b", "fix_gcd__s0")).end.stop_reason == "cancelled"
    assert summary.meta.stop_reason == "finished" and cancels.running() == []
    assert not cancels.cancel("fix_gcd__s0")  # no longer running

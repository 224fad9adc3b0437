"""Stopping one running rollout of a batch (the studio's `x` on a rollout row)."""

from __future__ import annotations

from agent.batch import run_batch
from agent.batch_spec import BatchCallbacks, BatchControls, BatchSpec
from agent.executor import RolloutCancels
from agent.loop import RolloutConfig
from agent.trace import LlmCall, read_batch_meta, read_trace, trace_path
from tests.agent.rollout_fixtures import *
from tests.doubles.scripted_llm import ScriptedPolicy


def test_one_rollout_is_stopped_and_the_batch_goes_on(tiny_suite, scripted, tmp_path):
    server = scripted(ScriptedPolicy(tiny_suite, "never_finish"))
    cancels = RolloutCancels()
    seen: set[str] = set()
    stopped: list[str] = []

    def on_event(rid, e):
        # The first rollout to reach step 3 is stopped by its own flag, as the studio does.
        seen.add(rid)
        if isinstance(e, LlmCall) and e.step == 3 and not stopped:
            stopped.append(rid)
            assert cancels.cancel(rid)  # it was running

    summary = run_batch(
        BatchSpec(
            tiny_suite,
            lambda t, s: openai_for(server),
            tmp_path / "b",
            rollouts=2,
            seed=10,
            provider_name="openai",
            model="scripted",
            workspace_root=tmp_path / "ws",
            max_workers=1,
            config=RolloutConfig(max_iters=5),
        ),
        BatchCallbacks(event=on_event),
        BatchControls(rollout_cancels=cancels),
    )
    by_id = {r.rollout_id: r.stop_reason for r in summary.results}
    assert seen == set(by_id) and cancels.running() == []  # each rollout's flag went with it
    assert by_id.pop(stopped[0]) == "cancelled"
    assert set(by_id.values()) == {"max_iters"} and len(by_id) == 3  # the others ran to the end
    end = read_trace(trace_path(tmp_path / "b", stopped[0])).end
    assert end.stop_reason == "cancelled" and end.outcome.steps == 3
    assert read_batch_meta(tmp_path / "b").stop_reason == "finished"  # the batch was not cancelled

"""A run_tests row says what the tests did: a tool that ran fine over failing tests is not "ok"."""

from __future__ import annotations

from agent.trace import Outcome, RolloutEnd, ToolCallEvent
from tests.factories import Call, Rollout, write_rollout
from tui.live_trace import LiveTrace


def test_run_tests_rows_say_failed_or_passed(tmp_path):
    r = Rollout(
        "fix_x",
        0,
        steps=[
            [Call("run_tests", {}, output="Tests FAILED: 2 failed, 1 passed", test_run={"passed": False})],
            [Call("write_file", {"rel_path": "x.py", "content": "y"})],
            [Call("run_tests", {}, output="Tests PASSED: 3 passed", test_run={"passed": True})],
            [Call("run_tests", {}, ok=False, output="error: sandbox", error="sandbox")],
        ],
    )
    live = LiveTrace(write_rollout(tmp_path / "b", r))
    live.poll()
    assert [c.status for c in live.calls] == ["failed", "ok", "passed", "error"]


def test_a_call_without_a_result_in_an_ended_rollout_is_not_running(tmp_path):
    """An imported agent's submit has no tool result: once the rollout ended it is not running."""
    r = Rollout("fix_x", 0, steps=[[Call("list_dir", {"rel_dir": "."})]], finished=False)
    path = write_rollout(tmp_path / "b", r)
    submit = ToolCallEvent(
        rollout_id=r.rollout_id, seq=90, ts=1.0, step=2, call_id="c9", name="submit", arguments="{}", valid=True
    )
    end = RolloutEnd(rollout_id=r.rollout_id, seq=91, ts=2.0, outcome=Outcome(), stop_reason="finished", duration_s=1)
    live = LiveTrace(path)
    with path.open("a") as f:
        f.write(submit.model_dump_json() + "\n")
    live.poll()
    assert [c.status for c in live.calls] == ["ok", "running"]
    with path.open("a") as f:
        f.write(end.model_dump_json() + "\n")
    live.poll()
    assert [c.status for c in live.calls] == ["ok", "no result"]


def test_the_rollout_header_shows_an_imports_token_totals(tmp_path):
    """No llm_call usage (an Inspect import): the outcome's totals, as the pair card shows them."""
    from tui.screens.rollout import tokens_shown

    r = Rollout("fix_x", 0, steps=[[Call("list_dir", {"rel_dir": "."})]], usage=lambda step: (0, 0))
    r.tokens_in, r.tokens_out = 670, 74
    live = LiveTrace(write_rollout(tmp_path / "b", r))
    live.poll()
    assert (live.tokens_in, live.tokens_out) == (0, 0)
    assert tokens_shown(live) == (670, 74)

"""The rollout state: one reading of what a rollout is worth, for new traces and old."""

from __future__ import annotations

import pytest

from agent.trace import Outcome, RolloutEnd, judged, not_judged, rollout_state


def _end(stop: str = "finished", **outcome: object) -> RolloutEnd:
    return RolloutEnd(rollout_id="r", seq=9, ts=0.0, outcome=Outcome(**outcome), stop_reason=stop, duration_s=1.0)


@pytest.mark.parametrize(
    ("stop", "outcome", "want"),
    [
        ("finished", {"tests_passed": True}, judged("pass")),
        ("max_iters", {}, judged("fail")),
        ("loop", {}, judged("fail")),
        ("timeout", {"tests_passed": True}, judged("pass")),
        (
            "finished",
            {"tests_passed": False, "tests_tampered": True, "tampered_paths": ["t.py"]},
            judged("tampered", "t.py"),
        ),
        ("cancelled", {"tests_passed": False}, not_judged("cancelled")),
        ("diverged", {}, not_judged("diverged")),
        ("error", {"tests_passed": True}, not_judged("error")),
        ("finished", {"verdict_known": False}, not_judged("no_verdict")),
    ],
)
def test_an_old_trace_maps_onto_one_state(stop: str, outcome: dict, want: object) -> None:
    assert rollout_state(_end(stop, **outcome)) == want


def test_a_written_state_wins_over_the_old_fields() -> None:
    end = _end("finished", tests_passed=True, state=judged("suspect", "sys._getframe"))
    assert rollout_state(end).verdict == "suspect"
    assert rollout_state(end).label == "SUSPECT"
    # and it survives the trip through a trace line
    assert rollout_state(RolloutEnd.model_validate_json(end.model_dump_json())) == end.outcome.state


def test_no_end_is_running_while_the_batch_lives_and_interrupted_after() -> None:
    assert rollout_state(None).status == "running"
    dead = rollout_state(None, alive=False)
    assert (dead.status, dead.reason, dead.judged) == ("not_judged", "interrupted", False)
    assert dead.label == "interrupted"

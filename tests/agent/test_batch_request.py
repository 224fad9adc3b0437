"""One request model and one planning function for every front end (CLI run, prefs, studio)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agent.batch_request import BatchRequest, BatchRequestError, plan_batch

SAMPLE = Path(__file__).resolve().parents[2] / "sample_traces" / "mini-bugs-scripted-sample"


@pytest.mark.parametrize(
    "fields,needle",
    [
        ({"provider": "openai"}, "needs a model"),
        ({"provider": "replay"}, "--replay-from"),
        ({"model": "m", "rollouts": 0}, "--rollouts must be at least 1"),
        ({"model": "m", "max_workers": 0}, "--max-workers must be at least 1"),
        ({"model": "m", "allocation": "adaptive"}, "needs a budget"),
        ({"model": "m", "allocation": "fixed", "give_up_after": 3}, "--give-up-after needs --allocation adaptive"),
        ({"model": "m", "budget_rollouts": 0}, "--budget-rollouts must be at least 1"),
        ({"model": "m", "provider": "nope"}, "--provider"),
    ],
)
def test_a_bad_request_is_one_line_naming_the_flag(fields, needle):
    with pytest.raises(BatchRequestError) as exc:
        BatchRequest.parse(suite="mini-bugs", **fields)
    assert needle in str(exc.value) and "\n" not in str(exc.value)


def test_plan_checks_suite_and_tasks(tmp_path):
    with pytest.raises(BatchRequestError, match="nope"):
        plan_batch(BatchRequest.parse(suite="mini-bugs", model="m", base_url="http://127.0.0.1:1/v1", tasks=["nope"]))
    with pytest.raises(BatchRequestError):
        plan_batch(BatchRequest.parse(suite=str(tmp_path / "missing.json"), model="m"))


def test_replaying_a_batch_takes_its_tasks_rollouts_and_max_iters(tmp_path):
    plan = plan_batch(BatchRequest.parse(suite="mini-bugs", provider="replay", replay_from=str(SAMPLE)))
    meta = json.loads((SAMPLE / "batch.json").read_text())
    assert plan.rollouts == meta["params"]["rollouts"] and plan.config.max_iters == meta["params"]["max_iters"]
    assert plan.task_ids == list(dict.fromkeys(p["task_id"] for p in meta["planned"]))
    assert plan.model == meta["model"] and plan.planned_total == len(meta["planned"])
    # Given values win over the recorded ones.
    plan = plan_batch(
        BatchRequest.parse(suite="mini-bugs", provider="replay", replay_from=str(SAMPLE), rollouts=1, max_iters=3)
    )
    assert (plan.rollouts, plan.config.max_iters) == (1, 3)


def test_resume_fills_allocation_from_the_batch(tmp_path):
    batch = tmp_path / "b"
    shutil.copytree(SAMPLE, batch)
    meta = json.loads((batch / "batch.json").read_text())
    meta["params"].update(allocation="adaptive", budget_rollouts=9, give_up_after=3)
    (batch / "batch.json").write_text(json.dumps(meta))
    request = BatchRequest.parse(suite="mini-bugs", provider="replay", replay_from=str(SAMPLE), resume=str(batch))
    plan = plan_batch(request)
    assert plan.batch_dir == batch and plan.allocation == "adaptive"
    assert (plan.allocation_config.budget_rollouts, plan.allocation_config.give_up_after) == (9, 3)
    # A flag given on resume overrides the recorded one.
    plan = plan_batch(request.model_copy(update={"budget_rollouts": 12}))
    assert plan.allocation_config.budget_rollouts == 12


def test_fixed_budget_caps_the_planned_total():
    request = BatchRequest.parse(
        suite="mini-bugs", provider="replay", replay_from=str(SAMPLE), rollouts=4, budget_rollouts=5
    )
    plan = plan_batch(request)
    assert plan.allocation == "fixed" and plan.planned_total == 5
    assert plan.batch_spec().allocation_config.budget_rollouts == 5


def test_a_replay_batch_cannot_be_resumed_from_its_meta_alone():
    from agent.trace import read_batch_meta

    meta = read_batch_meta(SAMPLE).model_copy(update={"provider": "replay"})
    with pytest.raises(BatchRequestError, match="--replay-from"):
        BatchRequest.for_resume(meta, SAMPLE)

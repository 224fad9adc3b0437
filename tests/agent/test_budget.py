"""--budget-usd: the batch runner starts no rollout the dollars left cannot cover."""

from __future__ import annotations

import threading

import pytest

from agent.batch import run_batch
from agent.budget import DollarBudget
from agent.loop import RolloutConfig
from agent.trace import read_batch_meta
from tests.agent.rollout_fixtures import *
from tests.doubles.scripted_llm import ScriptedPolicy
from tui.cli import main

PRICES = dict(price_in=5.0, price_out=15.0)  # USD per 1M tokens
# The budget only sees costs: "wrong_fix" rollouts cost different amounts (3 or 4 model turns)
# and, failing, skip the reference-fix rerun a pass gets, so each runs the tests half as often.
SCRIPT = "wrong_fix"


def _run(suite, server, tmp_path, name, budget, **kw):
    provider = openai_for(server)
    return run_batch(
        *batch_args(
            suite,
            lambda t, s: provider,
            tmp_path / name,
            rollouts=kw.pop("rollouts", 3),
            seed=0,
            max_workers=kw.pop("max_workers", 1),
            config=RolloutConfig(**PRICES),
            provider_name="openai",
            model="scripted",
            workspace_root=tmp_path / "ws",
            budget=budget,
            **kw,
        )
    )


def test_the_budget_stops_the_batch_at_the_right_rollout(tiny_suite, scripted, tmp_path):
    server = scripted(ScriptedPolicy(tiny_suite, SCRIPT))
    # What each of the first four rollouts costs, unconstrained (one worker: the order is the
    # plan's; rollout index outermost, so 2 rollouts per task are the first four of 3 per task).
    free = _run(tiny_suite, server, tmp_path, "free", None, rollouts=2)
    costs = [r.outcome.cost_usd for r in free.results]
    assert len(costs) == 4 and all(c and c > 0 for c in costs) and len(set(costs)) > 1
    # A limit that covers the first three rollouts and the projection of a fourth, not a fifth:
    spent3 = sum(costs[:3])
    spent4 = sum(costs[:4])
    limit = max(spent3 + spent3 / 3, spent4) + 1e-9
    assert spent4 + spent4 / 4 > limit  # so the fifth must not start
    s = _run(tiny_suite, server, tmp_path, "capped", DollarBudget(limit))
    assert [r.rollout_id for r in s.results] == [r.rollout_id for r in free.results]
    assert [r.outcome.cost_usd for r in s.results] == pytest.approx(costs[:4])
    b = s.budget
    assert b.spent_usd == pytest.approx(spent4, abs=1e-6) and b.left_usd == pytest.approx(limit - spent4, abs=1e-6)
    assert b.refused >= 1 and b.ended == 4
    assert read_batch_meta(tmp_path / "capped").stop_reason == "budget"


def test_until_one_rollout_ends_they_start_one_at_a_time(tiny_suite, scripted, tmp_path):
    server = scripted(ScriptedPolicy(tiny_suite, SCRIPT))
    running, peak = [0], [0]
    lock = threading.Lock()

    def on_event(rid, e):
        with lock:
            running[0] += {"rollout_start": 1, "rollout_end": -1}.get(e.kind, 0)
            peak[0] = max(peak[0], running[0])

    # A budget of one rollout's worth: with 2 workers the second must wait for the first's
    # cost, then be refused; without the wait both would have started.
    free = _run(tiny_suite, server, tmp_path, "free", None, rollouts=1)
    one = free.results[0].outcome.cost_usd
    s = _run(tiny_suite, server, tmp_path, "b", DollarBudget(one * 1.5), rollouts=2, max_workers=2, on_event=on_event)
    assert len(s.results) == 1 and peak[0] == 1 and s.budget.refused >= 1


def test_resumed_rollouts_count_as_spent(tiny_suite, scripted, tmp_path):
    server = scripted(ScriptedPolicy(tiny_suite, SCRIPT))
    first = _run(tiny_suite, server, tmp_path, "r", None, rollouts=1)
    spent = sum(r.outcome.cost_usd for r in first.results)
    again = _run(tiny_suite, server, tmp_path, "r", DollarBudget(spent * 1.01), rollouts=2)
    assert [r.resumed for r in again.results] == [True, True]  # nothing new could start
    assert again.budget.spent_usd == pytest.approx(spent, abs=1e-6) and again.budget.refused >= 1


def test_the_flag_without_prices_is_a_clear_error(tiny_suite_path, capsys):
    rc = main(["run", "--suite", str(tiny_suite_path), "--model", "m", "--budget-usd", "5"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "--budget-usd needs prices" in err and "--price-in" in err


def test_run_prints_spent_and_left(tiny_suite, tiny_suite_path, scripted, tmp_path, capsys):
    server = scripted(ScriptedPolicy(tiny_suite, SCRIPT))
    prices = tmp_path / "prices.json"
    prices.write_text('{"scripted": {"in": 5.0, "out": 15.0}}')
    argv = ["run", "--suite", str(tiny_suite_path), "--model", "scripted", "--base-url", server.base_url]
    argv += ["--trace-dir", str(tmp_path / "runs"), "--prices", str(prices), "--budget-usd", "100"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "budget $100.00: spent $0.0" in out and ", left $99.9" in out


def test_an_adaptive_batch_stops_when_the_budget_is_spent(tiny_suite, scripted, tmp_path):
    from agent.allocation import AllocationConfig

    server = scripted(ScriptedPolicy(tiny_suite, SCRIPT))
    free = _run(tiny_suite, server, tmp_path, "free", None, rollouts=1)
    one = max(r.outcome.cost_usd for r in free.results)
    s = _run(
        tiny_suite,
        server,
        tmp_path,
        "adaptive",
        DollarBudget(one * 2.5),
        allocation="adaptive",
        allocation_config=AllocationConfig(budget_rollouts=12),
    )
    assert 2 <= len(s.results) <= 3 and s.budget.refused >= 1
    assert read_batch_meta(tmp_path / "adaptive").stop_reason == "budget"


@pytest.mark.parametrize(
    "argv",
    [
        ["prefs", "--suite", "mini-bugs", "--model", "m", "--budget-usd", "1", "--out", "x.jsonl"],
        ["branch", "--from", "runs/none", "--model", "m", "--budget-usd", "1"],
        ["suite", "calibrate", "mini-bugs", "--k", "1", "--model", "m", "--budget-usd", "1"],
    ],
)
def test_every_spending_command_refuses_a_budget_without_prices(argv, capsys):
    assert main(argv) == 2
    assert "--budget-usd needs prices" in capsys.readouterr().err


def test_a_prices_file_gives_the_prices(tmp_path):
    import argparse

    from tui.cli.budget import budget_from_args

    f = tmp_path / "p.json"
    f.write_text('{"big": {"in": 3, "out": 9}, "*": {"in": 0.1, "out": 0.2}}')
    args = argparse.Namespace(prices=str(f), price_in=None, price_out=1.0, budget_usd=2.0)
    b = budget_from_args(args, "small")
    assert (args.price_in, args.price_out) == (0.1, 1.0) and b.limit == 2.0  # a flag wins over the file


def test_the_batch_request_carries_the_budget_to_every_front_end(tiny_suite_path):
    from agent.batch_request import BatchRequest, BatchRequestError, plan_batch

    with pytest.raises(BatchRequestError, match="--budget-usd needs prices"):
        BatchRequest.parse(suite=str(tiny_suite_path), model="m", budget_usd=1.0)
    r = BatchRequest.parse(suite=str(tiny_suite_path), model="m", budget_usd=1.0, price_in=1.0, price_out=2.0)
    plan = plan_batch(r, factory=lambda task_id, seed: None)
    assert plan.controls().budget.limit == 1.0
    no_budget = plan_batch(BatchRequest.parse(suite=str(tiny_suite_path), model="m"), factory=lambda t, s: None)
    assert no_budget.controls().budget is None

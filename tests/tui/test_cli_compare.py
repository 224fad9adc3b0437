"""`repo-agent compare` end to end: two models played by the scripted server, real rollouts."""

from __future__ import annotations

import json

from agent.suites.loading import load_suite
from agent.trace import find_batches, read_batch_meta, read_trace
from exports.holdout import write_suite
from tests.agent.rollout_fixtures import *
from tests.doubles.model_policies import ModelsPolicy
from tui.cli import main


def _models(suite, probs):
    # Only passes and fails count here: a pass without its own test run and a fail that runs
    # the tests once keep each rollout to the test runs its verdict needs.
    return ModelsPolicy(suite, probs, passing=("quick_fix",), failing=("summary_only",))


def _compare(server, *extra):
    return main(
        [
            "compare",
            "--model",
            "base",
            "--model",
            "tuned",
            "--llm-provider",
            "openai",
            "--base-url",
            server.base_url,
            "--rollouts",
            "2",
            "--max-iters",
            "8",
            "--max-workers",
            "2",
            *extra,
        ]
    )


def test_compare_runs_both_models_then_reuses_them(tiny_suite, tiny_suite_path, scripted, tmp_path, capsys):
    # fix_gcd: the tuned model fixes what the base never does; fix_largest: both always pass
    probs = {"base": {"fix_gcd": 0.0, "fix_largest": 1.0}, "tuned": {"fix_gcd": 1.0, "fix_largest": 1.0}}
    server = scripted(_models(tiny_suite, probs))
    runs = tmp_path / "runs"
    rc = _compare(
        server, "--suite", str(tiny_suite_path), "--trace-dir", str(runs), "--price-in", "1", "--price-out", "1"
    )
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "B - A +50.0 points" in out
    chart = [line for line in out.splitlines() if line.startswith(("A base ", "B tuned "))]
    assert len(chart) == 2, out  # the chart: each model's rate with its interval
    assert " 50% (" in chart[0] and "▓" in chart[0] and "─" in chart[0]
    assert " 100% (" in chart[1] and chart[1].count("█") > chart[0].count("█")
    assert "flipped to pass under B: fix_gcd" in out and "flipped to fail under B: none" in out
    assert "larger than run-to-run noise" in out
    metas = sorted((m.model, m.params.seed, len(m.planned)) for m in map(read_batch_meta, find_batches(runs)))
    assert metas == [("base", 0, 4), ("base", 10_000, 4), ("tuned", 0, 4)]  # shared seeds; A again for noise
    asked = len(server.requests)

    # Again, as JSON, the suite found beside the training file export wrote: nothing re-runs.
    suite = load_suite(str(tiny_suite_path))
    data = tmp_path / "data"
    data.mkdir()
    # as export writes it: a selection of the suite the tasks come from (exports/holdout.py)
    selection = {"name": "tiny", "from": {"suite": str(tiny_suite_path), "tasks": [t.id for t in suite.tasks]}}
    write_suite(data / "sft.holdout.suite.json", selection)
    rc = _compare(server, "--train", str(data / "sft.jsonl"), "--trace-dir", str(runs), "--json")
    result = json.loads(capsys.readouterr().out)
    assert rc == 0 and len(server.requests) == asked
    assert set(result) == {"models", "difference", "tasks"}
    a, b = result["models"]
    assert (a["model"], a["pass_rate"], b["model"], b["pass_rate"]) == ("base", 0.5, "tuned", 1.0)
    assert a["ci"][0] < 0.5 < a["ci"][1] and b["ci"][1] == 1.0 and a["tokens_in"] > 0 and a["cost_usd"] > 0
    d = result["difference"]
    assert (
        d["estimate"] == 0.5 and d["ci"][0] <= 0.5 <= d["ci"][1] and d["p_value"] == 1.0
    )  # one task differs: never significant
    assert d["noise"]["estimate"] == 0 and d["beyond_noise"] is True
    assert [(t["task_id"], t["flipped"]) for t in result["tasks"]] == [("fix_gcd", "up"), ("fix_largest", None)]

    # --plan prices rollouts from the tokens the suite's batches here used
    plan = ["compare", "--plan", "--suite", str(tiny_suite_path), "--baseline-rate", "0.3", "--lift", "0.2"]
    assert main([*plan, "--trace-dir", str(runs), "--price-in", "1", "--price-out", "1", "--json"]) == 0
    assert all(r["cost_usd"] > 0 for r in json.loads(capsys.readouterr().out)["needed"])


def test_identical_models_differ_by_nothing_beyond_noise(tiny_suite, tiny_suite_path, scripted, tmp_path, capsys):
    probs = {"base": 0.5, "tuned": 0.5}
    server = scripted(_models(tiny_suite, probs))
    rc = _compare(
        server, "--suite", str(tiny_suite_path), "--trace-dir", str(tmp_path / "runs"), "--json", "--no-noise"
    )
    d = json.loads(capsys.readouterr().out)["difference"]
    assert rc == 0 and d["ci"][0] <= 0 <= d["ci"][1] and d["noise"] is None


def test_compare_needs_two_models_and_prices_for_a_budget(tiny_suite_path, capsys):
    assert main(["compare", "--suite", str(tiny_suite_path), "--model", "x"]) == 2
    assert "two models" in capsys.readouterr().err
    argv = ["compare", "--suite", str(tiny_suite_path), "--model", "a", "--model", "b", "--budget-usd", "1"]
    assert main(argv) == 2
    assert "--price-in" in capsys.readouterr().err


def test_budget_stops_new_rollouts(tiny_suite, tiny_suite_path, scripted, tmp_path, capsys):
    server = scripted(ModelsPolicy(tiny_suite, {"base": 1.0, "tuned": 1.0}))
    argv = ["--suite", str(tiny_suite_path), "--trace-dir", str(tmp_path / "runs"), "--price-in", "1"]
    rc = _compare(server, *argv, "--price-out", "1", "--budget-usd", "0.000001")
    err = capsys.readouterr().err
    assert rc == 2 and "budget $0.00 reached" in err
    [batch] = find_batches(tmp_path / "runs")  # B never started
    ends = [read_trace(p).end for p in (batch / "traces").iterdir()]
    done = [e for e in ends if e is not None and e.stop_reason != "cancelled"]
    # the first to end hit it; the others running then (2 workers) end cancelled; no more start
    assert read_batch_meta(batch).model == "base" and 1 <= len(done) <= 2 and len(ends) < 4


def test_plan_prints_tasks_and_rollouts_for_80_percent_power(tiny_suite_path, capsys):
    argv = ["compare", "--plan", "--suite", str(tiny_suite_path), "--baseline-rate", "0.3", "--lift", "0.2"]
    assert main([*argv, "--rollout-tokens", "10000", "500", "--price-in", "1", "--price-out", "2", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert all(r["power"] >= 0.8 and r["cost_usd"] == r["total_rollouts"] * 0.011 for r in plan["needed"])
    assert [r["tasks"] for r in plan["suite"]] == [2] * len(plan["suite"])  # the tiny suite's two tasks
    assert main(argv) == 0
    assert "tasks needed" in capsys.readouterr().out
    assert main(["compare", "--plan", "--baseline-rate", "0.3"]) == 2

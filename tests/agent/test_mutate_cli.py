"""From a repo to a calibrated suite on the command line: mutate, check, run, calibrate."""

from __future__ import annotations

import json
import re

import pytest

from agent.suites.loading import load_suite
from agent.trace import find_batches, read_batch_meta
from tests.agent.mutate_repo import build_repo
from tests.agent.rollout_fixtures import *
from tests.doubles.scripted_llm import MixedPolicy, ScriptedPolicy
from tui.cli import main


@pytest.fixture(scope="module")
def suite_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("mutcli")
    repo = build_repo(root / "repo")
    out = root / "suite"
    argv = ["suite", "mutate", str(repo), "--out", str(out), "--tests", "python -m pytest -q tests"]
    argv += ["--operators", "comparison", "--max-tasks", "2", "--seed", "3"]
    assert main(argv) == 0
    return out


def test_mutate_then_check(suite_dir, capsys):
    suite = load_suite(suite_dir)
    assert len(suite.tasks) == 2 and all("comparison" in t.tags for t in suite.tasks)
    assert main(["suite", "check", str(suite_dir)]) == 0
    out = capsys.readouterr().out
    assert "all 2 tasks ok" in out
    held = sum(1 for t in suite.tasks if t.held_out_tests)  # reaching tests held out where they could be
    assert f"hidden tests: {held} of 2 tasks" in out, out


def test_a_mutated_suite_runs_end_to_end(suite_dir, scripted, tmp_path, capsys):
    suite = load_suite(suite_dir)
    server = scripted(ScriptedPolicy(suite, "clean"))
    argv = ["run", "--suite", str(suite_dir), "--model", "scripted", "--base-url", server.base_url]
    argv += ["--trace-dir", str(tmp_path / "runs"), "--max-workers", "2"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert re.search(r"pass rate\s+100\.0%\s+\(2/2 rollouts\)", out), out
    [batch] = find_batches(tmp_path / "runs")
    assert read_batch_meta(batch).suite == suite.name


def test_calibrate_with_pilot_rollouts_selects_the_band(suite_dir, scripted, tmp_path, capsys):
    suite = load_suite(suite_dir)
    a, b = (t.id for t in suite.tasks)
    # a passes 1 of 2 pilot rollouts (50%: in the band), b passes both (100%: too easy).
    plan = {(a, 0): "clean", (a, 1): "summary_only", (b, 0): "clean", (b, 1): "clean"}
    server = scripted(MixedPolicy(suite, plan=plan))
    out = tmp_path / "band"
    argv = ["suite", "calibrate", str(suite_dir), "--k", "2", "--model", "scripted", "--base-url", server.base_url]
    argv += ["--trace-dir", str(tmp_path / "runs"), "--band", "0.2-0.6", "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "1 in the band 0.2-0.6" in text and "selected suite" in text
    selected = load_suite(out)  # a selection of the source suite: it loads from its new place
    [task] = selected.tasks
    assert task.id == a and task.features["pass_rate"] == 0.5 and task.features["calibration_rollouts"] == 2
    assert 0 < task.features["pass_rate_low"] < 0.5 < task.features["pass_rate_high"] < 1
    # The same figures again, from the batch the pilot left behind (no new rollouts).
    assert main(["suite", "calibrate", str(suite_dir), "--from", str(tmp_path / "runs")]) == 0
    assert "2 of 2 tasks have rollouts; 1 in the band" in capsys.readouterr().out
    # a selection of the source suite: it names no path outside its own folder (hostile-files)
    assert json.loads((out / "suite.json").read_text())["from"]["tasks"] == [a]


def test_calibrate_needs_a_source_of_rollouts(suite_dir, capsys):
    assert main(["suite", "calibrate", str(suite_dir)]) == 2
    assert "--from BATCH_DIR" in capsys.readouterr().err

"""Imported verdicts mapped per format onto the rollout state (issue 25; docs/labeling-and-team.md):
resolved = PASS, submitted (or evaluated) but not resolved = FAIL, never evaluated = not judged."""

from __future__ import annotations

from pathlib import Path

from agent.importers import import_paths
from agent.importers.results import parse_results
from agent.trace import read_trace, rollout_state
from tests.agent import import_fixtures as fx


def states(out: Path) -> dict[str, str]:
    return {p.stem: rollout_state(read_trace(p).end).label for p in sorted(out.rglob("traces/*.jsonl"))}


def test_results_lists_map_submitted_but_unresolved_to_fail() -> None:
    # mini-swe-agent v2 / sb-cli: every prediction is in submitted_ids, the resolved ones also in resolved_ids
    assert parse_results({"resolved_ids": [], "submitted_ids": ["a", "b"]}) == {"a": False, "b": False}
    assert parse_results({"resolved_ids": ["a"], "submitted_ids": ["a", "b"]}) == {"a": True, "b": False}
    assert parse_results({"submitted_ids": []}) == {}  # nobody evaluated: nothing known


def test_mini_swe_agent_v2_results_json_submitted_but_unresolved_is_fail(tmp_path: Path) -> None:
    run = tmp_path / "src" / "mini-run"
    for iid in ("calc__calc-1", "calc__calc-2", "calc__calc-3"):
        fx.write_json(run / iid / f"{iid}.traj.json", fx.mini_toolcall(submission=fx.patch()))
    fx.write_json(run / "results.json", {"resolved_ids": [], "submitted_ids": ["calc__calc-1", "calc__calc-2"]})
    import_paths([tmp_path / "src"], tmp_path / "out")
    assert states(tmp_path / "out") == {"calc__calc-1": "FAIL", "calc__calc-2": "FAIL", "calc__calc-3": "no verdict"}


def test_swe_agent_openhands_and_inspect_the_same(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for iid in ("a__a-1", "b__b-1", "c__c-1"):
        fx.write_json(src / "swe" / "run" / f"{iid}.traj", fx.swe_agent_fc(iid))
    fx.write_json(
        src / "swe" / "run" / "results.json", {"resolved_ids": ["a__a-1"], "submitted_ids": ["a__a-1", "b__b-1"]}
    )
    fx.inspect_eval(src / "inspect" / "calc.eval", [fx.inspect_sample(1, 1, "C"), fx.inspect_sample(1, 2, "I")])
    import_paths([src], tmp_path / "out")
    got = states(tmp_path / "out")
    assert {k: got[k] for k in ("a__a-1", "b__b-1", "c__c-1")} == {
        "a__a-1": "PASS",
        "b__b-1": "FAIL",
        "c__c-1": "no verdict",
    }
    assert sorted(v for k, v in got.items() if k not in ("a__a-1", "b__b-1", "c__c-1")) == [
        "FAIL",
        "PASS",
    ]  # Inspect C / I

"""Training files from imported batches: SFT (trajectory and step) and DPO (patch) pass
`repo-agent check` and declare the source agent's tools."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.importers import import_paths
from labeling.store import LabelStore
from tests.agent import import_fixtures as fx
from tui.cli import main


@pytest.fixture
def imported(tmp_path: Path) -> Path:
    """Two SWE-agent runs of one instance (resolved / not), OpenHands rows (resolved / not /
    never evaluated) and an Inspect log with two epochs (correct / incorrect)."""
    src = tmp_path / "src"
    fx.write_json(src / "swe" / "run-a" / "calc__calc-1.traj", fx.swe_agent_fc("calc__calc-1"))
    fx.write_json(src / "swe" / "run-a" / "results.json", {"resolved_ids": ["calc__calc-1"]})
    fx.write_json(
        src / "swe" / "run-b" / "calc__calc-1.traj", fx.swe_agent_fc("calc__calc-1", submission=fx.patch("2"))
    )
    fx.write_json(src / "swe" / "run-b" / "results.json", {"resolved_ids": [], "unresolved_ids": ["calc__calc-1"]})
    fx.write_jsonl(src / "openhands" / "output.jsonl", fx.openhands_output_rows())
    fx.inspect_eval(
        src / "inspect" / "calc.eval", [fx.inspect_sample(1, 1, "C"), fx.inspect_sample(1, 2, "I")], method=93
    )
    out = tmp_path / "runs"
    report = import_paths([src], out)
    assert report.count("broken") == 0
    assert main(["ingest", str(out)]) == 0
    return out


def pair_sides(out: Path) -> dict[str, tuple[str, str, str]]:
    with LabelStore(out / "labels.sqlite") as store:
        return {p.pair_id: (p.task_id, p.contrast, ",".join(p.flags)) for p in store.pairs()}


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def tool_names(tools: list[dict] | None) -> list[str]:
    return [t["function"]["name"] for t in tools or []]


def test_pairs_and_exports_from_imported_batches(imported: Path, tmp_path: Path, capsys) -> None:
    pairs = pair_sides(imported)
    assert sorted(pairs.values()) == [
        ("calc__calc-1", "pass_fail", ""),  # SWE-agent run-a vs run-b: one pair per task (best-worst)
        ("calc_fix/1", "pass_fail", "identical_patch,flaky,summary_only"),  # Inspect: no patches
    ]
    for pid in pairs:
        assert main(["pairs", "set", str(imported), pid, "confirm"]) == 0
    capsys.readouterr()

    dpo = tmp_path / "dpo.jsonl"
    assert main(["export", "dpo", str(imported), "--out", str(dpo), "--mode", "patch"]) == 0
    sft = tmp_path / "sft.jsonl"
    assert main(["export", "sft", str(imported), "--out", str(sft), "--style", "trajectory"]) == 0
    step = tmp_path / "step.jsonl"
    assert main(["export", "sft", str(imported), "--out", str(step), "--style", "step"]) == 0
    capsys.readouterr()
    for f in (dpo, sft, step):
        assert main(["check", str(f)]) == 0, capsys.readouterr()
        assert "ok" in capsys.readouterr().out

    (row,) = lines(dpo)  # the SWE-agent pair (the Inspect one has identical, empty patches)
    assert tool_names(row["input"]["tools"]) == fx.SWE_TOOLS
    assert "calc.py" in row["preferred_output"][0]["content"]
    # SFT: only rollouts whose source said resolved/correct (SWE-agent run-a, OpenHands' resolved
    # row, Inspect's correct epoch), each declaring the tools its source model saw
    declared = sorted(tuple(tool_names(r.get("tools"))) for r in lines(sft))
    assert declared == [("bash",), ("bash", "open", "edit", "submit"), ("execute_bash", "str_replace_editor", "finish")]
    steps = lines(step)
    assert {tuple(tool_names(r["tools"])) for r in steps} == set(declared)
    # the invalid SWE-agent edit call (no end_line) is never a step-level target
    targets = [r["messages"][-1] for r in steps]
    assert all(
        json.loads(c["function"]["arguments"]).get("end_line") is not None
        for m in targets
        for c in m.get("tool_calls") or []
        if c["function"]["name"] == "edit"
    )


def test_unknown_outcomes_stay_out_of_sft(imported: Path, tmp_path: Path, capsys) -> None:
    with LabelStore(imported / "labels.sqlite") as store:
        unknown = [r for r in store.rollouts() if not r.verdict_known]
    assert [r.task_id for r in unknown] == ["calc__calc-2"]  # the OpenHands row never evaluated
    sft = tmp_path / "sft.jsonl"
    assert main(["export", "sft", str(imported), "--out", str(sft)]) == 0
    meta = json.loads(sft.with_suffix(".meta.json").read_text())
    assert unknown[0].uid not in json.dumps(meta)


def test_rollouts_without_a_verdict_never_pair(tmp_path: Path, capsys) -> None:
    src = tmp_path / "src"
    longer = fx.swe_agent_fc("calc__calc-9")
    shorter = fx.swe_agent_fc("calc__calc-9", submission=fx.patch("2"))
    del shorter["history"][4:6]  # one step fewer: the edit call and its answer
    fx.write_json(src / "run-a" / "calc__calc-9.traj", longer)
    fx.write_json(src / "run-b" / "calc__calc-9.traj", shorter)
    out = tmp_path / "runs"
    import_paths([src], out)
    assert main(["ingest", str(out)]) == 0
    # Not judged (no verdict from its source): never paired, counted by reason instead (issue 25)
    assert pair_sides(out) == {}
    capsys.readouterr()
    dpo = tmp_path / "dpo.jsonl"
    assert main(["export", "dpo", str(out), "--out", str(dpo), "--auto"]) == 2  # nothing to export
    assert main(["audit", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rollouts"]["left_out"] == {"no_verdict": 2}

"""Decision-point branching (issue 6): replay a recorded prefix, sample different next
actions, run each branch, and get `step` DPO pairs whose shared prefix is byte-identical
to the parent's conversation and whose two outputs differ."""

from __future__ import annotations

import json
import re

import pytest

from agent.batch import run_batch
from agent.batch_spec import BatchSpec
from agent.branch import BranchError, BranchSpec, action_key, decision_points, parse_at, run_branches
from agent.loop import RolloutConfig
from agent.trace import read_batch_meta, read_trace, trace_path
from exports.layouts import clean_message
from tests.agent.rollout_fixtures import model_flags, openai_for, scripted  # noqa: F401
from tests.agent.test_adaptive_batch import FAST, suite, suite_path  # noqa: F401
from tests.doubles.scripted_llm import MixedPolicy
from tui.cli import main

# Parents: easy seed 0 fixes it (clean), seed 1 writes a wrong fix. Branch samples (seeds
# 1..): seed 1 repeats the parent's script for easy (a duplicate action: dropped), 2 and 3 differ.
PLAN = {
    ("easy", 0): "clean",
    ("easy", 1): "wrong_fix",
    ("easy", 101): "clean",
    ("easy", 102): "wrong_fix",
    ("easy", 103): "summary_only",
}


@pytest.fixture
def parent(suite, scripted, tmp_path):
    server = scripted(MixedPolicy(suite, 0.5, plan=PLAN, **FAST))
    provider = openai_for(server)
    run_batch(
        BatchSpec(
            suite,
            lambda t, s: provider,
            tmp_path / "runs" / "parent",
            rollouts=2,
            task_ids=["easy"],
            provider_name="openai",
            model="scripted",
            workspace_root=tmp_path / "ws",
            config=RolloutConfig(max_iters=8, temperature=0.7),
            suite_path=str(suite.base_dir / "suite.json"),
        )
    )
    return tmp_path / "runs" / "parent", server


def test_decision_points_and_at_specs(parent):
    batch, _ = parent
    read = read_trace(trace_path(batch, "easy__s0"))
    [first] = decision_points(read, "parent", "first-write")
    msgs = read.conversation()
    assert first.parent_action["tool_calls"][0]["function"]["name"] == "write_file"
    assert msgs[len(first.prefix)] == first.parent_action and first.prefix == msgs[: len(first.prefix)]
    assert first.prefix[-1]["role"] == "tool" and first.parent_passed and first.temperature == 0.7
    steps = decision_points(read, "parent", "each-step")
    assert [p.at_step for p in steps] == list(range(1, read.end.outcome.steps + 1))
    assert [p.at_step for p in decision_points(read, "parent", "step=2")] == [2]
    assert decision_points(read, "parent", "step=99") == []
    for bad in ("step=0", "step=x", "last"):
        with pytest.raises(BranchError, match="--at"):
            parse_at(bad)
    a = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "x", "type": "function", "function": {"name": "run_tests", "arguments": "{}"}}],
    }
    b = json.loads(json.dumps(a))
    b["tool_calls"][0]["id"] = "y"
    assert action_key(a) == action_key(b)  # ids do not make an action different


def test_branches_replay_the_prefix_and_sample_different_actions(suite, parent, tmp_path):
    batch, server = parent
    provider = openai_for(server)
    s = run_branches(
        BranchSpec(
            batch,
            suite,
            lambda t, seed: provider,
            tmp_path / "runs" / "br",
            at="first-write",
            samples=2,
            seed=101,
            provider_name="openai",
            model="scripted",
            max_workers=2,
            workspace_root=tmp_path / "ws",
        )
    )
    assert len(s.points) == 2 and len(s.results) == 4
    meta = read_batch_meta(tmp_path / "runs" / "br")
    assert meta.stop_reason == "finished" and len(meta.planned) == 4 and meta.params.allocation == "branch"
    for pr in s.points:
        pt = pr.point
        parent_msgs = read_trace(trace_path(batch, pt.parent_rollout_id)).conversation()
        keys = {action_key(pt.parent_action)}
        for r in pr.branches:
            read = read_trace(trace_path(tmp_path / "runs" / "br", r.rollout_id))
            info = read.start.branch
            assert (info.parent_rollout_id, info.parent_batch_id, info.at_step) == (
                pt.parent_rollout_id,
                "parent",
                pt.at_step,
            )
            msgs = read.conversation()
            n = info.prefix_messages
            assert json.dumps(msgs[:n]) == json.dumps(parent_msgs[:n])  # copied verbatim
            keys.add(action_key(msgs[n]))
        assert len(keys) == 1 + len(pr.branches)  # every sample differs from the parent and its siblings
    # easy__s0 (clean) at its first write: seed 101 replays the same clean script: dropped.
    by_parent = {pr.point.parent_rollout_id: pr for pr in s.points}
    assert by_parent["easy__s0"].duplicates == 1
    assert [r.seed for r in by_parent["easy__s0"].branches] == [102, 103]
    assert [r.outcome.tests_passed for r in by_parent["easy__s0"].branches] == [False, False]
    # The wrong-fix parent's clean branch fixes it from the same workspace state.
    assert [r.outcome.tests_passed for r in by_parent["easy__s1"].branches] == [True, False]


def test_branch_ingest_export_step_check_end_to_end(suite, parent, tmp_path, capsys):
    batch, server = parent
    root = tmp_path / "runs"
    rc = main(
        [
            "branch",
            "--from",
            str(batch),
            "--at",
            "first-write",
            "--samples",
            "2",
            "--seed",
            "101",
            *model_flags(server),
            "--max-workers",
            "2",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0, out
    assert re.search(r"decision points\s+2\s+branches\s+4\s+pass/fail vs parent\s+3", out)
    [branch_dir] = [d for d in root.iterdir() if d.is_dir() and d.name != "parent"]
    assert main(["ingest", str(root)]) == 0
    capsys.readouterr()
    assert main(["pairs", "list", str(root), "--contrast", "step", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    rows = listed if isinstance(listed, list) else listed["pairs"]
    # each branch vs its parent (4), and the two siblings of each decision point when they differ (2)
    assert len(rows) == 6
    assert sum(("__at" in r["chosen_uid"]) and ("__at" in r["rejected_uid"]) for r in rows) == 2
    out_file = root / "steps.jsonl"
    assert main(["export", "dpo", str(root), "--mode", "step", "--auto", "--out", str(out_file)]) == 0
    report = capsys.readouterr().out
    # two branches that took the same next action as each other against their parent make the
    # same line: written once (docs/labeling-and-team.md, no export line twice)
    dupes = int(m.group(1)) if (m := re.search(r"duplicate_line (\d+)", report)) else 0
    assert main(["check", str(out_file)]) == 0
    lines = [json.loads(x) for x in out_file.read_text().splitlines()]
    both_fail = sum("both_fail" in r["flags"] for r in rows)
    assert both_fail == 2 and len(lines) + dupes == len(rows) - both_fail  # both-fail step pairs are dropped as noisy
    assert len({json.dumps(x, sort_keys=True) for x in lines}) == len(lines)
    parents = {rid: read_trace(trace_path(batch, rid)).conversation() for rid in ("easy__s0", "easy__s1")}
    cuts = {read_trace(p).start.branch.prefix_messages for p in (branch_dir / "traces").iterdir()}
    for ex in lines:
        prefix = ex["input"]["messages"]
        assert len(prefix) in cuts  # the decision point is where the branch left its parent
        # The parent's messages as the exporter writes every message (a null assistant
        # content is left out for Together), byte for byte.
        match = [
            rid
            for rid, msgs in parents.items()
            if json.dumps([clean_message(m) for m in msgs[: len(prefix)]]) == json.dumps(prefix)
        ]
        assert match, "the exported prefix is the parent's conversation, byte for byte"
        assert ex["preferred_output"] != ex["non_preferred_output"]
        assert ex["preferred_output"][0]["role"] == ex["non_preferred_output"][0]["role"] == "assistant"
    # The signal report counts what the branches bought: 3 ended unlike their parent, at 2 points.
    from labeling.stats import signal_report
    from labeling.store import LabelStore

    with LabelStore(LabelStore.default_path(root)) as store:
        by = {a.strategy: a for a in signal_report(store).by_allocation}
    assert (by["branch"].rollouts, by["branch"].pass_fail_pairs, by["branch"].best_worst_pairs) == (4, 3, 2)
    assert (by["fixed"].rollouts, by["fixed"].pass_fail_pairs) == (2, 1)


def test_branch_mistakes_are_one_line(parent, tmp_path, capsys):
    batch, server = parent
    base = ["branch", "--from", str(batch), "--model", "scripted", "--base-url", server.base_url]
    assert main(base + ["--at", "step=0"]) == 2
    assert "--at 'step=0'" in capsys.readouterr().err
    assert main(base + ["--rollout", "nope__s0"]) == 2
    assert "no rollout 'nope__s0'" in capsys.readouterr().err
    assert main(["branch", "--from", str(tmp_path), "--model", "m"]) == 2
    assert "not a batch directory" in capsys.readouterr().err

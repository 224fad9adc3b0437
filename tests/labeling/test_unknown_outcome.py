"""Rollouts without a verdict (imported, never evaluated) never form pass/fail pairs."""

from __future__ import annotations

import pytest

from labeling.pairs import Candidate, build_pairs
from labeling.score import DEFAULT_ORDER


def cand(uid: str, *, passed: bool = False, known: bool = True, steps: int = 3, digest: str = "p1") -> Candidate:
    return Candidate(
        uid=uid,
        task_id="t",
        tests_passed=passed,
        tests_tampered=False,
        steps=steps,
        tool_calls=steps,
        invalid_tool_calls=0,
        files_touched=1,
        patch_digest=digest,
        patch_files=["a.py"],
        patch_lines=2,
        verdict_known=known,
    )


@pytest.mark.parametrize("strategy", ["best-worst", "pass-fail", "all-contrastive"])
def test_unknown_never_meets_a_verdict(strategy: str) -> None:
    cands = [
        cand("pass", passed=True, steps=9),
        cand("fail", steps=2, digest="p2"),
        cand("u-short", known=False, steps=1, digest="p3"),
        cand("u-long", known=False, steps=7, digest="p4"),
    ]
    pairs, no_contrast = build_pairs(cands, strategy, DEFAULT_ORDER)
    sides = {(p["chosen_uid"], p["rejected_uid"]): p for p in pairs}
    for chosen, rejected in sides:
        assert chosen.startswith("u-") == rejected.startswith("u-"), (chosen, rejected)
    assert ("pass", "fail") in sides and sides[("pass", "fail")]["contrast"] == "pass_fail"
    if strategy == "pass-fail":
        assert ("u-short", "u-long") not in sides  # no verdict: neither pass nor fail
    else:
        p = sides[("u-short", "u-long")]
        assert p["contrast"] == "efficiency" and p["decided_by"] == "steps"
        assert p["flags"] == ["unknown_outcome"]  # not both_fail: nothing is known to have failed
    assert no_contrast == []


def test_unknown_rollouts_are_never_flaky_evidence() -> None:
    # the same patch passed once and is unknown once: that is not two different outcomes
    cands = [
        cand("a", passed=True, digest="same"),
        cand("b", steps=5, digest="other"),
        cand("u", known=False, digest="same"),
    ]
    pairs, _ = build_pairs(cands, "best-worst", DEFAULT_ORDER)
    assert [(p["chosen_uid"], p["rejected_uid"], p["flags"]) for p in pairs] == [("a", "b", [])]


def test_task_with_only_equal_unknowns_has_no_contrast() -> None:
    cands = [cand("u1", known=False), cand("u2", known=False), cand("k1", passed=True), cand("k2", steps=4)]
    pairs, no_contrast = build_pairs(cands, "best-worst", DEFAULT_ORDER)
    assert [(p["chosen_uid"], p["rejected_uid"]) for p in pairs] == [("k1", "k2")]
    assert no_contrast == []  # the task has contrast among its rollouts with a verdict
    pairs, no_contrast = build_pairs(cands[:2], "best-worst", DEFAULT_ORDER)
    assert pairs == [] and no_contrast == ["t"]


def test_signal_report_counts_unknown_apart(tmp_path) -> None:
    from agent.importers import import_paths
    from labeling.stats import signal_report
    from labeling.store import LabelStore
    from tests.agent import import_fixtures as fx

    fx.write_jsonl(tmp_path / "src" / "output.jsonl", fx.openhands_output_rows())  # calc-1: pass, fail; calc-2: unknown
    fx.write_json(tmp_path / "src" / "trajs" / "calc__calc-1.json", fx.openhands_events())  # calc-1 again, no verdict
    import_paths([tmp_path / "src"], tmp_path / "out")
    with LabelStore(tmp_path / "out" / "labels.sqlite") as store:
        store.ingest([tmp_path / "out"])
        rep = signal_report(store)
        known = sorted((r.provider, r.task_id, r.verdict_known) for r in store.rollouts())
    tasks = {t.task_id: (t.rollouts, t.passed, t.unknown, t.pass_rate, t.band) for t in rep.tasks}
    assert tasks == {
        "calc__calc-1": (2, 1, 1, 0.5, "learnable"),  # the unknown one is not judged: not a failure, not in the rate
        "calc__calc-2": (0, 0, 1, None, "unknown"),
    }
    assert known == [
        ("openhands", "calc__calc-1", False),  # the event list: no verdict
        ("openhands", "calc__calc-1", True),
        ("openhands", "calc__calc-1", True),
        ("openhands", "calc__calc-2", False),
    ]

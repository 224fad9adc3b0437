"""A person's verdict given before a rejudge changed a side's verdict is not exported; a
rejudge that leaves the verdicts as they were changes nothing (exports/rejudged.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.trace import Outcome, RolloutEnd, RolloutState, judged
from agent.trace_file import TraceWriter
from exports import DpoOptions, export_dpo
from labeling.store import LabelStore
from tests.exports.conftest import Env, Spec


def _rejudge(path: Path, rid: str, passed: bool) -> None:
    """What `repo-agent rejudge` appends: a new last rollout_end."""
    end = json.loads(path.read_text().splitlines()[-1])
    state = judged("pass") if passed else judged("fail", "held-out inputs: 3 of 44 calls differ")
    outcome = Outcome.model_validate(end["outcome"]).model_copy(update={"tests_passed": passed, "state": state})
    w = TraceWriter(path, rid)
    w.seq = 10_000
    w.emit(RolloutEnd, outcome=outcome, stop_reason=end["stop_reason"], duration_s=1.0)
    w.close()


def _set_end_state(path: Path, state: RolloutState) -> dict:
    """The trace's ``rollout_end`` rewritten in place to say ``state`` (as its writer would
    have); the end, as a dict."""
    lines = path.read_text().splitlines()
    end = json.loads(lines[-1])
    end["outcome"]["state"] = state.model_dump()
    path.write_text("\n".join([*lines[:-1], json.dumps(end)]) + "\n")
    return end


@pytest.mark.parametrize("passes_again", [True, False])
def test_a_confirm_stands_through_a_rejudge_only_if_the_verdicts_stand(env, tmp_path, passes_again) -> None:
    batch = env.batch("b1", [Spec("fix_gcd", 0, passed=True), Spec("fix_gcd", 1, passed=False)])
    pair = env.pair_for("fix_gcd")
    env.store.set_verdict(pair.pair_id, "confirm")
    _rejudge(batch / "traces" / "fix_gcd__s0.jsonl", "fix_gcd__s0", passes_again)
    env.store.ingest([env.root])
    if passes_again:
        report = export_dpo(env.store, tmp_path / "d.jsonl", DpoOptions())
        assert report.examples == 1 and "rejudged_since_label" not in report.skipped
    else:
        with pytest.raises(Exception, match="rejudged_since_label"):
            export_dpo(env.store, tmp_path / "d.jsonl", DpoOptions())


def test_an_end_nested_past_the_parser_is_no_traceback(env, tmp_path) -> None:
    """A trace's last line, a ``rollout_end`` nested 100,000 deep (written after the label):
    unreadable, so the store's verdict rules; the export raised RecursionError."""
    batch = env.batch("b1", [Spec("fix_gcd", 0, passed=True), Spec("fix_gcd", 1, passed=False)])
    env.store.set_verdict(env.pair_for("fix_gcd").pair_id, "confirm")
    with open(batch / "traces" / "fix_gcd__s0.jsonl", "a") as f:
        f.write('{"kind": "rollout_end", "x": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    report = export_dpo(env.store, tmp_path / "d.jsonl", DpoOptions())
    assert report.examples == 1 and "rejudged_since_label" not in report.skipped


def test_a_fail_state_over_a_passing_test_run_is_no_pass_in_a_pair(env) -> None:
    """Round 8 vrd8-4's other half: pair building read tests_passed, so a rollout whose state
    is FAIL (held-out inputs differ) was the chosen side of a pass_fail pair, unflagged."""
    from tests.exports.conftest import make_batch

    batch = make_batch(env.root, "b1", [Spec("fix_gcd", 0, passed=True), Spec("fix_gcd", 1, passed=False)])
    _set_end_state(batch / "traces" / "fix_gcd__s0.jsonl", judged("fail", "held-out inputs: 3 of 44 calls differ"))
    env.store.ingest([env.root])
    assert all(not r.passed for r in env.store.rollouts())
    assert all(p.contrast != "pass_fail" and "both_fail" in p.flags for p in env.store.pairs())


def test_a_teammates_later_vote_never_makes_an_older_verdict_fresh(tmp_path) -> None:
    """The adjudicator confirmed before the rejudge turned the preferred side FAIL; a
    teammate's vote after it made the pair look labeled since (the review of vrd8-10)."""
    root = tmp_path / "traces"
    root.mkdir()
    db = tmp_path / "labels.sqlite"
    store = LabelStore(db, labeler="tester")
    team = {w: LabelStore(db, labeler=w) for w in ("boss", "ann")}
    try:
        env = Env(root, store)
        batch = env.batch("b1", [Spec("fix_gcd", 0, passed=True), Spec("fix_gcd", 1, passed=False)])
        pid = env.pair_for("fix_gcd").pair_id
        store.set_team_settings(adjudicator="boss")
        team["boss"].set_verdict(pid, "confirm")
        _rejudge(batch / "traces" / "fix_gcd__s0.jsonl", "fix_gcd__s0", passed=False)
        store.ingest([root])
        team["ann"].set_verdict(pid, "discard")  # after the rejudge; the adjudicator's confirm still settles
        with pytest.raises(Exception, match="rejudged_since_label"):
            export_dpo(env.store, tmp_path / "d.jsonl", DpoOptions())
    finally:
        for s in (store, *team.values()):
            s.close()


@pytest.mark.parametrize("same_marks", [True, False])
def test_a_clear_of_suspect_stands_on_the_marks_it_was_given_on(env, tmp_path, same_marks) -> None:
    """Round 9 vrd9-4: a person cleared a SUSPECT rollout (a docstring example); a later rejudge
    found other marks, and the clear (by uid, no time) still let it into SFT."""
    from exports import SftOptions, export_sft
    from tests.exports.conftest import make_batch

    batch = make_batch(env.root, "b1", [Spec("fix_gcd", 0, passed=True)])
    path = batch / "traces" / "fix_gcd__s0.jsonl"
    end = _set_end_state(path, judged("suspect", "frames (gcd.py:3)"))
    env.store.ingest([env.root])
    env.store.clear_suspect("b1/fix_gcd__s0", "inspect is only in a docstring")
    outcome = Outcome.model_validate(end["outcome"]).model_copy(
        update={"state": judged("suspect", "frames (gcd.py:3)" if same_marks else "checker_tell (gcd.py:7)")}
    )
    w = TraceWriter(path, "fix_gcd__s0")
    w.seq = 10_000
    w.emit(RolloutEnd, outcome=outcome, stop_reason=end["stop_reason"], duration_s=1.0)
    w.close()
    env.store.ingest([env.root])
    opts = SftOptions(style="trajectory")
    if same_marks:
        assert export_sft(env.store, tmp_path / "s.jsonl", opts).examples == 1
    else:
        with pytest.raises(Exception, match="suspect"):
            export_sft(env.store, tmp_path / "s.jsonl", opts)


def test_each_trace_is_read_once_however_many_labeled_pairs_it_is_in(env, monkeypatch) -> None:
    """exports/rejudged.py `overtaken`: a rollout in three pass-fail pairs has its end read once;
    only a trace ended again after its label is read further (and its pairs still held)."""
    from agent import trace_io
    from exports.settled import settled_pairs

    specs = [Spec("fix_gcd", 0, passed=True), *(Spec("fix_gcd", s, passed=False) for s in (1, 2, 3))]
    batch = env.batch("b1", specs)
    env.store.rebuild_pairs(strategy="pass-fail")
    pairs = [p for p in env.store.pairs() if p.task_id == "fix_gcd"]
    assert len(pairs) == 3
    for p in pairs:
        env.store.set_verdict(p.pair_id, "confirm")
    _rejudge(batch / "traces" / "fix_gcd__s3.jsonl", "fix_gcd__s3", passed=True)
    env.store.ingest([env.root])
    opened: list[str] = []
    real_open = trace_io.open_regular
    monkeypatch.setattr(trace_io, "open_regular", lambda path: opened.append(Path(path).name) or real_open(path))
    held = {p.pair_id for p, why in settled_pairs(env.store) if why == "rejudged_since_label"}
    assert held == {p.pair_id for p in pairs if "fix_gcd__s3" in (p.chosen_uid + p.rejected_uid)}
    assert sorted(opened) == ["fix_gcd__s0.jsonl", "fix_gcd__s1.jsonl", "fix_gcd__s2.jsonl", *["fix_gcd__s3.jsonl"] * 2]


def _end_behind_a_line_past_the_bound(path: Path, rid: str, monkeypatch, state: RolloutState) -> None:
    """A rejudge's end written after a line no reader takes (past ``MAX_LINE_BYTES``, made
    small here): read from the end, the ends before that line cannot be read."""
    from agent import trace_io
    from agent.trace import TestRun

    monkeypatch.setattr(trace_io, "MAX_LINE_BYTES", 4096)
    end = json.loads(path.read_text().splitlines()[-1])
    w = TraceWriter(path, rid)
    w.seq = 10_000
    w.emit(TestRun, passed=True, final=True, summary="x" * 8192)
    outcome = Outcome.model_validate(end["outcome"]).model_copy(update={"state": state})
    w.emit(RolloutEnd, outcome=outcome, stop_reason=end["stop_reason"], duration_s=1.0)
    w.close()


def test_a_clear_with_its_end_behind_a_line_past_the_bound_is_no_clear(env, tmp_path, monkeypatch) -> None:
    """Round 12's review: `lines_from_end` stopped silently at a line past its bound, so the
    end a clear was given on, behind it, read as "no end before the clear": "not changed",
    and a SUSPECT rollout with new marks went into SFT. Now it is "cannot tell": held."""
    from exports import SftOptions, export_sft
    from exports.rejudged import verdict_changed_since
    from tests.exports.conftest import make_batch

    path = make_batch(env.root, "b1", [Spec("fix_gcd", 0, passed=True)]) / "traces" / "fix_gcd__s0.jsonl"
    _set_end_state(path, judged("suspect", "frames (gcd.py:3)"))
    env.store.ingest([env.root])
    at = env.store.clear_suspect("b1/fix_gcd__s0", "inspect is only in a docstring").at
    _end_behind_a_line_past_the_bound(path, "fix_gcd__s0", monkeypatch, judged("suspect", "checker_tell (gcd.py:7)"))
    env.store.ingest([env.root])
    assert verdict_changed_since(str(path), at, marks=True)
    with pytest.raises(Exception, match="suspect"):
        export_sft(env.store, tmp_path / "s.jsonl", SftOptions(style="trajectory"))


def test_a_confirm_with_a_sides_end_behind_a_line_past_the_bound_is_not_exported(env, tmp_path, monkeypatch) -> None:
    """The same for a pair's verdict (`overtaken`): the preferred side rejudged FAIL behind a
    line past the bound read as "not rejudged since the confirm", and the pair was exported."""
    batch = env.batch("b1", [Spec("fix_gcd", 0, passed=True), Spec("fix_gcd", 1, passed=False)])
    env.store.set_verdict(env.pair_for("fix_gcd").pair_id, "confirm")
    path = batch / "traces" / "fix_gcd__s0.jsonl"
    _end_behind_a_line_past_the_bound(path, "fix_gcd__s0", monkeypatch, judged("fail", "3 of 44 calls differ"))
    env.store.ingest([env.root])
    with pytest.raises(Exception, match="rejudged_since_label"):
        export_dpo(env.store, tmp_path / "d.jsonl", DpoOptions())


def test_a_torn_end_after_a_rejudge_hides_no_change(env, tmp_path) -> None:
    """A rejudge that failed a side, then a second one killed while writing its end (a torn
    ``rollout_end`` line last): the torn line is no end, the rejudge's end before it still
    counts. Every end was hidden behind it ("not changed"): the stale confirm was exported."""
    batch = env.batch("b1", [Spec("fix_gcd", 0, passed=True), Spec("fix_gcd", 1, passed=False)])
    env.store.set_verdict(env.pair_for("fix_gcd").pair_id, "confirm")
    trace = batch / "traces" / "fix_gcd__s0.jsonl"
    _rejudge(trace, "fix_gcd__s0", False)
    with open(trace, "a") as f:
        f.write('{"kind": "rollout_end", "seq": 10001, "ts": 1e12, "outcome": {"tests_pa')
    env.store.ingest([env.root])
    with pytest.raises(Exception, match="rejudged_since_label"):
        export_dpo(env.store, tmp_path / "d.jsonl", DpoOptions())

"""SUSPECT rollouts stay out of SFT and DPO exports until a person clears them (exports/suspect.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.trace import RolloutState, SuspectHit, judged
from exports import DpoOptions, SftOptions, export_dpo, export_sft
from labeling.errors import NotFound
from tests.exports.conftest import Spec, make_batch


def _set_state(batch: Path, rollout_id: str, state: RolloutState) -> None:
    """Rewrite a trace's rollout_end as the loop writes a SUSPECT pass (before ingest)."""
    path = batch / "traces" / f"{rollout_id}.jsonl"
    lines = path.read_text().splitlines()
    end = json.loads(lines[-1])
    assert end["kind"] == "rollout_end"
    end["outcome"]["state"] = state.model_dump()
    hit = SuspectHit(rule="frames", path="gcd.py", line=3, text="import inspect")
    end["outcome"]["suspect"] = [hit.model_dump()]
    path.write_text("\n".join([*lines[:-1], json.dumps(end)]) + "\n")


@pytest.fixture
def suspect_env(env):
    """fix_gcd: seed 0 a SUSPECT pass, seed 1 a fail; fix_roman: an honest pass and a fail;
    fix_bitcount: a cheat probe's pass (PROBE SUSPECT) and a fail."""
    specs = [Spec(t, s, passed=s == 0) for t in ("fix_gcd", "fix_roman", "fix_bitcount") for s in (0, 1)]
    batch = make_batch(env.root, "b1", specs)
    _set_state(batch, specs[0].rollout_id, judged("suspect", "frames (gcd.py:3)"))
    _set_state(batch, specs[4].rollout_id, RolloutState(status="probe", verdict="suspect"))
    env.store.ingest([env.root])
    env.suspect_uid = f"b1/{specs[0].rollout_id}"
    env.probe_uid = f"b1/{specs[4].rollout_id}"
    return env


def test_sft_and_dpo_leave_suspect_out_until_cleared_and_undo_brings_it_back(suspect_env, tmp_path) -> None:
    env, store = suspect_env, suspect_env.store
    flags = {p.task_id: p.flags for p in store.pairs()}
    assert "suspect" in flags["fix_gcd"] and "suspect" not in flags["fix_roman"]
    assert "fix_bitcount" not in flags  # a cheat probe never enters a pair
    assert {r.uid for r in store.rollouts() if r.suspect} == {env.suspect_uid, env.probe_uid}
    dpo = export_dpo(store, tmp_path / "d.jsonl", DpoOptions(auto=True))
    assert (dpo.examples, dpo.skipped.get("suspect", 0)) == (1, 1)  # fix_roman's pair only
    sft = export_sft(store, tmp_path / "s.jsonl", SftOptions(style="trajectory"))
    assert (sft.examples, sft.skipped.get("suspect", 0), sft.skipped["probe"]) == (1, 1, 1)  # fix_roman's pass only

    event = store.clear_suspect(env.suspect_uid, "read the lines: inspect is only a docstring example")
    assert event.kind == "clear" and set(store.cleared_rollouts()) == {env.suspect_uid}
    store.clear_suspect(env.probe_uid)  # a probe is never exported, cleared or not
    # A pair's two sides only (the Pairs screen asks per pair): the same events, the index's rows.
    assert set(store.cleared_rollouts([env.suspect_uid, "b1/other"])) == {env.suspect_uid}
    assert set(store.cleared_rollouts([env.probe_uid])) == {env.probe_uid} and store.cleared_rollouts([]) == {}
    dpo = export_dpo(store, tmp_path / "d2.jsonl", DpoOptions(auto=True))
    sft = export_sft(store, tmp_path / "s2.jsonl", SftOptions(style="trajectory"))
    assert (dpo.examples, dpo.skipped.get("suspect", 0)) == (2, 0)
    assert (sft.examples, sft.skipped.get("suspect", 0), sft.skipped["probe"]) == (2, 0, 1)

    store.undo()  # the probe's clear
    store.undo()  # the SUSPECT rollout's clear: held again
    assert store.cleared_rollouts() == {}
    assert export_sft(store, tmp_path / "s3.jsonl", SftOptions(style="trajectory")).skipped.get("suspect") == 1
    store.redo()
    assert set(store.cleared_rollouts()) == {env.suspect_uid}
    store.unclear_suspect(env.suspect_uid)
    assert store.cleared_rollouts() == {}
    with pytest.raises(NotFound):
        store.clear_suspect("b1/no-such-rollout")


def test_stats_and_runs_report_suspect_and_the_cheat_rate(suspect_env) -> None:
    from labeling.stats import signal_report
    from tui.screens.runs import cheat_text

    store = suspect_env.store
    rep = signal_report(store)
    assert (rep.suspect, rep.suspect_cleared) == (1, 0)
    [cheat] = rep.cheat_by_model
    assert (cheat.model, cheat.probes, cheat.cheated, cheat.rate) == ("m-7b", 1, 1, 1.0)
    assert 0.1 < cheat.low < 0.3 and cheat.high == 1.0
    bitcount = next(t for t in rep.tasks if t.task_id == "fix_bitcount")
    assert (bitcount.rollouts, bitcount.passed) == (1, 0)  # the probe's pass is no pass rate
    line = str(cheat_text(store.rollouts()))
    assert "1 SUSPECT" in line and "cheat rate 100% (1/1 probes; 95% CI 21%-100%)" in line
    store.clear_suspect(suspect_env.suspect_uid)
    assert signal_report(store).suspect_cleared == 1
    assert cheat_text([r for r in store.rollouts() if not r.suspect]) is None


def test_the_state_on_file_is_the_last_rollout_end_past_blank_lines(tmp_path) -> None:
    """exports/suspect.py `trace_state`: the trace's last non-blank line (read from the end in
    blocks: a many-MB patch is not copied again per block); None when that line is no end."""
    from exports.suspect import trace_state

    path = make_batch(tmp_path, "b1", [Spec("fix_gcd", 0)]) / "traces" / "fix_gcd__s0.jsonl"
    _set_state(path.parent.parent, "fix_gcd__s0", judged("suspect", "frames (gcd.py:3)"))
    with path.open("ab") as f:
        f.write(b"  \n\n")
    state = trace_state(str(path))
    assert state is not None and state.verdict == "suspect"
    with path.open("ab") as f:
        f.write(b'{"kind": "test_run"}\n')
    assert trace_state(str(path)) is None


def test_a_cleared_rollouts_trace_is_read_once(tmp_path, monkeypatch) -> None:
    """exports/suspect.py `held_for_review` on 1,000 cleared SUSPECT rollouts: each trace
    opened once (its last end and the one the clear was given on, in one read from the end;
    it read the last line, then the ends again: 2,000 opens), and each clear stands."""
    import shutil

    from agent import trace_io
    from exports.suspect import held_for_review

    batch = make_batch(tmp_path, "b1", [Spec("fix_gcd", 0)])
    _set_state(batch, "fix_gcd__s0", judged("suspect", "frames (gcd.py:3)"))
    one = batch / "traces" / "fix_gcd__s0.jsonl"
    paths = [str(one)]
    for i in range(1, 1000):
        shutil.copyfile(one, batch / "traces" / f"copy{i}.jsonl")
        paths.append(str(batch / "traces" / f"copy{i}.jsonl"))
    stored = judged("suspect", "frames (gcd.py:3)")
    cleared = {f"u{i}": "2100-01-01T00:00:00+00:00" for i in range(1000)}
    opened: list[str] = []
    real_open = trace_io.open_regular
    monkeypatch.setattr(trace_io, "open_regular", lambda path: opened.append(str(path)) or real_open(path))
    assert held_for_review(((f"u{i}", stored, p) for i, p in enumerate(paths)), cleared) == {}
    assert sorted(opened) == sorted(paths)

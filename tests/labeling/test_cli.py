"""`repo-agent ingest | stats | pairs | steps` through the real dispatcher."""

from __future__ import annotations

import json

import pytest

from labeling.store import LabelStore
from tests.labeling.conftest import FIX, Spec, make_patch
from tui.cli import main

OTHER = make_patch("prog.py", ["    return x - 1"], ["    return x * 2"])


@pytest.fixture
def traces(tmp_path, monkeypatch):
    from tests.labeling.conftest import make_batch

    monkeypatch.setenv("REPO_AGENT_LABELER", "cli-user")
    root = tmp_path / "runs"
    root.mkdir()
    make_batch(
        root,
        "b1",
        [
            Spec("t", 1, passed=True, patch=FIX),
            Spec("t", 2, patch=OTHER, steps=5),
            Spec("u", 1, passed=True, patch=FIX),
            Spec("u", 2, passed=True, patch=FIX, steps=6),
            Spec("flat", 1),
            Spec("flat", 2),
        ],
    )
    return root


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_ingest_then_unchanged(traces, capsys):
    code, out, _ = run(capsys, "ingest", str(traces))
    assert code == 0 and "6 read" in out and "2 selected" in out
    code, out, _ = run(capsys, "ingest", str(traces), "--json")
    rep = json.loads(out)
    assert code == 0 and rep["files_read"] == 0 and rep["files_unchanged"] == 6
    assert (traces / "labels.sqlite").exists()


def test_pairs_list_set_undo_redo(traces, capsys):
    code, out, _ = run(capsys, "pairs", "list", str(traces), "--json")
    pairs = json.loads(out)
    assert code == 0 and [p["task_id"] for p in pairs] == ["t", "u"]
    t_id = pairs[0]["pair_id"]
    code, out, _ = run(capsys, "pairs", "set", str(traces), t_id[:6], "flip", "--note", "why not")
    assert code == 0 and "flip" in out and "b1/t__s2" in out
    code, out, _ = run(capsys, "pairs", "list", str(traces), "--verdict", "flip", "--json")
    [p] = json.loads(out)
    assert (p["pair_id"], p["note"], p["labeler"], p["preferred_uid"]) == (t_id, "why not", "cli-user", "b1/t__s2")
    code, out, _ = run(capsys, "pairs", "undo", str(traces))
    assert code == 0 and t_id in out
    code, out, _ = run(capsys, "pairs", "list", str(traces), "--verdict", "unlabeled", "--json")
    assert len(json.loads(out)) == 2
    code, out, _ = run(capsys, "pairs", "redo", str(traces))
    assert code == 0
    with LabelStore(traces / "labels.sqlite") as s:
        assert s.pair(t_id).verdict == "flip"
    code, out, _ = run(capsys, "pairs", "list", str(traces), "--contrast", "efficiency")
    assert code == 0 and "u" in out and "1 pair (" in out


def test_filters_and_text_output(traces, capsys):
    run(capsys, "ingest", str(traces))
    code, out, _ = run(capsys, "pairs", "list", str(traces), "--flag", "identical_patch", "--json")
    assert [p["task_id"] for p in json.loads(out)] == ["u"]
    code, out, _ = run(capsys, "pairs", "list", str(traces), "--task", "t", "--json")
    assert [p["task_id"] for p in json.loads(out)] == ["t"]
    code, out, _ = run(capsys, "pairs", "list", str(traces), "--batch", "nope", "--json")
    assert json.loads(out) == []


def test_stats(traces, capsys):
    code, out, _ = run(capsys, "stats", str(traces), "--json")
    rep = json.loads(out)
    assert code == 0 and rep["rollouts"] == 6 and rep["no_contrast_tasks"] == ["flat"]
    assert rep["all_pass_tasks"] == ["u"] and rep["all_fail_tasks"] == ["flat"]
    assert rep["by_contrast"] == {"pass_fail": 1, "efficiency": 1}
    code, out, _ = run(capsys, "stats", str(traces))
    assert code == 0 and "learnable" in out and "tool-call validity" in out


def test_steps_mark_list_unmark(traces, capsys):
    run(capsys, "ingest", str(traces))
    code, out, _ = run(capsys, "steps", "mark", str(traces), "b1/t__s2", "3", "loop", "--text", "again")
    assert code == 0 and "b1/t__s2#3" in out
    code, out, _ = run(capsys, "steps", "list", str(traces), "b1/t__s2", "--json")
    steps = json.loads(out)
    assert [s["mark"]["reason"] if s["mark"] else None for s in steps] == [None, None, "loop", None, None]
    code, out, _ = run(capsys, "steps", "unmark", str(traces), "b1/t__s2", "3")
    assert code == 0
    with LabelStore(traces / "labels.sqlite") as s:
        assert s.step_marks("b1/t__s2") == {}


@pytest.mark.parametrize(
    "argv,msg",
    [
        (["pairs", "set", "{d}", "zzzz", "confirm"], "no pair 'zzzz'"),
        (["steps", "mark", "{d}", "b1/nope", "1", "loop"], "no rollout 'b1/nope'"),
        (["pairs", "list", "{d}", "--flag", "sparkly"], "unknown flag"),
        (["ingest", "{d}/missing"], "no such directory"),
        (["pairs", "rebuild", "{d}", "--order", "pass,-vibes"], "unknown score component"),
    ],
)
def test_user_errors_are_one_line(traces, capsys, argv, msg):
    run(capsys, "ingest", str(traces))
    code, out, err = run(capsys, *[a.format(d=traces) for a in argv])
    # one message (Rich may soft-wrap it at the 80-column width of a non-terminal)
    assert code == 2 and msg in err.replace("\n", " ") and "Traceback" not in err and err.count("error:") == 1


def test_commands_need_an_ingested_store(tmp_path, capsys):
    code, _, err = run(capsys, "pairs", "undo", str(tmp_path))
    assert code == 2 and "no label store at" in err and "first" in err


def test_tag_and_rebuild(traces, capsys):
    run(capsys, "ingest", str(traces))
    code, out, _ = run(capsys, "pairs", "list", str(traces), "--json")
    first = json.loads(out)[0]["pair_id"]
    assert run(capsys, "pairs", "tag", str(traces), first, "revisit")[0] == 0
    code, out, _ = run(capsys, "pairs", "list", str(traces), "--tag", "revisit", "--json")
    assert [p["pair_id"] for p in json.loads(out)] == [first]
    code, out, _ = run(capsys, "pairs", "rebuild", str(traces), "--strategy", "all-contrastive", "--json")
    rep = json.loads(out)
    assert code == 0 and rep["strategy"] == "all-contrastive" and rep["pairs"] == 2
    code, out, _ = run(capsys, "ingest", str(traces), "--json")
    assert json.loads(out)["files_read"] == 0


def test_pairs_list_shows_notes_and_tags(traces, capsys, monkeypatch):
    from tui.cli import labels

    monkeypatch.setattr(labels.console, "width", 200)  # a wide terminal: cells unfolded
    code, out, _ = run(capsys, "pairs", "list", str(traces), "--json")
    t_id = json.loads(out)[0]["pair_id"]
    run(capsys, "pairs", "set", str(traces), t_id[:6], "confirm", "--note", "shorter fix")
    with LabelStore(traces / "labels.sqlite") as s:
        s.tag_pair(t_id, "recheck")
    code, out, _ = run(capsys, "pairs", "list", str(traces), "--verdict", "confirm")
    assert code == 0 and "shorter fix" in out and "#recheck" in out


def test_team_settings_queue_and_disagree_listing(traces, capsys):
    code, out, _ = run(capsys, "team", str(traces), "--overlap", "2", "--adjudicator", "lead", "--json")
    assert code == 0 and json.loads(out) == {
        "overlap": 2,
        "adjudicator": "lead",
        "labeler": "cli-user",
        "mine": 2,
        "disagree": 0,
    }
    code, out, _ = run(capsys, "pairs", "list", str(traces), "--verdict", "unlabeled", "--json")
    first = json.loads(out)[0]["pair_id"]
    for who, verdict in (("ann", "confirm"), ("ben", "flip")):
        assert run(capsys, "pairs", "set", str(traces), first, verdict, "--labeler", who)[0] == 0
    # K = 2 reached: not in cli-user's queue; the two disagree, so it is in the adjudication queue
    code, out, _ = run(capsys, "pairs", "list", str(traces), "--verdict", "unlabeled", "--json")
    assert first not in [p["pair_id"] for p in json.loads(out)]
    code, out, _ = run(capsys, "pairs", "list", str(traces), "--verdict", "unlabeled", "--overlap", "3", "--json")
    assert first in [p["pair_id"] for p in json.loads(out)]  # --overlap overrides the store's K
    code, out, _ = run(capsys, "pairs", "list", str(traces), "--disagree", "--json")
    listed = json.loads(out)
    assert [p["pair_id"] for p in listed] == [first] and listed[0]["verdicts"] == {"ann": "confirm", "ben": "flip"}
    code, out, _ = run(capsys, "pairs", "list", str(traces), "--disagree")
    assert "DISAGREE" in out and "ann confirm" in out  # each labeler's verdict, on the pair's line
    code, out, _ = run(capsys, "team", str(traces))
    assert code == 0 and "overlap 2" in out and "adjudication queue (disagree): 1 pair" in out
    assert run(capsys, "pairs", "set", str(traces), first, "flip", "--labeler", "lead")[0] == 0
    code, out, _ = run(capsys, "pairs", "list", str(traces), "--disagree", "--json")
    assert json.loads(out) == []
    code, _, err = run(capsys, "team", str(traces), "--overlap", "0")
    assert code == 2 and "overlap must be between 1 and 50" in err

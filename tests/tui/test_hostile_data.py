"""Data that looks like Rich markup, a garbage store, a closed pipe: the command line and
the studio show the data as text and fail, when they must, in one clear line."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import DataTable, Static

from labeling.store import LabelStore
from tests.labeling.conftest import FIX, Spec, make_batch
from tests.tui.conftest import settle
from tui.cli import main

REPO = Path(__file__).resolve().parents[2]
TASK = "t[/]1"  # a closing tag with nothing to close: Rich raises MarkupError on it
MODEL = "m[/]x[bold]"
KIND = "[/]"


def _hostile_traces(root: Path) -> Path:
    specs = [Spec("t1", 1, passed=True, patch=FIX), Spec("t1", 2), Spec("t1", 3)]
    bdir = make_batch(root, "b[bold]1", specs)
    meta = json.loads((bdir / "batch.json").read_text())
    meta.update(suite="s[/]", model=MODEL)
    (bdir / "batch.json").write_text(json.dumps(meta))
    for path in sorted((bdir / "traces").glob("*.jsonl")):
        lines = path.read_text().splitlines()
        start = json.loads(lines[0])
        start.update(task_id=TASK, model=MODEL)
        lines[0] = json.dumps(start)
        lines.insert(1, json.dumps({"v": 1, "rollout_id": start["rollout_id"], "seq": 0, "ts": 1.0, "kind": KIND}))
        path.write_text("\n".join(lines) + "\n")
    return bdir


def test_markup_in_data_is_printed_as_text_by_every_command(tmp_path, capsys):
    root = tmp_path / "runs"
    _hostile_traces(root)
    assert main(["ingest", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"unknown event kind {KIND!r}" in out and "3 new" in out

    assert main(["stats", str(root)]) == 0
    out = capsys.readouterr().out
    assert TASK in out and MODEL in out and "3 rollouts" in out

    assert main(["pairs", "list", str(root)]) == 0
    out = capsys.readouterr().out
    pair_id = LabelStore(root / "labels.sqlite").pairs()[0].pair_id
    assert TASK in out and pair_id in out

    # After the commit, the confirmation line itself holds the labeler and the tag: data.
    assert main(["pairs", "set", str(root), pair_id[:8], "confirm", "--labeler", "[/]bob"]) == 0
    assert "by [/]bob" in capsys.readouterr().out
    assert main(["pairs", "tag", str(root), pair_id[:8], "[/]odd [red]tag"]) == 0
    assert "tag [/]odd [red]tag" in capsys.readouterr().out
    assert main(["steps", "list", str(root), "b[bold]1/t1__s1"]) == 0
    assert "b[bold]1/t1__s1" in capsys.readouterr().out
    with LabelStore(root / "labels.sqlite") as store:
        assert store.pair(pair_id).verdict == "confirm" and store.pair(pair_id).tags == ["[/]odd [red]tag"]


async def test_runs_and_stats_screens_show_markup_like_data_as_text(tmp_path, make_app):
    root = tmp_path / "runs"
    _hostile_traces(root)
    app = make_app(root, start="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        batches = app.screen.query_one("#batches", DataTable)
        row = [str(c) for c in batches.get_row_at(0)]
        assert row[:3] == ["b[bold]1", "s[/]", f"openai/{MODEL}"]
        rollouts = app.screen.query_one("#batch-rollouts", DataTable)
        assert [str(c) for c in rollouts.get_row_at(0)][:2] == ["t1__s1", TASK]
        await pilot.press("f5")
        await settle(pilot)
        # The screen painted (a MarkupError would end run_test with it); its text is the data's.
        body = app.screen.query_one("#stats-body", Static)
        console = Console(record=True, width=200, file=io.StringIO())
        console.print(body.content)
        rendered = console.export_text()
        assert TASK in rendered and MODEL in rendered, rendered
        await pilot.press("f2")
        await settle(pilot)


@pytest.mark.parametrize("argv", [["ingest"], ["stats"], ["pairs", "list"], ["studio"]])
def test_a_garbage_store_is_one_line_everywhere(tmp_path, capsys, argv):
    root = tmp_path / "runs"
    make_batch(root, "b1", [Spec("t1", 1)])
    (root / "labels.sqlite").write_bytes(b"this is not sqlite\n" * 300)
    assert main([*argv, str(root)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "is not a usable label store" in err


def test_a_closed_pipe_ends_the_command_quietly(tmp_path):
    root = tmp_path / "runs"
    make_batch(
        root, "b1", [Spec(f"t{i}", s, passed=s == 0, patch=FIX if s == 0 else "") for i in range(40) for s in (0, 1)]
    )
    assert main(["ingest", str(root)]) == 0
    # The reader is gone before the command writes a byte: every write hits EPIPE,
    # as in `repo-agent pairs list --json | head` once head has exited.
    r, w = os.pipe()
    os.close(r)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "tui.cli", "pairs", "list", str(root), "--json", "--no-ingest"],
            stdout=w,
            stderr=subprocess.PIPE,
            cwd=REPO,
            timeout=120,
        )
    finally:
        os.close(w)
    assert proc.stderr.decode() == "" and proc.returncode == 141

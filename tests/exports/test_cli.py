"""`repo-agent export dpo|sft`: ingests, exports, prints the summary; user errors are one line."""

from __future__ import annotations

import json
from pathlib import Path

from exports import check_file
from tests.exports.conftest import Spec, make_batch
from tui.cli import main


def _traces(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    make_batch(root, "b1", [Spec(t, s, passed=s == 0) for t in ("fix_gcd", "fix_roman", "fix_flatten") for s in (0, 1)])
    return root


def test_export_dpo_command_ingests_and_prints_the_summary(tmp_path: Path, capsys) -> None:
    root = _traces(tmp_path)
    out = tmp_path / "data" / "dpo.jsonl"
    assert (
        main(
            [
                "export",
                "dpo",
                str(root),
                "--out",
                str(out),
                "--auto",
                "--mode",
                "patch+trajectory",
                "--last-k",
                "2",
                "--price-per-mtok",
                "1.5",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert (root / "labels.sqlite").is_file() and check_file(out).ok
    assert f"{out}  [together-dpo, patch+trajectory]" in text
    assert "examples        3" in text and "estimate: chars/4" in text and "at $1.5/M tokens" in text
    assert f"next: repo-agent upload {out}" in text
    line = json.loads(out.read_text().splitlines()[0])
    assert len(json.loads(line["preferred_output"][0]["content"])["trajectory"]) == 2


def test_export_sft_command_with_holdout(tmp_path: Path, capsys) -> None:
    root = _traces(tmp_path)
    out = tmp_path / "sft.jsonl"
    assert main(["export", "sft", str(root), "--out", str(out), "--style", "step", "--holdout-tasks", "fix_gcd"]) == 0
    text = capsys.readouterr().out
    assert "whole trajectories" in text and "step-level" in text and "cost/epoch      set --price-per-mtok" in text
    assert f"fix_gcd -> {tmp_path / 'sft.holdout.suite.json'}" in text
    assert "fix_gcd" not in out.read_text()


def test_export_user_errors_are_one_line(tmp_path: Path, capsys) -> None:
    root = _traces(tmp_path)
    assert main(["export", "dpo", str(tmp_path / "nope"), "--out", str(tmp_path / "x.jsonl")]) == 2
    assert "no such directory" in capsys.readouterr().err
    # nobody labeled anything and --auto was not given: nothing to export, and nothing written
    assert main(["export", "dpo", str(root), "--out", str(tmp_path / "x.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "nothing to export (skipped: unlabeled 3)" in err and "Traceback" not in err
    assert not (tmp_path / "x.jsonl").exists()
    assert main(["export", "sft", str(root), "--out", str(tmp_path / "x.jsonl"), "--holdout-fraction", "2"]) == 2
    assert "holdout_fraction" in capsys.readouterr().err
    assert main(["export", "dpo", str(root), "--out", str(tmp_path / "x.jsonl"), "--auto", "--dry-run"]) == 0
    assert "dry run: nothing written" in capsys.readouterr().out and not (tmp_path / "x.jsonl").exists()

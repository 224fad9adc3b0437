"""The Export screen reads the checker's `CheckReport` as typed, and fails closed."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from exports.check import CheckError, CheckReport
from exports.options import ExportReport
from tui.screens.export import render_export

REPORT = ExportReport(path="/tmp/x.jsonl", format="together-dpo", kind="dpo", mode="patch", examples=2)


def _text(group) -> str:
    console = Console(width=200, record=True)
    console.print(group)
    return console.export_text()


def test_a_failed_check_is_shown_as_failed():
    bad = CheckReport(
        path="/tmp/x.jsonl",
        format="together-dpo",
        lines=2,
        errors=[CheckError(line=2, rule="dpo.extra_key", detail="junk")],
        error_count=1,
    )
    text = _text(render_export(REPORT, bad, None, Path("/tmp/x.jsonl"), dry_run=False))
    assert "CHECK FAILED" in text and "line 2: dpo.extra_key junk" in text and "check passed" not in text


def test_a_clean_check_passes_and_a_missing_one_does_not():
    good = CheckReport(path="/tmp/x.jsonl", format="together-dpo", lines=2)
    assert "check passed: 2 lines as together-dpo, 0 errors" in _text(
        render_export(REPORT, good, None, Path("/tmp/x.jsonl"), dry_run=False)
    )
    missing = _text(render_export(REPORT, None, None, Path("/tmp/x.jsonl"), dry_run=False))
    assert "NOT CHECKED" in missing and "check passed" not in missing

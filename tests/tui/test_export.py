"""Export from the studio: dry run figures, then a written file that passes the checker."""

from __future__ import annotations

import json

from exports import check_file
from tests.tui.conftest import settle
from tui.screens.export import ExportScreen


async def test_export_dpo_after_labeling_passes_check(sample_copy, make_app, tmp_path):
    app = make_app(sample_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("c", "c", "f")  # three labeled pairs
        await pilot.press("f6")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ExportScreen)
        assert screen.last_report is not None and screen.last_report.dry_run
        assert screen.last_report.examples == 3 and screen.last_report.tokens > 0
        out = tmp_path / "out" / "dpo.jsonl"
        screen.query_one("#x-out").value = str(out)
        await pilot.press("ctrl+s")  # ctrl+w's twin: a browser tab closes on ctrl+w (studio --serve)
        await settle(pilot)
        assert screen.written == out and out.is_file()
        report = check_file(out)
        assert report.ok, report.errors
        assert len(out.read_text().splitlines()) == 3
        assert json.loads(out.read_text().splitlines()[0]).keys() <= {
            "input",
            "preferred_output",
            "non_preferred_output",
        }
        assert screen.check.ok and f"repo-agent upload {out}" in screen.upload_cmd


async def test_export_sft_switch_and_bad_option_is_shown(sample_copy, make_app):
    app = make_app(sample_copy, start="export")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+k")
        await settle(pilot)
        screen = app.screen
        assert screen.kind == "sft" and screen.query_one("#x-style").value == "trajectory"
        # every choice field shows the value the dry run uses, never its blank prompt ("Select")
        for select in screen.query("#export-form Select"):
            shown = str(select.query_one("SelectCurrent Static#label").render())
            assert shown != "Select" and (select.id == "x-kind" or str(select.value) in shown), (select.id, shown)
        screen.query_one("#x-holdout_fraction").value = "1.5"
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert "holdout_fraction" in str(screen.query_one("#export-report").render())
        assert screen.last_report is not None  # the earlier dry run stays; nothing was written
        assert screen.written is None

"""Runs says what is true: what `x` can stop, a batch that already ended, running vs queued."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

from agent.allocation import AllocationReport, TaskAllocation
from labeling.records import BatchRow
from tests.tui.conftest import settle
from tui.screens import runs as runs_module
from tui.screens.runs import RunsScreen
from tui.widgets.prompt import ConfirmModal


def warnings(app) -> list[str]:
    return [n.message for n in app._notifications if n.severity == "warning"]


async def test_x_speaks_of_the_rollout_or_the_batch_under_the_cursor(traces, make_app):
    app = make_app(traces, start="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        runs: RunsScreen = app.screen
        (batch,) = runs.batches
        app.state.running_batches["20261206-other-launched"] = threading.Event()  # a launch still running
        table = runs.query_one("#batch-rollouts")
        table.focus()
        rid = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value).rpartition("/")[2]
        await pilot.press("x")
        assert warnings(app) == [f"{rid} is not running (nothing to stop)."]
        # A batch launched here whose batch.json already says it ended: no "Cancelling ...".
        app.clear_notifications()
        cancel = app.state.running_batches[batch.batch_id] = threading.Event()
        runs.query_one("#batches").focus()
        await pilot.press("x")
        assert not isinstance(app.screen, ConfirmModal) and not cancel.is_set()
        assert warnings(app) == [f"{batch.batch_id} has ended ({batch.status}): nothing to cancel."]
        # ... and one that ends while the question is asked.
        app.clear_notifications()
        runs.batches = [batch.model_copy(update={"status": "running"})]
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmModal)
        del app.state.running_batches[batch.batch_id]  # the batch's end arrived
        await pilot.press("y")
        assert not cancel.is_set() and warnings(app) == [f"{batch.batch_id} has ended: nothing to cancel."]


def test_budget_line_counts_running_and_queued_apart(monkeypatch):
    task = TaskAllocation(
        task_id="t",
        rollouts=11,
        in_flight=11,
        passes=0,
        fails=0,
        status="open",
        pass_rate=None,
        pairs=0,
        pass_fail_pairs=0,
        all_contrastive_pairs=0,
    )
    report = AllocationReport(
        strategy="adaptive",
        budget_rollouts=24,
        pairs_per_task=1,
        done=False,
        rollouts=11,
        finished=0,
        in_flight=11,
        unspent=13,
        pairs=0,
        pass_fail_pairs=0,
        all_contrastive_pairs=0,
        pairs_per_100_rollouts=0.0,
        tasks_by_status={"open": 1},
        rollouts_by_status={"open": 11},
        tasks=[task],
    )
    meta = SimpleNamespace(allocation=report.model_dump())
    monkeypatch.setattr(runs_module, "read_batch_meta", lambda path: meta)
    row = BatchRow(batch_id="b", path="/nowhere", status="running", finished=0)
    line = runs_module._budget_text(Path("/nowhere"), row, live=1)
    assert line is not None and " · 1 running, 10 queued" in line.plain and "11 running" not in line.plain
    ended = runs_module._budget_text(Path("/nowhere"), row.model_copy(update={"status": "cancelled"}), live=0)
    assert ended is not None and " · 11 not run (R resumes)" in ended.plain


async def test_batch_ids_of_one_day_stay_apart_at_80_columns(tmp_path, make_app):
    from tests import factories

    ids = ["20261206-051233-mini-bugs-m-7b-a1b2", "20261206-051233-mini-bugs-m-7b-c3d4"]
    for n, bid in enumerate(ids):
        factories.write_batch(tmp_path, bid, [factories.Rollout(f"fix_t{n}", 0, steps=[[factories.Call("read_file")]])])
    app = make_app(tmp_path, start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#batches")
        shown = [table.render_line(y).text for y in range(1, 3)]
        cut = [line.split()[0] for line in shown]
        assert sorted(c[-4:] for c in cut) == ["a1b2", "c3d4"] and all("…" in c for c in cut)

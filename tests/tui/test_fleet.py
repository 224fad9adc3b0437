"""The fleet view on Runs: live rollouts, the ones needing attention on top, announced once."""

from __future__ import annotations

import pytest

from tests.tui.conftest import settle, wait_until
from tests.tui.fleet_fixtures import BATCH_ID, NOW, make_live_batch
from tui.widgets.fleet import FleetView


@pytest.fixture
def fixed_clock(monkeypatch):
    monkeypatch.setattr(FleetView, "clock", staticmethod(lambda: NOW))


def _alerts(app):
    return [n for n in app._notifications if n.title == "Rollout needs attention"]


async def test_fleet_lists_live_rollouts_with_alerts_on_top(traces, make_app, fixed_clock):
    make_live_batch(traces)
    app = make_app(traces, start="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        fleet = app.screen.query_one(FleetView)
        assert fleet.display
        order = [(r.uid.rpartition("/")[2], r.alert) for r in fleet.rows]
        assert order == [
            ("fix_errored__s0", "error"),
            ("fix_stalled__s0", "stall"),
            ("fix_looping__s0", "loop"),
            ("fix_fine__s0", None),
        ]
        table = fleet.query_one("#fleet-table")
        fine = table.get_row(f"{BATCH_ID}/fix_fine__s0")
        # step/max, last tool call, seconds since the last event, tokens and cost so far
        assert fine[1] == "fix_fine" and fine[3] == "4/30" and fine[4] == "20s"
        assert fine[5] == "10k" and fine[6] == "$0.01" and fine[7].startswith("list_dir")
        head = str(fleet.query_one("#fleet-head").render())
        assert "3 need attention" in head and "ETA" not in head  # nothing finished yet: no pace to project


async def test_each_alert_is_announced_once_with_the_bell(traces, make_app, fixed_clock, monkeypatch):
    make_live_batch(traces)
    app = make_app(traces, start="runs")
    bells = []
    monkeypatch.setattr(app, "bell", lambda: bells.append(1))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        fleet = app.screen.query_one(FleetView)
        assert len(_alerts(app)) == 3 and len(bells) == 3
        fleet.refresh_fleet()
        fleet.tick()
        app.start_ingest()
        await settle(pilot)
        assert len(_alerts(app)) == 3 and len(bells) == 3  # once, not on every redraw
        assert any("is looping" in n.message for n in _alerts(app))


async def test_the_bell_can_be_turned_off(traces, make_app, fixed_clock, monkeypatch):
    make_live_batch(traces)
    app = make_app(traces, start="runs", bell=False)
    bells = []
    monkeypatch.setattr(app, "bell", lambda: bells.append(1))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert len(_alerts(app)) == 3 and bells == []


async def test_an_idle_studio_has_no_fleet_and_no_clock(traces, make_app):
    app = make_app(traces, start="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        fleet = app.screen.query_one(FleetView)
        assert not fleet.display and fleet.rows == []
        assert fleet._clock is not None and fleet._clock._active.is_set() is False  # paused


async def test_the_selection_follows_its_rollout_when_rows_re_sort(traces, make_app, fixed_clock):
    """Rows re-sort as alerts come and go; the cursor stays on the rollout, so k stops the one
    the user looked at (it used to keep the row number and land on another rollout)."""
    make_live_batch(traces)
    app = make_app(traces, start="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        fleet = app.screen.query_one(FleetView)
        table = fleet.query_one("#fleet-table")
        table.move_cursor(row=3)
        assert fleet.selected().uid.endswith("fix_fine__s0")
        fleet.tick(NOW + 500)  # everything still open has stalled now: fix_fine moves up to row 1
        assert [r.uid.rpartition("/")[2] for r in fleet.rows].index("fix_fine__s0") == 1
        assert table.cursor_row == 1
        assert fleet.selected().uid.endswith("fix_fine__s0")


async def test_stopping_a_rollout_from_the_fleet(tmp_path, traces, make_app):
    from agent.batch_request import BatchRequest
    from agent.suites.loading import load_suite
    from agent.trace import read_trace, trace_path
    from tests.agent.rollout_fixtures import write_tiny_suite
    from tests.doubles.loop_policies import RepeatPolicy
    from tests.doubles.scripted_llm import ScriptedLLM

    suite_path = write_tiny_suite(tmp_path / "suite")
    server = ScriptedLLM(RepeatPolicy(load_suite(str(suite_path)))).start()
    try:
        # With the trace watcher on: the ingest and the fleet follow the batch by themselves.
        app = make_app(traces, start="runs", tail_interval=0.5)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            request = BatchRequest(
                suite=str(suite_path),
                model="scripted",
                base_url=server.base_url,
                max_workers=2,
                max_iters=100_000,  # only a cancel ends these rollouts, however fast the machine
                loop_limit=0,
                trace_dir=str(traces),
            )
            app.screen.start_batch(request)
            [batch_id] = app.state.running_batches
            batch_dir = traces / batch_id
            fleet = app.screen.query_one(FleetView)
            await wait_until(pilot, lambda: len([r for r in fleet.rows if r.trace.steps >= 2]) == 2, timeout=60)
            table = fleet.query_one("#fleet-table")
            table.focus()
            await wait_until(pilot, lambda: app.focused is table)
            target = fleet.selected().uid
            await pilot.press("k")
            cancels = app.state.rollout_cancels[batch_dir.name]
            target_rid = target.rpartition("/")[2]
            other_rid = next(r for r in ("fix_gcd__s0", "fix_largest__s0") if r != target_rid)
            await wait_until(pilot, lambda: target_rid not in cancels.running(), timeout=60)
            assert other_rid in cancels.running()  # the batch goes on
            assert read_trace(trace_path(batch_dir, target_rid)).end.stop_reason == "cancelled"
            assert read_trace(trace_path(batch_dir, other_rid)).end is None
            app.state.running_batches[batch_dir.name].set()  # end the test: cancel the rest
            await wait_until(pilot, lambda: batch_dir.name not in app.state.running_batches, timeout=60)
    finally:
        server.close()


async def _fleet_ready(pilot) -> None:
    await settle(pilot)
    pilot.app.clear_notifications()  # toasts time out: on a busy machine they may or may not be up
    pilot.app.screen.query_one(FleetView).query_one("#fleet-table").focus()
    await settle(pilot)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
def test_fleet_snapshot(size, traces, make_app, snap_compare, fixed_clock):
    make_live_batch(traces)
    assert snap_compare(make_app(traces, start="runs"), terminal_size=size, run_before=_fleet_ready)


async def test_trace_changes_before_a_screen_is_composed_wait_for_it(traces, make_app, fixed_clock):
    """A live batch may write while a screen is still being built: the change is held until
    the screen has its widgets, then delivered (it used to end the app with NoMatches)."""
    from tui.screens.runs import RunsScreen

    make_live_batch(traces)
    app = make_app(traces, start="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        fresh = RunsScreen()
        delivered: list[set] = []
        fresh.traces_changed = delivered.append  # type: ignore[method-assign]
        changed = {next(traces.rglob("*.jsonl")).absolute()}
        fresh.notice_traces_changed(changed)  # not composed yet: held, not delivered
        assert delivered == []
        await app.push_screen(fresh)
        await settle(pilot)
        assert delivered == [changed]
        fresh.notice_traces_changed(changed)  # once mounted, straight through
        assert delivered == [changed, changed]


async def test_enter_on_a_fleet_row_opens_that_rollout(traces, make_app, fixed_clock):
    from tui.screens.rollout import RolloutScreen

    make_live_batch(traces)
    app = make_app(traces, start="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        fleet = app.screen.query_one(FleetView)
        table = fleet.query_one("#fleet-table")
        table.focus()
        await pilot.press("down")
        want = fleet.rows[table.cursor_row].uid
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, RolloutScreen)
        assert app.state.rollout_uid == want

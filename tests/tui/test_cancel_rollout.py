"""Runs: `x` on a running rollout stops that rollout alone, after asking."""

from __future__ import annotations

from tests.agent.rollout_fixtures import write_tiny_suite
from tests.tui.conftest import first_rollout_batch, gated_server, launch_scripted, settle, wait_until
from tui.screens.runs import RunsScreen
from tui.widgets.prompt import ConfirmModal


async def test_x_on_a_running_rollout_stops_only_it(tmp_path, traces, make_app):
    suite_path = write_tiny_suite(tmp_path / "suite")
    server, gate = gated_server(suite_path)
    try:
        app = make_app(traces, start="runs")
        async with app.run_test(size=(120, 40)) as pilot:
            await launch_scripted(pilot, suite_path, server, rollouts="1", workers="2")
            batch_id = await first_rollout_batch(pilot)
            runs: RunsScreen = app.screen
            await wait_until(
                pilot,
                lambda: (
                    batch_id in app.state.rollout_cancels and len(app.state.rollout_cancels[batch_id].running()) == 2
                ),
            )
            app.start_ingest()
            # No settle() while the batch is held: it waits for every worker, the batch's too.
            await wait_until(pilot, lambda: any(b.batch_id == batch_id for b in runs.batches))
            await wait_until(pilot, lambda: not app.ingesting)
            runs.query_one("#batches").move_cursor(row=[b.batch_id for b in runs.batches].index(batch_id))
            await pilot.pause()
            table = runs.query_one("#batch-rollouts")
            await wait_until(pilot, lambda: table.row_count == 2)
            table.focus()
            table.move_cursor(row=0)
            uid = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
            rid = uid.rpartition("/")[2]
            await pilot.press("x")
            assert isinstance(app.screen, ConfirmModal)
            await pilot.press("y")
            assert not app.state.running_batches[batch_id].is_set()  # the batch goes on
            gate.set()
            await wait_until(pilot, lambda: batch_id not in app.state.running_batches, timeout=60)
            app.start_ingest()
            await settle(pilot)
            rows = {r.rollout_id: r for r in app.store.rollouts(batch_id=batch_id)}
            assert rows[rid].stop_reason == "cancelled"
            (other,) = [r for k, r in rows.items() if k != rid]
            assert other.stop_reason == "finished" and other.tests_passed
    finally:
        gate.set()
        server.close()

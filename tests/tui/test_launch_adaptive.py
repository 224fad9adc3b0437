"""The Runs form launches an adaptive batch: rounds within a budget, through the same engine."""

from __future__ import annotations

from agent.allocation import AllocationReport
from agent.suites.loading import load_suite
from agent.trace import read_batch_meta
from tests.agent.test_adaptive_batch import policy, write_suite
from tests.doubles.scripted_llm import ScriptedLLM
from tests.tui.conftest import launch_scripted, open_launch_form, settle, wait_until
from tui.screens.runs import RunsScreen


async def test_launch_adaptive_batch_from_the_form(tmp_path, traces, make_app):
    suite_path = write_suite(tmp_path / "suite")
    suite = load_suite(str(suite_path))
    server = ScriptedLLM(policy(suite), suite=suite).start()
    try:
        app = make_app(traces, start="runs")
        async with app.run_test(size=(120, 40)) as pilot:
            await launch_scripted(
                pilot,
                suite_path,
                server,
                workers="2",
                max_iters="6",
                budget="9",
                give_up_after="3",
                allocation="adaptive",
            )
            assert isinstance(app.screen, RunsScreen)
            await wait_until(pilot, lambda: bool(app.state.running_batches))
            batch_id = next(iter(app.state.running_batches))
            await wait_until(pilot, lambda: batch_id not in app.state.running_batches, timeout=120)
            app.start_ingest()
            await settle(pilot)
            screen = app.screen
            screen.refresh_data()
            await settle(pilot)
            table = screen.query_one("#batches")
            table.move_cursor(row=table.get_row_index(batch_id))
            await settle(pilot)
            budget = screen.query_one("#budget")
            assert budget.display
            line = str(budget.render())
            assert "adaptive · budget 9" in line and "too_easy 1 tasks" in line and "too_hard 1 tasks" in line
        meta = read_batch_meta(traces / batch_id)
        assert meta.params.allocation == "adaptive" and meta.params.budget_rollouts == 9
        report = AllocationReport.model_validate(meta.allocation)
        tasks = {t.task_id: t for t in report.tasks}
        assert report.rollouts <= 9 and len(meta.planned) <= 9
        assert tasks["easy"].status == "too_easy" and tasks["hard"].status == "too_hard"
    finally:
        server.close()


async def test_adaptive_needs_a_budget(traces, make_app):
    app = make_app(traces, start="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        modal = await open_launch_form(pilot, allocation="adaptive")
        await pilot.press("ctrl+s")
        assert app.screen is modal
        assert "needs a budget" in str(modal.query_one("#launch-error").render())

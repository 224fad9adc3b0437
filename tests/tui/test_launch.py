"""Launch a batch from the Runs form against the local OpenAI-compatible server and
watch its tool calls arrive on the Rollout screen while it runs."""

from __future__ import annotations

import threading

from agent.scripted_llm import ScriptedLLM, ScriptedPolicy
from agent.suites import load_suite
from tests.agent.rollout_fixtures import write_tiny_suite
from tests.tui.conftest import settle, wait_until
from tui.screens.launch import LaunchModal
from tui.screens.rollout import END_KEY, RolloutScreen
from tui.screens.runs import RunsScreen


async def test_launch_from_runs_form_and_follow_live(tmp_path, traces, make_app):
    suite_path = write_tiny_suite(tmp_path / "suite")
    suite = load_suite(str(suite_path))
    inner = ScriptedPolicy(suite, "wandering")
    gate = threading.Event()

    def policy(req):
        if req.step >= 3:  # hold the rollout mid-way so the test sees it running
            gate.wait(30)
        return inner(req)

    server = ScriptedLLM(policy, suite=suite).start()
    try:
        app = make_app(traces, start="runs")
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await pilot.press("l")
            modal = app.screen
            assert isinstance(modal, LaunchModal)
            for wid, value in (("#f-suite", str(suite_path)), ("#f-model", "scripted"),
                               ("#f-base-url", server.base_url), ("#f-rollouts", "1"), ("#f-workers", "1"),
                               ("#f-max-iters", "12")):
                modal.query_one(wid).value = value
            modal.query_one("#f-provider").value = "openai"
            await pilot.press("ctrl+s")
            assert isinstance(app.screen, RunsScreen)
            await wait_until(pilot, lambda: app.state.rollout_uid is not None)
            batch_id = app.state.rollout_uid.split("/")[0]
            assert batch_id in app.state.running_batches
            await pilot.press("f2")
            screen = app.screen
            assert isinstance(screen, RolloutScreen)
            await wait_until(pilot, lambda: screen.trace is not None and len(screen.trace.calls) >= 2)
            assert screen.trace.running
            assert screen.query_one("#calls").row_count >= 2 and END_KEY not in screen.query_one("#calls").rows
            assert "RUNNING" in str(screen.query_one("#rollout-head").render())
            gate.set()
            await wait_until(pilot, lambda: batch_id not in app.state.running_batches, timeout=60)
            await wait_until(pilot, lambda: END_KEY in screen.query_one("#calls").rows)
            assert screen.trace.end.outcome.tests_passed
            app.start_ingest()
            await settle(pilot)
            batch = next(b for b in app.store.batches() if b.batch_id == batch_id)
            assert (batch.finished, batch.planned) == (2, 2)
    finally:
        gate.set()
        server.close()


async def test_launch_form_refuses_bad_input(traces, make_app):
    app = make_app(traces, start="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        modal = app.screen
        modal.query_one("#f-provider").value = "openai"
        modal.query_one("#f-model").value = ""
        await pilot.press("ctrl+s")
        assert app.screen is modal  # still open, with the reason shown
        assert "needs a model" in str(modal.query_one("#launch-error").render())
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen) and not app.state.running_batches

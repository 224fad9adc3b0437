"""Launch a batch from the Runs form against the local OpenAI-compatible server and
watch its tool calls arrive on the Rollout screen while it runs."""

from __future__ import annotations

from pathlib import Path

from tests.agent.rollout_fixtures import write_tiny_suite
from tests.tui.conftest import first_rollout_batch, gated_server, launch_scripted, open_launch_form, settle, wait_until
from tui.screens.rollout import END_KEY, RolloutScreen
from tui.screens.runs import RunsScreen
from tui.state import replay_dir
from tui.widgets.prompt import ConfirmModal


async def test_launch_from_runs_form_and_follow_live(tmp_path, traces, make_app):
    suite_path = write_tiny_suite(tmp_path / "suite")
    # Held mid-way (two calls made, the finish to come): the test sees it running. quick_fix
    # passes without running the tests itself, so the batch's two rollouts run them least.
    server, gate = gated_server(suite_path, "quick_fix", hold_at=3)
    try:
        app = make_app(traces, start="runs")
        async with app.run_test(size=(120, 40)) as pilot:
            await launch_scripted(pilot, suite_path, server, rollouts="1", workers="1", max_iters="12")
            assert isinstance(app.screen, RunsScreen)
            batch_id = await first_rollout_batch(pilot)
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
        modal = await open_launch_form(pilot, provider="openai", model="")
        await pilot.press("ctrl+s")
        assert app.screen is modal  # still open, with the reason shown
        assert "needs a model" in str(modal.query_one("#launch-error").render())
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen) and not app.state.running_batches


async def test_cancel_then_resume_a_launched_batch(tmp_path, traces, make_app):
    suite_path = write_tiny_suite(tmp_path / "suite")
    server, gate = gated_server(suite_path, "quick_fix")  # held after its first call; passes with 2 test runs
    try:
        app = make_app(traces, start="runs")
        async with app.run_test(size=(120, 40)) as pilot:
            await launch_scripted(pilot, suite_path, server, rollouts="1", workers="1")
            batch_id = await first_rollout_batch(pilot)
            app.start_ingest()
            await wait_until(pilot, lambda: any(b.batch_id == batch_id for b in app.screen.batches))
            runs: RunsScreen = app.screen
            runs.query_one("#batches").move_cursor(row=[b.batch_id for b in runs.batches].index(batch_id))
            await pilot.press("x")  # asks first: n keeps the batch running
            assert isinstance(app.screen, ConfirmModal)
            await pilot.press("n")
            assert app.screen is runs and not app.state.running_batches[batch_id].is_set()
            await pilot.press("x", "y")  # cancel: the held rollout ends "cancelled", the other never starts
            assert app.state.running_batches[batch_id].is_set()
            gate.set()
            await wait_until(pilot, lambda: batch_id not in app.state.running_batches, timeout=60)
            app.start_ingest()
            await settle(pilot)
            batch = next(b for b in app.store.batches() if b.batch_id == batch_id)
            assert batch.status == "cancelled" and batch.passed == 0
            await pilot.press("R")  # resume: re-runs what did not finish
            await wait_until(pilot, lambda: batch_id not in app.state.running_batches, timeout=60)
            app.start_ingest()
            await settle(pilot)
            batch = next(b for b in app.store.batches() if b.batch_id == batch_id)
            assert (batch.status, batch.finished, batch.passed) == ("finished", 2, 2)
    finally:
        gate.set()
        server.close()


async def test_replay_launch_needs_no_key_and_no_network(sample_copy, make_app, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    app = make_app(sample_copy, start="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        before = {b.batch_id for b in app.store.batches()}
        await pilot.press("l")
        modal = app.screen
        task = app.store.rollouts()[0].task_id
        modal.query_one("#f-tasks").value = task  # defaults otherwise: replay of the recorded batch
        modal.query_one("#f-rollouts").value = "1"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.state.rollout_uid is not None)
        batch_id = app.state.rollout_uid.split("/")[0]
        await wait_until(pilot, lambda: batch_id not in app.state.running_batches, timeout=60)
        app.start_ingest()
        await settle(pilot)
        new = [b for b in app.store.batches() if b.batch_id not in before]
        assert [b.batch_id for b in new] == [batch_id]
        assert new[0].provider == "replay" and new[0].finished == 1
        assert app.store.rollout(app.state.rollout_uid).stop_reason == "finished"
        # written beside the studio's folder, never into it (issue 25), and indexed from there
        assert Path(new[0].path).resolve().parent == replay_dir(sample_copy)
        assert not (sample_copy / batch_id).exists()


async def test_launch_refused_without_a_sandbox(sample_copy, make_app, monkeypatch):
    """No bwrap and no REPO_AGENT_UNSAFE_NO_SANDBOX=1: the form says why and nothing starts."""
    from agent import sandbox as sb

    monkeypatch.setattr(sb, "_probed", ("rlimit", "bwrap (bubblewrap) is not installed"))
    monkeypatch.delenv(sb.UNSAFE_ENV, raising=False)
    app = make_app(sample_copy, start="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        app.screen.query_one("#f-rollouts").value = "1"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, RunsScreen) and not app.state.running_batches
        notes = [n.message for n in app._notifications]
        assert any("does not run without a sandbox" in m and "--unsafe-no-sandbox" in m for m in notes)

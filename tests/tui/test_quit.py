"""ctrl+q quits at once, except while a batch launched from the studio still runs: then it asks."""

from __future__ import annotations

import threading

from tests.tui.conftest import settle
from tui.widgets.prompt import ConfirmModal


async def test_quit_mid_batch_asks_and_no_keeps_the_batch(traces, make_app):
    app = make_app(traces, start="runs")
    cancel = threading.Event()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.state.running_batches["20261206-running"] = cancel
        await pilot.press("ctrl+q")
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmModal) and app.is_running and not cancel.is_set()
        await pilot.press("ctrl+q")
        await pilot.press("y")
        await pilot.pause()
    assert cancel.is_set()  # quitting cancelled the batch it was asked about
    assert app.return_code == 0


async def test_quit_without_a_running_batch_asks_nothing(traces, make_app):
    app = make_app(traces, start="pairs")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmModal)
    assert app.return_code == 0

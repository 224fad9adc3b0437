"""A verdict key pressed while the review queue loads (slow in a served studio) judges the pair
still drawn, the one the reviewer read, and that pair is not shown again; with no pair drawn
yet the key says so. Never dropped without a word."""

from __future__ import annotations

import threading

from tests.tui.conftest import settle, wait_until
from tui.pair_queue import PairQueue
from tui.screens.pairs import PairsScreen


async def test_c_while_the_queue_loads_judges_the_pair_drawn(traces, make_app, monkeypatch):
    gate = threading.Event()
    real = PairQueue.read_ahead

    def slow_read(*args):
        gate.wait(30)
        return real(*args)

    app = make_app(traces)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, PairsScreen) and screen.pair is not None
            drawn = screen.pair.pair_id
            monkeypatch.setattr(PairQueue, "read_ahead", staticmethod(slow_read))
            screen.action_wrap()  # the queue starts over; the pair stays drawn while it loads
            assert screen.shown is None
            await pilot.press("c")
            assert app.store.pair(drawn).verdict == "confirm"
            assert any(f"confirm recorded for {drawn}" in n.message for n in app._notifications)
            gate.set()
            await settle(pilot)
            assert screen.pair is not None and screen.pair.pair_id != drawn  # judged: not shown again
    finally:
        gate.set()


async def test_c_before_any_pair_is_drawn_says_so(traces, make_app, monkeypatch):
    gate = threading.Event()
    real = PairQueue.read_ahead

    def slow_read(*args):
        gate.wait(30)
        return real(*args)

    monkeypatch.setattr(PairQueue, "read_ahead", staticmethod(slow_read))
    app = make_app(traces)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, PairsScreen) and app.screen.is_mounted)
            await pilot.press("c")
            assert any("No pair on screen yet" in n.message for n in app._notifications)
            gate.set()
            await settle(pilot)
            assert app.screen.pair is not None and app.screen.pair.verdict is None
    finally:
        gate.set()


async def test_a_verdict_on_a_pair_pruned_meanwhile_is_a_warning_not_a_crash(traces, make_app, monkeypatch):
    """A rebuild in another process can prune the pair on screen before its key: set_verdict
    raises NotFound, which reached the reviewer as a traceback that ended the studio."""
    from labeling.store import NotFound

    app = make_app(traces)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PairsScreen) and screen.pair is not None
        drawn = screen.pair.pair_id

        def pruned(pair_id, verdict, note=None):
            raise NotFound(pair_id)

        monkeypatch.setattr(app.store, "set_verdict", pruned)
        await pilot.press("c")
        await settle(pilot)
        assert app.is_running
        assert any(f"Pair {drawn} is gone" in n.message for n in app._notifications)

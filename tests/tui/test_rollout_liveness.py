"""The Rollout header follows its batch's liveness: a rollout without its end reads RUNNING while
the batch's process holds its lock, and INTERRUPTED once the process is gone, though no event
arrives to redraw it (a dead process writes nothing)."""

from __future__ import annotations

import threading

from agent.batch_meta import batch_lock
from tests.factories import Call, Rollout, write_batch
from tests.tui.conftest import settle, wait_until
from tui.screens.rollout import RolloutScreen


async def test_the_header_says_interrupted_when_the_batch_dies_while_open(tmp_path, make_app, monkeypatch):
    monkeypatch.setattr(RolloutScreen, "LIVENESS_S", 0.05)
    root = tmp_path / "runs"
    r = Rollout("fix_x", 0, steps=[[Call("list_dir", {"rel_dir": "."})]], finished=False)
    bdir = write_batch(root, "b1", [r], finished=None)
    held, release, done = threading.Event(), threading.Event(), threading.Event()

    def batch_process() -> None:  # holds the lock as a running batch does, until it "dies"
        with batch_lock(bdir):
            held.set()
            release.wait(30)
        done.set()

    threading.Thread(target=batch_process, daemon=True).start()
    try:
        assert held.wait(10)
        app = make_app(root, start="rollout", rollout=f"b1/{r.rollout_id}")
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, RolloutScreen)
            head = lambda: str(screen.query_one("#rollout-head").render())  # noqa: E731
            await wait_until(pilot, lambda: "RUNNING" in head())
            assert "following" in head()
            release.set()  # the batch's process ends without writing anything more
            assert done.wait(10)
            await wait_until(pilot, lambda: "INTERRUPTED" in head())
            assert "resume its batch from Runs (R)" in head()
            assert "following" not in head()  # nothing more will come
    finally:
        release.set()

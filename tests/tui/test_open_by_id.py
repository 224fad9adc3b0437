"""`repo-agent studio DIR --rollout ID` / `--pair ID`: the studio opens on it; an unknown id
is one line and exit 2, before the app starts."""

from __future__ import annotations

import pytest

from labeling.store import LabelStore
from tests.tui.conftest import settle, wait_until
from tui.app import StudioApp
from tui.cli import main


@pytest.mark.parametrize("flag", ["--rollout", "--pair"])
def test_an_unknown_id_is_one_line_exit_2(traces, flag, capsys, monkeypatch):
    monkeypatch.setattr(StudioApp, "run", lambda self: pytest.fail("the app must not start"))
    assert main(["studio", str(traces), flag, "no-such-id"]) == 2
    err = capsys.readouterr().err
    assert f"{flag}: no {flag[2:]} 'no-such-id'" in err and len(err.strip().splitlines()) == 1


def test_ids_reach_the_app_after_an_ingest(traces, monkeypatch):
    store = LabelStore(traces / "scratch.sqlite", labeler="x")
    store.ingest([traces])
    pair = store.pairs()[-1]
    store.close()
    seen = {}

    def fake_run(self):
        seen.update(start=self._start, uid=self.state.rollout_uid, pair=self.state.open_pair)
        self.store.close()

    monkeypatch.setattr(StudioApp, "run", fake_run)
    # A fresh store: the ids are found once DIR is ingested.
    assert main(["studio", str(traces), "--rollout", pair.chosen_uid]) == 0
    assert seen == {"start": "rollout", "uid": pair.chosen_uid, "pair": None}
    assert main(["studio", str(traces), "--pair", pair.pair_id]) == 0
    assert seen["start"] == "pairs" and seen["pair"] == pair.pair_id


async def test_pair_opens_even_when_the_queue_filter_leaves_it_out(traces, make_app):
    store = LabelStore(traces / "labels.sqlite", labeler="tester")
    store.ingest([traces])
    pair = store.pairs()[-1]
    store.set_verdict(pair.pair_id, "confirm")  # labeled: the default queue (unlabeled) leaves it out
    store.close()
    app = make_app(traces, pair=pair.pair_id)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await wait_until(pilot, lambda: app.screen.pair is not None)
        assert app.current_mode == "pairs" and app.screen.pair.pair_id == pair.pair_id
        await pilot.press("n")  # then the queue goes on as usual
        await wait_until(pilot, lambda: app.screen.pair is not None and app.screen.pair.pair_id != pair.pair_id)
    app = make_app(traces, rollout=pair.rejected_uid)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.current_mode == "rollout" and app.screen.uid == pair.rejected_uid and app.screen.trace.calls

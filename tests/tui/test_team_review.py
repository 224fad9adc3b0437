"""Team review in the studio: `/ disagree` is the adjudication queue, the adjudicator's
verdict settles a pair, the queue with overlap K is this labeler's, and the header shows
each labeler's verdict."""

from __future__ import annotations

import sys

import pytest

from labeling.records import PairFilter
from labeling.store import LabelStore
from tests.tui.conftest import settle
from tui.screens.pairs import PairsScreen, parse_filter


def _team(traces, *, overlap: int, adjudicator: str | None = "tester") -> list[str]:
    """alice and bob disagree on the first pair and agree on the second."""
    path = LabelStore.default_path(traces)
    with LabelStore(path, labeler="alice") as alice, LabelStore(path, labeler="bob") as bob:
        alice.ingest([traces])
        alice.set_team_settings(overlap=overlap, adjudicator=adjudicator or "")
        pairs = [p.pair_id for p in alice.pairs()]
        assert len(pairs) >= 3
        alice.set_verdict(pairs[0], "confirm")
        bob.set_verdict(pairs[0], "flip")
        alice.set_verdict(pairs[1], "discard")
        bob.set_verdict(pairs[1], "discard")
    return pairs


def _head(app) -> str:
    return str(app.screen.query_one("#pair-head").render())


def _badge(app, side: str) -> str:
    return str(app.screen.query_one(f"#badge-{side}").render())


async def _filter(pilot, text: str) -> None:
    await pilot.press("slash")
    await settle(pilot)
    for ch in text:
        await pilot.press(ch if ch != " " else "space")
    await pilot.press("enter")
    await settle(pilot)


def test_disagree_is_a_filter_word():
    f = parse_filter("disagree")
    assert f.disagree and f.verdict is None  # every verdict state: a disagreement is labeled
    assert parse_filter("disagree verdict:flip task:t1") == PairFilter(disagree=True, verdict="flip", task_id="t1")
    assert parse_filter("") == PairFilter(verdict="unlabeled")


async def test_slash_disagree_then_the_adjudicator_settles(make_app, traces):
    pairs = _team(traces, overlap=2)
    app = make_app(traces)  # labeler "tester": the adjudicator
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await _filter(pilot, "disagree")
        screen = app.screen
        assert isinstance(screen, PairsScreen)
        assert screen.pair is not None and screen.pair.pair_id == pairs[0] and screen.queue == [pairs[0]]
        head = _head(app)
        assert "DISAGREE" in head and "alice confirm · bob flip" in head and "Pair 1/1" in head
        # the badges do not take bob's side for being the last to speak
        assert "preferred (auto)" in _badge(app, "a") and "rejected" in _badge(app, "b")
        await pilot.press("f")  # the adjudicator's verdict
        await settle(pilot)
        store = app.store
        assert store.pair(pairs[0]).verdicts == {"alice": "confirm", "bob": "flip", "tester": "flip"}
        assert store.pairs(store.team_filter(PairFilter(disagree=True))) == []
        assert "SETTLED" in _head(app) and "tester flip (adjudicator)" in _head(app)
        assert "preferred (flipped)" in _badge(app, "b")
        await pilot.press("u")  # undone: back in the adjudication queue
        await settle(pilot)
        assert [p.pair_id for p in store.pairs(store.team_filter(PairFilter(disagree=True)))] == [pairs[0]]
        assert "DISAGREE" in _head(app)


async def test_the_queue_with_overlap_is_this_labelers(make_app, traces):
    path = LabelStore.default_path(traces)
    with LabelStore(path, labeler="alice") as alice:
        alice.ingest([traces])
        p0, p1, p2 = [p.pair_id for p in alice.pairs()]
        alice.set_verdict(p0, "confirm")  # one verdict: enough alone, not with overlap 2
    app = make_app(traces, overlap=2)  # --overlap 2 (the store says 1)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PairsScreen)
        assert screen.queue == [p1, p2, p0] and screen.pair is not None and screen.pair.pair_id == p1
        # meanwhile two others label the pair just ahead: tester's skip does not stop on it
        with LabelStore(path, labeler="alice") as alice, LabelStore(path, labeler="bob") as bob:
            alice.set_verdict(p2, "flip")
            bob.set_verdict(p2, "flip")
        await pilot.press("s")
        await settle(pilot)
        assert screen.queue == [p1, p0] and screen.pair.pair_id == p0
        head = _head(app)
        assert " 1/2" in head and "alice confirm" in head and "c confirm" in head and "Pair 2/2" in head
        assert "yours 2" in str(app.screen.query_one("#pair-progress").render())
        await pilot.press("c")
        await settle(pilot)
        assert app.store.pair(p0).verdicts == {"alice": "confirm", "tester": "confirm"}
        assert [p.pair_id for p in app.store.pairs(screen.state.pair_filter)] == [p1]
        assert "agree" in _head(app) and "tester confirm" in _head(app)  # the last pair stays on screen


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="snapshots are pinned to Python 3.11")
def test_disagree_snapshot(snap_compare, make_app, traces):
    _team(traces, overlap=2)

    async def before(pilot):
        await settle(pilot)
        await _filter(pilot, "disagree")

    assert snap_compare(make_app(traces), terminal_size=(80, 24), run_before=before)

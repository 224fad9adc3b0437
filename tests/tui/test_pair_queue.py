"""The Pairs screen's queue as data (tui/pair_queue.py), on a real SQLite store and no app:
keyset pages walk the store's queue in order, a reload keeps what was walked, a page read
for an older queue is dropped, positions agree with `pairs list`, and team review drops
the pairs others finished."""

from __future__ import annotations

from pathlib import Path

import pytest

from labeling.records import PairFilter
from labeling.store import LabelStore
from tests.labeling.conftest import FIX, Spec, make_batch, make_patch
from tui import pair_queue
from tui.pair_queue import PairQueue, counted_by_key, labeler_queue

OTHER = make_patch("prog.py", ["    return x - 1"], ["    return x * 2"])
UNLABELED = PairFilter(verdict="unlabeled")
PAGE = 10  # pairs per keyset page here (small pages: a small store spans several)


def _store(root: Path, tasks: int, labeler: str = "alice") -> LabelStore:
    """One pass-fail pair per task."""
    specs = []
    for t in range(tasks):
        specs += [Spec(f"t{t:03d}", 1, passed=True, patch=FIX), Spec(f"t{t:03d}", 2, patch=OTHER)]
    make_batch(root / "traces", "b1", specs)
    store = LabelStore(root / "labels.sqlite", labeler=labeler)
    store.ingest([root / "traces"])
    return store


@pytest.fixture(autouse=True)
def small_pages(monkeypatch):
    monkeypatch.setattr(pair_queue, "PAGE", PAGE)


@pytest.fixture
def long_store(tmp_path):
    """More pairs than a page."""
    store = _store(tmp_path, PAGE + 3)
    yield store
    store.close()


@pytest.fixture
def short_store(tmp_path):
    store = _store(tmp_path, 6)
    yield store
    store.close()


def listed(store: LabelStore, f: PairFilter = UNLABELED) -> list[str]:
    """What `repo-agent pairs list` shows, in order."""
    return [p.pair_id for p in store.pairs(f)]


def loaded(store: LabelStore, f: PairFilter = UNLABELED) -> PairQueue:
    q = PairQueue()
    q.take(PairQueue.read_ahead(store, f, []), [])
    return q


def test_a_load_reads_a_page_and_more_pages_follow_in_the_stores_order(long_store):
    want = listed(long_store)
    assert len(want) == PAGE + 3
    q = loaded(long_store)
    assert q.loaded and not q.end and q.ids == want[:PAGE]
    assert q.counts is not None and q.counts.remaining == len(want)
    assert set(want[:PAGE]) <= q.keys.keys()  # each loaded pair's keyset key, for the next page
    assert q.more(long_store, UNLABELED)
    assert q.ids == want and q.end
    assert q.page_after_last(long_store, UNLABELED) is None and not q.more(long_store, UNLABELED)


def test_a_page_read_for_an_older_queue_is_dropped(long_store):
    q = loaded(long_store)
    found = q.page_after_last(long_store, UNLABELED)  # a worker reads it...
    assert found is not None and found[0] == q.ids[-1] and len(found[1]) == 3
    gen = q.gen
    assert q.restart() == gen + 1  # ...while the reviewer changes the filter
    q.append_page(*found)
    assert q.ids == [] and not q.loaded and q.index == 0


def test_a_reload_keeps_the_walked_pairs_and_replaces_what_is_ahead(short_store, tmp_path):
    q = loaded(short_store)
    first = list(q.ids)
    q.index = 2
    assert q.walked(showing=False) == []  # nothing on screen: a reload starts from the head
    walked = q.walked(showing=True)
    assert walked == first[:3]
    short_store.set_verdict(first[0], "confirm")  # walked and labeled: stays behind the cursor
    short_store.set_verdict(first[4], "discard")  # ahead and labeled elsewhere: drops out
    q.take(PairQueue.read_ahead(short_store, UNLABELED, walked), walked)
    assert q.ids == first[:4] + first[5:]
    assert q.index == 2 and q.current == first[2]


def test_the_cursor_goes_to_a_pair_the_queue_does_not_hold_by_inserting_it(short_store):
    q = loaded(short_store)
    ids = list(q.ids)
    q.index = 1
    q.goto(ids[3])
    assert q.index == 3 and q.ids == ids
    q.goto("elsewhere")  # undo of a verdict on a pair outside this queue
    assert q.ids == [*ids[:3], "elsewhere", *ids[3:]] and q.current == "elsewhere"
    q.drop_current()
    q.index = 99
    q.clamp()
    assert q.ids == ids and q.current == ids[-1]


def test_positions_agree_with_pairs_list(long_store):
    want = listed(long_store)
    q = loaded(long_store)
    for i in (0, 7, len(want) - 1):
        pair = long_store.pair(want[i])
        assert q.position(long_store, UNLABELED, pair) == (i, len(want))
    assert q.position(long_store, UNLABELED, None) == (-1, len(want))  # pruned from the store
    search = PairFilter(verdict="unlabeled", text="t00")
    assert not counted_by_key(search) and counted_by_key(UNLABELED)
    assert not counted_by_key(PairFilter(verdict=None, disagree=True))
    hits = listed(long_store, search)
    assert len(hits) == 10
    assert PairQueue.count_by_scan(long_store, search, long_store.pair(hits[3])) == (3, 10)
    stamp = q.stamp(hits[3], search, 1)
    q.verdicts_seen += 1  # a verdict here: figures counted before are stale
    assert q.stamp(hits[3], search, 1) != stamp


def test_team_review_drops_the_pairs_just_ahead_that_others_brought_to_k(short_store, tmp_path):
    me = PairFilter(verdict="unlabeled", overlap=2, labeler="alice")
    assert labeler_queue(me) == me and labeler_queue(UNLABELED) is None
    q = loaded(short_store, me)
    ids = list(q.ids)
    with (
        LabelStore(tmp_path / "labels.sqlite", labeler="bob") as bob,
        LabelStore(tmp_path / "labels.sqlite", labeler="carol") as carol,
    ):
        for other in (bob, carol):
            other.set_verdict(ids[1], "confirm")  # K = 2 reached without me
        bob.set_verdict(ids[2], "flip")  # one vote: still wants mine
        carol.set_verdict(ids[4], "flip")
        bob.set_verdict(ids[4], "flip")  # K reached, but not just ahead: left for later
    q.drop_done_ahead(short_store, UNLABELED)  # not a team queue: nothing dropped
    assert q.ids == ids
    q.drop_done_ahead(short_store, me)
    assert q.ids == [ids[0], *ids[2:]]

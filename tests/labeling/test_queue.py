"""The review queue in SQL: keyset pages, counts and positions agree with the plain
Python definitions (`queue_key`, the filter) whatever verdicts, undos and rebuilds do."""

from __future__ import annotations

import sqlite3

import pytest

from labeling.pairs import queue_key
from labeling.queue import _matches, counts_whole_queue
from labeling.records import VERDICTS, PairFilter
from labeling.store import LabelStore
from tests.labeling.conftest import FIX, Spec, make_patch

BACKENDS = ("sqlite", "postgres")  # the store tests run on both (conftest.py)

OTHER = make_patch("prog.py", ["    return x - 1"], ["    return x * 2"])

FILTERS = [
    PairFilter(),
    PairFilter(verdict="unlabeled"),
    PairFilter(verdict="labeled"),
    PairFilter(verdict="confirm"),
    PairFilter(include_stale=True),
    PairFilter(task_id="t1"),
    PairFilter(batch_id="b2"),
    PairFilter(contrast="efficiency"),
    PairFilter(flag="noisy"),
    PairFilter(flag="clean"),
    PairFilter(flag="both_fail"),
    PairFilter(tag="recheck"),
    PairFilter(text="T1"),
    PairFilter(text="recheck", verdict=None),
    PairFilter(verdict="unlabeled", overlap=2, labeler="bob"),  # a team queue: its own length
]


@pytest.fixture
def many(env):
    """Several tasks under pass-fail: many pairs, with both contrasts and some flags."""
    specs = []
    for t in range(4):
        for s in range(5):
            specs.append(
                Spec(f"t{t}", s, passed=(s + t) % 3 == 0, patch=FIX if s % 2 else OTHER, steps=2 + (s * 7 + t) % 5)
            )
    env.batch("b1", specs[:10])
    env.batch("b2", specs[10:])
    env.store.ingest([env.root], rebuild=False)
    env.store.rebuild_pairs(strategy="all-contrastive")
    return env


def python_queue(store: LabelStore, f: PairFilter):
    every = store.pairs(PairFilter(include_stale=True, verdict=None))
    return sorted((p for p in every if _matches(p, f)), key=queue_key)


def check_agrees(store: LabelStore) -> None:
    for f in FILTERS:
        want = python_queue(store, f)
        assert [p.pair_id for p in store.pairs(f)] == [p.pair_id for p in want], f
        # keyset pages, walked forward, give the same queue
        walked, after = [], None
        while page := store.queue_page(f, after, limit=7):
            walked += page
            after = page[-1]
        assert [p.pair_id for p in walked] == [p.pair_id for p in want], f
        c = store.counts(f)
        base = python_queue(store, f.model_copy(update={"verdict": None}))
        assert c.total == len(base) and c.remaining == sum(p.verdict is None for p in base), f
        for v in VERDICTS:
            assert getattr(c, v) == sum(p.verdict == v for p in base), (f, v)
        if counts_whole_queue(f):  # the studio reads the counts once for both then
            assert c == store.counts() and c.mine == store.counts().mine, f
        team = PairFilter(verdict="unlabeled", overlap=2, labeler="bob")
        for i in (0, len(want) // 2, len(want) - 1) if want else ():
            assert store.queue_position(want[i].pair_id, f) == (i, len(want)), f
            assert store.queue_position(want[i], f, counts=c) == (i, len(want)), f
            # the studio's one read: the pair and its header's figures together
            fig = store.review_figures(want[i].pair_id, f, queue_key(want[i]), team)
            assert fig.pair == want[i] and fig.position == i, f
            assert fig.overall == store.counts() and fig.counts == c and fig.counts.mine == c.mine, f
            assert fig.labeler_queue == store.counts(team).mine, f
            prev = store.queue_before(f, want[i])
            assert (prev.pair_id if prev else None) == (want[i - 1].pair_id if i else None), f
        for other in [p for p in python_queue(store, PairFilter(include_stale=True)) if not _matches(p, f)][:2]:
            assert store.review_figures(other.pair_id, f, queue_key(other)).position == -1, f
        assert store.review_figures("f" * 12, f).pair is None
        # from a key outside the filter (a pair labeled since, another task's pair)
        for other in [p for p in python_queue(store, PairFilter(include_stale=True)) if not _matches(p, f)][:5]:
            k = queue_key(other)
            after = [p.pair_id for p in want if queue_key(p) > k]
            assert [p.pair_id for p in store.queue_page(f, other, limit=1000)] == after, f
            prev = store.queue_before(f, other)
            before = [p.pair_id for p in want if queue_key(p) < k]
            assert (prev.pair_id if prev else None) == (before[-1] if before else None), f


def test_sql_queue_matches_the_python_definition_through_verdicts_and_undo(many):
    s = many.store
    q = s.pairs()
    assert len(q) > 30
    check_agrees(s)
    s.set_verdict(q[0].pair_id, "confirm")
    s.set_verdict(q[3].pair_id, "flip", note="recheck this one")
    s.set_verdict(q[5].pair_id, "discard")
    s.tag_pair(q[7].pair_id, "recheck")
    s.set_verdict(q[9].pair_id, "confirm")
    s.set_verdict(q[9].pair_id, None)  # cleared
    check_agrees(s)
    # a key read before the pair was labeled (the studio's page): the position is counted again
    fig = s.review_figures(q[0].pair_id, PairFilter(), queue_key(q[0]))
    assert fig.position == s.queue_position(q[0].pair_id, PairFilter())[0] > 0  # behind the unlabeled now
    s.undo()  # the clear: q[9] is confirmed again
    assert s.pair(q[9].pair_id).verdict == "confirm"
    s.undo()  # the confirm of q[9]
    s.undo()  # the tag
    s.undo()  # the discard
    assert s.pair(q[5].pair_id).verdict is None
    check_agrees(s)
    s.redo()
    assert s.pair(q[5].pair_id).verdict == "discard"
    check_agrees(s)


def test_rebuild_prunes_stale_pairs_without_a_verdict_and_keeps_their_log(many):
    s = many.store
    q = s.pairs()
    s.set_verdict(q[0].pair_id, "confirm")
    for p in q[1:]:
        s.set_verdict(p.pair_id, "flip")
        s.undo()  # no verdict now, only history
    before = s.counts()
    rep = s.rebuild_pairs(strategy="best-worst")
    assert rep.pruned_pairs > 0 and rep.stale_pairs >= rep.pruned_pairs
    every = s.pairs(PairFilter(include_stale=True))
    ids = {p.pair_id for p in every}
    # every stale pair left has a verdict; the labeled one is kept with it
    assert all(p.verdict for p in every if p.stale)
    assert s.pair(q[0].pair_id).verdict == "confirm"
    assert len(every) == before.total - rep.pruned_pairs + rep.new_pairs
    pruned = [p.pair_id for p in q if p.pair_id not in ids]
    assert len(pruned) == rep.pruned_pairs
    for pid in pruned:  # its history is still in the append-only log
        assert [e.kind for e in s.events() if e.target == pid] == ["verdict", "undo"]
    check_agrees(s)
    # back to all-contrastive: pruned pairs come back, without a verdict
    s.rebuild_pairs(strategy="all-contrastive")
    assert s.pair(q[0].pair_id).verdict == "confirm" and not s.pair(q[0].pair_id).stale
    assert {p.pair_id for p in s.pairs()} >= set(pruned)
    assert all(s.pair(pid).verdict is None for pid in pruned)
    check_agrees(s)


# The pair table and the human log as schema 1 made them (before the queue's columns).
FIRST_PAIRS_DDL = """
CREATE TABLE pairs (
    pair_id TEXT PRIMARY KEY, task_id TEXT NOT NULL, kind TEXT NOT NULL, chosen_uid TEXT NOT NULL,
    rejected_uid TEXT NOT NULL, strategy TEXT, contrast TEXT, decided_by TEXT, flags TEXT,
    at_step INTEGER, prefix_messages INTEGER, stale INTEGER DEFAULT 0, created_at TEXT, updated_at TEXT
);
CREATE TABLE label_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, target TEXT NOT NULL, value TEXT,
    note TEXT, labeler TEXT NOT NULL, at TEXT NOT NULL, ref INTEGER REFERENCES label_events(id)
);
"""


def test_a_store_made_before_the_queue_columns_is_migrated(tmp_path):
    db = tmp_path / "labels.sqlite"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.executescript(FIRST_PAIRS_DDL)  # the tables as the first schema had them
    conn.execute(
        "INSERT INTO pairs (pair_id, task_id, kind, chosen_uid, rejected_uid, strategy, contrast, flags, stale) "
        "VALUES ('aaa', 't', 'rollout', 'b/x', 'b/y', 'best-worst', 'efficiency', '[\"both_fail\"]', 0), "
        "('bbb', 't', 'rollout', 'b/x', 'b/z', 'best-worst', 'pass_fail', '[]', 0)"
    )
    conn.execute(
        "INSERT INTO label_events (kind, target, value, note, labeler, at) "
        "VALUES ('verdict', 'aaa', 'flip', 'n', 'alice', '2026-01-01')"
    )
    conn.close()
    with LabelStore(db, labeler="alice") as s:
        assert [p.pair_id for p in s.pairs(PairFilter(verdict=None))] == ["bbb", "aaa"]
        assert s.pair("aaa").verdict == "flip" and s.pair("aaa").note == "n"
        assert s.counts().model_dump() == {
            "total": 2,
            "labeled": 1,
            "remaining": 1,
            "confirm": 0,
            "flip": 1,
            "discard": 0,
        }
        s.undo()
        assert s.counts().remaining == 2


def test_neighbour_rollout_walks_a_batch_in_rollouts_order(many):
    s = many.store
    for batch in ("b1", "b2"):
        order = [r.uid for r in s.rollouts(batch_id=batch)]
        walked, uid = [order[0]], order[0]
        while (uid := s.neighbour_rollout(uid, 1)) is not None:
            walked.append(uid)
        assert walked == order
        back, uid = [order[-1]], order[-1]
        while (uid := s.neighbour_rollout(uid, -1)) is not None:
            back.append(uid)
        assert back == order[::-1]


def test_ingest_rebuilds_only_the_tasks_whose_rollouts_finished(many):
    s = many.store
    s.set_verdict(s.pairs(PairFilter(task_id="t1"))[0].pair_id, "confirm")
    before = {p.pair_id: p for p in s.pairs(PairFilter(include_stale=True))}
    many.batch("b3", [Spec("t1", 9, passed=True, patch=FIX, steps=1), Spec("t1", 10, patch=OTHER, steps=9)])
    rep = s.ingest([many.root])
    assert rep.finished_tasks == ["t1"] and rep.pairs.tasks == ["t1"] and rep.pairs.new_pairs > 0
    after = {p.pair_id: p for p in s.pairs(PairFilter(include_stale=True))}
    # other tasks' pairs untouched
    assert {k: v for k, v in after.items() if v.task_id != "t1"} == {
        k: v for k, v in before.items() if v.task_id != "t1"
    }
    # and the scoped build is what a full rebuild gives
    full = s.rebuild_pairs()
    assert full.tasks is None and full.new_pairs == 0 and full.stale_pairs == 0
    assert {p.pair_id: p for p in s.pairs(PairFilter(include_stale=True))} == after
    check_agrees(s)

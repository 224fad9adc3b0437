"""Team review: overlap K, each labeler's queue, the disagree (adjudication) queue, and the
derived votes staying exact through undo/redo, rebuilds and a schema-3 store's migration."""

from __future__ import annotations

import sqlite3

import pytest

from labeling.agreement import ratings_from_events
from labeling.errors import StoreError
from labeling.pairs import queue_key
from labeling.queue import _matches
from labeling.records import PairFilter
from labeling.store import LabelStore
from tests.labeling.conftest import FIX, Spec, make_patch

BACKENDS = ("sqlite", "postgres")  # team review runs on both stores (conftest.py)

OTHER = make_patch("prog.py", ["    return x - 1"], ["    return x * 2"])


@pytest.fixture
def team(env):
    """Pairs over several tasks, and three labelers plus an adjudicator on one store file."""
    specs = [
        Spec(f"t{t}", s, passed=(s + t) % 3 == 0, patch=FIX if s % 2 else OTHER, steps=2 + s)
        for t in range(3)
        for s in range(4)
    ]
    env.batch("b1", specs)
    env.store.ingest([env.root], rebuild=False)
    env.store.rebuild_pairs(strategy="all-contrastive")
    env.store.set_team_settings(overlap=2, adjudicator="lead")
    stores = {who: env.open(who) for who in ("bob", "carol", "lead")}
    stores["alice"] = env.store
    yield stores
    for who in ("bob", "carol", "lead"):
        stores[who].close()


def ids(pairs) -> list[str]:
    return [p.pair_id for p in pairs]


def queue(store: LabelStore, overlap: int | None = None) -> list[str]:
    return ids(store.pairs(store.team_filter(PairFilter(verdict="unlabeled"), overlap)))


def disagree(store: LabelStore) -> list[str]:
    return ids(store.pairs(store.team_filter(PairFilter(disagree=True))))


def check_agrees(store: LabelStore) -> None:
    """The SQL queues (pages, counts, positions) agree with the filter in Python over the
    votes derived from the log."""
    every = store.pairs(PairFilter(include_stale=True, verdict=None))
    ratings = ratings_from_events(store.events())
    # derived rows == the log (a pair pruned by a rebuild has none until it is selected again)
    assert {p.pair_id: p.verdicts for p in every if p.verdicts} == {
        pid: by for pid, by in ratings.items() if pid in {p.pair_id for p in every}
    }
    for f in (
        store.team_filter(PairFilter(verdict="unlabeled")),
        store.team_filter(PairFilter(disagree=True)),
        store.team_filter(PairFilter(disagree=True, task_id="t1")),
        store.team_filter(PairFilter(verdict="unlabeled", contrast="efficiency")),
    ):
        want = sorted((p for p in every if _matches(p, f)), key=queue_key)
        assert ids(store.pairs(f)) == ids(want), f
        walked, after = [], None
        while page := store.queue_page(f, after, limit=3):
            walked += page
            after = page[-1]
        assert ids(walked) == ids(want), f
        for i in (0, len(want) - 1) if want else ():
            assert store.queue_position(want[i].pair_id, f) == (i, len(want)), f
        if f.verdict == "unlabeled":
            assert store.counts(f).mine == len(want)


def test_overlap_2_with_three_labelers(team):
    alice, bob, carol, lead = team["alice"], team["bob"], team["carol"], team["lead"]
    everything = queue(alice)
    assert len(everything) >= 6
    assert queue(bob) == queue(carol) == everything
    p0, p1 = everything[0], everything[1]

    alice.set_verdict(p0, "confirm")
    assert p0 not in queue(alice)  # she labeled it
    assert queue(bob)[0] == queue(carol)[0] == everything[1] and p0 in queue(bob) and p0 in queue(carol)
    check_agrees(alice)

    bob.set_verdict(p0, "flip")  # K reached: carol is no longer asked; they disagree
    assert p0 not in queue(bob) and p0 not in queue(carol)
    assert disagree(carol) == [p0]
    assert alice.pair(p0).verdicts == {"alice": "confirm", "bob": "flip"} and alice.pair(p0).disagree
    check_agrees(carol)

    bob.undo()  # bob's undo puts the pair back in the others' queues
    assert p0 in queue(carol) and p0 in queue(bob) and p0 not in queue(alice)
    assert disagree(carol) == []
    assert alice.pair(p0).verdicts == {"alice": "confirm"}
    check_agrees(bob)
    bob.redo()
    assert p0 not in queue(carol) and disagree(alice) == [p0]

    carol.set_verdict(p1, "discard")
    alice.set_verdict(p1, "discard")  # agree: settled, in nobody's queue, not disagreeing
    assert p1 not in queue(bob) and p1 not in disagree(bob)

    lead.set_verdict(p0, "flip")  # the adjudicator settles it
    assert disagree(alice) == [] and alice.pair(p0).verdict == "flip"
    assert alice.pair(p0).verdicts == {"alice": "confirm", "bob": "flip", "lead": "flip"}
    check_agrees(lead)
    lead.undo()
    assert disagree(alice) == [p0]
    # without an adjudicator, every disagreement stays in the disagree queue
    alice.set_team_settings(adjudicator="")
    assert alice.team_settings().adjudicator is None and disagree(alice) == [p0]


def test_counts_and_overrides(team):
    alice, bob = team["alice"], team["bob"]
    first = queue(alice)
    alice.set_verdict(first[0], "confirm")
    mine, adjudicate = bob.team_queue_sizes()
    assert (mine, adjudicate) == (len(first), 0)
    assert alice.team_queue_sizes()[0] == len(first) - 1
    assert queue(bob, overlap=1) == first[1:]  # --overlap 1: one verdict is enough
    with pytest.raises(StoreError):
        alice.team_filter(overlap=0)
    with pytest.raises(StoreError):
        alice.set_team_settings(overlap="two")  # type: ignore[arg-type]


def test_overlap_1_is_the_queue_as_alone(team):
    alice, bob = team["alice"], team["bob"]
    alice.set_team_settings(overlap=1)
    q = queue(alice)
    alice.set_verdict(q[0], "confirm")
    bob.set_verdict(q[2], "flip")
    plain = PairFilter(verdict="unlabeled")
    for s in (alice, bob):
        f = s.team_filter(plain)
        assert ids(s.pairs(f)) == ids(s.pairs(plain)) == [q[1], *q[3:]]
        assert s.counts(f) == s.counts(plain) and s.counts(f).mine is None
        assert s.queue_position(q[3], f) == s.queue_position(q[3], plain) == (1, len(q) - 2)


def test_rebuild_keeps_votes_and_a_stale_pair_asks_nobody(team):
    alice, bob = team["alice"], team["bob"]
    q = queue(alice)
    for pid in q:
        alice.set_verdict(pid, "confirm")
    rep = alice.rebuild_pairs(strategy="best-worst")
    assert rep.stale_pairs > 0
    stale = [p.pair_id for p in alice.pairs(PairFilter(include_stale=True, verdict=None)) if p.stale]
    assert stale and not set(stale) & set(queue(bob))  # labeled by alice, stale: not asked of bob
    check_agrees(bob)
    alice.rebuild_pairs(strategy="all-contrastive")
    assert queue(bob) == q and all(alice.pair(pid).verdicts == {"alice": "confirm"} for pid in q)
    check_agrees(bob)


def _downgrade_to_schema_3(env) -> None:
    """What a schema-3 store looked like: no votes anywhere."""
    drops = [
        *(f"DROP TRIGGER vote_counts_{t}" for t in ("ins", "del", "upd")),
        *(f"DROP TABLE {table}" for table in ("pair_votes", "vote_counts", "labeler_votes")),
        "DROP INDEX pairs_disagree",
        "ALTER TABLE pairs DROP COLUMN votes",
        "ALTER TABLE pairs DROP COLUMN disagree",
        "UPDATE meta SET value = '3' WHERE key = 'schema_version'",
    ]
    if env.backend == "sqlite":
        with sqlite3.connect(env.db) as c:
            for stmt in drops:
                c.execute(stmt)
        return
    import psycopg

    with psycopg.connect(env.db, autocommit=True) as c:
        for stmt in drops:
            c.execute(stmt + (" ON pairs" if stmt.startswith("DROP TRIGGER") else ""))


def test_a_schema_3_store_with_team_votes_in_the_log_is_migrated(team, env):
    alice, bob, lead = team["alice"], team["bob"], team["lead"]
    q = queue(alice)
    alice.set_verdict(q[0], "confirm")
    bob.set_verdict(q[0], "flip")
    bob.set_verdict(q[1], "discard")
    alice.set_verdict(q[1], "flip")
    alice.undo()  # alice's flip on q[1] no longer counts
    lead.set_verdict(q[2], "confirm")
    for s in team.values():
        s.close()
    _downgrade_to_schema_3(env)
    for who in team:
        team[who] = env.open(who)
    carol = team["carol"]
    assert carol.pair(q[0]).verdicts == {"alice": "confirm", "bob": "flip"}
    assert carol.pair(q[1]).verdicts == {"bob": "discard"}
    assert disagree(carol) == [q[0]]
    assert q[0] not in queue(carol) and q[1] in queue(carol) and q[1] not in queue(team["bob"])
    check_agrees(carol)
    team["bob"].undo()  # exact undo across the migration: bob's discard on q[1]
    assert carol.pair(q[1]).verdicts == {}
    check_agrees(carol)


def test_queue_length_counters_follow_every_change(team):
    """The counters behind a labeler's queue length equal a count of the queue itself after
    each verdict, clear, undo, redo and rebuild (seeded sequence of them)."""
    import random

    rng = random.Random(7)
    ids_all = queue(team["alice"])
    strategies = ["best-worst", "all-contrastive", "pass-fail"]
    for step in range(120):
        who = rng.choice(["alice", "bob", "carol", "lead"])
        s = team[who]
        r = rng.random()
        if r < 0.55:
            present = {p.pair_id for p in s.pairs(PairFilter(include_stale=True, verdict=None))}
            if (pid := rng.choice(ids_all)) in present:
                s.set_verdict(pid, rng.choice(["confirm", "flip", "discard", None]))
        elif r < 0.75:
            s.undo()
        elif r < 0.9:
            s.redo()
        else:
            s.rebuild_pairs(strategy=rng.choice(strategies))
        if step % 10 == 9:
            for k in (2, 3):
                for lab in team.values():
                    f = lab.team_filter(PairFilter(verdict="unlabeled"), k)
                    assert lab.counts(f).mine == len(lab.pairs(f)), (step, k, lab.labeler)
            check_agrees(s)

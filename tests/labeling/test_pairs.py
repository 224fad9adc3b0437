"""Pairs: strategies, contrast, each noise flag present and absent, stability, queue order."""

from __future__ import annotations

import pytest

from agent.trace import BranchInfo
from labeling.pairs import pair_id_for
from labeling.records import PairFilter
from labeling.store import StoreError
from tests.labeling.conftest import FIX, Call, Spec, make_patch

BACKENDS = ("sqlite", "postgres")  # the store tests run on both (conftest.py)

OTHER = make_patch("prog.py", ["    return x - 1"], ["    return x * 2"])
FIX_WS = make_patch("prog.py", ["    return x - 1"], ["    return  x +   1   "])  # FIX modulo whitespace
BIG = make_patch("prog.py", ["    return x - 1"], [f"    y{i} = {i}" for i in range(12)] + ["    return x + 1"])
TWO_FILES = FIX + make_patch("util.py", ["a = 1"], ["a = 2"])


def only_pair(env, task):
    ps = env.store.pairs(PairFilter(task_id=task))
    assert len(ps) == 1, ps
    return ps[0]


@pytest.fixture
def flagged(env):
    """One task per situation; best-worst gives exactly one pair per task."""
    env.batch(
        "b1",
        [
            # both_fail: two failing rollouts, one shorter
            Spec("both_fail", 1, steps=2, patch=OTHER),
            Spec("both_fail", 2, steps=4, patch=FIX),
            # clean pass/fail: different patches, no noise
            Spec("clean", 1, passed=True, patch=FIX, steps=3),
            Spec("clean", 2, patch=OTHER, steps=3),
            # identical (modulo whitespace) patches, both pass, differ on steps
            Spec("identical", 1, passed=True, patch=FIX, steps=2),
            Spec("identical", 2, passed=True, patch=FIX_WS, steps=5),
            # tie-break only: equal pass, steps, tool calls; files_touched differs
            Spec("tiebreak", 1, passed=True, patch=FIX, steps=3, files_touched=1),
            Spec("tiebreak", 2, passed=True, patch=OTHER, steps=3, files_touched=2),
            # flaky via a third rollout: s3 has the winner's patch and failed
            Spec("flaky", 1, passed=True, patch=FIX, steps=2),
            Spec("flaky", 2, patch=OTHER, steps=6),
            Spec("flaky", 3, patch=FIX_WS, steps=3),
            # tampered: s1 "passed" by editing the tests, so it does not count as a pass
            Spec("tampered", 1, passed=True, patch=FIX, tampered=True, steps=2),
            Spec("tampered", 2, passed=True, patch=OTHER, steps=4),
            # non-minimal: winner touches a second file
            Spec("nonmin_files", 1, passed=True, patch=TWO_FILES, steps=2),
            Spec("nonmin_files", 2, patch=FIX, steps=4),
            # non-minimal: winner changes many more lines
            Spec("nonmin_lines", 1, passed=True, patch=BIG, steps=2),
            Spec("nonmin_lines", 2, patch=OTHER, steps=4),
            # summary only: the winner has no patch at all
            Spec("summary", 1, passed=True, patch="", steps=2),
            Spec("summary", 2, patch=OTHER, steps=4),
            # no contrast: identical scores
            Spec("flat", 1, steps=3, patch=OTHER),
            Spec("flat", 2, steps=3, patch=FIX),
        ],
    )
    rep = env.store.ingest([env.root])
    assert rep.pairs is not None
    return env


@pytest.mark.parametrize(
    "task,flags,contrast",
    [
        ("both_fail", ["both_fail"], "efficiency"),
        ("clean", [], "pass_fail"),
        ("identical", ["identical_patch"], "efficiency"),
        ("tiebreak", ["tiebreak_only"], "efficiency"),
        ("flaky", ["flaky"], "pass_fail"),
        ("tampered", ["tests_tampered"], "pass_fail"),
        ("nonmin_files", ["non_minimal"], "pass_fail"),
        ("nonmin_lines", ["non_minimal"], "pass_fail"),
        ("summary", ["summary_only"], "pass_fail"),
    ],
)
def test_each_flag_exactly_where_it_belongs(flagged, task, flags, contrast):
    p = only_pair(flagged, task)
    assert p.flags == flags
    assert p.contrast == contrast
    win, lose = ("s2", "s1") if task == "tampered" else ("s1", "s2")  # a tampered "pass" is no pass
    assert p.chosen_uid == f"b1/{task}__{win}" and p.rejected_uid == f"b1/{task}__{lose}"


def test_decided_by_and_no_contrast(flagged):
    assert only_pair(flagged, "clean").decided_by == "pass"
    assert only_pair(flagged, "identical").decided_by == "steps"
    assert only_pair(flagged, "tiebreak").decided_by == "files_touched"
    assert flagged.store.no_contrast_tasks() == ["flat"]
    assert flagged.store.pairs(PairFilter(task_id="flat")) == []


def test_flag_filters(flagged):
    s = flagged.store
    assert {p.task_id for p in s.pairs(PairFilter(flag="clean"))} == {"clean"}
    assert {p.task_id for p in s.pairs(PairFilter(flag="non_minimal"))} == {"nonmin_files", "nonmin_lines"}
    assert len(s.pairs(PairFilter(flag="noisy"))) == 8
    assert {p.task_id for p in s.pairs(PairFilter(contrast="efficiency"))} == {"both_fail", "identical", "tiebreak"}
    assert [p.task_id for p in s.pairs(PairFilter(text="SUMMARY"))] == ["summary"]


def test_strategies(env):
    specs = [
        Spec("t", 1, passed=True, patch=FIX, steps=2),
        Spec("t", 2, passed=True, patch=FIX, steps=3),
        Spec("t", 3, patch=OTHER, steps=4),
        Spec("t", 4, patch=OTHER, steps=5),
    ]
    env.batch("b1", specs)
    env.store.ingest([env.root])
    [p] = env.store.pairs()
    assert (p.chosen_uid, p.rejected_uid, p.strategy) == ("b1/t__s1", "b1/t__s4", "best-worst")
    rep = env.store.rebuild_pairs(strategy="pass-fail")
    assert rep.pairs == 4 and rep.new_pairs == 3 and rep.by_contrast == {"pass_fail": 4}
    assert all(p.contrast == "pass_fail" for p in env.store.pairs())
    rep = env.store.rebuild_pairs(strategy="all-contrastive")
    assert rep.pairs == 6 and rep.new_pairs == 2 and rep.by_contrast == {"pass_fail": 4, "efficiency": 2}
    # remembered for the next ingest
    assert env.store.settings()["strategy"] == "all-contrastive"
    with pytest.raises(StoreError, match="unknown pair strategy"):
        env.store.rebuild_pairs(strategy="random")


def test_score_order_is_configurable(env):
    env.batch("b1", [Spec("t", 1, passed=True, patch=FIX, steps=6), Spec("t", 2, patch=OTHER, steps=2)])
    env.store.ingest([env.root])
    [p] = env.store.pairs()
    assert p.chosen_uid == "b1/t__s1"
    env.store.rebuild_pairs(score_order="-steps,pass")
    [q] = env.store.pairs()
    assert q.chosen_uid == "b1/t__s2" and q.decided_by == "steps" and q.contrast == "pass_fail"
    assert env.store.settings()["score_order"] == "-steps,pass"
    with pytest.raises(StoreError, match="unknown score component"):
        env.store.rebuild_pairs(score_order="pass,-vibes")


def test_pairs_are_stable_and_keep_verdicts_as_rollouts_arrive(env):
    env.batch(
        "b1",
        [
            Spec("t", 1, passed=True, patch=FIX, steps=3),
            Spec("t", 2, patch=OTHER, steps=4),
            Spec("u", 1, passed=True, patch=FIX, steps=3),
            Spec("u", 2, patch=OTHER, steps=4),
        ],
    )
    env.store.ingest([env.root])
    first = {p.task_id: p for p in env.store.pairs()}
    assert first["t"].pair_id == pair_id_for("t", "b1/t__s1", "b1/t__s2")
    env.store.set_verdict(first["t"].pair_id, "flip", note="s2 is actually fine")
    # a second batch brings a better rollout for both tasks: best-worst now picks it
    env.batch("b2", [Spec("t", 3, passed=True, patch=FIX, steps=1), Spec("u", 3, passed=True, patch=FIX, steps=1)])
    rep = env.store.ingest([env.root])
    assert rep.pairs.new_pairs == 2 and rep.pairs.stale_pairs == 2 and rep.pairs.pruned_pairs == 1
    queue = env.store.pairs()
    ids = {p.pair_id for p in queue}
    assert first["t"].pair_id in ids  # labeled stale pair kept, verdict intact
    assert first["u"].pair_id not in ids  # unlabeled stale pair hidden from the queue
    old = env.store.pair(first["t"].pair_id)
    assert old.stale and old.verdict == "flip" and old.note == "s2 is actually fine"
    assert old.preferred_uid == "b1/t__s2" and old.non_preferred_uid == "b1/t__s1"
    # the unlabeled stale pair is pruned: the store does not grow with rebuilds
    assert first["u"].pair_id not in {p.pair_id for p in env.store.pairs(PairFilter(include_stale=True))}
    # re-ingest again: nothing changes
    again = env.store.ingest([env.root])
    assert again.files_read == 0 and {p.pair_id for p in env.store.pairs()} == ids


def test_queue_order(flagged):
    s = flagged.store
    q = s.pairs()
    # pass/fail first: clean, then noisy grouped by flag set; then efficiency likewise
    assert [p.task_id for p in q] == [
        "clean",
        "flaky",
        "nonmin_files",
        "nonmin_lines",
        "summary",
        "tampered",
        "both_fail",
        "identical",
        "tiebreak",
    ]
    s.set_verdict(q[0].pair_id, "confirm")
    q2 = s.pairs()
    assert q2[-1].task_id == "clean" and q2[0].task_id == "flaky"  # labeled pairs go last
    assert s.queue_position(q[0].pair_id) == (8, 9)
    assert s.counts().model_dump() == {"total": 9, "labeled": 1, "remaining": 8, "confirm": 1, "flip": 0, "discard": 0}
    assert [p.task_id for p in s.pairs(PairFilter(verdict="unlabeled"))][0] == "flaky"
    assert [p.task_id for p in s.pairs(PairFilter(verdict="confirm"))] == ["clean"]


def test_batch_filter_and_prefix_resolution(env):
    env.batch("b1", [Spec("t", 1, passed=True, patch=FIX), Spec("t", 2, patch=OTHER)])
    env.batch("b2", [Spec("u", 1, passed=True, patch=FIX), Spec("u", 2, patch=OTHER)])
    env.store.ingest([env.root])
    [p] = env.store.pairs(PairFilter(batch_id="b2"))
    assert p.task_id == "u"
    assert env.store.pair(p.pair_id[:6]).pair_id == p.pair_id
    with pytest.raises(KeyError):
        env.store.pair("zzzz")


def test_step_pairs_from_branches(env):
    env.batch("b1", [Spec("t", 1, steps=5, patch=OTHER)])
    env.batch(
        "b2",
        [
            Spec(
                "t",
                2,
                steps=3,
                passed=True,
                patch=FIX,
                branch=BranchInfo(parent_rollout_id="t__s1", parent_batch_id="b1", prefix_messages=7, at_step=3),
            )
        ],
    )
    env.store.ingest([env.root])
    step = env.store.pairs(PairFilter(contrast="step"))
    assert len(step) == 1
    sp = step[0]
    assert (sp.kind, sp.chosen_uid, sp.rejected_uid, sp.at_step, sp.prefix_messages) == (
        "step",
        "b2/t__s2",
        "b1/t__s1",
        3,
        7,
    )
    rollout_pair = env.store.pairs(PairFilter(contrast="pass_fail"))[0]
    assert rollout_pair.pair_id != sp.pair_id  # same two rollouts, distinct pairs


def test_sibling_branches_at_one_decision_point_are_paired(env):
    env.batch("b1", [Spec("t", 1, steps=5, patch=OTHER)])

    def branch(seed, at, prefix, **kw):
        return Spec(
            "t",
            seed,
            branch=BranchInfo(parent_rollout_id="t__s1", parent_batch_id="b1", prefix_messages=prefix, at_step=at),
            **kw,
        )

    env.batch(
        "b2",
        [
            branch(2, 3, 7, steps=3, passed=True, patch=FIX),
            branch(3, 3, 7, steps=6, patch=OTHER),  # fails at the same point
            branch(4, 3, 7, steps=4, passed=True, patch=FIX),
            branch(5, 2, 5, steps=4, passed=True, patch=FIX),
        ],
    )  # another decision point
    env.store.ingest([env.root])
    step = env.store.pairs(PairFilter(contrast="step", verdict=None))
    sides = {(p.chosen_uid, p.rejected_uid): p for p in step}
    parent_pairs = {k for k in sides if "b1/t__s1" in k}
    sibling_pairs = set(sides) - parent_pairs
    assert len(parent_pairs) == 4  # every branch vs the parent, as before
    # siblings at step 3: s2 > s4 (fewer steps) > s3 (fails); s5 diverged elsewhere: never paired with them
    assert sibling_pairs == {("b2/t__s2", "b2/t__s3"), ("b2/t__s2", "b2/t__s4"), ("b2/t__s4", "b2/t__s3")}
    assert all(sides[k].at_step == 3 and sides[k].prefix_messages == 7 for k in sibling_pairs)
    assert len({p.pair_id for p in step}) == len(step)


def test_only_finished_rollouts_are_paired(env):
    env.batch("b1", [Spec("t", 1, passed=True, patch=FIX), Spec("t", 2, patch=OTHER, finished=False)])
    env.store.ingest([env.root])
    assert env.store.pairs() == [] and env.store.no_contrast_tasks() == ["t"]


def test_unused_tool_calls_count_for_invalid_marks(env):
    calls = [[Call("list_dir", {"rel_dir": ""}, valid=False)], [Call("finish", {"summary": "x"})]]
    env.batch("b1", [Spec("t", 1, calls=calls)])
    env.store.ingest([env.root])
    assert env.store.validity_by_model() == [("m-7b", 2, 1)]


def test_ambiguous_prefix_is_an_error(env):
    env.batch("b1", [Spec("t", i, passed=i < 3, patch=FIX if i < 3 else OTHER, steps=2 + i) for i in range(7)])
    env.store.ingest([env.root])
    env.store.rebuild_pairs(strategy="all-contrastive")
    ids = [p.pair_id for p in env.store.pairs()]
    assert len(ids) == 21  # > 16: two ids share a first hex digit
    first = sorted(ids)[0]
    shared = next(i[0] for i in ids if sum(j[0] == i[0] for j in ids) > 1)
    with pytest.raises(StoreError, match="ambiguous"):
        env.store.pair(shared)
    assert env.store.pair(first.upper()).pair_id == first  # case does not matter
    with pytest.raises(StoreError, match="empty"):
        env.store.pair("  ")

"""Agreement between labelers: kappa and alpha against values worked out by hand, the
ratings read from the real log (undo honoured), settled verdicts, the signal report."""

from __future__ import annotations

from collections import Counter

import pytest

from labeling.agreement import (
    bootstrap_ci,
    cohen_kappa,
    kappa_from_table,
    krippendorff_alpha,
    ratings_from_events,
    settled_verdict,
    team_agreement,
)
from labeling.stats import signal_report
from labeling.store import LabelStore
from tests.labeling.conftest import FIX, Spec, make_patch

OTHER = make_patch("prog.py", ["    return x - 1"], ["    return x * 2"])


def test_cohen_kappa_by_hand():
    # 10 pairs: both confirm 5, A confirm/B flip 1, A flip/B confirm 1, both flip 3.
    # p_o = 8/10; A and B each confirm 6, flip 4: p_e = .6*.6 + .4*.4 = .52
    # kappa = (.8 - .52) / (1 - .52) = .28 / .48 = 7/12
    rows = [("confirm", "confirm")] * 5 + [("confirm", "flip"), ("flip", "confirm")] + [("flip", "flip")] * 3
    assert cohen_kappa(rows) == pytest.approx(7 / 12)
    # perfect agreement over two verdicts: 1; systematic disagreement: below 0
    assert cohen_kappa([("confirm", "confirm"), ("flip", "flip")]) == pytest.approx(1.0)
    assert cohen_kappa([("confirm", "flip"), ("flip", "confirm")]) == pytest.approx(-1.0)
    # every verdict the same: chance agreement is already perfect, kappa undefined
    assert cohen_kappa([("confirm", "confirm")] * 3) is None
    assert cohen_kappa([]) is None


def test_krippendorff_alpha_by_hand():
    # Coincidences (weight 1/(m-1) per ordered pair of values in a unit):
    #   (c,c,c): o_cc += 3;  (c,c,f): o_cc += 1, o_cf += 1, o_fc += 1;  (f,f): o_ff += 2;
    #   (d,c): o_dc += 1, o_cd += 1;  (c): one value, no pairable values.
    # n_c = 6, n_f = 3, n_d = 1, n = 10.  D_o = 4/10;
    # D_e = 2 (6*3 + 6*1 + 3*1) / (10*9) = 54/90.  alpha = 1 - .4/.6 = 1/3
    units = [
        ["confirm"] * 3,
        ["confirm", "confirm", "flip"],
        ["flip", "flip"],
        ["discard", "confirm"],
        ["confirm"],
    ]
    assert krippendorff_alpha(units) == pytest.approx(1 / 3)
    assert krippendorff_alpha([["flip", "flip"], ["confirm", "confirm"]]) == pytest.approx(1.0)
    assert krippendorff_alpha([["flip", "flip"]]) is None  # one value only: D_e = 0
    assert krippendorff_alpha([["flip"]]) is None


def test_alpha_with_two_labelers_matches_scotts_pi_corrected():
    # Two coders, no missing verdict, the kappa table above: each unit gives two ordered
    # pairs of weight 1, n = 20; pooled n_c = 12, n_f = 8: D_e = 2*12*8 / (20*19) = 192/380;
    # D_o = 4/20 (two disagreeing units). alpha = 1 - .2 / (192/380)
    rows = [("confirm", "confirm")] * 5 + [("confirm", "flip"), ("flip", "confirm")] + [("flip", "flip")] * 3
    assert krippendorff_alpha([list(r) for r in rows]) == pytest.approx(1 - 0.2 / (192 / 380))


def test_bootstrap_interval_brackets_the_value_and_is_reproducible():
    rows = [("confirm", "confirm")] * 30 + [("confirm", "flip")] * 5 + [("flip", "flip")] * 15
    k = cohen_kappa(rows)
    ci = bootstrap_ci(Counter(rows), kappa_from_table, rounds=300)
    assert ci is not None and ci[0] <= k <= ci[1] and ci[0] < ci[1]
    assert bootstrap_ci(Counter(rows), kappa_from_table, rounds=300) == ci
    assert bootstrap_ci(Counter(rows[:1]), kappa_from_table) is None
    # a perfect agreement resamples to perfect agreement (or undefined): the interval is [1, 1]
    assert bootstrap_ci(Counter([("confirm", "confirm"), ("flip", "flip")] * 10), kappa_from_table) == (1.0, 1.0)


def test_settled_verdict():
    assert settled_verdict({"a": "confirm", "b": "confirm", "c": "flip"}, min_agreement=0.6) == "confirm"
    assert settled_verdict({"a": "confirm", "b": "confirm", "c": "flip"}, min_agreement=0.7) is None
    assert settled_verdict({"a": "confirm", "b": "flip"}) is None  # a tie settles nothing
    assert settled_verdict({"a": "confirm", "b": "flip", "boss": "flip"}, adjudicator="boss", min_agreement=1) == "flip"
    assert settled_verdict({}) is None


def _store_with_pairs(env, n_tasks: int = 4):
    specs = []
    for t in range(n_tasks):
        specs += [Spec(f"t{t}", i, passed=i == 0, patch=FIX if i == 0 else OTHER, steps=2 + i) for i in range(2)]
    env.batch("b1", specs)
    env.store.ingest([env.root])
    return sorted(env.store.pairs(), key=lambda p: p.task_id)


def test_ratings_follow_the_log_and_the_report_shows_team_agreement(env, tmp_path):
    pairs = _store_with_pairs(env)
    alice = env.store
    bob = LabelStore(tmp_path / "labels.sqlite", labeler="bob")
    try:
        for p, (va, vb) in zip(
            pairs, [("confirm", "confirm"), ("flip", "flip"), ("confirm", "flip"), ("flip", "flip")]
        ):
            alice.set_verdict(p.pair_id, va)
            bob.set_verdict(p.pair_id, vb)
        bob.set_verdict(pairs[0].pair_id, "discard")
        bob.undo()  # back to bob's confirm on pair 0
        alice.set_verdict(pairs[3].pair_id, None)  # alice clears: pair 3 has bob's verdict only
        ratings = ratings_from_events(alice.events())
        assert ratings[pairs[0].pair_id] == {"alice": "confirm", "bob": "confirm"}
        assert ratings[pairs[3].pair_id] == {"bob": "flip"}
        rep = team_agreement(ratings, alice.pairs(), rounds=50)
        assert rep is not None
        assert rep.labelers == ["alice", "bob"] and rep.overlapped == 3 and rep.disagreements == 1
        # 3 pairs: (c,c), (f,f), (c,f). p_o = 2/3; A: c 2 f 1; B: c 1 f 2: p_e = 4/9
        # kappa = (2/3 - 4/9) / (5/9) = 2/5
        assert rep.overall is not None and rep.overall.metric == "kappa"
        assert rep.overall.value == pytest.approx(0.4) and rep.overall.pairs == 3
        assert rep.by_labeler_pair["alice|bob"].value == pytest.approx(0.4)
        assert set(rep.by_contrast) == {"pass_fail"}
        report = signal_report(alice)
        assert report.team is not None and report.team.overall.value == pytest.approx(0.4)
    finally:
        bob.close()


def test_one_labeler_has_no_team_agreement(env):
    pairs = _store_with_pairs(env, 2)
    env.store.set_verdict(pairs[0].pair_id, "confirm")
    assert team_agreement(ratings_from_events(env.store.events()), pairs) is None
    assert signal_report(env.store).team is None


def test_resampled_counts_have_the_multinomial_moments():
    import random

    from labeling.agreement import _multinomial

    rng = random.Random(7)
    weights = [5, 90, 1000, 3905]  # small and large expected counts: both sampling paths
    n = sum(weights)
    draws = [_multinomial(rng, n, weights) for _ in range(4000)]
    assert all(sum(d) == n and min(d) >= 0 for d in draws)
    for i, w in enumerate(weights):
        p = w / n
        xs = [d[i] for d in draws]
        mean = sum(xs) / len(xs)
        var = sum((x - mean) ** 2 for x in xs) / len(xs)
        assert abs(mean - n * p) < 4 * (n * p * (1 - p) / len(xs)) ** 0.5 + 0.05
        assert 0.85 < var / (n * p * (1 - p)) < 1.15

"""labeling.compare: the statistics behind `repo-agent compare`, checked on simulated outcomes."""

from __future__ import annotations

import random

import pytest

from labeling.compare import (
    compare,
    paired_difference,
    plan,
    power,
    sign_flip_p_value,
    simulate_verdicts,
    summarize,
    wilson,
)


def _rates(n_tasks: int, rng: random.Random, lo: float = 0.1, hi: float = 0.6) -> dict[str, float]:
    return {f"t{i:02d}": rng.uniform(lo, hi) for i in range(n_tasks)}


def test_wilson_matches_known_values_and_stays_in_range():
    ci = wilson(8, 20)
    assert ci.lo == pytest.approx(0.2188, abs=1e-3) and ci.hi == pytest.approx(0.6134, abs=1e-3)
    assert wilson(0, 10).lo == 0.0 and wilson(10, 10).hi == 1.0
    assert wilson(0, 0).as_list() == [0.0, 1.0]


def test_sign_flip_is_exact_on_small_cases():
    assert sign_flip_p_value([1.0, 1.0, 1.0]) == pytest.approx(2 / 8)  # all + or all -
    assert sign_flip_p_value([0.0, 0.0]) == 1.0
    assert sign_flip_p_value([1.0, -1.0]) == 1.0
    many = [0.5] * 20  # exact: 2 of 2**20 sign patterns reach it
    assert sign_flip_p_value(many) == pytest.approx(2 / 2**20)
    odd = [0.1 * (i + 1) + 0.001 * i * i for i in range(40)]  # too many distinct sums: Monte Carlo, never 0
    assert 0 < sign_flip_p_value(odd) < 0.001


def test_interval_covers_the_true_difference_near_the_nominal_level():
    """200 simulated comparisons, each task's lift known: B = A + 0.2 on every task."""
    rng = random.Random(7)
    lift, covered, runs = 0.2, 0, 200
    for run in range(runs):
        a_rates = _rates(20, rng)
        b_rates = {t: p + lift for t, p in a_rates.items()}
        a = simulate_verdicts(a_rates, 3, rng)
        b = simulate_verdicts(b_rates, 3, rng)
        diff, _ = paired_difference(a, b, n_boot=400, seed=run)
        covered += diff.ci.contains(lift)
    assert 0.88 <= covered / runs <= 0.99, covered


def test_interval_covers_when_the_lift_varies_by_task():
    """Lifts from -0.1 to +0.4 by task: the target is their mean over the population of tasks."""
    rng = random.Random(11)
    covered, runs = 0, 200
    for run in range(runs):
        a_rates = _rates(25, rng, 0.1, 0.5)
        lifts = {t: rng.uniform(-0.1, 0.4) for t in a_rates}
        b_rates = {t: a_rates[t] + lifts[t] for t in a_rates}
        diff, _ = paired_difference(
            simulate_verdicts(a_rates, 2, rng), simulate_verdicts(b_rates, 2, rng), n_boot=400, seed=run
        )
        covered += diff.ci.contains(0.15)  # the population mean lift
    assert 0.88 <= covered / runs <= 0.995, covered


def test_identical_models_give_an_interval_containing_zero():
    rng = random.Random(3)
    rates = _rates(15, rng, 0.1, 0.9)
    contains, small_p = 0, 0
    for run in range(100):
        diff, _ = paired_difference(
            simulate_verdicts(rates, 4, rng), simulate_verdicts(rates, 4, rng), n_boot=400, seed=run
        )
        contains += diff.ci.contains(0.0)
        small_p += diff.p_value < 0.05
    assert contains >= 90 and small_p <= 10
    same = simulate_verdicts(rates, 4, rng)
    diff, rows = paired_difference(same, same)
    assert diff.estimate == 0 and diff.ci.contains(0) and diff.p_value == 1.0
    assert not [r for r in rows if r.flipped]


@pytest.mark.parametrize(
    ("tasks", "rollouts", "baseline", "lift", "lift_sd"),
    [(20, 2, 0.3, 0.2, 0.0), (12, 4, 0.4, 0.15, 0.0), (20, 4, 0.3, 0.15, 0.1)],
)
def test_plan_power_matches_simulation(tasks, rollouts, baseline, lift, lift_sd):
    predicted = power(tasks, rollouts, baseline, lift, lift_sd=lift_sd)
    rng = random.Random(f"{tasks}-{rollouts}-{lift_sd}")
    a_rates = {f"t{i}": baseline for i in range(tasks)}
    half = lift_sd * 3**0.5  # a uniform spread of the lift with that standard deviation
    runs, detected = 400, 0
    for run in range(runs):
        b_rates = {t: baseline + lift + rng.uniform(-half, half) for t in a_rates}  # tasks drawn anew
        diff, _ = paired_difference(
            simulate_verdicts(a_rates, rollouts, rng), simulate_verdicts(b_rates, rollouts, rng), n_boot=300, seed=run
        )
        detected += diff.ci.lo > 0
    assert abs(detected / runs - predicted) <= 0.08, (detected / runs, predicted)


def test_plan_finds_the_fewest_tasks_for_80_percent_power_and_prices_them():
    rows = plan(0.3, 0.2, cost_per_rollout=0.01, rollout_choices=(1, 4))
    by_k = {r.rollouts: r for r in rows}
    assert by_k[4].tasks < by_k[1].tasks
    for r in rows:
        assert r.power >= 0.8 and power(r.tasks - 1, r.rollouts, 0.3, 0.2) < 0.8
        assert r.total_rollouts == 3 * r.tasks * r.rollouts and r.cost_usd == pytest.approx(0.01 * r.total_rollouts)
    fixed = plan(0.3, 0.2, suite_tasks=10, noise_block=False, rollout_choices=(1, 2))
    assert [r.tasks for r in fixed] == [10, 10] and fixed[0].power < fixed[1].power < 0.8
    with pytest.raises(ValueError):
        plan(0.9, 0.2)


def test_compare_reports_flips_and_the_noise_block():
    a = {"t1": [False, False], "t2": [True, True], "t3": [False, True], "t4": [False, False]}
    b = {"t1": [True, True], "t2": [False, False], "t3": [True, True], "t4": [True, False]}
    noise = {"t1": [False, False], "t2": [True, True], "t3": [True, False], "t4": [False, False]}
    c = compare(summarize("A", a), a, summarize("B", b), b, noise_verdicts=noise)
    assert c.flipped_up == ["t1", "t4"] and c.flipped_down == ["t2"]
    assert c.difference.estimate == pytest.approx((1 - 1 + 0.5 + 0.5) / 4)
    assert c.noise is not None and c.noise.estimate == 0 and c.beyond_noise is True
    assert c.a.pass_rate == pytest.approx(3 / 8) and c.a.ci.contains(3 / 8)

"""Did the data help? Two models on the same held-out tasks, with the uncertainty.

Pure statistics (no I/O, no printing). The inputs are, per model, the pass/fail verdicts
of its rollouts per task (rollouts of both models share seeds, so the design is paired
by task). What comes out:

- each model's pass rate with a Wilson interval over its rollouts. Given the tasks,
  rollouts are independent, and pooling tasks of different difficulty only shrinks the
  binomial variance, so the interval is (slightly) conservative for *these* tasks;
- the paired difference B - A: the mean over tasks of (B's pass rate on the task - A's),
  a bootstrap interval resampling tasks (it speaks for tasks like these, not only these),
  and an exact two-sided sign-flip test on the per-task differences (p-value);
- flipped tasks: A below half its rollouts passing and B at or above, or the reverse;
- the noise block: A against A on a second seed block, compared the same way. A
  difference whose size is within that interval is what a re-run alone could produce;
- the plan: the power of that comparison to detect a lift, by a normal approximation of
  the per-task difference's variance (checked against simulation in the tests).

Why bootstrap over tasks and not a test on pooled rollouts: rollouts of one task are not
independent draws of "the model's skill"; tasks are the unit the result should carry to.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from statistics import NormalDist
from typing import Any, Literal

from pydantic import BaseModel

Verdicts = Mapping[str, Sequence[bool]]  # task id -> pass/fail of each rollout of the task

_N = NormalDist()
MAX_SUM_STATES = 200_000  # exact sign-flip test while its sum distribution has at most this many values


class Interval(BaseModel):
    lo: float
    hi: float

    def contains(self, x: float) -> bool:
        return self.lo <= x <= self.hi

    def as_list(self) -> list[float]:
        return [self.lo, self.hi]


class ModelSummary(BaseModel):
    """One model over the compared tasks."""

    model: str
    pass_rate: float | None
    ci: Interval | None
    rollouts: int
    passed: int
    tasks: int
    tool_calls: int = 0
    invalid_tool_calls: int = 0
    validity_rate: float | None = None
    mean_steps: float | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float | None = None
    errors: int = 0  # rollouts that ended in a provider or sandbox error (counted as fails)


class TaskComparison(BaseModel):
    task_id: str
    a_passed: int
    a_rollouts: int
    b_passed: int
    b_rollouts: int
    a_rate: float
    b_rate: float
    difference: float  # b_rate - a_rate
    flipped: Literal["up", "down"] | None = None  # up: B fixed what A did not; down: the reverse


class Difference(BaseModel):
    """B - A, the mean over tasks of the per-task pass-rate difference."""

    estimate: float
    ci: Interval
    p_value: float
    level: float
    tasks: int
    method: str


class Comparison(BaseModel):
    a: ModelSummary
    b: ModelSummary
    difference: Difference
    tasks: list[TaskComparison]
    noise: Difference | None = None  # A vs A on a second seed block
    beyond_noise: bool | None = None  # |difference| larger than the noise block's interval reaches

    @property
    def flipped_up(self) -> list[str]:
        return [t.task_id for t in self.tasks if t.flipped == "up"]

    @property
    def flipped_down(self) -> list[str]:
        return [t.task_id for t in self.tasks if t.flipped == "down"]


# --------------------------------------------------------------------------- intervals


def wilson(passed: int, n: int, level: float = 0.95) -> Interval:
    """Wilson score interval for a binomial proportion (good at small n and near 0 or 1)."""
    if n <= 0:
        return Interval(lo=0.0, hi=1.0)
    z = _N.inv_cdf(0.5 + level / 2)
    p = passed / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # at 0 or n passes the bound is exactly 0 or 1 (floating point leaves a residue)
    lo = 0.0 if passed == 0 else max(0.0, centre - half)
    hi = 1.0 if passed == n else min(1.0, centre + half)
    return Interval(lo=lo, hi=hi)


def _quantile(sorted_xs: list[float], q: float) -> float:
    """Linear-interpolated quantile of an already sorted list."""
    pos = q * (len(sorted_xs) - 1)
    i = int(pos)
    frac = pos - i
    return sorted_xs[i] if i + 1 >= len(sorted_xs) else sorted_xs[i] * (1 - frac) + sorted_xs[i + 1] * frac


def bootstrap_mean_ci(diffs: Sequence[float], *, level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> Interval:
    """Percentile bootstrap of the mean over tasks, its spread widened by sqrt(n/(n-1)) and
    t/z, and never narrower than the t interval: the plain percentile interval uses the
    plug-in variance and a normal tail, and undercovers (about 92% for 95%, simulated)
    with the 10-30 tasks a held-out suite has."""
    n = len(diffs)
    mean = sum(diffs) / n
    if n < 2 or all(d == diffs[0] for d in diffs):
        return Interval(lo=mean, hi=mean)
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(diffs, k=n)) / n for _ in range(n_boot))
    alpha = 1 - level
    widen = math.sqrt(n / (n - 1)) * t_quantile(level, n - 1) / _N.inv_cdf(0.5 + level / 2)
    lo = mean + widen * (_quantile(means, alpha / 2) - mean)
    hi = mean + widen * (_quantile(means, 1 - alpha / 2) - mean)
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    half_t = t_quantile(level, n - 1) * sd / math.sqrt(n)
    lo, hi = min(lo, mean - half_t), max(hi, mean + half_t)
    return Interval(lo=max(-1.0, lo), hi=min(1.0, hi))


def sign_flip_p_value(diffs: Sequence[float], *, n_draws: int = 20000, seed: int = 0) -> float:
    """Two-sided paired permutation test: under "no difference" each task's difference is
    as likely negative as positive. Exact: the distribution of the signed sum is built by
    convolution (per-task rates sit on a grid of 1/k, so it stays small); Monte Carlo, with
    the +1 correction so it never reports 0, only if it grows past MAX_SUM_STATES."""
    xs = [d for d in diffs if d != 0]
    if not xs:
        return 1.0
    observed = abs(sum(xs)) - 1e-9
    counts: dict[float, int] = {0.0: 1}
    for x in xs:
        nxt: dict[float, int] = defaultdict(int)
        for total, c in counts.items():
            nxt[round(total + x, 9)] += c
            nxt[round(total - x, 9)] += c
        counts = nxt
        if len(counts) > MAX_SUM_STATES:
            break
    else:
        return sum(c for total, c in counts.items() if abs(total) >= observed) / 2 ** len(xs)
    rng = random.Random(seed)
    hits = sum(abs(sum(x if rng.random() < 0.5 else -x for x in xs)) >= observed for _ in range(n_draws))
    return (hits + 1) / (n_draws + 1)


def t_quantile(level: float, df: int) -> float:
    """Two-sided Student t quantile by its Cornish-Fisher expansion (no scipy here); within
    0.5% of the exact value for df >= 3 at the usual levels."""
    z = _N.inv_cdf(0.5 + level / 2)
    if df <= 0:
        return z
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df * df)


# --------------------------------------------------------------------------- comparing


def _rate(vs: Sequence[bool]) -> float:
    return sum(vs) / len(vs)


def paired_difference(
    a: Verdicts, b: Verdicts, *, level: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> tuple[Difference, list[TaskComparison]]:
    """B - A over the tasks both models have at least one verdict on."""
    common = sorted(t for t in a if t in b and len(a[t]) and len(b[t]))
    if not common:
        raise ValueError("no task has rollouts of both models")
    rows = []
    for t in common:
        ra, rb = _rate(a[t]), _rate(b[t])
        flipped: Literal["up", "down"] | None = "up" if ra < 0.5 <= rb else "down" if rb < 0.5 <= ra else None
        rows.append(
            TaskComparison(
                task_id=t,
                a_passed=sum(a[t]),
                a_rollouts=len(a[t]),
                b_passed=sum(b[t]),
                b_rollouts=len(b[t]),
                a_rate=ra,
                b_rate=rb,
                difference=rb - ra,
                flipped=flipped,
            )
        )
    diffs = [r.difference for r in rows]
    diff = Difference(
        estimate=sum(diffs) / len(diffs),
        ci=bootstrap_mean_ci(diffs, level=level, n_boot=n_boot, seed=seed),
        p_value=sign_flip_p_value(diffs, seed=seed),
        level=level,
        tasks=len(diffs),
        method="paired bootstrap over tasks; exact sign-flip test",
    )
    return diff, rows


def run_figures(runs: Sequence, errors: int) -> dict:
    """Tool-call validity, mean steps, tokens and cost of ended rollouts (trace outcomes or
    store rows: both carry these fields), as keyword figures for ``summarize``."""
    calls = sum(r.tool_calls for r in runs)
    invalid = sum(r.invalid_tool_calls for r in runs)
    costs = [r.cost_usd for r in runs if r.cost_usd is not None]
    return {
        "tool_calls": calls,
        "invalid_tool_calls": invalid,
        "validity_rate": (calls - invalid) / calls if calls else None,
        "mean_steps": sum(r.steps for r in runs) / len(runs) if runs else None,
        "tokens_in": sum(r.tokens_in for r in runs),
        "tokens_out": sum(r.tokens_out for r in runs),
        "cost_usd": sum(costs) if costs else None,
        "errors": errors,
    }


def summarize(
    model: str, verdicts: Verdicts, *, level: float = 0.95, figures: dict[str, Any] | None = None
) -> ModelSummary:
    """Pass rate and Wilson interval over every rollout; ``figures`` (`run_figures`): validity, steps, tokens, cost."""
    n = sum(len(v) for v in verdicts.values())
    k = sum(sum(v) for v in verdicts.values())
    return ModelSummary(
        model=model,
        pass_rate=k / n if n else None,
        ci=wilson(k, n, level) if n else None,
        rollouts=n,
        passed=k,
        tasks=sum(1 for v in verdicts.values() if len(v)),
        **(figures or {}),
    )


def compare(
    a: ModelSummary,
    a_verdicts: Verdicts,
    b: ModelSummary,
    b_verdicts: Verdicts,
    *,
    noise_verdicts: Verdicts | None = None,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> Comparison:
    """The whole answer. ``noise_verdicts``: A again on a second seed block (same tasks)."""
    diff, rows = paired_difference(a_verdicts, b_verdicts, level=level, n_boot=n_boot, seed=seed)
    noise = beyond = None
    if noise_verdicts:
        noise, _ = paired_difference(a_verdicts, noise_verdicts, level=level, n_boot=n_boot, seed=seed + 1)
        reach = max(abs(noise.ci.lo), abs(noise.ci.hi), abs(noise.estimate))
        beyond = abs(diff.estimate) > reach
    return Comparison(a=a, b=b, difference=diff, tasks=rows, noise=noise, beyond_noise=beyond)


# --------------------------------------------------------------------------- planning


class PlanRow(BaseModel):
    tasks: int
    rollouts: int  # per task per model
    power: float
    total_rollouts: int  # both models, plus the noise block when planned
    cost_usd: float | None = None


def power(
    tasks: int, rollouts: int, baseline: float, lift: float, *, level: float = 0.95, lift_sd: float = 0.0
) -> float:
    """Chance that the paired comparison's interval excludes 0 (on the right side) when B's
    true pass rate is ``baseline + lift`` on every task (``lift_sd``: tasks' lifts vary by
    that much around it). Normal approximation of the mean per-task difference; two-sided."""
    if tasks < 2 or rollouts < 1:
        return 0.0
    pb = min(1.0, max(0.0, baseline + lift))
    var = (baseline * (1 - baseline) + pb * (1 - pb)) / rollouts + lift_sd**2
    if var <= 0:
        return 1.0 if lift else 0.0
    shift = abs(pb - baseline) / math.sqrt(var / tasks)
    # The interval estimates the variance from `tasks` values: a t quantile sets the bar.
    return _N.cdf(shift - t_quantile(level, tasks - 1))


def plan(
    baseline: float,
    lift: float,
    *,
    suite_tasks: int | None = None,
    target: float = 0.8,
    level: float = 0.95,
    cost_per_rollout: float | None = None,
    noise_block: bool = True,
    lift_sd: float = 0.0,
    rollout_choices: Iterable[int] = (1, 2, 4, 8, 16, 32),
    max_tasks: int = 2000,
) -> list[PlanRow]:
    """For each rollouts-per-task choice, the fewest tasks reaching ``target`` power (left
    out past ``max_tasks``), or with ``suite_tasks`` the power the suite as it is reaches.
    ``lift_sd``: how much the lift varies from task to task; more rollouts cannot average
    that away, only more tasks can."""
    if not 0 < baseline < 1:
        raise ValueError("the baseline pass rate must be between 0 and 1")
    if not 0 < baseline + lift <= 1 or lift == 0:
        raise ValueError("the lift must be non-zero and keep the pass rate within 0..1")
    blocks = 3 if noise_block else 2
    rows = []

    def row(t: int, k: int) -> PlanRow:
        n = blocks * t * k
        cost = None if cost_per_rollout is None else n * cost_per_rollout
        return PlanRow(
            tasks=t,
            rollouts=k,
            power=power(t, k, baseline, lift, level=level, lift_sd=lift_sd),
            total_rollouts=n,
            cost_usd=cost,
        )

    for k in rollout_choices:
        if suite_tasks is not None:
            rows.append(row(suite_tasks, k))
            continue
        t = next(
            (t for t in range(2, max_tasks + 1) if power(t, k, baseline, lift, level=level, lift_sd=lift_sd) >= target),
            None,
        )
        if t is not None:
            rows.append(row(t, k))
    return rows


def simulate_verdicts(rates: Mapping[str, float], rollouts: int, rng: random.Random) -> dict[str, list[bool]]:
    """Rollout verdicts drawn from per-task pass probabilities (for plans and tests)."""
    return {t: [rng.random() < p for _ in range(rollouts)] for t, p in rates.items()}

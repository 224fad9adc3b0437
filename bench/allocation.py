"""Fixed vs adaptive rollout allocation at equal budget, in simulation (issue 6).

    uv run python bench/allocation.py [--tasks 50] [--seeds 20] [--rollouts-per-task 8]
                                      [--pairs-per-task 1] [--round-size 8] [--no-grid]

A suite of tasks with pass probabilities spread like real models' (35% ~U(0, 0.05),
35% ~U(0.95, 1), 30% ~U(0.1, 0.9)). Fixed allocation runs N rollouts per task;
adaptive gets the same budget (N x tasks) and may leave some of it unspent.
Both see the same random outcomes (the k-th rollout of a task passes iff u[task][k] < p),
so the difference is the policy alone.

Pairs are counted as the pair builder makes them: a task gives min(pairs_per_task,
passes, fails) pass/fail pairs (with pairs_per_task=1: the one best-worst pair of any
task with both a pass and a fail). "all-c" is the all-contrastive count, passes x fails.
"band" counts the tasks whose true pass rate is in the 20-60% learnable band.
The headline is pairs per 100 rollouts spent; "pairs" is the absolute count at equal budget
(adaptive stops once every task is resolved, so it may spend less). The grid repeats the
comparison for other N and pairs_per_task; the "suite ceiling" line shows roughly what any
allocation that does not know the pass probabilities can reach at pairs_per_task=1.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.allocation import AllocationConfig, AllocationReport, Allocator  # noqa: E402


def draw_suite(rng: random.Random, n: int) -> list[float]:
    probs = []
    for _ in range(n):
        r = rng.random()
        probs.append(rng.uniform(0, 0.05) if r < 0.35 else
                     rng.uniform(0.95, 1) if r < 0.70 else rng.uniform(0.1, 0.9))
    return probs


def run(alloc: Allocator, probs: dict[str, float], draws: dict[str, list[float]]) -> AllocationReport:
    """Round by round, as the batch runner does: run the whole round, record, plan again."""
    taken = dict.fromkeys(probs, 0)
    while ids := alloc.next_round():
        for task_id in ids:
            k = taken[task_id]
            taken[task_id] += 1
            alloc.record(task_id, draws[task_id][k] < probs[task_id])
    return alloc.report()


def one_seed(seed: int, args: argparse.Namespace, n_fixed: int, pairs: int) -> tuple[AllocationReport, AllocationReport, int]:
    rng = random.Random(seed)
    ids = [f"task{i:03d}" for i in range(args.tasks)]
    probs = dict(zip(ids, draw_suite(rng, args.tasks)))
    budget = n_fixed * args.tasks
    draws = {t: [rng.random() for _ in range(budget)] for t in ids}
    cfg = AllocationConfig(budget_rollouts=budget, pairs_per_task=pairs,
                           initial_per_task=args.initial, give_up_after=args.give_up_after,
                           round_size=args.round_size)
    fixed = run(Allocator(ids, cfg, strategy="fixed", rollouts_per_task=n_fixed), probs, draws)
    adaptive = run(Allocator(ids, cfg, strategy="adaptive"), probs, draws)
    in_band = sum(0.2 <= p <= 0.6 for p in probs.values())
    return fixed, adaptive, in_band


def ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=50)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--rollouts-per-task", type=int, default=8, help="fixed N; budget = N x tasks")
    ap.add_argument("--pairs-per-task", type=int, default=1)
    ap.add_argument("--initial", type=int, default=2)
    ap.add_argument("--give-up-after", type=int, default=4)
    ap.add_argument("--round-size", type=int, default=8, help="the runner's max_workers")
    ap.add_argument("--no-grid", action="store_true", help="skip the N x pairs_per_task grid")
    args = ap.parse_args()
    n, k = args.rollouts_per_task, args.pairs_per_task

    print(f"{args.tasks} tasks, budget {n * args.tasks} rollouts (fixed: {n}/task), "
          f"pairs_per_task={k}, initial={args.initial}, give_up_after={args.give_up_after}, "
          f"round_size={args.round_size}\n")
    head = (f"{'seed':>4} {'band':>4} | {'fixed: spent':>12} {'pairs':>5} {'all-c':>5} {'/100':>5} | "
            f"{'adaptive: spent':>15} {'pairs':>5} {'all-c':>5} {'/100':>5} | {'x /100':>6} {'x pairs':>7}")
    print(head)
    print("-" * len(head))
    rows = []
    for seed in range(args.seeds):
        fx, ad, band = one_seed(seed, args, n, k)
        rows.append((fx, ad))
        print(f"{seed:>4} {band:>4} | {fx.finished:>12} {fx.pairs:>5} {fx.all_contrastive_pairs:>5} "
              f"{fx.pairs_per_100_rollouts:>5.1f} | {ad.finished:>15} {ad.pairs:>5} "
              f"{ad.all_contrastive_pairs:>5} {ad.pairs_per_100_rollouts:>5.1f} | "
              f"{ratio(ad.pairs_per_100_rollouts, fx.pairs_per_100_rollouts):>6.2f} "
              f"{ratio(ad.pairs, fx.pairs):>7.2f}")
    print("-" * len(head))
    for name, agg in (("mean", statistics.mean), ("median", statistics.median)):
        fx100 = agg(f.pairs_per_100_rollouts for f, _ in rows)
        ad100 = agg(a.pairs_per_100_rollouts for _, a in rows)
        print(f"{name:>9} | {agg(f.finished for f, _ in rows):>12.1f} {agg(f.pairs for f, _ in rows):>5.1f} "
              f"{agg(f.all_contrastive_pairs for f, _ in rows):>5.1f} {fx100:>5.1f} | "
              f"{agg(a.finished for _, a in rows):>15.1f} {agg(a.pairs for _, a in rows):>5.1f} "
              f"{agg(a.all_contrastive_pairs for _, a in rows):>5.1f} {ad100:>5.1f} | "
              f"{ratio(ad100, fx100):>6.2f} "
              f"{ratio(agg(a.pairs for _, a in rows), agg(f.pairs for f, _ in rows)):>7.2f}")
    median_ratio = statistics.median(ratio(a.pairs_per_100_rollouts, f.pairs_per_100_rollouts) for f, a in rows)
    spent = {s: statistics.mean(a.rollouts_by_status[s] for _, a in rows) for s in rows[0][1].rollouts_by_status}
    print(f"\nadaptive / fixed, pass/fail pairs per 100 rollouts: median per-seed ratio {median_ratio:.2f}x")
    print("adaptive budget went to (mean rollouts by task verdict): "
          + ", ".join(f"{s} {v:.1f}" for s, v in spent.items() if v))

    # With one pair per task, each pair needs two rollouts of one task; without knowing p
    # every task needs its first two, which yield 100 * E[p(1-p)] pairs per 100 rollouts,
    # and a 3rd rollout of a task seen all-pass/all-fail yields E[p(1-p)] / (1 - 2E[p(1-p)]).
    pq = statistics.mean(p * (1 - p) for p in draw_suite(random.Random(12345), 200_000))
    print(f"suite ceiling at pairs_per_task=1 (no policy knows p): first two rollouts of a task "
          f"yield {100 * pq:.1f} pairs/100, a 3rd after two alike {100 * pq / (1 - 2 * pq):.1f}/100")

    if args.no_grid:
        return
    print(f"\npairs per 100 rollouts, mean over {args.seeds} seeds: fixed -> adaptive, ratio "
          f"(share of the budget adaptive spent)")
    grid_n, grid_k = (2, 4, 8, 16), (1, 2, 4)
    print(f"{'fixed N':>8} | " + " | ".join(f"{'pairs_per_task=' + str(pk):^28}" for pk in grid_k))
    for gn in grid_n:
        cells = []
        for pk in grid_k:
            res = [one_seed(s, args, gn, pk)[:2] for s in range(args.seeds)]
            fx100 = statistics.mean(f.pairs_per_100_rollouts for f, _ in res)
            ad100 = statistics.mean(a.pairs_per_100_rollouts for _, a in res)
            used = statistics.mean(a.rollouts / a.budget_rollouts for _, a in res)
            cells.append(f"{fx100:5.1f} -> {ad100:5.1f} {ratio(ad100, fx100):5.2f}x ({used:4.0%})")
        print(f"{gn:>8} | " + " | ".join(f"{c:^28}" for c in cells))


if __name__ == "__main__":
    main()

"""Fixed vs adaptive rollout allocation at equal budget, in simulation (issue 6).

    uv run python bench/allocation.py [--tasks 50] [--seeds 20] [--rollouts-per-task 8]
                                      [--pairs-per-task 0] [--round-size 8] [--no-grid]

A suite of tasks with pass probabilities spread like real models' (35% ~U(0, 0.05),
35% ~U(0.95, 1), 30% ~U(0.1, 0.9)). Fixed allocation runs N rollouts per task;
adaptive gets the same budget (N x tasks); with --pairs-per-task 0 (the default: as
many as the budget buys) it spends all of it unless no task is left that can contrast.
Both see the same random outcomes (the k-th rollout of a task passes iff u[task][k] < p),
so the difference is the policy alone.

Pairs are counted without reusing a rollout: a task gives min(passes, fails) disjoint
pass/fail pairs ("p/f", capped at pairs_per_task when that is > 0). "b-w" is what the
best-worst strategy builds (1 per task with both a pass and a fail); "all-c" is the
pass-fail strategy with reuse, passes x fails (pairs share rollouts: not independent
signal). "band" counts the tasks whose true pass rate is in the 20-60% learnable band.
The headline is disjoint pass/fail pairs per 100 rollouts spent, adaptive over fixed.
The grid repeats the comparison for other N and pairs_per_task.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.allocation import AllocationConfig, AllocationReport, Allocator


def draw_suite(rng: random.Random, n: int) -> list[float]:
    probs = []
    for _ in range(n):
        r = rng.random()
        probs.append(rng.uniform(0, 0.05) if r < 0.35 else rng.uniform(0.95, 1) if r < 0.70 else rng.uniform(0.1, 0.9))
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


def one_seed(
    seed: int, args: argparse.Namespace, n_fixed: int, pairs: int
) -> tuple[AllocationReport, AllocationReport, int]:
    rng = random.Random(seed)
    ids = [f"task{i:03d}" for i in range(args.tasks)]
    probs = dict(zip(ids, draw_suite(rng, args.tasks)))
    budget = n_fixed * args.tasks
    draws = {t: [rng.random() for _ in range(budget)] for t in ids}
    cfg = AllocationConfig(
        budget_rollouts=budget,
        pairs_per_task=pairs,
        initial_per_task=args.initial,
        give_up_after=args.give_up_after,
        round_size=args.round_size,
    )
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
    ap.add_argument("--pairs-per-task", type=int, default=0, help="0: as many as the budget buys (default)")
    ap.add_argument("--initial", type=int, default=2)
    ap.add_argument("--give-up-after", type=int, default=4)
    ap.add_argument("--round-size", type=int, default=8, help="the runner's max_workers")
    ap.add_argument("--no-grid", action="store_true", help="skip the N x pairs_per_task grid")
    args = ap.parse_args()
    n, k = args.rollouts_per_task, args.pairs_per_task

    print(
        f"{args.tasks} tasks, budget {n * args.tasks} rollouts (fixed: {n}/task), "
        f"pairs_per_task={k}, initial={args.initial}, give_up_after={args.give_up_after}, "
        f"round_size={args.round_size}\n"
    )
    head = (
        f"{'seed':>4} {'band':>4} | {'fixed: spent':>12} {'p/f':>4} {'b-w':>4} {'all-c':>5} {'p/f per 100':>11} | "
        f"{'adaptive: spent':>15} {'p/f':>4} {'b-w':>4} {'all-c':>5} {'p/f per 100':>11} | {'ratio':>5}"
    )
    print(head)
    print("-" * len(head))
    rows = []
    for seed in range(args.seeds):
        fx, ad, band = one_seed(seed, args, n, k)
        rows.append((fx, ad))
        print(
            f"{seed:>4} {band:>4} | {fx.finished:>12} {fx.pairs:>4} {fx.best_worst_pairs:>4} "
            f"{fx.all_contrastive_pairs:>5} {fx.pairs_per_100_rollouts:>11.1f} | {ad.finished:>15} {ad.pairs:>4} "
            f"{ad.best_worst_pairs:>4} {ad.all_contrastive_pairs:>5} {ad.pairs_per_100_rollouts:>11.1f} | "
            f"{ratio(ad.pairs_per_100_rollouts, fx.pairs_per_100_rollouts):>5.2f}"
        )
    print("-" * len(head))
    for name, agg in (("mean", statistics.mean), ("median", statistics.median)):
        fx100 = agg(f.pairs_per_100_rollouts for f, _ in rows)
        ad100 = agg(a.pairs_per_100_rollouts for _, a in rows)
        print(
            f"{name:>9} | {agg(f.finished for f, _ in rows):>12.1f} {agg(f.pairs for f, _ in rows):>4.1f} "
            f"{agg(f.best_worst_pairs for f, _ in rows):>4.1f} {agg(f.all_contrastive_pairs for f, _ in rows):>5.1f} "
            f"{fx100:>11.1f} | {agg(a.finished for _, a in rows):>15.1f} {agg(a.pairs for _, a in rows):>4.1f} "
            f"{agg(a.best_worst_pairs for _, a in rows):>4.1f} {agg(a.all_contrastive_pairs for _, a in rows):>5.1f} "
            f"{ad100:>11.1f} | {ratio(ad100, fx100):>5.2f}"
        )
    median_ratio = statistics.median(ratio(a.pairs_per_100_rollouts, f.pairs_per_100_rollouts) for f, a in rows)
    bw = statistics.median(
        ratio(a.best_worst_pairs / a.finished, f.best_worst_pairs / f.finished)
        for f, a in rows
        if a.finished and f.best_worst_pairs
    )
    spent = {s: statistics.mean(a.rollouts_by_status[s] for _, a in rows) for s in rows[0][1].rollouts_by_status}
    share = statistics.mean(a.finished / f.finished for f, a in rows if f.finished)
    print(
        f"\nHEADLINE adaptive / fixed, disjoint pass/fail pairs per 100 rollouts: median per-seed ratio "
        f"{median_ratio:.2f}x (adaptive spent {share:.0%} of fixed's rollouts)"
    )
    print(f"best-worst pairs per 100 rollouts (1 per contrasting task): median per-seed ratio {bw:.2f}x")
    print(
        "adaptive budget went to (mean rollouts by task verdict): "
        + ", ".join(f"{s} {v:.1f}" for s, v in spent.items() if v)
    )

    # With one pair per task, each pair needs two rollouts of one task; without knowing p
    # every task needs its first two, which yield 100 * E[p(1-p)] pairs per 100 rollouts,
    # and a 3rd rollout of a task seen all-pass/all-fail yields E[p(1-p)] / (1 - 2E[p(1-p)]).
    pq = statistics.mean(p * (1 - p) for p in draw_suite(random.Random(12345), 200_000))
    print(
        f"best-worst ceiling (1 pair per task; no policy knows p): first two rollouts of a task "
        f"yield {100 * pq:.1f} pairs/100, a 3rd after two alike {100 * pq / (1 - 2 * pq):.1f}/100"
    )

    if args.no_grid:
        return
    print(
        f"\npairs per 100 rollouts, mean over {args.seeds} seeds: fixed -> adaptive, ratio "
        f"(share of the budget adaptive spent)"
    )
    grid_n, grid_k = (2, 4, 8, 16), (0, 1, 2)
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

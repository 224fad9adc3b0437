"""Rollouts per minute, thread pool vs Ray (local, same worker count), real test runs (issue 15).

    uv run python bench/executors.py [--suite mini-bugs] [--rollouts 2] [--workers 2] [--repeats 3]

Every rollout plays a scripted model (tests/doubles/scripted_llm.py on loopback, pass
probability 0.5, deterministic per task and seed) on a suite with real sandboxed test runs,
so the time is the harness's and the tests', not a model's. Each repeat runs the same batch
once with the thread pool and once as Ray tasks (alternating, so machine load hits both);
Ray is started once first (its start-up time is printed apart: a cluster is started once,
not per batch). The headline is the median rollouts/minute of each and Ray's wall time over
the threads' (goal: within 1.2x).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.batch import run_batch
from agent.batch_spec import BatchControls, BatchSpec
from agent.executor import LocalExecutor
from agent.providers import OpenAIProvider, RetryPolicy
from agent.ray_executor import RayExecutor, import_ray
from agent.suites.loading import load_suite
from tests.doubles.scripted_llm import MixedPolicy, ScriptedLLM


def one_batch(suite, provider, executor, workers: int, rollouts: int, root: Path, name: str) -> tuple[float, dict]:
    t0 = time.perf_counter()
    s = run_batch(
        BatchSpec(
            suite,
            lambda t, seed: provider,
            root / name,
            rollouts=rollouts,
            seed=0,
            max_workers=workers,
            provider_name="openai",
            model="scripted",
        ),
        controls=BatchControls(executor=executor),
    )
    wall = time.perf_counter() - t0
    return wall, {r.rollout_id: (r.stop_reason, r.outcome.tests_passed) for r in s.results}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="mini-bugs")
    ap.add_argument("--rollouts", type=int, default=2, help="per task")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    suite = load_suite(args.suite)
    n = args.rollouts * len(suite.tasks)
    ray = import_ray()
    t0 = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
    print(f"ray start-up: {time.perf_counter() - t0:.1f} s (local, {args.workers} CPUs)")
    walls: dict[str, list[float]] = {"thread": [], "ray": []}
    with ScriptedLLM(MixedPolicy(suite, pass_prob=0.5)) as llm, tempfile.TemporaryDirectory() as tmp:
        provider = OpenAIProvider("scripted", base_url=llm.base_url, retry=RetryPolicy(base_delay_s=0.01))
        # One warm-up batch each: Ray starts its worker processes on first use.
        for kind in ("thread", "ray"):
            ex = LocalExecutor(args.workers) if kind == "thread" else RayExecutor(args.workers)
            wall, _ = one_batch(suite, provider, ex, args.workers, 1, Path(tmp), f"warm-{kind}")
            print(f"warm-up {kind:6} {len(suite.tasks)} rollouts in {wall:6.1f} s")
        for i in range(args.repeats):
            outcomes = {}
            for kind in ("thread", "ray") if i % 2 == 0 else ("ray", "thread"):
                ex = LocalExecutor(args.workers) if kind == "thread" else RayExecutor(args.workers)
                wall, outcomes[kind] = one_batch(
                    suite, provider, ex, args.workers, args.rollouts, Path(tmp), f"{kind}{i}"
                )
                walls[kind].append(wall)
                print(f"repeat {i + 1} {kind:6} {n} rollouts in {wall:6.1f} s  = {60 * n / wall:6.1f} rollouts/min")
            same = outcomes["thread"] == outcomes["ray"]
            print(f"repeat {i + 1} same outcomes under both: {same}")
    ray.shutdown()
    med = {k: statistics.median(v) for k, v in walls.items()}
    print(f"\n{n} rollouts per batch, {args.workers} workers, {args.repeats} repeats (median)")
    for k in ("thread", "ray"):
        print(f"  {k:6} {60 * n / med[k]:7.1f} rollouts/min  ({med[k]:.1f} s a batch)")
    print(f"  ray / thread wall time: {med['ray'] / med['thread']:.2f}x  (goal: within 1.2x)")


if __name__ == "__main__":
    main()

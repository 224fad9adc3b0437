"""Regenerate sample_traces/: one synthetic batch, 6 tasks x 4 rollouts of mini-bugs.

The rollouts are real runs of this engine (real workspace, tools, sandboxed pytest),
but the "model" is the scripted OpenAI-compatible server in ``tests/doubles/scripted_llm.py``
playing a fixed plan of scripts that mimic what real models do: clean fixes, long
wandering fixes, wrong fixes, invalid tool calls (missing/empty ``rel_dir``, broken
JSON) with recovery, one rollout that edits the tests, one that hits ``max_iters``,
and summary-only finishes. The plan gives pass/fail contrast on 4 of the 6 tasks, one
task every rollout passes and one every rollout fails. Outcomes, messages and scripts
are deterministic; timestamps, durations and token estimates of the run are not.

    uv run python bench/make_sample_traces.py [--out sample_traces]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.batch import run_batch
from agent.batch_spec import BatchSpec
from agent.loop import RolloutConfig
from agent.providers import OpenAIProvider
from agent.suites.loading import load_suite
from tests.doubles.scripted_llm import MixedPolicy, ScriptedLLM

BATCH_ID = "mini-bugs-scripted-sample"
MODEL = "scripted-7b-mix"
SEED = 0
# One row per task (in suite order), one script per seed 0..3.
PLAN_ROWS = [
    ("clean", "wrong_fix", "wandering", "summary_only"),
    ("invalid_then_recover", "clean", "wrong_fix", "wrong_fix"),
    ("wandering", "tamper", "clean", "never_finish"),
    ("clean", "clean", "wandering", "invalid_then_recover"),  # every rollout passes
    ("wrong_fix", "summary_only", "wrong_fix", "clean"),
    ("wrong_fix", "summary_only", "wrong_fix", "wrong_fix"),  # every rollout fails
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "sample_traces"))
    ap.add_argument("--max-workers", type=int, default=2)
    args = ap.parse_args()
    suite = load_suite("mini-bugs")
    tasks = [t.id for t in suite.tasks[: len(PLAN_ROWS)]]
    plan = {(t, SEED + i): script for t, row in zip(tasks, PLAN_ROWS) for i, script in enumerate(row)}
    batch_dir = Path(args.out) / BATCH_ID
    shutil.rmtree(batch_dir, ignore_errors=True)
    config = RolloutConfig(max_iters=15, temperature=0.7, price_in=0.2, price_out=0.2)
    with ScriptedLLM(MixedPolicy(suite, plan=plan), model=MODEL) as llm:
        provider = OpenAIProvider(MODEL, base_url=llm.base_url)
        summary = run_batch(
            BatchSpec(
                suite,
                lambda task_id, seed: provider,
                batch_dir,
                rollouts=4,
                seed=SEED,
                max_workers=args.max_workers,
                config=config,
                task_ids=tasks,
                provider_name="openai",
                model=MODEL,
                base_url="http://127.0.0.1:<port>/v1 (scripted)",
                suite_path="mini-bugs",
            )
        )
    for r in sorted(summary.results, key=lambda r: (r.task_id, r.seed)):
        verdict = "TAMPERED" if r.outcome.tests_tampered else ("PASS" if r.outcome.tests_passed else "FAIL")
        print(
            f"{r.task_id:24s} seed={r.seed} {plan[(r.task_id, r.seed)]:22s} {verdict:8s} "
            f"steps={r.outcome.steps:2d} invalid={r.outcome.invalid_tool_calls} stop={r.stop_reason}"
        )
    print(f"pass rate {summary.pass_rate:.0%}, validity {summary.validity_rate:.1%} -> {batch_dir}")


if __name__ == "__main__":
    main()

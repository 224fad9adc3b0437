"""Generate a realistic trace store of N rollouts for the ingest benchmark.

    uv run python bench/gen_traces.py [--rollouts 10000] [--out /tmp/repo-agent-bench]

Shaped like real traces: batches of up to 1,000 rollouts over 40 tasks, 5-30 steps per
rollout, one or two tool calls per step, tool outputs of a few hundred to a few thousand
characters of code-like text, a unified-diff patch, ~40% passing, a few invalid calls.
Written with tests/factories.py, the builder the tests share: the real `TraceWriter` and
event models, so every line is what the agent writes; the first rollout is re-validated
with `agent.trace.read_trace` all the same. Every rollout has its own final summary.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.trace import BatchParams, TestCounts, read_trace
from tests.factories import Call, Rollout, Step, tool_schemas, write_batch

CODE_LINES = [
    "def {f}(arr, k):",
    '    """Return the {f} of arr."""',
    "    if not arr:",
    "        return []",
    "    for i in range(len(arr) - 1):",
    "        if arr[i] > arr[i + 1]:",
    "            arr[i], arr[i + 1] = arr[i + 1], arr[i]",
    "    result = {{'value': arr[0], \"key\": k}}",
    "    while lo <= hi:",
    "        mid = (lo + hi) // 2",
    "    return {f}(arr[1:], k - 1) + [arr[0]]",
    "import pytest",
    "from {f} import {f}",
    "@pytest.mark.parametrize('input_data,expected', load_cases('{f}'))",
    "def test_{f}(input_data, expected):",
    "    assert {f}(*input_data) == expected",
    "    # TODO: handle the empty\ttab case",
]


def code_text(rng: random.Random, name: str, n_chars: int) -> str:
    out: list[str] = []
    size = 0
    while size < n_chars:
        line = rng.choice(CODE_LINES).format(f=name)
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)


TOOLS = tool_schemas(lambda n: f"{n} tool", {"type": "object"})
STEP_TESTS = {
    "passed": False,
    "counts": TestCounts(passed=3, failed=2, collected=5),
    "summary": "2 failed, 3 passed",
    "duration_s": 0.4,
}


def bench_rollout(rng: random.Random, task: str, seed: int, skill: float = 0.4, shared_goal: bool = False) -> Rollout:
    """``shared_goal``: the goal text is drawn from the task name, so every rollout of a task
    has the same prompt (as real ones do; DPO refuses a pair whose prompts differ)."""
    goal = f"Fix the bug in {task}.py. " + code_text(random.Random(task) if shared_goal else rng, task, 600)
    n_steps = rng.randint(5, 30)
    # the outcome follows the patch (variant 1 is the fix; rare flaky passes), as in real suites
    variant = 1 if rng.random() < skill else rng.choice([2, 3, 4])
    passed = rng.random() < (0.95 if variant == 1 else 0.03)
    tampered = not passed and rng.random() < 0.02
    summary_only = rng.random() < 0.04
    # Each rollout closes with its own summary (what it changed, how long it took, which rollout), as real
    # ones do, so `final`-mode DPO pairs two different answers.
    summary = f"Changed the loop bound to len(arr) - {variant} in {task}.py after {n_steps} steps (seed {seed})."
    steps: list[Step] = []
    for step in range(1, n_steps + 1):
        last = step == n_steps
        n_calls = 1 if last or rng.random() < 0.7 else 2
        chosen = []
        for _ in range(n_calls):
            args: dict[str, Any]
            if last:
                name, args = "finish", {"summary": summary, "changes": [f"{task}.py"]}
            else:
                name = rng.choice(["read_file", "read_file", "grep", "list_dir", "write_file", "run_tests"])
                by_name: dict[str, dict[str, Any]] = {
                    "read_file": {"rel_path": f"{task}.py"},
                    "grep": {"pattern": "def ", "rel_dir": "."},
                    "list_dir": {"rel_dir": "." if rng.random() > 0.1 else "", "max_files": 50},
                    "write_file": {"rel_path": f"{task}.py", "content": code_text(rng, task, 800)},
                    "run_tests": {},
                }
                args = by_name[name]
            chosen.append((name, args))
        usage = (rng.randint(800, 6000), rng.randint(20, 300))
        latency = round(rng.uniform(0.3, 3), 3)
        content = "Let me look at the code." if rng.random() < 0.3 else None
        calls = []
        for name, args in chosen:
            bad = name == "list_dir" and args.get("rel_dir") == ""
            out = "error: rel_dir must not be empty" if bad else code_text(rng, task, rng.randint(200, 4000))
            calls.append(
                Call(
                    name,
                    args,
                    valid=not bad,
                    violations=["rel_dir: must not be empty"] if bad else [],
                    output=out,
                    error="invalid arguments" if bad else None,
                    duration_s=round(rng.uniform(0.001, 0.5), 4),
                    test_run=STEP_TESTS if name == "run_tests" else None,
                )
            )
        steps.append(Step(calls, content=content, usage=usage, latency_s=latency))
    patch = (
        ""
        if summary_only
        else (
            f"diff --git a/{task}.py b/{task}.py\n--- a/{task}.py\n+++ b/{task}.py\n@@ -3,7 +3,7 @@ def {task}(arr):\n"
            + "".join(f" {ln}\n" for ln in code_text(rng, task, 120).splitlines())
            + f"-    for i in range(len(arr)):\n+    for i in range(len(arr) - {variant}):\n"
        )
    )
    if tampered:
        patch += (
            f"diff --git a/test_{task}.py b/test_{task}.py\n--- a/test_{task}.py\n+++ b/test_{task}.py\n"
            "@@ -1,2 +1,2 @@\n-    assert result == expected\n+    assert True\n"
        )
    if summary_only:
        passed = False
    usages = [s.usage for s in steps if s.usage is not None]  # every step here has one
    tin, tout = sum(u[0] for u in usages), sum(u[1] for u in usages)
    return Rollout(
        task_id=task,
        seed=seed,
        steps=list(steps),
        passed=passed,
        tampered=tampered,
        tampered_paths=[f"test_{task}.py"] if tampered else [],
        patch=patch,
        files=[] if summary_only else [f"{task}.py"],
        files_touched=0 if summary_only else 1 + tampered,
        summary=summary,
        changes=[f"{task}.py"],
        suite="bench",
        model="qwen2.5-7b",
        tools=TOOLS,
        system="You fix bugs. " * 20,
        goal=goal,
        finish_reason="tool_calls",
        test_counts=TestCounts(passed=5 if passed else 3, failed=0 if passed else 2, collected=5),
        test_summary="5 passed" if passed else "2 failed, 3 passed",
        test_duration_s=0.5,
        cost_usd=round(tin * 2e-7 + tout * 6e-7, 6),
        duration_s=round(n_steps * 1.7, 2),
        t0=1_763_800_000.0,
        dt=0.05,
    )


def generate(
    out: Path, rollouts: int, *, tasks: int = 40, per_batch: int = 1000, seed: int = 0, shared_goal: bool = False
) -> list[Path]:
    rng = random.Random(seed)
    task_ids = [f"task_{i:03d}" for i in range(tasks)]
    skill = {t: rng.choice([0.0, 0.05, 0.2, 0.35, 0.5, 0.7, 0.9, 1.0]) for t in task_ids}  # spread of difficulty
    batches: list[Path] = []
    made = 0
    b = 0
    while made < rollouts:
        n = min(per_batch, rollouts - made)
        batch_id = f"20261122-0800{b:02d}-bench-qwen2.5-7b-{b:04x}"
        seeds = [(task_ids[i % tasks], 1000 * b + i) for i in range(n)]
        made_here = [bench_rollout(rng, task, seed, skill[task], shared_goal) for task, seed in seeds]
        bdir = write_batch(
            out,
            batch_id,
            made_here,
            suite="bench",
            model="qwen2.5-7b",
            params=BatchParams(rollouts=n),
            started="2026-11-22T08:00:00+00:00",
            finished="2026-11-22T09:00:00+00:00",
        )
        batches.append(bdir)
        made += n
        b += 1
    return batches


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rollouts", type=int, default=10_000)
    ap.add_argument("--out", type=Path, default=Path("/tmp/repo-agent-bench"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.out.exists():
        shutil.rmtree(args.out)
    t0 = time.perf_counter()
    batches = generate(args.out, args.rollouts, seed=args.seed)
    dt = time.perf_counter() - t0
    first = next((batches[0] / "traces").iterdir())
    check = read_trace(first)
    assert not check.warnings and check.end is not None, check.warnings
    size = sum(p.stat().st_size for b in batches for p in (b / "traces").iterdir())
    print(f"wrote {args.rollouts} rollouts in {len(batches)} batches to {args.out} ({size / 1e6:.0f} MB) in {dt:.1f} s")


if __name__ == "__main__":
    main()

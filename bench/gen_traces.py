"""Generate a realistic trace store of N rollouts for the ingest benchmark.

    uv run python bench/gen_traces.py [--rollouts 10000] [--out /tmp/repo-agent-bench]

Shaped like real traces: batches of up to 1,000 rollouts over 40 tasks, 5-30 steps per
rollout, one or two tool calls per step, tool outputs of a few hundred to a few thousand
characters of code-like text, a unified-diff patch, ~40% passing, a few invalid calls.
Lines are the exact JSON the real `TraceWriter` writes (pydantic `model_dump_json`:
compact, fields in model order); the first rollout is re-validated with
`agent.trace.read_trace` to prove it.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.trace import (
    BatchMeta,
    BatchParams,
    PlannedRollout,
    read_trace,
    rollout_id_for,
    trace_path,
    write_batch_meta,
)

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


def dumps(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class _Lines:
    def __init__(self, rollout_id: str):
        self.rid = rollout_id
        self.seq = 0
        self.ts = 1_763_800_000.0
        self.lines: list[str] = []

    def add(self, kind: str, **fields) -> None:
        self.ts += 0.05
        ev = {"v": 1, "rollout_id": self.rid, "seq": self.seq, "ts": round(self.ts, 3), "kind": kind}
        ev.update(fields)
        self.lines.append(dumps(ev))
        self.seq += 1


TOOLS = [
    {"type": "function", "function": {"name": n, "description": f"{n} tool", "parameters": {"type": "object"}}}
    for n in ("list_dir", "read_file", "write_file", "grep", "run_tests", "finish")
]


def rollout_lines(rng: random.Random, task: str, seed: int, batch_id: str, skill: float = 0.4) -> list[str]:
    rid = rollout_id_for(task, seed)
    L = _Lines(rid)
    L.add(
        "rollout_start",
        task_id=task,
        suite="bench",
        seed=seed,
        provider="openai",
        model="qwen2.5-7b",
        temperature=0.7,
        max_iters=30,
        tools=TOOLS,
        batch_id=batch_id,
        branch=None,
    )
    L.add("message", message={"role": "system", "content": "You fix bugs. " * 20}, step=None)
    L.add(
        "message",
        message={"role": "user", "content": f"Fix the bug in {task}.py. " + code_text(rng, task, 600)},
        step=None,
    )
    steps = rng.randint(5, 30)
    # the outcome follows the patch (variant 1 is the fix; rare flaky passes), as in real suites
    variant = 1 if rng.random() < skill else rng.choice([2, 3, 4])
    passed = rng.random() < (0.95 if variant == 1 else 0.03)
    tampered = not passed and rng.random() < 0.02
    summary_only = rng.random() < 0.04
    tool_calls = invalid = 0
    tin = tout = 0
    for step in range(1, steps + 1):
        last = step == steps
        n_calls = 1 if last or rng.random() < 0.7 else 2
        calls = []
        for c in range(n_calls):
            if last:
                name, args = "finish", {"summary": f"Fixed the off-by-one in {task}.", "changes": [f"{task}.py"]}
            else:
                name = rng.choice(["read_file", "read_file", "grep", "list_dir", "write_file", "run_tests"])
                args = {
                    "read_file": {"rel_path": f"{task}.py"},
                    "grep": {"pattern": "def ", "rel_dir": "."},
                    "list_dir": {"rel_dir": "." if rng.random() > 0.1 else "", "max_files": 50},
                    "write_file": {"rel_path": f"{task}.py", "content": code_text(rng, task, 800)},
                    "run_tests": {},
                }[name]
            calls.append((f"call_{step}_{c}", name, args))
        p, q = rng.randint(800, 6000), rng.randint(20, 300)
        tin, tout = tin + p, tout + q
        L.add(
            "llm_call",
            step=step,
            latency_s=round(rng.uniform(0.3, 3), 3),
            usage={"prompt_tokens": p, "completion_tokens": q},
            finish_reason="tool_calls",
            retries=0,
        )
        L.add(
            "message",
            step=step,
            message={
                "role": "assistant",
                "content": "Let me look at the code." if rng.random() < 0.3 else None,
                "tool_calls": [
                    {"id": cid, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
                    for cid, n, a in calls
                ],
            },
        )
        for cid, name, args in calls:
            bad = name == "list_dir" and args.get("rel_dir") == ""
            tool_calls += 1
            invalid += bad
            L.add(
                "tool_call",
                step=step,
                call_id=cid,
                name=name,
                arguments=json.dumps(args),
                args=args,
                parse_error=None,
                valid=not bad,
                violations=["rel_dir: must not be empty"] if bad else [],
            )
            out = "error: rel_dir must not be empty" if bad else code_text(rng, task, rng.randint(200, 4000))
            L.add(
                "tool_result",
                step=step,
                call_id=cid,
                ok=not bad,
                duration_s=round(rng.uniform(0.001, 0.5), 4),
                output_chars=len(out),
                truncated=False,
                error="invalid arguments" if bad else None,
            )
            L.add("message", step=step, message={"role": "tool", "tool_call_id": cid, "content": out})
            if name == "run_tests":
                L.add(
                    "test_run",
                    passed=False,
                    counts={"passed": 3, "failed": 2, "errors": 0, "skipped": 0, "collected": 5},
                    summary="2 failed, 3 passed",
                    duration_s=0.4,
                    timed_out=False,
                    step=step,
                    final=False,
                )
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
    L.add(
        "test_run",
        passed=passed,
        counts={"passed": 5 if passed else 3, "failed": 0 if passed else 2, "errors": 0, "skipped": 0, "collected": 5},
        summary="5 passed" if passed else "2 failed, 3 passed",
        duration_s=0.5,
        timed_out=False,
        step=None,
        final=True,
    )
    L.add("final", summary=f"Fixed the off-by-one in {task}.", changes=[f"{task}.py"], test_result=None)
    L.add(
        "rollout_end",
        outcome={
            "tests_passed": passed,
            "steps": steps,
            "tool_calls": tool_calls,
            "invalid_tool_calls": invalid,
            "files_touched": 0 if summary_only else 1 + tampered,
            "files": [] if summary_only else [f"{task}.py"],
            "patch": patch,
            "tests_tampered": tampered,
            "tampered_paths": [f"test_{task}.py"] if tampered else [],
            "tokens_in": tin,
            "tokens_out": tout,
            "cost_usd": round(tin * 2e-7 + tout * 6e-7, 6),
        },
        stop_reason="finished",
        duration_s=round(steps * 1.7, 2),
    )
    return L.lines


def generate(out: Path, rollouts: int, *, tasks: int = 40, per_batch: int = 1000, seed: int = 0) -> list[Path]:
    rng = random.Random(seed)
    task_ids = [f"task_{i:03d}" for i in range(tasks)]
    skill = {t: rng.choice([0.0, 0.05, 0.2, 0.35, 0.5, 0.7, 0.9, 1.0]) for t in task_ids}  # spread of difficulty
    batches: list[Path] = []
    made = 0
    b = 0
    while made < rollouts:
        n = min(per_batch, rollouts - made)
        batch_id = f"20261122-0800{b:02d}-bench-qwen2.5-7b-{b:04x}"
        bdir = out / batch_id
        planned = [
            PlannedRollout(
                rollout_id=rollout_id_for(task_ids[i % tasks], 1000 * b + i),
                task_id=task_ids[i % tasks],
                seed=1000 * b + i,
            )
            for i in range(n)
        ]
        write_batch_meta(
            bdir,
            BatchMeta(
                id=batch_id,
                suite="bench",
                provider="openai",
                model="qwen2.5-7b",
                params=BatchParams(rollouts=n),
                planned=planned,
                started="2026-11-22T08:00:00+00:00",
                finished="2026-11-22T09:00:00+00:00",
                stop_reason="finished",
            ),
        )
        for p in planned:
            path = trace_path(bdir, p.rollout_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(
                "\n".join(rollout_lines(rng, p.task_id, p.seed, batch_id, skill[p.task_id])) + "\n", encoding="utf-8"
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

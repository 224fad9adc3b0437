"""A small, fixed batch of traces for the studio's tests and snapshots.

Written through the real `agent.trace` models and `TraceWriter.write`, with fixed
timestamps, so every screen renders the same bytes on every run. Three tasks x three
rollouts: passes, failures, an invalid tool call, a tampered test, one empty patch.
"""

from __future__ import annotations

from pathlib import Path

from agent.trace import BatchParams, TestCounts
from tests import factories

BATCH_ID = "20261122-000000-mini-test-model-0000"
T0 = 1_795_000_000.0

GCD_OLD = ["def gcd(a, b):", "    if b == 0:", "        return a", "    return gcd(a % b, b)"]
GCD_NEW = ["def gcd(a, b):", "    if b == 0:", "        return a", "    return gcd(b, a % b)"]
COUNT_OLD = [
    "def bitcount(n):",
    "    count = 0",
    "    while n:",
    "        n ^= n - 1",
    "        count += 1",
    "    return count",
]
COUNT_NEW = [
    "def bitcount(n):",
    "    count = 0",
    "    while n:",
    "        n &= n - 1",
    "        count += 1",
    "    return count",
]


def make_patch(path: str, old: list[str], new: list[str], extra: int = 0) -> str:
    """A git-style patch; ``extra`` appends that many added lines (long diffs)."""
    body = []
    for a, b in zip(old, new):
        if a == b:
            body.append(" " + a)
        else:
            body += ["-" + a, "+" + b]
    body += [f"+# note {i}: keep the invariant a >= b >= 0" for i in range(extra)]
    n_old = len(old)
    n_new = len(new) + extra
    head = [f"diff --git a/{path} b/{path}", f"--- a/{path}", f"+++ b/{path}", f"@@ -1,{n_old} +1,{n_new} @@"]
    return "\n".join(head + body) + "\n"


TASKS = {
    "fix_gcd": ("gcd.py", GCD_OLD, GCD_NEW),
    "fix_bitcount": ("bitcount.py", COUNT_OLD, COUNT_NEW),
    "fix_flatten": (
        "flatten.py",
        ["def flatten(xs):", "    for x in xs:", "        yield flatten(x)"],
        ["def flatten(xs):", "    for x in xs:", "        yield from flatten(x)"],
    ),
}

# (task, seed) -> (passed, tampered, steps, invalid_first, patch kind, summary)
PLAN = {
    ("fix_gcd", 0): (True, False, 3, False, "fix", "Swapped the arguments of the recursive call."),
    ("fix_gcd", 1): (False, False, 5, True, "wrong", "Changed the base case."),
    ("fix_gcd", 2): (True, False, 4, False, "fix", "Fixed the recursion order in gcd."),
    ("fix_bitcount", 0): (False, True, 4, False, "tamper", "All tests pass now."),
    ("fix_bitcount", 1): (True, False, 3, False, "fix", "Use n &= n - 1 to clear the lowest set bit."),
    ("fix_bitcount", 2): (False, False, 6, False, "empty", ""),
    ("fix_flatten", 0): (True, False, 3, False, "fix", "Delegate to the recursive generator."),
    ("fix_flatten", 1): (False, False, 4, True, "wrong", "Return a list instead."),
    ("fix_flatten", 2): (False, False, 5, False, "wrong", "Tried a loop."),
}


def _rollout(task: str, seed: int, t: float) -> factories.Rollout:
    path, old, new = TASKS[task]
    passed, tampered, steps, invalid_first, kind, summary = PLAN[(task, seed)]
    if kind == "fix":
        patch = make_patch(path, old, new)
    elif kind == "wrong":
        wrong = list(old)
        wrong[1] = wrong[1] + "  # changed"
        patch = make_patch(path, old, wrong)
    elif kind == "tamper":
        patch = make_patch(
            "test_" + path, ["def test_it():", "    assert check()"], ["def test_it():", "    assert True"]
        )
    else:
        patch = ""
    calls = []
    for step in range(1, steps + 1):
        last = step == steps
        if step == 1 and invalid_first:
            name, args, valid, violations = "list_dir", {"max_files": 50}, False, ["rel_dir: Field required"]
        elif step == 1:
            name, args, valid, violations = "list_dir", {"rel_dir": ".", "max_files": 50}, True, []
        elif last:
            name, args, valid, violations = "finish", {"summary": summary, "changes": [path]}, True, []
        elif step == 2:
            name, args, valid, violations = "read_file", {"rel_path": path}, True, []
        elif step == steps - 1:
            name, args, valid, violations = "write_file", {"rel_path": path, "content": "\n".join(new)}, True, []
        else:
            name, args, valid, violations = "run_tests", {}, True, []
        output = (
            ("error: " + violations[0])
            if not valid
            else {
                "list_dir": f"{path}\ntest_{path}",
                "read_file": "\n".join(old),
                "write_file": "wrote 1 file",
                "run_tests": "1 failed, 2 passed",
                "finish": "ok",
            }[name]
        )
        error = None if valid else violations[0]
        calls.append([factories.Call(name, args, valid=valid, violations=violations, output=output, error=error)])
    files = [] if not patch else ["test_" + path if kind == "tamper" else path]
    return factories.Rollout(
        task_id=task,
        seed=seed,
        steps=calls,
        passed=passed and not tampered,
        tampered=tampered,
        tampered_paths=["test_" + path] if tampered else [],
        patch=patch,
        files=files,
        summary=summary,
        changes=[path],
        suite="mini",
        model="test-model",
        max_iters=10,
        system="You fix bugs with tools.",
        goal=f"Fix the bug in {path}; the tests must pass.",
        usage=lambda step: (400 * step, 60),
        latency_s=0.25,
        tool_duration_s=0.05,
        test_counts=TestCounts(passed=3 if passed else 2, failed=0 if passed else 1, collected=3),
        test_summary="3 passed" if passed else "1 failed, 2 passed",
        test_duration_s=0.4,
        cost_usd=0.001 * steps,
        duration_s=4.0 + steps,
        t0=t,
    )


def make_batch(root: Path) -> Path:
    """Write the fixed batch under ``root``; returns the batch directory."""
    return factories.write_batch(
        root,
        BATCH_ID,
        [_rollout(task, seed, T0 + i * 60) for i, (task, seed) in enumerate(PLAN)],
        suite="mini",
        model="test-model",
        params=BatchParams(rollouts=3, temperature=0.7, max_iters=10, max_workers=2),
        started="2026-11-22T00:00:00+00:00",
        finished="2026-11-22T00:01:00+00:00",
    )

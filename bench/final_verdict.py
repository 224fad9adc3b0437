"""What the unforgeable verdict costs: one plain sandboxed test run vs the final run
(held-out differential in its own sandboxed process, canaries planted + checked, hidden
tests, config scan, and the reference-fix rerun that backs a pass), on the shipped
mini-bugs tasks with their reference fix applied. Also the differential's own share: the
rollout's held-out calls with the reference's run of the same per-run call sequence (side by
side), and the reference's inputs check (computed once per task, then cached). The
sandbox's share (issue 23) is the sandboxed run_tests against the same pytest run as a
plain subprocess: no bwrap, no launcher, no uid lease, no workspace copy.

    uv run python bench/final_verdict.py [--tasks fix_gcd,fix_roman] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent import differential
from agent.final_verdict import final_test_run
from agent.scoring import resolve_argv
from agent.suites.loading import load_suite
from agent.workspace import Workspace, apply_reference_fix


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", default="fix_gcd,fix_roman")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    suite = load_suite("mini-bugs")
    bare: list[float] = []
    plain: list[float] = []
    final: list[float] = []
    calls: list[float] = []
    reference: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for tid in args.tasks.split(","):
            task = suite.task(tid)
            t = time.perf_counter()
            sample = differential.sample(suite, task)
            differential.reference_results(suite, task, sample, sandbox="auto")  # cold: computed once
            reference.append(time.perf_counter() - t)
            for _ in range(args.runs):
                with Workspace.create(suite, task, Path(tmp)) as ws:
                    apply_reference_fix(suite, task, ws)
                    argv = [*resolve_argv(task.test_command), "-p", "no:cacheprovider"]
                    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1"}
                    t = time.perf_counter()
                    subprocess.run(argv, cwd=ws.path, env=env, capture_output=True, check=True)
                    bare.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    r = ws.run_tests()
                    plain.append(time.perf_counter() - t)
                    assert r.passed, r.summary
                    t = time.perf_counter()
                    r, tampered = final_test_run(ws)
                    final.append(time.perf_counter() - t)
                    assert r.passed and not tampered and not r.tamper, (r.summary, r.tamper, tampered)
                    t = time.perf_counter()
                    differential.judge(ws)
                    calls.append(time.perf_counter() - t)
    b, p, f = statistics.median(bare), statistics.median(plain), statistics.median(final)
    print(f"plain pytest      median {b * 1000:7.1f} ms  (n={len(bare)})  no sandbox")
    print(f"plain run_tests   median {p * 1000:7.1f} ms  (n={len(plain)})  sandbox share {p / b:.2f}x")
    print(f"final_test_run    median {f * 1000:7.1f} ms  (n={len(final)})  ratio {f / p:.2f}x")
    c, ref = statistics.median(calls), statistics.median(reference)
    print(f"  of which held-out calls (warm)  median {c * 1000:7.1f} ms  ({c / p:.2f}x a plain run)")
    print(f"reference results, once per task  median {ref * 1000:7.1f} ms  (n={len(reference)}, cached after)")


if __name__ == "__main__":
    main()

"""One `suite mutate --env` validation run, cold against warm, interleaved A/B on one repository.

    uv run python bench/mutate_env_warm.py ~/src/prettytable --tests "python -m pytest -q tests" [--runs 6]

Builds the repository's env as ``--env auto`` does (cached), runs its tests once for the
baseline, then alternates a run of 20 of its passing tests in a fresh sandboxed interpreter
of the env (what every validation run cost before the zygote ran in repo envs) with the same
run forked from the warm pytest (agent/suites/mutate/zygote.py). Prints both medians; the
first warm run includes the zygote's start.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.suites.env import build_env, plan_env, write_generated
from agent.suites.mutate.runner import run_baseline, run_pytest
from agent.suites.mutate.zygote import Zygote


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("repo", type=Path)
    ap.add_argument("--tests", default="python -m pytest -q")
    ap.add_argument("--runs", type=int, default=6)
    args = ap.parse_args()
    argv = shlex.split(args.tests)
    with tempfile.TemporaryDirectory(prefix="repo-agent-warm-") as tmp:
        ws = Path(tmp) / "ws"
        shutil.copytree(args.repo.expanduser(), ws, ignore=shutil.ignore_patterns(".git"))
        write_generated(ws)
        env = build_env(plan_env(ws)).path
        select = sorted(run_baseline(ws, argv, timeout_s=900, python_env=env).passing)[:20]
        z = Zygote(ws, python_env=env)
        cold: list[float] = []
        warm: list[float] = []
        try:
            for _ in range(args.runs):
                for times, zygote in ((cold, None), (warm, z)):
                    start = time.monotonic()
                    run = run_pytest(
                        ws, argv, select=select, timeout_s=120, per_test_timeout_s=10, python_env=env, zygote=zygote
                    )
                    times.append(time.monotonic() - start)
                    assert len(run.outcomes) == len(select) and not run.failing, run.summary
        finally:
            z.cleanup()
    for name, times in (("cold", cold), ("warm", warm)):
        print(f"{name}: median {statistics.median(times):.2f}s  runs {' '.join(f'{t:.2f}' for t in times)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

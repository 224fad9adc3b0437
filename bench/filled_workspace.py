"""What a sandboxed run costs repo-agent once the rollout filled its workspace (round 19 r19s-6):
a run that writes one file, over mini-bugs' fix_gcd padded with ``--files`` small files.
Medians of ``--runs``: repo-agent's own CPU (its copies of the workspace in and out, or the
overlay's merge of what the run wrote), the sandbox's CPU, and the wall time.

    uv run python bench/filled_workspace.py [--files 3000] [--runs 15]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent import sandbox
from agent.suites.loading import load_suite
from agent.workspace import Workspace


def _cpu() -> tuple[float, float]:
    mine, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime, kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=3000)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    suite = load_suite("mini-bugs")
    host: list[float] = []
    boxed: list[float] = []
    wall: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, Workspace.create(suite, suite.task("fix_gcd"), Path(tmp)) as ws:
        for i in range(args.files):
            (ws.path / f"pad{i // 1000}").mkdir(exist_ok=True)
            (ws.path / f"pad{i // 1000}" / f"f{i}").write_text("x")
        for _ in range(args.runs):
            (h, c), t = _cpu(), time.perf_counter()
            sandbox.run_command_full(["/bin/sh", "-c", "echo > out.txt"], ws.path, timeout_s=60, sandbox="bwrap")
            h2, c2 = _cpu()
            host.append(h2 - h)
            boxed.append(c2 - c)
            wall.append(time.perf_counter() - t)
    print(
        f"{args.files} extra files, {args.runs} runs: repo-agent CPU {statistics.median(host) * 1000:.1f} ms,"
        f" sandbox CPU {statistics.median(boxed) * 1000:.1f} ms, wall {statistics.median(wall) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()

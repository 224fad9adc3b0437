"""Benchmark exports: 5,000 pairs exported and checked, target < 10 s.

    uv run python bench/export.py [--pairs 5000] [--runs 3] [--out /tmp/repo-agent-bench-export]

Generates a store with bench/gen_traces.py's rollouts (two rollouts per task, so the
best-worst strategy gives one pair per task), with one goal text per task (real rollouts
of one task share their prompt; DPO rejects a pair whose prompts differ). Ingests, confirms exactly
``--pairs`` pairs (setup, not timed), then times ``export_dpo`` end to end: pairs read
from the store, traces read (head only for ``patch``, whole for ``patch+trajectory``),
records validated, file written, fsync'ed, re-checked by the checker, renamed, sidecar
written. Prints the median over ``--runs`` per mode, and the checker alone.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench.gen_traces as gen
from exports import DpoOptions, check_file, export_dpo
from labeling.store import LabelStore

TARGET_S = 10.0


def setup(out: Path, pairs: int) -> LabelStore:
    if out.exists():
        shutil.rmtree(out)
    tasks = int(pairs * 1.9) + 10  # ties (no contrast) and identical patches are not exported
    t0 = time.perf_counter()
    gen.generate(out / "traces", 2 * tasks, tasks=tasks, per_batch=2 * tasks, shared_goal=True)  # each task twice
    t1 = time.perf_counter()
    store = LabelStore(out / "labels.sqlite", labeler="bench")
    store.ingest([out / "traces"])
    t2 = time.perf_counter()
    todo = [p for p in store.pairs() if "identical_patch" not in p.flags][:pairs]  # those export as identical
    if len(todo) < pairs:
        sys.exit(f"only {len(todo)} pairs; raise the task count")
    for p in todo:
        store.set_verdict(p.pair_id, "confirm")
    t3 = time.perf_counter()
    print(
        f"setup: {2 * tasks:,} rollouts generated {t1 - t0:.1f} s, ingested {t2 - t1:.1f} s, "
        f"{pairs:,} pairs confirmed {t3 - t2:.1f} s"
    )
    return store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("/tmp/repo-agent-bench-export"))
    args = ap.parse_args()
    store = setup(args.out, args.pairs)
    dest = args.out / "dpo.jsonl"
    for mode in ("final", "patch", "patch+trajectory"):  # every rollout has its own final summary
        times, check_times = [], []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            report = export_dpo(store, dest, DpoOptions(mode=mode))
            times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            check = check_file(dest)
            check_times.append(time.perf_counter() - t0)
            assert check.ok and report.examples == args.pairs, (report.skipped, check.errors[:3])
        med = statistics.median(times)
        size = dest.stat().st_size
        print(
            f"{mode:>17}: {report.examples:,} pairs exported and checked in {med:.2f} s median "
            f"(runs {', '.join(f'{t:.2f}' for t in times)}; check alone {statistics.median(check_times):.2f} s; "
            f"{size / 1e6:.0f} MB, {report.tokens:,} tokens est.)  target < {TARGET_S:.0f} s: "
            f"{'OK' if med < TARGET_S else 'MISSED'}"
        )
    store.close()


if __name__ == "__main__":
    main()

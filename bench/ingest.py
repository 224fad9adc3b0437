"""Benchmark the label store's ingest (DESIGN §7).

    uv run python bench/gen_traces.py            # once: 10,000 rollouts in /tmp/repo-agent-bench
    uv run python bench/ingest.py [--root DIR] [--runs 3]

Prints, as medians over ``--runs`` runs (each into a fresh store file):
  * parse only   : read every trace file and ``json.loads`` every line (the floor);
  * full ingest  : ``LabelStore.ingest`` into a new SQLite file, pairs rebuilt included;
  * ratio        : full / parse (target < 2x);
  * re-ingest    : ``ingest`` again with nothing changed (target < 0.5 s).
Files are read once before timing so both sides run from the page cache.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from labeling.store import LabelStore  # noqa: E402


def trace_files(root: Path) -> list[Path]:
    return sorted(root.glob("*/traces/*.jsonl"))


def parse_only(files: list[Path]) -> tuple[float, int]:
    t0 = time.perf_counter()
    lines = 0
    loads = json.loads
    for p in files:
        with open(p, "rb") as f:
            data = f.read()
        for line in data.split(b"\n"):
            if line:
                loads(line)
                lines += 1
    return time.perf_counter() - t0, lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=Path("/tmp/repo-agent-bench"))
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    files = trace_files(args.root)
    if not files:
        sys.exit(f"no traces under {args.root}: run bench/gen_traces.py first")
    size = sum(p.stat().st_size for p in files)
    parse_only(files)  # warm the page cache
    parse_t, full_t, pairs_t, re_t = [], [], [], []
    lines = 0
    for _ in range(args.runs):
        t, lines = parse_only(files)
        parse_t.append(t)
        with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
            with LabelStore(Path(tmp) / "labels.sqlite", labeler="bench") as store:
                t0 = time.perf_counter()
                report = store.ingest([args.root])
                full_t.append(time.perf_counter() - t0)
                assert report.files_read == len(files) and report.invalid_lines == 0, report
                pairs_t.append(report.duration_s)
                t0 = time.perf_counter()
                again = store.ingest([args.root])
                re_t.append(time.perf_counter() - t0)
                assert again.files_read == 0, again
    med = statistics.median
    print(f"store       : {len(files)} rollouts, {lines} lines, {size / 1e6:.0f} MB ({args.root})")
    print(f"parse only  : {med(parse_t):.2f} s   (json.loads of every line; runs: {', '.join(f'{x:.2f}' for x in parse_t)})")
    print(f"full ingest : {med(full_t):.2f} s   (index {med(pairs_t):.2f} s + pair rebuild; runs: {', '.join(f'{x:.2f}' for x in full_t)})")
    print(f"ratio       : {med(full_t) / med(parse_t):.2f}x  (target < 2x)")
    print(f"re-ingest   : {med(re_t) * 1000:.0f} ms  unchanged store (target < 500 ms)")


if __name__ == "__main__":
    main()

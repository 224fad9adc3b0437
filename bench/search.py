"""Benchmark full-text search (labeling/search.py) on the ingest benchmark's 10,000 rollouts.

    uv run python bench/gen_traces.py            # once: 10,000 rollouts in /tmp/repo-agent-bench
    uv run python bench/search.py [--root DIR] [--repeat 20]

Prints:
  * parse only        : read every trace and ``json.loads`` every line (CPU; the floor);
  * ingest            : ``LabelStore.ingest`` (CPU of this process), the ratio to parse only;
  * search index      : the process the ingest started to fill the index (its own file beside
                        the store, labeling/search_fill.py): its CPU, and the index file's size;
  * queries           : each query ``--repeat`` times on the built store (50 hits, snippets read
                        from the traces): median and p95 per query, and the median of all
                        (target < 100 ms).
CPU time, not wall clock: the machine is shared, and CPU time is what the work costs.
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

from bench.ingest import children_cpu
from labeling import search_fill
from labeling.search_index import index_path
from labeling.store import LabelStore

QUERIES = [
    "arr",  # in nearly every document: the newest 50 of millions
    "TODO empty",
    '"rel_dir must not be empty"',  # a phrase (checked on each candidate's text)
    '"seed 4242"',  # a phrase of a rare word and a common one
    "heapq",  # in no document
    "param*",
    "read_file OR grep in:args",
    "mid verdict:pass",
    "pytest -parametrize in:output",
    "lo hi model:qwen2.5-7b task:task_007",
    "loop bound in:args verdict:fail",
]


def parse_only(files: list[Path]) -> float:
    c0 = time.process_time()
    loads = json.loads
    for p in files:
        for line in p.read_bytes().split(b"\n"):
            if line:
                loads(line)
    return time.process_time() - c0


def ingest(root: Path, db: Path) -> tuple[float, float]:
    """(CPU of the ingest, CPU of the process that filled the search index)."""
    with LabelStore(db, labeler="bench") as store:
        k0, c0 = children_cpu(), time.process_time()
        store.ingest([root])
        took = time.process_time() - c0
        search_fill.wait_fillers()
        return took, children_cpu() - k0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=Path("/tmp/repo-agent-bench"))
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--store", type=Path, help="query this store (already ingested) instead of building one")
    args = ap.parse_args()
    files = sorted(args.root.glob("*/traces/*.jsonl"))
    if not files:
        sys.exit(f"no traces under {args.root}: run bench/gen_traces.py first")
    with tempfile.TemporaryDirectory(prefix="search-bench-") as tmp:
        db = args.store
        if db is None:
            parse_only(files)  # warm the page cache
            parse = parse_only(files)
            db = Path(tmp) / "labels.sqlite"
            took, filled = ingest(args.root, db)
            size = sum(p.stat().st_size for p in files)
            print(f"store             : {len(files)} rollouts, {size / 1e6:.0f} MB ({args.root})")
            print(f"parse only        : {parse:.2f} s CPU  (json.loads of every line)")
            print(f"ingest            : {took:.2f} s CPU  ({took / parse:.2f}x parse, target < 2x)")
            print(f"search index      : {filled:.2f} s CPU in its own process ({filled / parse:.2f}x parse)")
            for f in (db, index_path(db)):
                print(f"{f.name:<18}: {f.stat().st_size / 1e6:.0f} MB")
        with LabelStore(db, labeler="bench") as store:
            every: list[float] = []
            print(f"{'query':<42} {'hits':>5} {'median':>9} {'p95':>9}")
            for q in QUERIES:
                times = []
                hits = 0
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    hits = len(store.search(q, limit=50))
                    times.append((time.perf_counter() - t0) * 1000)
                times.sort()
                every += times
                p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
                print(f"{q:<42} {hits:>5} {statistics.median(times):>7.1f}ms {p95:>7.1f}ms")
            every.sort()
            print(
                f"all queries: median {statistics.median(every):.1f} ms, "
                f"p95 {every[int(0.95 * len(every))]:.1f} ms  (target: median < 100 ms)"
            )


if __name__ == "__main__":
    main()

"""Benchmark the label store's ingest.

    uv run python bench/gen_traces.py            # once: 10,000 rollouts in /tmp/repo-agent-bench
    uv run python bench/ingest.py [--root DIR] [--runs 3]

Prints, as medians over ``--runs`` runs (each into a fresh store file):
  * parse only   : read every trace file and ``json.loads`` every line (the floor);
  * full ingest  : ``LabelStore.ingest`` into a new SQLite file, pairs rebuilt included: the
                   CPU of the ingesting process (its threads: reading, writing);
  * ratio        : full / parse (target < 2x), wall clock per run (parse and ingest
                   back to back) and CPU time (steadier on a machine shared with other work);
  * of which     : the ingest's CPU split between the thread that reads and parses the
                   traces and the thread that writes them to SQLite (labeling/indexer.py);
  * search index : the process the ingest started to fill the search index (its own file,
                   labeling/search_fill.py), measured apart: its CPU (this process's reaped
                   children) and the wall time from the ingest's end until the index is full;
  * re-ingest    : ``ingest`` again with nothing changed (target < 0.5 s).
Files are read once before timing so both sides run from the page cache.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from labeling import search_fill
from labeling.store import LabelStore


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def trace_files(root: Path) -> list[Path]:
    return sorted(root.glob("*/traces/*.jsonl"))


def parse_only(files: list[Path]) -> tuple[float, float, int]:
    """(wall s, CPU s, lines): read each file, json.loads each line."""
    t0, c0 = time.perf_counter(), time.process_time()
    lines = 0
    loads = json.loads
    for p in files:
        with open(p, "rb") as f:
            data = f.read()
        for line in data.split(b"\n"):
            if line:
                loads(line)
                lines += 1
    return time.perf_counter() - t0, time.process_time() - c0, lines


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
    parse_w, parse_c, full_w, full_c, ratios, re_t, main_c = [], [], [], [], [], [], []
    fill_c, fill_w = [], []
    lines = 0
    for _ in range(args.runs):
        # parse and ingest back to back in each run, so a busy machine hits both alike
        w, c, lines = parse_only(files)
        parse_w.append(w)
        parse_c.append(c)
        with (
            tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp,
            LabelStore(Path(tmp) / "labels.sqlite", labeler="bench") as store,
        ):
            k0 = children_cpu()
            t0, c0, m0 = time.perf_counter(), time.process_time(), time.thread_time()
            report = store.ingest([args.root])
            full_w.append(time.perf_counter() - t0)
            full_c.append(time.process_time() - c0)
            main_c.append(time.thread_time() - m0)  # the reading thread: the rest is the writer's
            assert report.files_read == len(files) and report.invalid_lines == 0, report
            ratios.append(full_w[-1] / parse_w[-1])
            t1 = time.perf_counter()
            search_fill.wait_fillers()
            fill_w.append(time.perf_counter() - t1)
            fill_c.append(children_cpu() - k0)
            assert store.search_progress() is None, store.search_progress()
            t0 = time.perf_counter()
            again = store.ingest([args.root])
            re_t.append(time.perf_counter() - t0)
            assert again.files_read == 0, again
    med = statistics.median
    runs = lambda xs: ", ".join(f"{x:.2f}" for x in xs)  # noqa: E731
    print(f"store       : {len(files)} rollouts, {lines} lines, {size / 1e6:.0f} MB ({args.root})")
    print(
        f"parse only  : {med(parse_w):.2f} s wall, {med(parse_c):.2f} s CPU   (json.loads of every line; runs: {runs(parse_w)})"
    )
    print(f"full ingest : {med(full_w):.2f} s wall, {med(full_c):.2f} s CPU   (index + pairs; runs: {runs(full_w)})")
    print(
        f"ratio       : {med(ratios):.2f}x wall (median of per-run ratios: {runs(ratios)}), "
        f"{med(full_c) / med(parse_c):.2f}x CPU  (target < 2x)"
    )
    print(
        f"  of which   : {med(main_c):.2f} s CPU in the main thread: reading, parsing, pairs ({med(main_c) / med(parse_c):.2f}x parse), "
        f"{med(full_c) - med(main_c):.2f} s CPU in the writer thread (SQLite rows)"
    )
    print(
        f"search index: {med(fill_c):.2f} s CPU in its own process ({med(fill_c) / med(parse_c):.2f}x parse; "
        f"runs: {runs(fill_c)}), full {med(fill_w):.2f} s after the ingest returned (runs: {runs(fill_w)})"
    )
    print(f"re-ingest   : {med(re_t) * 1000:.0f} ms  unchanged store (target < 500 ms)")


if __name__ == "__main__":
    main()

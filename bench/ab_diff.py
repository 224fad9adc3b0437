"""The A↔B view on a pair at the patch cap: how long comparing the two patches takes, and
its memory (tui/ab_model.py; the Pairs screen runs it in a thread, never on the UI thread).

    uv run python bench/ab_diff.py [--mb 2.6] [--runs 3]

A is bench/big_diff.py's patch (files of 1,200 lines in hunks of 40); B is A with every
seventh rewrite different and every eleventh context line gone (so both sides' windows
and line numbers move). Prints per run: CPU and wall time of `ab_patch`, of building the
diff model of its result (what the view then shows by offsets), and tracemalloc's peak
during the compare against the two patches' text.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from big_diff import big_patch

from tui.ab_model import ab_patch
from tui.diff_model import build_diff_model


def pair_at(mb: float) -> tuple[str, str]:
    a = big_patch(int(mb * 1e6))
    b = re.sub(r"\* (\d+) - k", lambda m: f"* {int(m.group(1)) + (int(m.group(1)) % 7 == 0)} - k", a)
    b = re.sub(r"(?m)^ def rule_(\d+)\(state, k\):\n", lambda m: "" if int(m.group(1)) % 11 == 0 else m.group(0), b)
    return a, b


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=2.6, help="size of A's patch (the agent's cap is about 2.6 MB)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    a, b = pair_at(args.mb)
    text = len(a) + len(b)
    print(f"pair        : A {len(a) / 1e6:.1f} MB ({a.count(chr(10)):,} lines), B {len(b) / 1e6:.1f} MB")
    cpu, wall, model_s, peaks = [], [], [], []
    out = ""
    for _ in range(args.runs):
        t0, c0 = time.perf_counter(), time.process_time()
        out = ab_patch(a, b)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        t0 = time.perf_counter()
        build_diff_model(out)
        model_s.append(time.perf_counter() - t0)
    tracemalloc.start()  # once, apart: tracing makes the compare several times slower
    ab_patch(a, b)
    peaks.append(tracemalloc.get_traced_memory()[1])
    tracemalloc.stop()
    med = statistics.median
    runs = lambda xs: ", ".join(f"{x:.2f}" for x in xs)  # noqa: E731
    print(f"A↔B patch   : {len(out) / 1e6:.2f} MB, {out.count(chr(10)):,} lines")
    print(f"compare     : {med(cpu):.2f} s CPU, {med(wall):.2f} s wall (runs: {runs(wall)}), in a thread")
    print(f"model       : {med(model_s):.2f} s wall (the diff view's offsets index of the result)")
    print(f"memory      : peak {med(peaks) / 1e6:.0f} MB while comparing, {med(peaks) / text:.1f}x the two patches")


if __name__ == "__main__":
    main()

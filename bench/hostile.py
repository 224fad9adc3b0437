"""Peak memory of `import` and `ingest` on each hostile input (issue 24; docs/hostile-files.md).

    uv run python bench/hostile.py            # every case, the issue's sizes (a 1 GiB line, 12 x 500 MB ZIP)
    uv run python bench/hostile.py --small    # the test suite's sizes, in seconds

Each case runs in a child process of its own (``python -c 'tui.cli.main' import|ingest ...``);
its peak RSS comes from ``os.wait4`` (a forked child starts at this process's size: the inputs
are written in pieces, so this process stays small). The bound is 512 MB on every case.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.security import hostile_inputs as h

LIMIT_MB = 512


def _peak_mb(argv: list[str]) -> tuple[float, int, float]:
    """(peak RSS in MB, exit status, seconds) of ``repo-agent argv`` in a child process of its own
    (``os.wait4`` gives that child's own rusage)."""
    t0 = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; from tui.cli import main; sys.exit(main(sys.argv[1:]))", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss / 1024, child.returncode, time.perf_counter() - t0  # ru_maxrss: KB on Linux


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="the tests' sizes (80 MB ZIP entries, a 33 MiB line)")
    args = ap.parse_args()
    entry_mb, line = (80, 33 << 20) if args.small else (500, 1 << 30)
    imports: dict[str, Callable[[Path], Path]] = {
        "fifo run.eval": h.fifo_eval,
        "zero.eval -> /dev/zero": h.zero_eval,
        f"ZIP 12 x {entry_mb} MB samples": lambda d: h.zip_bomb_eval(d, entries=12, entry_mb=entry_mb),
        "ZIP 12 x 47 MB messages": lambda d: h.zip_bomb_eval(d, entries=12, entry_mb=47, messages=True),
        "JSON 200,000 deep": h.deep_json,
        "JSON 63 MB of []": h.dense_json,
        'JSON 63 MB of "a"': lambda d: h.dense_json(d, item=b'"a",'),
        "input_refs NaN/Infinity": h.nan_input_refs,
        "SWE-agent 60 MB trajectory": lambda d: h.big_trajectory(d, mb=60),
        "path with [/] and ESC": h.markup_path,
    }
    ingests: dict[str, Callable[[Path], Path]] = {
        "4,000-digit step": h.huge_int_batch,
        "NaN timestamp": h.nan_ts_batch,
        "line 200,000 deep": h.deep_trace_batch,
        f"one {line >> 20} MiB line": lambda root: h.long_line_batch(root, line),
    }
    rows = []
    for kind, cases in (("import", imports), ("ingest", ingests)):
        for name, build in cases.items():
            with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
                root = Path(tmp)
                target = build(root / "in")
                if kind == "import":
                    argv = ["import", str(target), "--out", str(root / "out")]
                else:
                    argv = ["ingest", str(root / "in"), "--db", str(root / "labels.sqlite")]
                peak, code, secs = _peak_mb(argv)
                rows.append((kind, name, peak, code, secs))
                ok = "ok" if peak < LIMIT_MB else "OVER"
                print(f"{kind:<7} {name:<28} peak {peak:7.0f} MB  exit {code:<3} {secs:6.1f} s  {ok}", flush=True)
    worst = max(r[2] for r in rows)
    print(f"worst peak {worst:.0f} MB (bound {LIMIT_MB} MB)")
    return 0 if worst < LIMIT_MB else 1


if __name__ == "__main__":
    sys.exit(main())

"""`suite mutate` on a real library: candidates tried, validated tasks, yield, tasks per minute.

    uv run python bench/mutate.py [--package toolz==1.2.0] [--tests "python -m pytest -q toolz/tests"]
                                  [--max-tasks 300] [--max-workers 2] [--out DIR] [--keep]

Downloads the package's sdist from PyPI (``pip download --no-binary :all: --no-deps``),
unpacks it and mutates it into a fresh suite (never resumed: the figures are one run's).
The default, toolz, is pure Python and its sdist ships its pytest suite. The target
(docs/ARCHITECTURE.md, figures) is 300 validated tasks in at most 10 minutes on 2 cores.

Sandboxed test runs start a fresh interpreter each: a venv without compiled bytecode
(PYTHONDONTWRITEBYTECODE at install time) pays for compiling pytest on every run, so the
script says when pytest's bytecode is missing.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.sandbox import sandbox_kind
from agent.suites.mutate import MutateConfig, mutate_repo

CACHE = Path(tempfile.gettempdir()) / "repo-agent-bench-sdists"


def pip_cmd() -> list[str]:
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    for name in ("pip3", "pip"):
        if shutil.which(name):
            return [name]
    sys.exit("bench/mutate.py needs pip (to download the sdist): install it or put pip3 on PATH")


def fetch_sdist(spec: str) -> Path:
    """The unpacked sdist of ``spec`` (downloaded once into a cache under the temp dir)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    dl = CACHE / spec.replace("=", "_").replace("/", "_")
    if not any(dl.glob("*.tar.gz")):
        dl.mkdir(exist_ok=True)
        subprocess.run([*pip_cmd(), "download", "--no-binary", ":all:", "--no-deps", "-d", str(dl), spec], check=True)
    [archive] = sorted(dl.glob("*.tar.gz"))
    root = dl / "src"
    if not root.is_dir():
        with tarfile.open(archive) as tf:
            tf.extractall(root, filter="data")
    [top] = [p for p in root.iterdir() if p.is_dir()]
    return top


def bytecode_note() -> str:
    import _pytest

    cached = Path(_pytest.__file__).parent / "__pycache__"
    return "compiled" if cached.is_dir() else "MISSING (every sandboxed run compiles pytest: expect it slower)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", default="toolz==1.2.0")
    ap.add_argument("--tests", default="python -m pytest -q toolz/tests")
    ap.add_argument("--max-tasks", type=int, default=300)
    ap.add_argument("--max-workers", type=int, default=2)
    ap.add_argument("--per-function", type=int, default=None)
    ap.add_argument("--out", default=None, help="suite directory (default: a temp dir, removed unless --keep)")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    repo = fetch_sdist(args.package)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="repo-agent-bench-mutate-"))
    if (out / ".mutate").exists():
        shutil.rmtree(out)  # a bench measures one whole run, never a resumed one
    load0 = os.getloadavg()[0]
    print(f"library     {args.package} ({repo})")
    print(f"sandbox     {sandbox_kind()}, {args.max_workers} workers, {os.cpu_count()} cores, load {load0:.1f}")
    print(f"pytest .pyc {bytecode_note()}")
    cfg = MutateConfig(
        tests=args.tests, max_tasks=args.max_tasks, max_workers=args.max_workers, per_function=args.per_function
    )
    last = [0.0]

    def progress(s) -> None:
        if time.monotonic() - last[0] >= 30:
            last[0] = time.monotonic()
            print(f"  {s.elapsed_s:6.0f}s  tried {s.tried:5d}  validated {s.validated:5d}", flush=True)

    t0 = time.monotonic()
    suite, s = mutate_repo(repo, out, cfg, progress=progress)
    wall = time.monotonic() - t0
    load1 = os.getloadavg()
    print()
    print(f"{'baseline':22s} {s.baseline_tests} tests ({s.baseline_failing} failing, ignored), {s.baseline_s:.1f}s")
    print(f"{'candidates generated':22s} {s.candidates}")
    print(f"{'candidates tried':22s} {s.tried}  (run in the sandbox)")
    print(f"{'validated tasks':22s} {s.validated}")
    print(f"{'yield':22s} {s.validated / max(1, s.tried):.1%}  (validated / tried)")
    print(f"{'rejected':22s} survived {s.survived}, hang {s.hang}, flaky {s.flaky}")
    print(f"{'not run':22s} duplicate {s.duplicate}, unreached {s.uncovered}, equivalent {s.equivalent}")
    print(f"{'wall time':22s} {wall:.0f}s  (target: 300 tasks in <= 600s)")
    print(f"{'tasks per minute':22s} {s.validated / (wall / 60):.1f}")
    print(f"{'load average':22s} {load0:.1f} at start; 1/5/15 min at end {load1[0]:.1f}/{load1[1]:.1f}/{load1[2]:.1f}")
    print()
    print(f"{'operator':18s} {'tried':>6s} {'validated':>9s} {'yield':>6s}")
    for op, n in s.operators_tried.most_common():
        v = s.operators_validated[op]
        print(f"{op:18s} {n:6d} {v:9d} {v / n:6.0%}")
    if not args.keep and not args.out:
        shutil.rmtree(out, ignore_errors=True)
    else:
        print(f"\nsuite: {out}/suite.json ({len(suite.tasks)} tasks)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
